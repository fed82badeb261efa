/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the pieces of lg.ko share: the guest, its vCPU and the
 * functions each file offers the others.
 *
 * A guest is one open file of /dev/lguest.  It owns a slice of its
 * launcher's address space as "physical" memory and one or more vCPUs,
 * each run by a launcher thread of its own, with registers that live here
 * between runs, its own shadow page tables built from the guest's tables,
 * and its own timer.  Everything the guest hands us is checked here before
 * the hardware ever sees it.
 */
#ifndef LG_H
#define LG_H

#include <linux/types.h>
#include <linux/mutex.h>
#include <linux/wait.h>
#include <linux/hrtimer.h>
#include <linux/list.h>
#include <uapi/linux/lguest.h>
#include "switcher_layout.h"

/*
 * The guest's registers as the switcher saves them: general registers
 * pushed by the switcher, trap number and error code, then the frame the
 * CPU pushed.  The layout is fixed by switcher_64.S.
 */
struct lg_regs {
	u64 r15, r14, r13, r12, rbp, rbx, r11, r10, r9, r8;
	u64 rax, rcx, rdx, rsi, rdi;
	u64 trapnum, errcode;
	u64 rip, cs, rflags, rsp, ss;
};

/* What the guest's own page tables say about one virtual address. */
struct lg_walk {
	u64 gpa;		/* guest-physical address of the byte */
	bool writable;		/* every level allows writes */
	bool user;		/* every level allows user access */
	bool nx;		/* some level forbids execution */
	bool dirty;		/* the leaf is already dirty */
	bool global;		/* the leaf is global: survives CR3 loads */
	u64 size;		/* the guest's page: 4 KiB, 2 MiB or 1 GiB */
	/* The leaf entry's guest-physical address, and what the levels above allow. */
	u64 leaf_gpa;
	bool upper_writable, upper_user, upper_nx;
};

/*
 * Results of a guest page-table walk that did not find a usable page: the
 * error code bits (LG_PF_PROT.., switcher_layout.h), and these, which are
 * not error code bits: a fault happened, or the device window was hit.
 */
#define LG_PF_FAULT	0x10000
#define LG_PF_MMIO	0x20000
#define LG_PF_ERRCODE	0xffff

/* The shadow of one guest address space: a root for each view of it. */
struct lg_shadow_space {
	u64 *kernel_root;	/* guest kernel: all guest mappings */
	u64 *user_root;		/* guest user: user mappings only */
	u64 pml4;		/* the guest-physical PML4 it shadows ... */
	u16 pcid;		/* ... under this PCID */
	bool in_use;
	unsigned long last_use;	/* lg_shadow.clock when last loaded */
	/* PML4 slots holding a translation from a non-global guest entry */
	DECLARE_BITMAP(local_slots, PTRS_PER_PGD);
};

/* Address spaces whose shadows are kept, as a TLB keeps PCIDs' entries. */
#define LG_SHADOW_SPACES	8

/* CR3's bit (and LHCALL_LOAD_CR3's) that keeps what the TLB holds for the PCID. */
#define LG_CR3_NOFLUSH		BIT_ULL(LG_CR3_NOFLUSH_BIT)

/* What the switcher needs of a kept space (key: LG_SPACE_NONE if unused). */
struct lg_space_roots {
	u64 key;		/* guest PML4 | PCID */
	u64 kernel, user;	/* physical addresses of the roots */
};

struct lg_shadow {
	struct lg_shadow_space spaces[LG_SHADOW_SPACES];
	struct lg_shadow_space *cur;	/* the guest's current CR3 */
	unsigned long clock;
	/* Tables below the roots, and the budget for them (page_tables.c). */
	unsigned long nr_tables, max_tables;
};

/*
 * One vCPU: its registers between runs, its mode, what it registered (trap
 * handlers, shared page, stacks, segment bases, debug registers), its own
 * shadow of the guest's page tables, its timer.  Only the thread running it
 * (under run_lock) touches these, except where a comment says otherwise.
 */
struct lg_vcpu {
	struct lguest *lg;
	unsigned int id;		/* 0 .. lg->nr_vcpus - 1 */
	struct mutex run_lock;		/* one LGUEST_RUN at a time */
	struct task_struct *task;	/* the thread in LGUEST_RUN */
	/* LHCALL_START_VCPU: claimed by one starter, then started. */
	atomic_t start_claimed;
	bool started;			/* release/acquire: regs are set */

	struct lg_regs regs;
	bool user_mode;			/* guest-user (true) or kernel mode */
	u64 fs_base, gs_base_kernel, gs_base_user;
	u16 segs[4];			/* ds, es, fs, gs selectors */
	u64 kernel_stack;		/* LHCALL_SET_KERNEL_STACK */
	u64 handler_entered;		/* the last handler we reflected to */
	u64 trap_handler[LG_TRAP_SYSCALL + 1];
	u8 trap_flags[LG_TRAP_SYSCALL + 1];
	u64 cr3;			/* guest-physical PML4 */
	void *fpu;			/* XSAVE area of the guest */
	u64 xcr0;			/* the guest's XSETBV */
	u64 debugreg[4], dr7;		/* LHCALL_SET_DEBUGREG */
	u64 dr6;			/* at the last #DB, for the guest */
	struct lg_shadow shadow;

	/* The page shared with the guest, pinned and mapped in the kernel. */
	struct lguest_shared *shared;
	struct page *shared_page;

	/* Interrupts and time: raisers on any CPU use these. */
	struct hrtimer timer;
	wait_queue_head_t wq;		/* a halted or unstarted vCPU sleeps here */
	bool halted;
	/* Interrupts raised before the vCPU registered its shared page. */
	unsigned long early_pending;

	/* An MMIO read waiting for the launcher's value. */
	bool mmio_read_pending;
	u8 mmio_reg;			/* destination register number */
	u8 mmio_access_size;
	u8 mmio_zero_extend;		/* MOVZX, or 32-bit MOV */
	u8 mmio_high_byte;		/* into ah, ch, dh or bh */
	u8 mmio_insn_len;

	u64 steal_ns;			/* for the shared page: see vcpu_yield() */

	/* What LGUEST_GET_STATS and /proc/lguest report (summed). */
	struct lguest_stats stats;
	bool death_reported;		/* LGUEST_RUN told this vCPU's thread */
};

/*
 * The guest: its memory and the vCPUs that run in it.  Guest-physical
 * pages are pinned by whichever vCPU touches them first and stay pinned
 * until the guest is destroyed; nothing else here changes while vCPUs run,
 * except the death, which any vCPU may bring and every vCPU then reports.
 */
struct lguest {
	struct mutex init_lock;		/* LGUEST_INIT against itself */
	bool initialized;		/* release/acquire: all below is set */
	struct mm_struct *mm;		/* the launcher's address space */
	bool switcher_mapped;		/* mm holds the switcher (core.c) */

	/* Guest-physical memory: [0, mem_size) at mem_base in the launcher. */
	unsigned long mem_base;
	u64 mem_size;
	u64 mmio_base, mmio_size;
	struct page **pinned;		/* host page of each guest page */
	unsigned long locked_pages;	/* charged to RLIMIT_MEMLOCK */

	unsigned int nr_vcpus;
	struct lg_vcpu *vcpus;		/* [nr_vcpus] */

	struct list_head guests;	/* in core.c's list, when listed */
	bool listed;
	pid_t launcher_tgid;

	/* Death: once set (by one cmpxchg), the guest never runs again. */
	spinlock_t death_lock;
	u32 dead;			/* enum lguest_exit_reason, or 0 */
	char death_reason[LGUEST_REASON_MAX];
};

/* core.c */
extern unsigned int lg_tsc_khz;
void lg_kill(struct lg_vcpu *vcpu, const char *fmt, ...) __printf(2, 3);
void lg_end(struct lguest *lg, u32 how, const char *reason);

/* switcher_64.S: the switcher text and where its entry points lie in it */
typedef void (*lg_switcher_fn)(void);
extern const char lg_switcher_start[], lg_switcher_end[];
extern const u64 lg_switcher_offset_vectors, lg_switcher_offset_enter;
extern const u64 lg_switcher_offset_syscall;
extern const char lg_host_vectors[];

/* switcher.c */
int lg_switcher_init(void);
void lg_switcher_exit(void);
u64 lg_switcher_cpu_pgd_entry(unsigned int cpu);
int lg_switcher_map_mm(struct mm_struct *mm);
void lg_switcher_unmap_mm(struct mm_struct *mm);
unsigned int lg_run_guest_once(struct lg_vcpu *vcpu, u64 *cr2);
int lg_fpu_init(struct lg_vcpu *vcpu);
void lg_fpu_free(struct lg_vcpu *vcpu);
bool lg_set_guest_xcr0(struct lg_vcpu *vcpu, u64 xcr0);
bool lg_canonical(u64 addr);

/* page_tables.c */
int lg_shadow_init(struct lg_vcpu *vcpu);
void lg_shadow_free(struct lg_vcpu *vcpu);
void lg_shadow_flush(struct lg_vcpu *vcpu, bool keep_global);
void lg_shadow_load_cr3(struct lg_vcpu *vcpu, u64 pml4, u16 pcid, bool keep);
void lg_shadow_invlpg(struct lg_vcpu *vcpu, u64 va);
unsigned int lg_shadow_roots(struct lg_vcpu *vcpu, u64 switcher_entry,
			     struct lg_space_roots *roots);
void lg_shadow_took_fast_loads(struct lg_vcpu *vcpu, unsigned int cur,
			       const u64 *stamps, u64 loads);
int lg_shadow_fault(struct lg_vcpu *vcpu, u64 va, u64 hw_errcode, u64 *gpa);
int lg_walk(struct lg_vcpu *vcpu, u64 va, u32 access, struct lg_walk *w);
int lg_copy_from_guest(struct lg_vcpu *vcpu, void *dst, u64 gva, size_t len);
int lg_copy_to_guest(struct lg_vcpu *vcpu, u64 gva, const void *src, size_t len);
struct page *lg_guest_page(struct lguest *lg, u64 gpa);
void lg_unpin_all(struct lguest *lg);
bool lg_gpa_is_ram(struct lguest *lg, u64 gpa, u64 len);
bool lg_guest_may_map(u64 va);

/* interrupts_and_traps.c */
void lg_timer_init(struct lg_vcpu *vcpu);
void lg_set_timer(struct lg_vcpu *vcpu, u64 delta_ns);
bool lg_irq_deliverable(struct lg_vcpu *vcpu);
void lg_set_virtual_if(struct lg_vcpu *vcpu, u64 on);
void lg_raise_irq(struct lg_vcpu *vcpu, unsigned int irq);
void lg_kick_vcpu(struct lg_vcpu *vcpu);
void lg_move_early_irqs(struct lg_vcpu *vcpu, struct lguest_shared *shared);
int lg_deliver_pending_irq(struct lg_vcpu *vcpu);
int lg_reflect_trap(struct lg_vcpu *vcpu, unsigned int vector, bool has_err,
		    u64 errcode);
void lg_reflect_syscall(struct lg_vcpu *vcpu);
int lg_do_iret(struct lg_vcpu *vcpu);
void lg_enter_kernel_mode(struct lg_vcpu *vcpu);
bool lg_vector_has_errcode(unsigned int vector);

/* hypercalls.c: 0 to resume the guest, 1 to return run to the launcher */
int lg_do_hypercall(struct lg_vcpu *vcpu, struct lguest_run *run);

/* emulate.c */
u64 *lg_reg(struct lg_vcpu *vcpu, unsigned int reg);
bool lg_emulate_privileged(struct lg_vcpu *vcpu);

/* mmio.c */
int lg_emulate_mmio(struct lg_vcpu *vcpu, u64 gpa, struct lguest_run *run);
void lg_complete_mmio(struct lg_vcpu *vcpu, const struct lguest_run *run);

#endif /* LG_H */
