/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The code that moves a CPU between the host and a guest.
 *
 * This text is never run where the module loader put it.  lg.ko copies it
 * into the switcher pages (see switcher_layout.h) and every CPU runs it from
 * its own region, where the CPU's state page lies LG_PAGE_STATE pages after
 * the start of the text.  So every data reference below is %rip-relative to
 * "SW(field)", which the assembler resolves to a fixed displacement: no
 * relocation, no register needed to find the per-CPU data.
 *
 * Going in (lg_switch_to_guest, called from C with interrupts off):
 *   save the host's callee-saved registers and stack pointer, load our IDT,
 *   GDT and TSS, the shadow page table, the guest's segment bases, pop the
 *   guest's registers from the state page and IRETQ to CPL 3.
 *
 * Coming out (any IDT vector, or SYSCALL through our LSTAR): the CPU stacks
 * the guest's frame at TSS.rsp0, which is the top of the register area in
 * the state page, so pushing the general registers completes a struct
 * lg_regs in place.  Then the host's bases, page table, GDT, TSS and IDT
 * come back and we return to the C caller, which reads the trap number.
 *
 * The guest is hostile, and every way out of it passes guest_exit, which
 * sanitises what the guest leaves in the CPU before any host code runs:
 * registers and segment bases are saved and replaced, and the host's own
 * rflags (saved going in) come back with the final POPFQ.  The guest may
 * leave DF, AC or any arithmetic flag set; an exception or interrupt
 * clears only TF, NT, RF and IF on delivery, so without this the host's C
 * code would run with DF set and copy memory backwards.  CLD comes first,
 * for the few instructions before the POPFQ.
 *
 * Four events can hit the switcher itself, at CPL 0:
 *   NMI and #MC use IST stacks; they are noted in the state page and
 *   replayed to the host by the C code once we are back;
 *   #DB uses an IST stack too, because SYSCALL does not switch stacks: a
 *   guest that executes SYSCALL with TF set (or after a MOV SS that defers
 *   a debug trap) gets its trap delivered on the first instruction of
 *   lg_syscall_entry, at CPL 0, while %rsp still holds the guest's value.
 *   Without a known-good stack the CPU would push the frame wherever the
 *   guest pointed, the switcher's own state page included.  Such a trap is
 *   the guest's single step over SYSCALL: we drop TF from the frame and
 *   carry on (the guest's own TF comes back from %r11).  The host's debug
 *   registers are disabled by the C code while a guest runs; the guest's
 *   own can only fire on guest memory, which the switcher touches only
 *   in its fast paths (an IRET frame, the guest's page tables, an
 *   exception frame), and such a hit is dropped the same way;
 *   any other exception means we could not enter the guest (for instance
 *   an IRETQ that faults); we note its vector and unwind to the host.
 *
 * The guest's own hardware breakpoints (LHCALL_SET_DEBUGREG) are armed
 * here, once our IDT is loaded, and disarmed before any host code runs: in
 * between, the CPU only touches the switcher's pages, where no guest
 * breakpoint may point, and guest memory.
 *
 * Three kinds of event never leave for the host at all: the fast paths
 * further down take a guest-user SYSCALL into the guest kernel, the guest
 * kernel's LHCALL_IRET back to user mode, and the simple exceptions from
 * guest-user mode (a page fault the guest's own tables explain among them)
 * to the guest kernel's handlers, without the world switch.
 *
 * Every entry point starts with ENDBR64: on a host with indirect-branch
 * tracking (CET IBT) the CPU demands it after an indirect call (C calling
 * lg_switch_to_guest, lg_host_vectors) and after an IDT event or SYSCALL
 * lands.  Elsewhere it is a NOP.
 */
#include <linux/linkage.h>
#include <asm/msr-index.h>
#include <asm/processor-flags.h>
#include <asm/trapnr.h>
#include <uapi/linux/lguest.h>
#include "switcher_layout.h"

/* DR6 with no debug condition recorded (asm/debugreg.h is C-only). */
#define LG_DR6_CLEAR	0xffff0ff0

#define SW(off)		(lg_switcher_start + LG_PAGE_STATE * 4096 + (off))
#define SHARED(off)	(lg_switcher_start + LG_PAGE_SHARED * 4096 + (off))

/* Guest-kernel addresses: the kernel half above the hypervisor hole. */
#define LG_GUEST_KERNEL_HALF	0xffff880000000000

/* One read of guest-written memory into the state page, through %rcx. */
.macro COPY_QWORD from, to
	movq	\from, %rcx
	movq	%rcx, \to
.endm

/* Go the slow way unless the 64-bit value at mem is canonical. */
.macro CANONICAL_OR_FALLBACK mem:vararg
	movq	\mem, %rcx
	movq	%rcx, %rdx
	shlq	$16, %rdx
	sarq	$16, %rdx
	cmpq	%rcx, %rdx
	jne	fast_iret_fallback
.endm

/*
 * Into guest-kernel mode: the user's gs base is kept aside (SW_GUEST_GS_OTHER)
 * and the kernel's loaded.  Uses rax, rcx, rdx.
 */
.macro KERNEL_GS_BASE
	movl	$MSR_GS_BASE, %ecx
	rdmsr
	shlq	$32, %rdx
	orq	%rdx, %rax
	xchgq	%rax, SW(SW_GUEST_GS_OTHER)(%rip)
	movq	%rax, %rdx
	shrq	$32, %rdx
	wrmsr
.endm

/*
 * Load the CR3 of a guest view (SW_GUEST_CR3_KERNEL or _USER) through reg,
 * then mark it to keep its PCID's entries next time (see fill_guest_roots
 * in switcher.c: the first load after a switch of spaces flushes).
 */
.macro LOAD_VIEW field, reg
	movq	SW(\field)(%rip), \reg
	movq	\reg, %cr3
	movq	SW(SW_CR3_KEEP_BIT)(%rip), \reg
	orq	\reg, SW(\field)(%rip)
.endm

/*
 * One level of the fast page-fault path's walk of the guest's tables for
 * the address in %rdx, from the table whose guest-physical address is in
 * %rcx (left there for the next level), gathering in %r11 what the levels
 * allow.  A missing entry is the guest's fault; so is a leaf or large page
 * whose levels refuse the access; one that allows it is C's to fill.
 */
.macro WALK_LEVEL shift, large=0, leaf=0
	movq	%rdx, %rax
	shrq	$\shift, %rax
	andl	$511, %eax
	leaq	(%rcx,%rax,8), %rcx
	cmpq	SW(SW_GUEST_MEM_SIZE)(%rip), %rcx
	jae	fast_exception_fallback
	addq	SW(SW_DIRECT_MAP)(%rip), %rcx
	jc	fast_exception_fallback
	movabsq	$LG_GUEST_KERNEL_HALF, %rax
	cmpq	%rax, %rcx
	jb	fast_exception_fallback
	lfence
	movq	(%rcx), %rax
	testb	$LG_PTE_PRESENT, %al
	jz	fast_page_fault_not_present
	/* What this level allows, into %r11: user, write; and no execute. */
	testb	$LG_PTE_USER, %al
	jnz	1f
	andl	$~LG_PTE_USER, %r11d
1:	testb	$LG_PTE_WRITE, %al
	jnz	2f
	andl	$~LG_PTE_WRITE, %r11d
2:	btq	$LG_PTE_NX_BIT, %rax
	jnc	3f
	orl	$LG_RIGHTS_NO_EXEC, %r11d
3:
	.if \leaf
	jmp	fast_page_fault_mapped
	.else
	.if \large
	testb	$LG_PTE_LARGE, %al
	jnz	fast_page_fault_mapped
	.endif
	movabsq	$LG_PTE_ADDR, %rcx
	andq	%rax, %rcx
	.endif
.endm

/*
 * In switcher_fault, with %rax pushed: a fault at an instruction in
 * [start, end) is one of the fast paths' reads or writes of guest memory,
 * and resumes at the fast path's fallback.
 */
.macro FAULT_RESUMES start, end, fallback
	leaq	\start(%rip), %rax
	cmpq	%rax, 24(%rsp)
	jb	1f
	leaq	\end(%rip), %rax
	cmpq	%rax, 24(%rsp)
	jae	1f
	leaq	\fallback(%rip), %rax
	jmp	switcher_fault_resume
1:
.endm

	.section .rodata.lg_switcher, "a"
	.balign 4096
SYM_DATA_START(lg_switcher_start)

/*
 * Page 0: one 16-byte stub per IDT vector.  Each leaves the same two words
 * on the stack, the error code (a zero where the CPU pushes none) and the
 * vector, so that the stack looks the same for every event.  The longest
 * stub (ENDBR64, two pushes with a 32-bit immediate, a near jump) is
 * exactly 16 bytes; the .org after the loop keeps it so.
 */
lg_switcher_vectors:
	vec = 0
	.rept 256
	.balign 16
	endbr64
	errcode = 0
	.if vec < 32
	errcode = (LG_ERRCODE_VECTORS >> vec) & 1
	.endif
	.if errcode == 0
	pushq	$0
	.endif
	pushq	$vec
	.if (vec == 1) || (vec == 2) || (vec == 8) || (vec == 18)
	jmp	ist_common
	.else
	jmp	vector_common
	.endif
	vec = vec + 1
	.endr
	/* An error here ("backwards") means a stub grew past 16 bytes. */
	.org	lg_switcher_vectors + 4096

/* Page 1: the world switch itself. */
	.balign 4096

/*
 * void lg_switch_to_guest(void): C calls this at its CPU's copy, with
 * interrupts disabled, after filling the state page.
 */
lg_switch_to_guest:
	endbr64
	pushfq
	pushq	%rbp
	pushq	%rbx
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	movq	%rsp, SW(SW_HOST_RSP)(%rip)

	movw	%ds, SW(SW_HOST_SEGS + 0)(%rip)
	movw	%es, SW(SW_HOST_SEGS + 2)(%rip)
	movw	%fs, SW(SW_HOST_SEGS + 4)(%rip)
	movw	%gs, SW(SW_HOST_SEGS + 6)(%rip)

	/*
	 * Our IDT first: from here on an NMI lands in our stubs, which need
	 * nothing from the host.  Then the GDT, and the TSS, whose busy bit
	 * we clear since LTR refuses a busy TSS.
	 */
	lidt	SW(SW_IDT_DESC)(%rip)
	lgdt	SW(SW_GDT_DESC)(%rip)
	andb	$~0x02, SW(SW_GDT + LG_GDT_TSS * 8 + 5)(%rip)
	movl	$LG_SEL_TSS, %eax
	ltr	%ax

	movq	SW(SW_GUEST_DR7)(%rip), %rax
	testq	%rax, %rax
	jz	1f
	movq	SW(SW_GUEST_DR + 0)(%rip), %rdx
	movq	%rdx, %db0
	movq	SW(SW_GUEST_DR + 8)(%rip), %rdx
	movq	%rdx, %db1
	movq	SW(SW_GUEST_DR + 16)(%rip), %rdx
	movq	%rdx, %db2
	movq	SW(SW_GUEST_DR + 24)(%rip), %rdx
	movq	%rdx, %db3
	movq	%rax, %db7
1:

	/* The guest's address space: we are mapped there at this address. */
	movq	SW(SW_GUEST_CR3)(%rip), %rax
	movq	%rax, %cr3

	/*
	 * SMAP off while the guest runs.  It guards only supervisor accesses,
	 * and a guest at CPL 3 makes none on real CPUs; but QEMU's TCG pops
	 * an IRETQ frame with supervisor accesses, so a guest's own IRETQ to
	 * CPL 3 (Linux's sync_core) would fault forever on its user page.
	 */
	movq	SW(SW_GUEST_CR4)(%rip), %rax
	cmpq	SW(SW_HOST_CR4)(%rip), %rax
	je	1f
	movq	%rax, %cr4
1:

	/*
	 * Selectors before bases: loading a selector may reload the base.
	 * The guest's selectors were all loaded by the guest itself against
	 * this GDT, so they are valid here.
	 */
	movw	SW(SW_GUEST_SEGS + 0)(%rip), %ds
	movw	SW(SW_GUEST_SEGS + 2)(%rip), %es
	movw	SW(SW_GUEST_SEGS + 4)(%rip), %fs
	movw	SW(SW_GUEST_SEGS + 6)(%rip), %gs
	movl	$MSR_FS_BASE, %ecx
	movl	SW(SW_GUEST_FS_BASE)(%rip), %eax
	movl	SW(SW_GUEST_FS_BASE + 4)(%rip), %edx
	wrmsr
	movl	$MSR_GS_BASE, %ecx
	movl	SW(SW_GUEST_GS_BASE)(%rip), %eax
	movl	SW(SW_GUEST_GS_BASE + 4)(%rip), %edx
	wrmsr

	/* Pop struct lg_regs, skip trap number and error code, and go. */
	leaq	SW(SW_REGS)(%rip), %rsp
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%rbp
	popq	%rbx
	popq	%r11
	popq	%r10
	popq	%r9
	popq	%r8
	popq	%rax
	popq	%rcx
	popq	%rdx
	popq	%rsi
	popq	%rdi
	addq	$16, %rsp
	/*
	 * The last thing before the guest: on CPUs that leak stale data from
	 * their internal buffers (MDS and kin), VERW with a memory operand
	 * clears them, as Linux does on its way back to user mode.  Only ZF
	 * changes, and IRETQ loads the guest's flags anyway.
	 */
iret_to_guest:
	/*
	 * An NMI or machine check that hit the switcher since the host last
	 * looked waits for the host: leave at once, as if an interrupt had
	 * arrived at the guest's first instruction (LG_TRAP_HOST tells C
	 * that there is nothing but the noted events to handle).
	 */
	cmpq	$0, SW(SW_NMI_PENDING)(%rip)
	jne	2f
	cmpq	$0, SW(SW_MC_PENDING)(%rip)
	jne	2f
	testb	$LG_SWITCH_VERW, SW(SW_SWITCH_FLAGS)(%rip)
	jz	1f
	verw	SW(SW_VERW_SEL)(%rip)
1:	iretq
2:	pushq	$0
	pushq	$LG_TRAP_HOST
	jmp	guest_exit

/*
 * SYSCALL from the guest (a hypercall from guest-kernel mode, or a system
 * call from guest-user mode).  The CPU switched neither stack nor anything
 * else: rcx holds the return rip and r11 the rflags.  Build the same frame
 * an interrupt would have built, on the register area.
 */
lg_syscall_entry:
	endbr64
	movq	%rsp, SW(SW_SCRATCH)(%rip)
	leaq	SW(SW_REGS_TOP)(%rip), %rsp
	testb	$LG_SWITCH_FAST, SW(SW_SWITCH_FLAGS)(%rip)
	jz	syscall_to_host
	cmpq	$LG_SEL_USER_CS, SW(SW_GUEST_CS)(%rip)
	je	fast_user_syscall
	cmpq	$LHCALL_IRET, %rax
	je	fast_iret
	cmpq	$LHCALL_LOAD_CR3, %rax
	je	fast_load_cr3
syscall_to_host:
	pushq	$LG_SEL_USER_DS
	pushq	SW(SW_SCRATCH)(%rip)
	pushq	%r11
	pushq	SW(SW_GUEST_CS)(%rip)
	pushq	%rcx
	pushq	$0
	pushq	$LG_TRAP_SYSCALL
	jmp	guest_exit

/*
 * The fast paths: the two events of every guest system call, handled here
 * without the world switch to host C and back (which reloads GDT, IDT,
 * TSS, MSRs and the FPU state, for what is a mode switch inside the
 * guest).  Each does exactly what the C code would (lg_reflect_syscall,
 * lg_do_iret and the run loop's checks) or, when anything is unusual,
 * nothing at all: it leaves the registers as SYSCALL left them and goes
 * the slow way, where C decides.  Registers they use are saved in the
 * state page first and the guest's values are back before the IRETQ.
 * The guest's shared page is mapped in this CPU's region (LG_PAGE_SHARED)
 * while LG_SWITCH_FAST is set.
 *
 * A SYSCALL from guest-user mode enters the guest kernel's syscall entry
 * as the native instruction would: rcx and r11 as the CPU set them, the
 * user's stack, the flags SYSCALL clears cleared, and on the guest's side
 * virtual interrupts off, the kernel's gs base and the kernel view.
 */
fast_user_syscall:
	cmpq	$0, SW(SW_SYSCALL_ENTRY)(%rip)
	je	syscall_to_host			/* C kills it, with the reason */
	movq	%rax, SW(SW_FAST_SAVE + 0)(%rip)
	movq	%rcx, SW(SW_FAST_SAVE + 8)(%rip)
	movq	%rdx, SW(SW_FAST_SAVE + 16)(%rip)

	movq	$0, SHARED(SH_IRQ_ENABLED)(%rip)
	KERNEL_GS_BASE
	LOAD_VIEW SW_GUEST_CR3_KERNEL, %rax
	movq	$LG_SEL_GUEST_KERNEL_CS, SW(SW_GUEST_CS)(%rip)
	incq	SW(SW_FAST_SYSCALLS)(%rip)

	pushq	$LG_SEL_USER_DS
	pushq	SW(SW_SCRATCH)(%rip)
	movq	%r11, %rax
	andq	$(LG_GUEST_RFLAGS & ~LG_SYSCALL_CLEARS), %rax
	orq	$(X86_EFLAGS_IF | X86_EFLAGS_FIXED), %rax
	pushq	%rax
	pushq	$LG_SEL_GUEST_KERNEL_CS
	pushq	SW(SW_SYSCALL_ENTRY)(%rip)
	movq	SW(SW_FAST_SAVE + 0)(%rip), %rax
	movq	SW(SW_FAST_SAVE + 8)(%rip), %rcx
	movq	SW(SW_FAST_SAVE + 16)(%rip), %rdx
	jmp	iret_to_guest

/*
 * LHCALL_IRET back to guest-user mode, the guest kernel's return from
 * every system call and user-mode event.  The frame is on the guest
 * kernel's stack, which we read here at CPL 0 through the kernel view:
 * only from the kernel half above the hypervisor hole, so that it can
 * only be guest memory (the host's global TLB entries are gone: see
 * LG_CR4_OFF in switcher.c), and copied once into the state page, so that
 * what we check is what we use.  A read that faults (the shadow has no entry
 * for the stack yet) lands in switcher_fault, which resumes at
 * fast_iret_fallback.  The stores in the shared page (kernel stack, fs
 * and user gs base) are copied and checked the same way and take effect,
 * as they do at every entry from C.  Returns to kernel mode, frames that
 * C would refuse, and an interrupt that the return enables and that is
 * already pending all go the slow way.
 */
fast_iret:
	movq	%rcx, SW(SW_FAST_SAVE + 8)(%rip)
	movq	%rdx, SW(SW_FAST_SAVE + 16)(%rip)
	movq	%r11, SW(SW_FAST_SAVE + 24)(%rip)
	movq	SW(SW_SCRATCH)(%rip), %rax
	movabsq	$LG_GUEST_KERNEL_HALF, %rcx
	cmpq	%rcx, %rax
	jb	fast_iret_fallback
	cmpq	$-IRET_SIZE, %rax
	ja	fast_iret_fallback
	/* No read of the guest's pointer before the checks are done. */
	lfence
fast_iret_read:
	.irp field, IRET_RAX, IRET_R11, IRET_RCX, IRET_RIP, IRET_CS, IRET_RFLAGS, IRET_RSP
	COPY_QWORD \field(%rax), SW(SW_FAST_FRAME + \field)(%rip)
	.endr
	movq	IRET_SS(%rax), %rcx		/* unused, but C reads it too */
fast_iret_read_end:
	COPY_QWORD SHARED(SH_KERNEL_STACK)(%rip), SW(SW_FAST_STORES + 0)(%rip)
	COPY_QWORD SHARED(SH_FS_BASE)(%rip), SW(SW_FAST_STORES + 8)(%rip)
	COPY_QWORD SHARED(SH_GS_BASE_USER)(%rip), SW(SW_FAST_STORES + 16)(%rip)

	cmpq	$LGUEST_USER_CS, SW(SW_FAST_FRAME + IRET_CS)(%rip)
	jne	fast_iret_fallback
	CANONICAL_OR_FALLBACK SW(SW_FAST_FRAME + IRET_RIP)(%rip)
	CANONICAL_OR_FALLBACK SW(SW_FAST_FRAME + IRET_RSP)(%rip)
	CANONICAL_OR_FALLBACK SW(SW_FAST_STORES + 0)(%rip)
	CANONICAL_OR_FALLBACK SW(SW_FAST_STORES + 8)(%rip)
	CANONICAL_OR_FALLBACK SW(SW_FAST_STORES + 16)(%rip)
	/* An unmasked line pending, and the return enables interrupts? */
	testl	$X86_EFLAGS_IF, SW(SW_FAST_FRAME + IRET_RFLAGS)(%rip)
	jz	1f
	movq	SHARED(SH_MASKED)(%rip), %rcx
	notq	%rcx
	testq	SHARED(SH_PENDING)(%rip), %rcx
	jnz	fast_iret_fallback
1:
	/* Checked: from here on the return happens. */
	movl	SW(SW_FAST_FRAME + IRET_RFLAGS)(%rip), %ecx
	andl	$LGUEST_IF_FLAG, %ecx
	movq	%rcx, SHARED(SH_IRQ_ENABLED)(%rip)
	movq	SW(SW_FAST_STORES + 0)(%rip), %rcx
	movq	%rcx, SW(SW_GUEST_KSTACK)(%rip)
	movl	$MSR_FS_BASE, %ecx
	movl	SW(SW_FAST_STORES + 8)(%rip), %eax
	movl	SW(SW_FAST_STORES + 12)(%rip), %edx
	wrmsr
	/* The kernel's gs base is kept aside, the user's loaded. */
	movl	$MSR_GS_BASE, %ecx
	rdmsr
	movl	%eax, SW(SW_GUEST_GS_OTHER)(%rip)
	movl	%edx, SW(SW_GUEST_GS_OTHER + 4)(%rip)
	movl	SW(SW_FAST_STORES + 16)(%rip), %eax
	movl	SW(SW_FAST_STORES + 20)(%rip), %edx
	wrmsr
	LOAD_VIEW SW_GUEST_CR3_USER, %rax
	movq	$LG_SEL_USER_CS, SW(SW_GUEST_CS)(%rip)
	incq	SW(SW_FAST_IRETS)(%rip)

	pushq	$LG_SEL_USER_DS
	pushq	SW(SW_FAST_FRAME + IRET_RSP)(%rip)
	movq	SW(SW_FAST_FRAME + IRET_RFLAGS)(%rip), %rax
	andq	$LG_GUEST_RFLAGS, %rax
	orq	$(X86_EFLAGS_IF | X86_EFLAGS_FIXED), %rax
	pushq	%rax
	pushq	$LG_SEL_USER_CS
	pushq	SW(SW_FAST_FRAME + IRET_RIP)(%rip)
	movq	SW(SW_FAST_FRAME + IRET_RAX)(%rip), %rax
	movq	SW(SW_FAST_FRAME + IRET_RCX)(%rip), %rcx
	movq	SW(SW_FAST_FRAME + IRET_R11)(%rip), %r11
	movq	SW(SW_FAST_SAVE + 16)(%rip), %rdx
	jmp	iret_to_guest

/* Not for the fast path after all: the registers as SYSCALL left them. */
fast_iret_fallback:
	movq	$LHCALL_IRET, %rax
	movq	SW(SW_FAST_SAVE + 8)(%rip), %rcx
	movq	SW(SW_FAST_SAVE + 16)(%rip), %rdx
	movq	SW(SW_FAST_SAVE + 24)(%rip), %r11
	leaq	SW(SW_REGS_TOP)(%rip), %rsp
	jmp	syscall_to_host

/*
 * LHCALL_LOAD_CR3 with the no-flush bit of an address space whose shadow
 * lg.ko keeps: the guest's PML4 and PCID those of one of the spaces C
 * listed in the state page (SW_SPACES).  That is Linux's switch_mm back
 * to a process that ran here before, on every context switch.  C would
 * keep that shadow as it is and make it current; so do we, and return to
 * the guest kernel with rax = 0.  C learns which space is current, and
 * in what order spaces were loaded, at the next exit.  Any other load (a
 * PCID or PML4 not kept, or one that flushes) is C's: it may free tables.
 * So is one whose return would deliver a pending interrupt.
 */
fast_load_cr3:
	btq	$LG_CR3_NOFLUSH_BIT, %rdi
	jnc	syscall_to_host
	movq	%rcx, SW(SW_FAST_SAVE + 8)(%rip)
	movq	%rdx, SW(SW_FAST_SAVE + 16)(%rip)
	cmpq	$0, SHARED(SH_IRQ_ENABLED)(%rip)
	je	1f
	movq	SHARED(SH_MASKED)(%rip), %rcx
	notq	%rcx
	testq	SHARED(SH_PENDING)(%rip), %rcx
	jnz	fast_load_cr3_fallback
1:	movq	%rdi, %rdx
	btrq	$LG_CR3_NOFLUSH_BIT, %rdx
	leaq	SW(SW_SPACES)(%rip), %rcx
	.rept	8
	cmpq	%rdx, SW_SPACE_KEY(%rcx)
	je	2f
	addq	$SW_SPACE_SIZE, %rcx
	.endr
	jmp	fast_load_cr3_fallback
2:	movq	SW_SPACE_KERNEL_CR3(%rcx), %rax
	movq	%rax, SW(SW_GUEST_CR3_KERNEL)(%rip)
	movq	SW_SPACE_USER_CR3(%rcx), %rax
	movq	%rax, SW(SW_GUEST_CR3_USER)(%rip)
	movabsq	$LG_PTE_ADDR, %rax
	andq	%rax, %rdx
	movq	%rdx, SW(SW_GUEST_PML4)(%rip)
	incq	SW(SW_FAST_CR3_LOADS)(%rip)
	movq	SW(SW_FAST_CR3_LOADS)(%rip), %rax
	movq	%rax, SW_SPACE_STAMP(%rcx)
	leaq	SW(SW_SPACES)(%rip), %rax
	subq	%rax, %rcx
	shrq	$5, %rcx			/* SW_SPACE_SIZE */
	movq	%rcx, SW(SW_FAST_CR3_SPACE)(%rip)
	LOAD_VIEW SW_GUEST_CR3_KERNEL, %rax

	pushq	$LG_SEL_USER_DS
	pushq	SW(SW_SCRATCH)(%rip)
	movq	%r11, %rax
	andq	$LG_GUEST_RFLAGS, %rax
	orq	$(X86_EFLAGS_IF | X86_EFLAGS_FIXED), %rax
	pushq	%rax
	pushq	$LG_SEL_GUEST_KERNEL_CS
	pushq	SW(SW_FAST_SAVE + 8)(%rip)
	xorl	%eax, %eax
	movq	SW(SW_FAST_SAVE + 8)(%rip), %rcx
	movq	SW(SW_FAST_SAVE + 16)(%rip), %rdx
	jmp	iret_to_guest

fast_load_cr3_fallback:
	movq	$LHCALL_LOAD_CR3, %rax
	movq	SW(SW_FAST_SAVE + 8)(%rip), %rcx
	movq	SW(SW_FAST_SAVE + 16)(%rip), %rdx
	jmp	syscall_to_host

/*
 * An IDT vector: from the guest (CPL 3) the frame already sits on the
 * register area; at CPL 0 we were entering the guest and something failed.
 * A page fault's address is kept first, before anything can fault again
 * (the fast path below reads guest memory, and may).
 */
vector_common:
	testb	$3, 24(%rsp)
	jz	switcher_fault
	cmpq	$X86_TRAP_PF, (%rsp)
	jne	1f
	movq	%rax, SW(SW_FAST_SAVE + 0)(%rip)
	movq	%cr2, %rax
	movq	%rax, SW(SW_CR2)(%rip)
	movq	SW(SW_FAST_SAVE + 0)(%rip), %rax
1:	testb	$LG_SWITCH_FAST, SW(SW_SWITCH_FLAGS)(%rip)
	jz	guest_exit
	cmpq	$LG_SEL_USER_CS, 24(%rsp)
	je	fast_user_exception
	jmp	guest_exit

/*
 * The third fast path: an exception from guest-user mode, delivered to
 * the guest kernel's handler as lg_reflect_trap() would (a native frame on
 * the kernel stack in force, the handler entered in kernel mode, the
 * virtual IF off unless the handler keeps it), with no world switch.  It
 * takes the vectors C marked in SW_FAST_VECTORS, those whose C path does
 * nothing but reflect.  A page fault is one of them only when C's shadow
 * has nothing to fill: the guest's own tables do not map the address, or
 * refuse the access (a write to a copy-on-write page, say).  To know that,
 * we walk the guest's tables ourselves, through the kernel view's mapping
 * of the guest's direct map (the guest told us where it is,
 * lguest_shared.direct_map): every entry's address is checked to lie in
 * guest RAM and its mapping in the kernel half above the hole, so the walk
 * reads only guest memory, and a read the shadow cannot serve yet faults
 * into switcher_fault, which gives up.  Entries that map the page and
 * allow the access mean a page for C to fill.  The frame goes
 * onto the kernel stack through the kernel view, and a write that faults
 * (no shadow entry yet, or a clean page mapped read-only) gives up the
 * same way: C then does it all again.
 */
fast_user_exception:
	movq	%rax, SW(SW_FAST_SAVE + 0)(%rip)
	movq	%rcx, SW(SW_FAST_SAVE + 8)(%rip)
	movq	%rdx, SW(SW_FAST_SAVE + 16)(%rip)
	movq	%r11, SW(SW_FAST_SAVE + 24)(%rip)
	movq	(%rsp), %rax			/* the vector */
	cmpq	$31, %rax
	ja	fast_exception_fallback		/* an interrupt: the host's */
	movl	SW(SW_FAST_VECTORS)(%rip), %ecx
	btl	%eax, %ecx
	jnc	fast_exception_fallback
	cmpq	$0, SW(SW_GUEST_KSTACK)(%rip)
	je	fast_exception_fallback		/* C kills it, with the reason */
	/* A handler that keeps interrupts on would take a pending one first. */
	movl	SW(SW_FAST_KEEP_IRQS)(%rip), %ecx
	btl	%eax, %ecx
	jnc	1f
	movq	SHARED(SH_MASKED)(%rip), %rcx
	notq	%rcx
	testq	SHARED(SH_PENDING)(%rip), %rcx
	jnz	fast_exception_fallback
1:	/* The guest's tables and its kernel stack are in the kernel view. */
	LOAD_VIEW SW_GUEST_CR3_KERNEL, %rcx
	cmpq	$X86_TRAP_PF, %rax
	jne	fast_exception_deliver

	/* Nothing unusual about the access, and not in the hole (C's). */
	testq	$~(LG_PF_PROT | LG_PF_WRITE | LG_PF_USER | LG_PF_INSTR), 8(%rsp)
	jnz	fast_exception_fallback
	movq	SW(SW_CR2)(%rip), %rdx
	movabsq	$LG_SWITCHER_BASE, %rcx
	cmpq	%rcx, %rdx
	jb	1f
	movabsq	$LG_GUEST_KERNEL_HALF, %rcx
	cmpq	%rcx, %rdx
	jb	fast_exception_fallback
1:	/* The guest's direct map: read once, then checked at each use. */
	movq	SHARED(SH_DIRECT_MAP)(%rip), %rcx
	testq	%rcx, %rcx
	jz	fast_exception_fallback
	movq	%rcx, SW(SW_DIRECT_MAP)(%rip)
	movq	SW(SW_GUEST_PML4)(%rip), %rcx
	movl	$(LG_PTE_USER | LG_PTE_WRITE), %r11d
fast_walk:
	WALK_LEVEL 39
	WALK_LEVEL 30, large=1
	WALK_LEVEL 21, large=1
	WALK_LEVEL 12, leaf=1
fast_walk_end:

	/*
	 * The guest's tables map the page.  Unless they refuse this access
	 * (as lg_walk() checks), it is a fill for C.
	 */
fast_page_fault_mapped:
	testl	$LG_PTE_USER, %r11d
	jz	fast_page_fault_refused
	testq	$LG_PF_WRITE, 8(%rsp)
	jz	1f
	testl	$LG_PTE_WRITE, %r11d
	jz	fast_page_fault_refused
1:	testq	$LG_PF_INSTR, 8(%rsp)
	jz	fast_exception_fallback
	testl	$LG_RIGHTS_NO_EXEC, %r11d
	jz	fast_exception_fallback
fast_page_fault_refused:
	movl	$(LG_PF_PROT | LG_PF_USER), %eax
	jmp	2f
	/* Not mapped: present clear in the error code the guest sees. */
fast_page_fault_not_present:
	movl	$LG_PF_USER, %eax
2:	movq	8(%rsp), %rdx
	andl	$(LG_PF_WRITE | LG_PF_INSTR), %edx
	orq	%rdx, %rax
	movq	%rax, 8(%rsp)

fast_exception_deliver:
	movq	SW(SW_GUEST_KSTACK)(%rip), %rcx
	andq	$~15, %rcx
	leaq	-48(%rcx), %rdx
	movabsq	$LG_GUEST_KERNEL_HALF, %rax
	cmpq	%rax, %rdx
	jb	fast_exception_fallback
	/* No write through the guest's pointer before the check is done. */
	lfence
fast_frame_write:
	movq	$LGUEST_USER_DS, -8(%rcx)
	movq	40(%rsp), %rax			/* rsp */
	movq	%rax, -16(%rcx)
	movq	32(%rsp), %rax			/* rflags, with the virtual IF */
	andq	$~X86_EFLAGS_IF, %rax
	movq	SHARED(SH_IRQ_ENABLED)(%rip), %rdx
	andl	$X86_EFLAGS_IF, %edx
	orq	%rdx, %rax
	movq	%rax, -24(%rcx)
	movq	$LGUEST_USER_CS, -32(%rcx)
	movq	16(%rsp), %rax			/* rip */
	movq	%rax, -40(%rcx)
	subq	$40, %rcx
	movq	(%rsp), %rax
	movl	$LG_ERRCODE_VECTORS, %edx
	btl	%eax, %edx
	jnc	fast_frame_write_end
	movq	8(%rsp), %rdx
	movq	%rdx, -8(%rcx)
	subq	$8, %rcx
fast_frame_write_end:

	/* Delivered: from here on the guest is in its handler. */
	cmpq	$X86_TRAP_PF, %rax
	jne	1f
	movq	SW(SW_CR2)(%rip), %rdx
	movq	%rdx, SHARED(SH_CR2)(%rip)
	incq	SW(SW_FAST_PAGE_FAULTS)(%rip)
	jmp	2f
1:	incq	SW(SW_FAST_EXCEPTIONS)(%rip)
2:	movl	SW(SW_FAST_KEEP_IRQS)(%rip), %edx
	btl	%eax, %edx
	jc	3f
	movq	$0, SHARED(SH_IRQ_ENABLED)(%rip)
3:	leaq	SW(SW_FAST_HANDLERS)(%rip), %rdx
	movq	(%rdx,%rax,8), %rdx
	/* The CPU's frame becomes the one IRETQ takes into the handler. */
	movq	%rdx, 16(%rsp)
	movq	$LG_SEL_GUEST_KERNEL_CS, 24(%rsp)
	movq	32(%rsp), %rax
	andq	$(LG_GUEST_RFLAGS & ~LG_DELIVERY_CLEARS), %rax
	orq	$(X86_EFLAGS_IF | X86_EFLAGS_FIXED), %rax
	movq	%rax, 32(%rsp)
	movq	%rcx, 40(%rsp)
	movq	$LG_SEL_USER_DS, 48(%rsp)
	KERNEL_GS_BASE
	movq	$LG_SEL_GUEST_KERNEL_CS, SW(SW_GUEST_CS)(%rip)
	movq	SW(SW_FAST_SAVE + 0)(%rip), %rax
	movq	SW(SW_FAST_SAVE + 8)(%rip), %rcx
	movq	SW(SW_FAST_SAVE + 16)(%rip), %rdx
	movq	SW(SW_FAST_SAVE + 24)(%rip), %r11
	addq	$16, %rsp
	jmp	iret_to_guest

/*
 * Not for the fast path after all: the registers as the CPU left them (a
 * page fault's error code may be the one the guest would see, which C
 * takes the same way: it looks only at the write and fetch bits).
 */
fast_exception_fallback:
	movq	SW(SW_FAST_SAVE + 0)(%rip), %rax
	movq	SW(SW_FAST_SAVE + 8)(%rip), %rcx
	movq	SW(SW_FAST_SAVE + 16)(%rip), %rdx
	movq	SW(SW_FAST_SAVE + 24)(%rip), %r11
	leaq	SW(SW_REGS_TRAPNUM)(%rip), %rsp
	jmp	guest_exit

/*
 * #DB, NMI, #DF and #MC arrive on their own IST stacks.  From the guest,
 * copy the seven words into the register area and carry on as for any
 * vector.  Inside the switcher, note NMI/#MC for the host, drop a #DB (see
 * the top of this file), and return at once.
 */
ist_common:
	testb	$3, 24(%rsp)
	jz	ist_in_switcher
	pushq	%rax
	movq	8(%rsp), %rax
	movq	%rax, SW(SW_REGS_TRAPNUM)(%rip)
	movq	16(%rsp), %rax
	movq	%rax, SW(SW_REGS_TRAPNUM + 8)(%rip)
	movq	24(%rsp), %rax
	movq	%rax, SW(SW_REGS_TRAPNUM + 16)(%rip)
	movq	32(%rsp), %rax
	movq	%rax, SW(SW_REGS_TRAPNUM + 24)(%rip)
	movq	40(%rsp), %rax
	movq	%rax, SW(SW_REGS_TRAPNUM + 32)(%rip)
	movq	48(%rsp), %rax
	movq	%rax, SW(SW_REGS_TRAPNUM + 40)(%rip)
	movq	56(%rsp), %rax
	movq	%rax, SW(SW_REGS_TRAPNUM + 48)(%rip)
	popq	%rax
	leaq	SW(SW_REGS_TRAPNUM)(%rip), %rsp
	jmp	guest_exit

ist_in_switcher:
	cmpq	$1, (%rsp)
	jne	3f
	/* The guest's single step over SYSCALL: no TF, no stale DR6. */
	andq	$~X86_EFLAGS_TF, 32(%rsp)
	pushq	%rax
	movq	$LG_DR6_CLEAR, %rax
	movq	%rax, %db6
	popq	%rax
	addq	$16, %rsp
	iretq
3:	cmpq	$2, (%rsp)
	jne	1f
	movq	$1, SW(SW_NMI_PENDING)(%rip)
	addq	$16, %rsp
	iretq
1:	cmpq	$18, (%rsp)
	jne	2f
	movq	$1, SW(SW_MC_PENDING)(%rip)
	addq	$16, %rsp
	iretq
	/* A double fault inside the switcher: nothing sane is left. */
2:	cli
	hlt
	jmp	2b

/*
 * Entering the guest faulted: record the vector and unwind to the host.
 * Unless it was a fast path's access to guest memory (the IRET frame, the
 * guest's page tables, an exception frame), which gives up and takes the
 * slow path instead.
 */
switcher_fault:
	pushq	%rax
	FAULT_RESUMES fast_iret_read, fast_iret_read_end, fast_iret_fallback
	FAULT_RESUMES fast_walk, fast_walk_end, fast_exception_fallback
	FAULT_RESUMES fast_frame_write, fast_frame_write_end, fast_exception_fallback
	popq	%rax
	movq	(%rsp), %rax
	movq	%rax, SW(SW_SWITCHER_FAULT)(%rip)
	jmp	restore_host_segments

switcher_fault_resume:
	movq	%rax, 24(%rsp)
	popq	%rax
	addq	$16, %rsp
	iretq

guest_exit:
	cld
	pushq	%rdi
	pushq	%rsi
	pushq	%rdx
	pushq	%rcx
	pushq	%rax
	pushq	%r8
	pushq	%r9
	pushq	%r10
	pushq	%r11
	pushq	%rbx
	pushq	%rbp
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15

	movl	$MSR_FS_BASE, %ecx
	rdmsr
	movl	%eax, SW(SW_GUEST_FS_BASE)(%rip)
	movl	%edx, SW(SW_GUEST_FS_BASE + 4)(%rip)
	movl	$MSR_GS_BASE, %ecx
	rdmsr
	movl	%eax, SW(SW_GUEST_GS_BASE)(%rip)
	movl	%edx, SW(SW_GUEST_GS_BASE + 4)(%rip)
	movw	%ds, SW(SW_GUEST_SEGS + 0)(%rip)
	movw	%es, SW(SW_GUEST_SEGS + 2)(%rip)
	movw	%fs, SW(SW_GUEST_SEGS + 4)(%rip)
	movw	%gs, SW(SW_GUEST_SEGS + 6)(%rip)

restore_host_segments:
	/* No guest breakpoint outlives the guest. */
	cmpq	$0, SW(SW_GUEST_DR7)(%rip)
	je	1f
	xorl	%eax, %eax
	movq	%rax, %db7
1:	movw	SW(SW_HOST_SEGS + 0)(%rip), %ds
	movw	SW(SW_HOST_SEGS + 2)(%rip), %es
	movw	SW(SW_HOST_SEGS + 4)(%rip), %fs
	movw	SW(SW_HOST_SEGS + 6)(%rip), %gs
	movl	$MSR_FS_BASE, %ecx
	movl	SW(SW_HOST_FS_BASE)(%rip), %eax
	movl	SW(SW_HOST_FS_BASE + 4)(%rip), %edx
	wrmsr
	movl	$MSR_GS_BASE, %ecx
	movl	SW(SW_HOST_GS_BASE)(%rip), %eax
	movl	SW(SW_HOST_GS_BASE + 4)(%rip), %edx
	wrmsr

	movq	SW(SW_HOST_CR4)(%rip), %rax
	cmpq	SW(SW_GUEST_CR4)(%rip), %rax
	je	1f
	movq	%rax, %cr4
1:	movq	SW(SW_HOST_CR3)(%rip), %rax
	movq	%rax, %cr3
	/*
	 * The host's GDT is mapped read-only, and LTR writes the busy bit:
	 * load the writable alias for the LTR, then the usual one.  The IDT
	 * comes last, so an NMI in between still finds our stubs.
	 */
	lgdt	SW(SW_HOST_GDT_RW)(%rip)
	movq	SW(SW_HOST_GDT_RW + 2)(%rip), %rax
	andb	$~0x02, (LG_GDT_TSS * 8 + 5)(%rax)
	movl	$LG_SEL_TSS, %eax
	ltr	%ax
	lgdt	SW(SW_HOST_GDT)(%rip)
	lidt	SW(SW_HOST_IDT)(%rip)

	movq	SW(SW_HOST_RSP)(%rip), %rsp
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%rbx
	popq	%rbp
	/* The host's rflags: whatever the guest left in DF, AC and the rest. */
	popfq
	ret

	.balign 4096
SYM_DATA_END_LABEL(lg_switcher_start, SYM_L_GLOBAL, lg_switcher_end)

/* Offsets of the entry points, for the C side. */
	.section .rodata, "a"
SYM_DATA(lg_switcher_offset_vectors, .quad lg_switcher_vectors - lg_switcher_start)
SYM_DATA(lg_switcher_offset_enter, .quad lg_switch_to_guest - lg_switcher_start)
SYM_DATA(lg_switcher_offset_syscall, .quad lg_syscall_entry - lg_switcher_start)

/*
 * Host interrupts that arrived while the guest ran were taken by our IDT,
 * so the host's handler has not run and the local APIC waits for its EOI.
 * Back in the host, C calls lg_host_vectors + 16 * vector with interrupts
 * off: "int $vector" runs the host's own handler through the host's IDT
 * with a genuine frame, exactly as if the interrupt had just arrived.
 */
	.text
	.balign 16
SYM_CODE_START(lg_host_vectors)
	vec = 0
	.rept 256
	.balign 16
	endbr64
	int	$vec
	RET
	vec = vec + 1
	.endr
SYM_CODE_END(lg_host_vectors)
