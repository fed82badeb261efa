/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * lguest.h - the one interface between lg.ko, its launchers and its guests.
 *
 * Three parties speak through this header:
 *
 *  - the launcher (lgbox launch, the hypervisor test launcher) opens
 *    /dev/lguest, hands the module the guest's memory and entry point with
 *    LGUEST_INIT, then calls LGUEST_RUN in a loop.  Each LGUEST_RUN returns
 *    when the guest needs user space: an MMIO access, a notification, console
 *    output, or the guest's end (power off, reboot, crash with a reason);
 *  - the guest kernel, running at CPL 3, asks the hypervisor for what it may
 *    not do itself by executing SYSCALL in guest-kernel mode ("hypercalls",
 *    LHCALL_*), and shares one page per vCPU with it (struct lguest_shared);
 *  - lg.ko, which checks every value that comes from either of them.
 *
 * Everything here is versioned by LGUEST_ABI_VERSION: a launcher or guest
 * built against another version is refused with a message saying both.
 * doc/abi.md tells the same story in prose.
 */
#ifndef _UAPI_LINUX_LGUEST_H
#define _UAPI_LINUX_LGUEST_H

#ifndef __ASSEMBLY__
#include <linux/types.h>
#include <linux/ioctl.h>
#endif

#define LGUEST_ABI_VERSION	4
#define LGUEST_DEVICE_PATH	"/dev/lguest"

/*
 * Launcher interface: ioctls on /dev/lguest.  One open file is one guest
 * with nr_vcpus vCPUs (LGUEST_INIT), each run by one launcher thread at a
 * time (LGUEST_RUN names it); closing the file (or the launcher dying)
 * destroys the guest.
 */
#define LGUEST_IOCTL_MAGIC	0xBE

/* Returns LGUEST_ABI_VERSION (no argument). */
#define LGUEST_GET_ABI_VERSION	_IO(LGUEST_IOCTL_MAGIC, 0x00)
/* Create the guest: struct lguest_init.  Once per open file. */
#define LGUEST_INIT		_IOW(LGUEST_IOCTL_MAGIC, 0x01, struct lguest_init)
/* Run one vCPU until an exit: struct lguest_run (in/out). */
#define LGUEST_RUN		_IOWR(LGUEST_IOCTL_MAGIC, 0x02, struct lguest_run)
/* Raise an interrupt line: struct lguest_irq.  Any thread may call it. */
#define LGUEST_IRQ		_IOW(LGUEST_IOCTL_MAGIC, 0x03, struct lguest_irq)
/* What the guest made the hypervisor do so far: struct lguest_stats. */
#define LGUEST_GET_STATS	_IOR(LGUEST_IOCTL_MAGIC, 0x04, struct lguest_stats)

#ifndef __ASSEMBLY__
/*
 * Guest-physical memory is one range [0, mem_size) of the launcher's own
 * address space starting at mem_base (page aligned, mapped read-write by the
 * launcher, e.g. an anonymous or memfd mapping).  Guest-physical addresses in
 * [mmio_base, mmio_base + mmio_size) are device registers: guest accesses
 * there return LGUEST_EXIT_MMIO.  Any other address beyond mem_size is
 * refused to the guest (it sees a page fault with the reserved bit set).
 *
 * vCPU 0 starts in guest-kernel mode at rip = entry with the paging
 * structures at guest-physical initial_cr3 loaded, rsi = boot_data (by
 * convention the guest-physical address of a struct boot_params), rsp =
 * initial_rsp, virtual interrupts disabled and every other register zero.
 * The other vCPUs (1 .. nr_vcpus - 1) start when the guest asks for it with
 * LHCALL_START_VCPU; until then LGUEST_RUN on them sleeps (a signal ends
 * the wait with EINTR, as for a halted vCPU).
 */
#define LGUEST_MAX_VCPUS	16
struct lguest_init {
	__u32 abi_version;	/* LGUEST_ABI_VERSION */
	__u32 flags;		/* none defined yet: must be 0 */
	__u64 mem_base;		/* launcher address of guest-physical 0 */
	__u64 mem_size;		/* bytes of guest RAM, page multiple */
	__u64 mmio_base;	/* guest-physical start of the device window */
	__u64 mmio_size;	/* its size (0: no device window) */
	__u64 entry;		/* guest-virtual entry point */
	__u64 initial_cr3;	/* guest-physical address of the PML4 */
	__u64 initial_rsp;	/* guest-virtual stack pointer (may be 0) */
	__u64 boot_data;	/* value of rsi at entry */
	__u32 nr_vcpus;		/* 1 .. LGUEST_MAX_VCPUS */
	__u32 reserved;		/* must be 0 */
};

/*
 * Counts since LGUEST_INIT, for benchmarks and curious operators: they are
 * the same on every CPU, emulated or not, unlike times.  Every entry into
 * the guest ends in exactly one exit_* count (an exit to host C code, where
 * lg.ko handled what stopped the guest); hypercalls are also counted by
 * number (the last slot: unknown numbers).
 */
#define LGUEST_STATS_HCALLS	24
struct lguest_stats {
	__u64 entries;			/* world switches into the guest */
	__u64 exit_hypercall;
	__u64 exit_user_syscall;	/* SYSCALL from user mode, reflected */
	__u64 exit_shadow_fill;		/* page fault lg.ko's shadow filled */
	__u64 exit_page_fault;		/* page fault reflected to the guest */
	__u64 exit_mmio;		/* device-window access */
	__u64 exit_emulated;		/* privileged instruction emulated */
	__u64 exit_exception;		/* other exception reflected */
	__u64 exit_host;		/* host interrupt, NMI or machine check */
	__u64 upcalls;			/* interrupts delivered to the guest */
	__u64 cr3_loads;
	__u64 shadow_tables_made;
	__u64 shadow_tables_freed;
	__u64 shadow_evictions;		/* shadow budget reached: all forgotten */
	/* Handled inside the switcher, with no world switch to host C: */
	__u64 fast_user_syscalls;	/* SYSCALL from user mode, reflected */
	__u64 fast_irets;		/* LHCALL_IRET to user mode */
	__u64 fast_page_faults;		/* user page fault, reflected */
	__u64 fast_exceptions;		/* other user exception, reflected */
	__u64 fast_cr3_loads;		/* LHCALL_LOAD_CR3 of a kept space */
	__u64 hypercalls[LGUEST_STATS_HCALLS];
};

/* A device line: it is raised on vCPU 0, which takes every device interrupt. */
struct lguest_irq {
	__u32 irq;		/* 1 .. LGUEST_NR_IRQS - 1 (0 is the timer) */
	__u32 reserved;		/* must be 0 */
};

/* Why LGUEST_RUN returned (struct lguest_run.exit_reason). */
enum lguest_exit_reason {
	/* The guest touched the device window; see struct lguest_exit_mmio. */
	LGUEST_EXIT_MMIO	= 1,
	/* LHCALL_NOTIFY: a cheap "look at your queues" doorbell. */
	LGUEST_EXIT_NOTIFY	= 2,
	/* LHCALL_CONSOLE_WRITE: early console bytes to show to the user. */
	LGUEST_EXIT_CONSOLE	= 3,
	/* The guest has ended; LGUEST_RUN now fails with ENOENT. */
	LGUEST_EXIT_POWEROFF	= 4,
	LGUEST_EXIT_REBOOT	= 5,
	/* The guest panicked or the hypervisor killed it; see the reason. */
	LGUEST_EXIT_CRASH	= 6,
};

#define LGUEST_MMIO_INSN_MAX	15
#define LGUEST_CONSOLE_MAX	256
#define LGUEST_REASON_MAX	512

/*
 * An access to the device window.  lg.ko decodes the instruction (the plain
 * MOV forms compilers emit for readl/writel and friends) and reports what
 * it did.  For a write, data holds the value written.  For a read, the
 * launcher stores the value in data and calls LGUEST_RUN again with the
 * same struct: the module puts it in the destination register and steps
 * over the instruction.  The raw bytes are there for logs.
 */
struct lguest_exit_mmio {
	__u64 gpa;
	__u64 data;
	__u8 size;		/* 1, 2, 4 or 8 bytes */
	__u8 is_write;
	__u8 insn_len;
	__u8 reserved;
	__u8 insn[LGUEST_MMIO_INSN_MAX + 1];
};

struct lguest_exit_notify {
	__u64 value;		/* LHCALL_NOTIFY's argument */
};

struct lguest_exit_console {
	__u32 len;
	__u8 data[LGUEST_CONSOLE_MAX];
};

/* POWEROFF, REBOOT and CRASH: NUL-terminated reason, maybe empty. */
struct lguest_exit_death {
	char reason[LGUEST_REASON_MAX];
};

/*
 * A vCPU's exits come back to the thread that runs it; the guest's end comes
 * back once on every vCPU (then ENOENT), so each launcher thread learns it.
 */
struct lguest_run {
	__u32 exit_reason;	/* out: enum lguest_exit_reason */
	__u32 flags;		/* in: must be 0 */
	__u32 vcpu;		/* in: which vCPU, 0 .. nr_vcpus - 1 */
	__u32 reserved;		/* in: must be 0 */
	union {
		struct lguest_exit_mmio mmio;
		struct lguest_exit_notify notify;
		struct lguest_exit_console console;
		struct lguest_exit_death death;
	};
};
#endif /* !__ASSEMBLY__ */

/*
 * Boot protocol (what a launcher prepares before LGUEST_INIT; lgbox launch
 * and the hypervisor test launcher both follow it):
 *
 *  - the guest kernel is an x86-64 ELF whose PT_LOAD segments are copied to
 *    their p_paddr; it carries an ELF note named LGUEST_ELFNOTE_NAME of type
 *    LGUEST_ELFNOTE_ENTRY whose 8-byte payload is the guest-virtual entry
 *    point (e_entry is the native entry and is not used);
 *  - a struct boot_params ("zero page") at guest-physical LGUEST_BOOT_PARAMS
 *    with hardware_subarch = X86_SUBARCH_LGUEST, an e820 map of guest RAM,
 *    the command line at LGUEST_BOOT_CMDLINE and the initrd (if any) near the
 *    top of RAM; boot_data = LGUEST_BOOT_PARAMS;
 *  - boot page tables at LGUEST_BOOT_PGTABLES (initial_cr3) mapping all guest
 *    RAM at LGUEST_BOOT_DIRECT_MAP and its first GiB at LGUEST_BOOT_KERNEL_MAP,
 *    with 2 MiB supervisor read-write pages.  The first MiB of guest RAM is
 *    the launcher's (zero page, command line, boot page tables) and is marked
 *    reserved in the e820 map.
 */
#define LGUEST_ELFNOTE_NAME	"lguest"
#define LGUEST_ELFNOTE_ENTRY	1
#define LGUEST_BOOT_PARAMS	0x1000ULL
#define LGUEST_BOOT_CMDLINE	0x2000ULL
#define LGUEST_BOOT_CMDLINE_MAX	0x1000ULL
#define LGUEST_BOOT_PGTABLES	0x10000ULL
#define LGUEST_BOOT_DIRECT_MAP	0xffff888000000000ULL
#define LGUEST_BOOT_KERNEL_MAP	0xffffffff80000000ULL
#define LGUEST_BOOT_RESERVED	0x100000ULL

/*
 * Guest interface.
 *
 * The guest kernel runs at CPL 3.  It sees native-looking segment selectors
 * in the frames the hypervisor builds for it: LGUEST_KERNEL_CS/DS for its
 * own context (RPL 0, so Linux's user_mode() works untouched) and
 * LGUEST_USER_CS/DS for user context.
 */
#define LGUEST_KERNEL_CS	0x10
#define LGUEST_KERNEL_DS	0x18
#define LGUEST_USER_DS		0x2b
#define LGUEST_USER_CS		0x33

/*
 * Hypercalls: SYSCALL executed in guest-kernel mode with the call number in
 * rax and arguments in rdi, rsi, rdx, r10, r8 (the Linux syscall registers).
 * The result comes back in rax; rcx and r11 are clobbered as by any SYSCALL,
 * every other register is preserved.  A SYSCALL from guest-user mode is not
 * a hypercall: it is delivered to the guest kernel's syscall entry.
 *
 * An unknown call number or an argument that is not acceptable kills the
 * guest (LGUEST_EXIT_CRASH, with a reason naming the call): a guest kernel
 * that passes garbage is broken, and the host must not guess.
 */
#define LHCALL_NOP		0	/* (): returns 0; delivers pending irqs */
#define LHCALL_INIT		1	/* (shared_gpa): register the shared page */
#define LHCALL_CONSOLE_WRITE	2	/* (gva, len): early console output */
#define LHCALL_SHUTDOWN		3	/* (kind, reason_gva, reason_len) */
#define LHCALL_SET_TRAP		4	/* (vector, handler_gva, flags) */
#define LHCALL_SET_KERNEL_STACK	5	/* (rsp0): stack for events from user */
#define LHCALL_LOAD_CR3		6	/* (pml4_gpa): switch page tables; global
					 * translations may survive, as under
					 * CR4.PGE */
#define LHCALL_FLUSH_TLB	7	/* (flags): drop cached translations */
#define LHCALL_INVLPG		8	/* (gva): drop one page's translations */
#define LHCALL_IRET		9	/* (): return through the frame at rsp */
#define LHCALL_SET_TIMER	10	/* (delta_ns): one-shot timer, 0 cancels */
#define LHCALL_HALT		11	/* (): enable irqs and wait for one */
#define LHCALL_NOTIFY		12	/* (value): LGUEST_EXIT_NOTIFY */
#define LHCALL_SET_SEGMENT_BASE	13	/* (which, base) */
#define LHCALL_SET_DEBUGREG	14	/* (regno, value): DR0-3 or DR7 */
#define LHCALL_START_VCPU	15	/* (vcpu, rip, rsp, cr3_gpa, arg) */
#define LHCALL_SEND_IPI		16	/* (vcpu_mask, line): raise line on each */
#define LHCALL_NR		17

/* LHCALL_FLUSH_TLB flags: 0 drops every translation. */
#define LGUEST_FLUSH_KEEP_GLOBAL	1	/* all but global ones (a CR3 reload) */

/* LHCALL_SHUTDOWN kinds. */
#define LGUEST_SHUTDOWN_POWEROFF	0
#define LGUEST_SHUTDOWN_REBOOT		1
#define LGUEST_SHUTDOWN_CRASH		2

/*
 * LHCALL_SET_TRAP: vector 0..255 names an exception or the upcall vector;
 * LGUEST_TRAP_SYSCALL names the entry for SYSCALL from guest user mode.
 * A handler of 0 removes it; an event with no handler kills the guest.
 * Exceptions and the upcall disable virtual interrupts on entry (interrupt
 * gate semantics) unless LGUEST_TRAP_KEEP_IRQS is given.
 */
#define LGUEST_TRAP_SYSCALL		256
#define LGUEST_TRAP_KEEP_IRQS		0x1

/*
 * LHCALL_SET_DEBUGREG: the guest's hardware breakpoints.  regno 0-3 sets
 * a breakpoint address (canonical, outside the hypervisor hole), regno 7
 * the control register: L0-3/G0-3, LE/GE and the R/W and LEN fields, with
 * no I/O breakpoints (R/W = 10b) and no general detect.  Anything else
 * kills the guest.  The breakpoints are armed only while the guest runs;
 * a #DB finds DR6 (as the CPU wrote it) in lguest_shared.dr6.
 */

/*
 * LHCALL_START_VCPU: start a vCPU that has not run yet (1 .. nr_vcpus - 1)
 * in guest-kernel mode at rip, with rsp, the paging structures at cr3_gpa
 * loaded, rdi = arg, virtual interrupts disabled and every other register
 * zero.  It gets the caller's trap handlers (LHCALL_SET_TRAP) and nothing
 * else: no shared page until it makes its own LHCALL_INIT, no kernel stack,
 * segment bases 0, no timer, no debug registers.  Returns 0, or -EBUSY
 * (-16) for a vCPU already started.  A vCPU number out of range, a bad rip,
 * rsp or cr3_gpa kills the guest.
 *
 * LHCALL_SEND_IPI: bit n of vcpu_mask names vCPU n (bits at or above
 * nr_vcpus kill the guest); line is 1 .. LGUEST_NR_IRQS - 1 and is raised
 * on each named vCPU as a device line is on vCPU 0.  Which lines are
 * inter-processor interrupts is the guest's choice.  Each vCPU has its own
 * shadow of the guest's page tables: a guest flushes another vCPU's TLB by
 * asking it to (an IPI), as on hardware.
 */

/* LHCALL_SET_SEGMENT_BASE: which base. */
#define LGUEST_SEG_FS			0	/* fs base (user and kernel) */
#define LGUEST_SEG_GS_KERNEL		1	/* gs base in guest-kernel mode */
#define LGUEST_SEG_GS_USER		2	/* gs base in guest-user mode */

/*
 * Events.  An exception, the upcall or a user SYSCALL switches the guest to
 * kernel mode (kernel view of memory, kernel gs base) and enters the handler
 * registered for it:
 *
 *  - exceptions and the upcall find a native frame on the kernel stack:
 *    [error code,] rip, cs, rflags, rsp, ss (cs/ss as above, rflags.IF =
 *    the virtual IF at the time of the event).  The stack is the current one
 *    (aligned down to 16 bytes) when the event hit guest-kernel mode, or the
 *    one given by LHCALL_SET_KERNEL_STACK when it hit user mode.  A page
 *    fault's address is in lguest_shared.cr2;
 *  - a user SYSCALL enters like the native instruction does: rcx = user rip,
 *    r11 = user rflags, rsp unchanged (still the user stack), virtual IF off.
 *
 * Returning is LHCALL_IRET: the guest pushes rcx, r11 and rax (in that
 * order) on top of a native frame and makes the hypercall; the hypervisor
 * restores rax, r11, rcx, then rip, cs, rflags (its IF becomes the virtual
 * IF), rsp and ss.  cs = LGUEST_USER_CS returns to user mode (user view of
 * memory, user gs base), cs = LGUEST_KERNEL_CS stays in kernel mode.
 */
#ifndef __ASSEMBLY__
struct lguest_iret_frame {
	__u64 rax;
	__u64 r11;
	__u64 rcx;
	__u64 rip;
	__u64 cs;
	__u64 rflags;
	__u64 rsp;
	__u64 ss;
};
#endif /* !__ASSEMBLY__ */

/*
 * Privileged instructions.  At CPL 3 they all raise #GP, which reaches the
 * guest kernel's handler as on native hardware, with these exceptions made
 * in guest-kernel mode only, for code paths that pv_ops do not cover:
 *
 *  - reading a control register (mov %crN, %reg) returns cr0 = PE|MP|ET|NE|
 *    WP|AM|PG, cr2 = lguest_shared.cr2, cr3 = the last LHCALL_LOAD_CR3 (or
 *    initial_cr3), cr4 = PAE|OSFXSR|OSXMMEXCPT;
 *  - port I/O with IN/OUT finds no device: reads return all ones, writes are
 *    dropped (as on a machine without those ports);
 *  - CLI and STI clear and set the virtual IF (lguest_shared.irq_enabled);
 *  - XSETBV of XCR0 sets the guest's XSAVE features: any valid combination
 *    of x87, SSE, AVX, AVX-512 and PKRU that the host has (CPUID leaf 0xd
 *    tells which); others raise #GP.  Guest user code sees the guest's XCR0
 *    with XGETBV;
 *  - RDMSR of the microcode revision (0x8b) reads 0; WRMSR of it is dropped.
 *
 * The CPU the guest runs on has the host's user features, with those that
 * CR4 controls and a guest cannot have switched off: WRPKRU/RDPKRU and
 * RD/WRFSBASE raise #UD, as on a CPU without them.
 */

/*
 * Interrupts, per vCPU.  Line 0 is the vCPU's own timer (LHCALL_SET_TIMER);
 * lines 1.. are raised on vCPU 0 by the launcher with LGUEST_IRQ, and on
 * any vCPU by LHCALL_SEND_IPI.  A raised line sets its bit in pending[];
 * when a bit is pending and not masked and the virtual IF is on, the
 * hypervisor delivers LGUEST_UPCALL_VECTOR; the guest takes the bits with an
 * atomic exchange and handles them.  If interrupts are re-enabled while
 * irq_pending is set, the guest makes any hypercall (LHCALL_NOP) so that
 * they are delivered.
 */
#define LGUEST_NR_IRQS			64
#define LGUEST_IRQ_TIMER		0
/*
 * The virtual power button: a launcher that wants the guest to shut down
 * in order (sync its disks, stop its services, then LHCALL_SHUTDOWN) raises
 * this line.  A guest that does not know it leaves it masked and must be
 * stopped by other means; the launcher gives it a grace time, then ends it.
 */
#define LGUEST_IRQ_POWER_BUTTON		63
#define LGUEST_UPCALL_VECTOR		0xf3

#define LGUEST_IF_FLAG			0x200	/* X86_EFLAGS_IF */

/*
 * The per-vCPU shared page, registered by each vCPU with LHCALL_INIT
 * (guest-physical, page aligned, inside guest RAM, one page per vCPU).  The
 * guest writes irq_enabled and masked, and clears pending bits; the
 * hypervisor writes the rest.
 */
#ifndef __ASSEMBLY__
struct lguest_shared {
	__u64 irq_enabled;	/* LGUEST_IF_FLAG when enabled, else 0 */
	__u64 irq_pending;	/* non-zero: an unmasked line is pending */
	__u64 pending;		/* bitmap of raised lines */
	__u64 masked;		/* bitmap of masked lines */
	__u64 cr2;		/* address of the last page fault delivered */
	__u64 tsc_khz;		/* host TSC frequency */
	__u32 abi_version;	/* LGUEST_ABI_VERSION, set by LHCALL_INIT */
	__u32 reserved;
	/*
	 * The host's wall clock (CLOCK_REALTIME, ns since 1970) and the TSC
	 * read together at LHCALL_INIT: now is wallclock_ns plus the TSC
	 * ticks since wallclock_tsc at tsc_khz.
	 */
	__s64 wallclock_ns;
	__u64 wallclock_tsc;
	/*
	 * DR6 as the CPU left it at the last #DB delivered (the guest may
	 * write it back, as a native kernel clears DR6).
	 */
	__u64 dr6;
	/*
	 * Written by the guest with plain stores, taken by the hypervisor at
	 * its next entry into the guest (so before any return to user mode):
	 * what LHCALL_SET_KERNEL_STACK and LHCALL_SET_SEGMENT_BASE (FS,
	 * GS_USER) set, without a world switch each; those hypercalls store
	 * here too.  A non-canonical value kills the guest.
	 */
	__u64 kernel_stack;
	__u64 fs_base;
	__u64 gs_base_user;
	/* Set by LHCALL_INIT: which vCPU registered the page, and how many. */
	__u32 vcpu;
	__u32 nr_vcpus;
	/*
	 * Written by the hypervisor: the nanoseconds this vCPU was ready to
	 * run but the host ran something else (steal time), and non-zero
	 * while that is so (preempted): another vCPU spinning on a lock this
	 * one holds had better sleep.
	 */
	__u64 steal_ns;
	__u32 preempted;
	__u32 pad;
	/*
	 * Written by the guest: where its kernel maps guest-physical 0 in
	 * the kernel half (Linux's direct map, PAGE_OFFSET), or 0.  With it
	 * the hypervisor reads the guest's page tables itself, through the
	 * guest's own mappings, to tell a user page fault the guest must
	 * handle (its entry is not present) from one the hypervisor fills,
	 * without leaving the switcher.  It must be exact: a wrong value can
	 * only make the guest see faults for pages it has mapped.
	 */
	__u64 direct_map;
};
#endif /* !__ASSEMBLY__ */

#endif /* _UAPI_LINUX_LGUEST_H */
