// SPDX-License-Identifier: GPL-2.0
/*
 * Building the switcher and running the guest once through it.
 *
 * At load time we copy the switcher text (switcher_64.S) into pages of our
 * own and give every host CPU a region in the hypervisor hole: the text
 * again, a state page holding a GDT, a TSS and the saved registers, an IDT
 * whose 256 gates all point into that CPU's copy of the text, and IST
 * stacks.  One page-table branch (PDPT -> PD -> PTs) maps all regions; while
 * a guest exists it hangs in its launcher's page table, where the switch
 * begins and ends.  A guest sees less: each CPU has a branch of its own
 * mapping only its own region, and the shadow root gets the branch of the
 * CPU it is entered on.  The pages are supervisor-only either way, but a
 * CPU that speculates across that check (Meltdown) must not find another
 * CPU's state page, where another guest's registers lie.
 *
 * lg_run_guest_once() is the only door into the guest: it fills the state
 * page, swaps the few MSRs that would otherwise lead the guest into the
 * host (SYSCALL's LSTAR, STAR and mask; SYSENTER's CS), disables the host's
 * hardware breakpoints (they must not fire in the switcher, or on guest
 * accesses), swaps the FPU state and calls the switcher; when the switcher
 * returns it replays to the host any interrupt, NMI or machine check that
 * hit while the guest ran.
 */
#include <linux/module.h>
#include <linux/mm.h>
#include <linux/gfp.h>
#include <linux/slab.h>
#include <linux/sched/mm.h>
#include <linux/cpumask.h>
#include <linux/smp.h>
#include <linux/io.h>
#include <asm/desc.h>
#include <asm/trapnr.h>
#include <asm/msr.h>
#include <asm/pgtable.h>
#include <asm/tlbflush.h>
#include <asm/irq_vectors.h>
#include <asm/processor.h>
#include <asm/fpu/api.h>
#include <asm/fpu/xcr.h>
#include <asm/fpu/types.h>
#include <asm/pkru.h>
#include <asm/debugreg.h>
#include <asm/nospec-branch.h>
#include "lg.h"

/*
 * The switcher's fast paths (switcher_64.S) take a guest's system calls
 * and returns to user mode without a world switch to C.  Off, every one
 * of them comes here: for comparing the two, and for ruling them out.
 */
static bool fast_paths = true;
module_param(fast_paths, bool, 0644);
MODULE_PARM_DESC(fast_paths, "user syscalls and returns to user handled inside the switcher");

/* Upper-level and leaf flags for switcher mappings: never user-visible. */
#define SW_TABLE	(_PAGE_PRESENT | _PAGE_RW | _PAGE_ACCESSED)
#define SW_TEXT		(_PAGE_PRESENT | _PAGE_ACCESSED)
#define SW_DATA		(_PAGE_PRESENT | _PAGE_RW | _PAGE_ACCESSED | \
			 _PAGE_DIRTY)

static struct page *text_pages[LG_SWITCHER_TEXT_PAGES];
static struct page **cpu_pages;		/* per CPU: LG_REGION_PAGES - text */
static u64 *sw_pdpt, *sw_pd;		/* all regions, for the host */
static u64 **sw_pts;
static unsigned int nr_sw_pts;
/* Per CPU: PDPT, PD and PT mapping that CPU's region alone, for guests. */
struct cpu_branch {
	u64 *pdpt, *pd, *pt;
};
static struct cpu_branch *cpu_branches;
static u64 guest_fpu_mask;		/* XCR0 features a guest may have */
static u64 host_xcr0;
static unsigned int guest_fpu_size;

/* The top-level entry that hangs every CPU's switcher region into a host mm. */
static u64 host_pgd_entry(void)
{
	return __pa(sw_pdpt) | SW_TABLE;
}

/* The top-level entry for a guest entered on this CPU: its region only. */
u64 lg_switcher_cpu_pgd_entry(unsigned int cpu)
{
	return __pa(cpu_branches[cpu].pdpt) | SW_TABLE;
}

static unsigned long region_base(unsigned int cpu)
{
	return LG_SWITCHER_BASE + (unsigned long)cpu * LG_SWITCHER_STRIDE;
}

static struct page *cpu_page(unsigned int cpu, unsigned int page)
{
	return cpu_pages[cpu * (LG_REGION_PAGES - LG_SWITCHER_TEXT_PAGES) +
			 page - LG_SWITCHER_TEXT_PAGES];
}

static void *state_page(unsigned int cpu)
{
	return page_address(cpu_page(cpu, LG_PAGE_STATE));
}

#define STATE(p, off, type)	(*(type *)((char *)(p) + (off)))

bool lg_canonical(u64 addr)
{
	return (u64)((s64)(addr << 16) >> 16) == addr;
}

/* A region page, in the host's branch and in its CPU's own. */
static void map_switcher_page(unsigned int cpu, unsigned int page,
			      struct page *pg, u64 flags)
{
	unsigned long idx = (unsigned long)cpu * (LG_SWITCHER_STRIDE /
						 PAGE_SIZE) + page;
	u64 pte = page_to_phys(pg) | (flags & __supported_pte_mask);

	sw_pts[idx / PTRS_PER_PTE][idx % PTRS_PER_PTE] = pte;
	cpu_branches[cpu].pt[idx % PTRS_PER_PTE] = pte;
}

/* The shared page each CPU's region maps (LG_PAGE_SHARED), or NULL. */
static struct page **cpu_shared;

/*
 * The fast paths find the guest's shared page in the region of the CPU
 * the guest runs on.  It is mapped only in the CPU's guest-visible branch,
 * so only the switcher running on a guest's shadow root ever uses the
 * entry; every load of a shadow root into CR3 (PCID 0, no "keep" bit)
 * drops whatever the TLB held for it, so changing it needs no flush.  A
 * guest without a shared page gets no mapping at all: the page last
 * mapped may be freed, and a CPU that speculates across the supervisor
 * check must not find it.
 */
static void map_guest_shared_page(unsigned int cpu, struct page *page)
{
	unsigned long idx = (unsigned long)cpu * (LG_SWITCHER_STRIDE /
						 PAGE_SIZE) + LG_PAGE_SHARED;

	if (cpu_shared[cpu] == page)
		return;
	cpu_branches[cpu].pt[idx % PTRS_PER_PTE] = page ?
		page_to_phys(page) | ((SW_DATA | _PAGE_NX) &
				      __supported_pte_mask) : 0;
	cpu_shared[cpu] = page;
}

static void set_gdt_entry(void *state, unsigned int i, u64 desc)
{
	STATE(state, SW_GDT + i * 8, u64) = desc;
}

static void set_gate(gate_desc *gate, unsigned long addr, unsigned int ist,
		     unsigned int dpl)
{
	memset(gate, 0, sizeof(*gate));
	gate->offset_low = addr & 0xffff;
	gate->offset_middle = (addr >> 16) & 0xffff;
	gate->offset_high = addr >> 32;
	gate->segment = LG_SEL_HOST_CS;
	gate->bits.ist = ist;
	gate->bits.type = GATE_INTERRUPT;
	gate->bits.dpl = dpl;
	gate->bits.p = 1;
}

/*
 * Whether this CPU leaks stale data from its internal buffers to the next
 * privilege level, so that Linux clears them (VERW) on its way back to user
 * mode: then we do the same on the way into a guest.
 */
static bool cpu_buffers_need_clearing(void)
{
#ifdef X86_FEATURE_CLEAR_CPU_BUF
	return cpu_feature_enabled(X86_FEATURE_CLEAR_CPU_BUF);
#else
	return static_branch_unlikely(&mds_user_clear);
#endif
}

/*
 * A CPU's GDT, TSS and IDT.  The GDT has a 64-bit code segment at DPL 3 for
 * the guest kernel and the usual user segments; there is deliberately no
 * 32-bit code segment, so the guest cannot reach compatibility mode.  The
 * TSS's I/O bitmap offset lies beyond its limit: every port is refused.
 */
static void init_cpu_tables(unsigned int cpu)
{
	void *state = state_page(cpu);
	unsigned long base = region_base(cpu);
	unsigned long tss = base + LG_PAGE_STATE * PAGE_SIZE + SW_TSS;
	struct x86_hw_tss *hw_tss = state + SW_TSS;
	gate_desc *idt = page_address(cpu_page(cpu, LG_PAGE_IDT));
	struct desc_ptr *dp;
	unsigned int v, ist;

	set_gdt_entry(state, LG_GDT_GUEST_KERNEL_CS, 0x00affb000000ffffULL);
	set_gdt_entry(state, LG_GDT_HOST_CS, 0x00af9b000000ffffULL);
	set_gdt_entry(state, LG_GDT_HOST_DS, 0x00cf93000000ffffULL);
	set_gdt_entry(state, LG_GDT_USER_DS, 0x00cff3000000ffffULL);
	set_gdt_entry(state, LG_GDT_USER_CS, 0x00affb000000ffffULL);
	/* 64-bit available TSS: limit 0x67, type 9, present. */
	set_gdt_entry(state, LG_GDT_TSS, 0x67 | ((tss & 0xffffffULL) << 16) |
		      (0x89ULL << 40) | ((tss >> 24) & 0xff) << 56);
	set_gdt_entry(state, LG_GDT_TSS + 1, tss >> 32);
	hw_tss->sp0 = base + LG_PAGE_STATE * PAGE_SIZE + SW_REGS_TOP;
	hw_tss->ist[0] = base + (LG_PAGE_IST_DF + 1) * PAGE_SIZE;
	hw_tss->ist[1] = base + (LG_PAGE_IST_NMI + 1) * PAGE_SIZE;
	hw_tss->ist[2] = base + (LG_PAGE_IST_MC + 1) * PAGE_SIZE;
	hw_tss->ist[3] = base + (LG_PAGE_IST_DB + 1) * PAGE_SIZE;
	hw_tss->io_bitmap_base = sizeof(struct x86_hw_tss);

	for (v = 0; v < 256; v++) {
		ist = v == X86_TRAP_DF ? 1 : v == X86_TRAP_NMI ? 2 :
		      v == X86_TRAP_MC ? 3 : v == X86_TRAP_DB ? 4 : 0;
		/* int3 stays usable by the guest, as on native. */
		set_gate(&idt[v], base + lg_switcher_offset_vectors + v * 16,
			 ist, v == X86_TRAP_BP ? 3 : 0);
	}

	dp = state + SW_GDT_DESC;
	dp->size = LG_GDT_ENTRIES * 8 - 1;
	dp->address = base + LG_PAGE_STATE * PAGE_SIZE + SW_GDT;
	dp = state + SW_IDT_DESC;
	dp->size = 256 * sizeof(gate_desc) - 1;
	dp->address = base + LG_PAGE_IDT * PAGE_SIZE;

	STATE(state, SW_VERW_SEL, u16) = LG_SEL_HOST_DS;
	if (cpu_buffers_need_clearing())
		STATE(state, SW_SWITCH_FLAGS, u64) |= LG_SWITCH_VERW;
}

static u64 *alloc_table(void)
{
	return (u64 *)get_zeroed_page(GFP_KERNEL);
}

/* Each CPU's own branch: its region lies in one page table. */
static int alloc_cpu_branches(unsigned int nr_cpus)
{
	unsigned int cpu, pages_per_region = LG_SWITCHER_STRIDE / PAGE_SIZE;

	BUILD_BUG_ON(PTRS_PER_PTE % (LG_SWITCHER_STRIDE / PAGE_SIZE));
	cpu_branches = kcalloc(nr_cpus, sizeof(*cpu_branches), GFP_KERNEL);
	if (!cpu_branches)
		return -ENOMEM;
	for (cpu = 0; cpu < nr_cpus; cpu++) {
		struct cpu_branch *b = &cpu_branches[cpu];
		unsigned long first = (unsigned long)cpu * pages_per_region;

		b->pdpt = alloc_table();
		b->pd = alloc_table();
		b->pt = alloc_table();
		if (!b->pdpt || !b->pd || !b->pt)
			return -ENOMEM;
		b->pdpt[0] = __pa(b->pd) | SW_TABLE;
		b->pd[first / PTRS_PER_PTE] = __pa(b->pt) | SW_TABLE;
	}
	return 0;
}

static int alloc_switcher_tables(unsigned int nr_cpus)
{
	unsigned long pages = (unsigned long)nr_cpus *
			      (LG_SWITCHER_STRIDE / PAGE_SIZE);
	unsigned int i;

	nr_sw_pts = DIV_ROUND_UP(pages, PTRS_PER_PTE);
	if (nr_sw_pts > PTRS_PER_PMD)
		return -E2BIG;
	sw_pdpt = alloc_table();
	sw_pd = alloc_table();
	sw_pts = kcalloc(nr_sw_pts, sizeof(*sw_pts), GFP_KERNEL);
	if (!sw_pdpt || !sw_pd || !sw_pts)
		return -ENOMEM;
	sw_pdpt[0] = __pa(sw_pd) | SW_TABLE;
	for (i = 0; i < nr_sw_pts; i++) {
		sw_pts[i] = alloc_table();
		if (!sw_pts[i])
			return -ENOMEM;
		sw_pd[i] = __pa(sw_pts[i]) | SW_TABLE;
	}
	return 0;
}

static void setup_guest_fpu_format(void)
{
	unsigned int eax, ebx, ecx, edx;

	if (!boot_cpu_has(X86_FEATURE_XSAVE)) {
		guest_fpu_size = 512;		/* FXSAVE area */
		return;
	}
	/* Features whose use traps through XFD stay out of the guest. */
	host_xcr0 = xgetbv(XCR_XFEATURE_ENABLED_MASK);
	guest_fpu_mask = host_xcr0 & ~XFEATURE_MASK_XTILE;
	cpuid_count(0xd, 0, &eax, &ebx, &ecx, &edx);
	guest_fpu_size = ebx;
}

/*
 * The guest chooses its XSAVE features with XSETBV (emulate.c), within
 * what the host has and by the CPU's own rules: x87 always, AVX only with
 * SSE, the three AVX-512 components together and only with AVX.
 */
bool lg_set_guest_xcr0(struct lg_vcpu *vcpu, u64 xcr0)
{
	const u64 avx512 = XFEATURE_MASK_AVX512;

	if (!guest_fpu_mask || xcr0 & ~guest_fpu_mask ||
	    !(xcr0 & XFEATURE_MASK_FP) ||
	    ((xcr0 & XFEATURE_MASK_YMM) && !(xcr0 & XFEATURE_MASK_SSE)) ||
	    ((xcr0 & avx512) &&
	     ((xcr0 & avx512) != avx512 || !(xcr0 & XFEATURE_MASK_YMM))))
		return false;
	vcpu->xcr0 = xcr0;
	/* XRSTOR refuses saved state of components XCR0 no longer has. */
	((struct xregs_state *)PTR_ALIGN(vcpu->fpu, 64))->header.xfeatures &= xcr0;
	return true;
}

int lg_switcher_init(void)
{
	unsigned int nr_cpus = nr_cpu_ids, cpu, p, i;
	unsigned int per_cpu = LG_REGION_PAGES - LG_SWITCHER_TEXT_PAGES;
	int err;

	BUILD_BUG_ON(sizeof(struct lg_regs) != LG_REGS_SIZE);
	BUILD_BUG_ON(SW_TSS + sizeof(struct x86_hw_tss) > SW_HOST_RSP);
	BUILD_BUG_ON(SW_FAST_HANDLERS + 32 * 8 != SW_CR3_KEEP_BIT);
	BUILD_BUG_ON(SW_SPACES_END > SW_REGS);
	BUILD_BUG_ON(LG_SHADOW_SPACES != 8);	/* the switcher's loop */
	/* The fast paths' view of the ABI's structures (switcher_layout.h). */
	BUILD_BUG_ON(offsetof(struct lguest_shared, irq_enabled) != SH_IRQ_ENABLED);
	BUILD_BUG_ON(offsetof(struct lguest_shared, pending) != SH_PENDING);
	BUILD_BUG_ON(offsetof(struct lguest_shared, masked) != SH_MASKED);
	BUILD_BUG_ON(offsetof(struct lguest_shared, cr2) != SH_CR2);
	BUILD_BUG_ON(offsetof(struct lguest_shared, direct_map) != SH_DIRECT_MAP);
	BUILD_BUG_ON(offsetof(struct lguest_shared, kernel_stack) != SH_KERNEL_STACK);
	BUILD_BUG_ON(offsetof(struct lguest_shared, fs_base) != SH_FS_BASE);
	BUILD_BUG_ON(offsetof(struct lguest_shared, gs_base_user) != SH_GS_BASE_USER);
	BUILD_BUG_ON(offsetof(struct lguest_iret_frame, rax) != IRET_RAX);
	BUILD_BUG_ON(offsetof(struct lguest_iret_frame, r11) != IRET_R11);
	BUILD_BUG_ON(offsetof(struct lguest_iret_frame, rcx) != IRET_RCX);
	BUILD_BUG_ON(offsetof(struct lguest_iret_frame, rip) != IRET_RIP);
	BUILD_BUG_ON(offsetof(struct lguest_iret_frame, cs) != IRET_CS);
	BUILD_BUG_ON(offsetof(struct lguest_iret_frame, rflags) != IRET_RFLAGS);
	BUILD_BUG_ON(offsetof(struct lguest_iret_frame, rsp) != IRET_RSP);
	BUILD_BUG_ON(offsetof(struct lguest_iret_frame, ss) != IRET_SS);
	BUILD_BUG_ON(sizeof(struct lguest_iret_frame) != IRET_SIZE);
	if (lg_switcher_end - lg_switcher_start !=
	    LG_SWITCHER_TEXT_PAGES * PAGE_SIZE)
		return -EINVAL;

	err = alloc_switcher_tables(nr_cpus);
	if (!err)
		err = alloc_cpu_branches(nr_cpus);
	if (err)
		return err;
	for (i = 0; i < LG_SWITCHER_TEXT_PAGES; i++) {
		text_pages[i] = alloc_page(GFP_KERNEL);
		if (!text_pages[i])
			return -ENOMEM;
		memcpy(page_address(text_pages[i]),
		       lg_switcher_start + i * PAGE_SIZE, PAGE_SIZE);
	}
	cpu_pages = kcalloc(nr_cpus * per_cpu, sizeof(*cpu_pages), GFP_KERNEL);
	cpu_shared = kcalloc(nr_cpus, sizeof(*cpu_shared), GFP_KERNEL);
	if (!cpu_pages || !cpu_shared)
		return -ENOMEM;
	for (i = 0; i < nr_cpus * per_cpu; i++) {
		cpu_pages[i] = alloc_page(GFP_KERNEL | __GFP_ZERO);
		if (!cpu_pages[i])
			return -ENOMEM;
	}
	for (cpu = 0; cpu < nr_cpus; cpu++) {
		for (i = 0; i < LG_SWITCHER_TEXT_PAGES; i++)
			map_switcher_page(cpu, i, text_pages[i], SW_TEXT);
		for (p = LG_SWITCHER_TEXT_PAGES; p < LG_REGION_PAGES; p++)
			map_switcher_page(cpu, p, cpu_page(cpu, p),
					  SW_DATA | _PAGE_NX);
		init_cpu_tables(cpu);
	}
	setup_guest_fpu_format();
	return 0;
}

static void flush_this_cpu(void *unused)
{
	__flush_tlb_all();
}

void lg_switcher_exit(void)
{
	unsigned int i, per_cpu = LG_REGION_PAGES - LG_SWITCHER_TEXT_PAGES;

	/* No CPU may keep a translation of pages we are about to free. */
	on_each_cpu(flush_this_cpu, NULL, 1);
	if (cpu_pages) {
		for (i = 0; i < nr_cpu_ids * per_cpu; i++)
			if (cpu_pages[i])
				__free_page(cpu_pages[i]);
		kfree(cpu_pages);
	}
	kfree(cpu_shared);
	for (i = 0; i < LG_SWITCHER_TEXT_PAGES; i++)
		if (text_pages[i])
			__free_page(text_pages[i]);
	if (sw_pts) {
		for (i = 0; i < nr_sw_pts; i++)
			free_page((unsigned long)sw_pts[i]);
		kfree(sw_pts);
	}
	if (cpu_branches) {
		for (i = 0; i < nr_cpu_ids; i++) {
			free_page((unsigned long)cpu_branches[i].pdpt);
			free_page((unsigned long)cpu_branches[i].pd);
			free_page((unsigned long)cpu_branches[i].pt);
		}
		kfree(cpu_branches);
	}
	free_page((unsigned long)sw_pd);
	free_page((unsigned long)sw_pdpt);
}

/*
 * The launcher's top-level table gets the switcher entry for as long as one
 * of its guests lives: the switcher's first and last instructions run on
 * the host's page tables, at the switcher's address.  The slot lies in the
 * hypervisor hole, which no process uses, so nothing else notices it.
 */
int lg_switcher_map_mm(struct mm_struct *mm)
{
	u64 *slot = (u64 *)mm->pgd + LG_SWITCHER_PGD_INDEX;
	u64 entry = host_pgd_entry();

	if (*slot && *slot != entry)
		return -EBUSY;
	WRITE_ONCE(*slot, entry);
	return 0;
}

void lg_switcher_unmap_mm(struct mm_struct *mm)
{
	WRITE_ONCE(*((u64 *)mm->pgd + LG_SWITCHER_PGD_INDEX), 0);
}

int lg_fpu_init(struct lg_vcpu *vcpu)
{
	vcpu->fpu = kzalloc(max(guest_fpu_size, 512U) + 64, GFP_KERNEL);
	if (!vcpu->fpu)
		return -ENOMEM;
	/* A zeroed area is the init state, except MXCSR's exception masks. */
	*(u32 *)(PTR_ALIGN(vcpu->fpu, 64) + 24) = MXCSR_DEFAULT;
	vcpu->xcr0 = guest_fpu_mask;
	return 0;
}

void lg_fpu_free(struct lg_vcpu *vcpu)
{
	kfree(vcpu->fpu);
	vcpu->fpu = NULL;
}

/*
 * The guest's FPU, SSE and AVX registers are those of whichever guest
 * process runs (the guest kernel switches them with its own XSAVE and
 * XRSTOR, at CPL 3), under the guest's own XCR0, which XGETBV shows it.
 */
static void guest_fpu_load(struct lg_vcpu *vcpu)
{
	void *area = PTR_ALIGN(vcpu->fpu, 64);

	if (!guest_fpu_mask) {
		asm volatile("fxrstor64 %0" : : "m" (*(u8 *)area));
		return;
	}
	if (vcpu->xcr0 != host_xcr0)
		xsetbv(XCR_XFEATURE_ENABLED_MASK, vcpu->xcr0);
	asm volatile("xrstor64 %0" : : "m" (*(u8 *)area),
		     "a" ((u32)guest_fpu_mask),
		     "d" ((u32)(guest_fpu_mask >> 32)) : "memory");
}

static void guest_fpu_save(struct lg_vcpu *vcpu)
{
	void *area = PTR_ALIGN(vcpu->fpu, 64);

	if (!guest_fpu_mask) {
		asm volatile("fxsave64 %0" : "+m" (*(u8 *)area));
		return;
	}
	asm volatile("xsave64 %0" : "+m" (*(u8 *)area)
		     : "a" ((u32)guest_fpu_mask),
		     "d" ((u32)(guest_fpu_mask >> 32)) : "memory");
	if (vcpu->xcr0 != host_xcr0)
		xsetbv(XCR_XFEATURE_ENABLED_MASK, host_xcr0);
}

/* Host MSRs that would lead a guest instruction into the host. */
struct host_msrs {
	u64 lstar, star, fmask, sysenter_cs;
	u32 pkru;
};

static void swap_msrs_to_guest(struct host_msrs *h, unsigned int cpu)
{
	rdmsrl(MSR_LSTAR, h->lstar);
	rdmsrl(MSR_STAR, h->star);
	rdmsrl(MSR_SYSCALL_MASK, h->fmask);
	rdmsrl(MSR_IA32_SYSENTER_CS, h->sysenter_cs);
	wrmsrl(MSR_LSTAR, region_base(cpu) + lg_switcher_offset_syscall);
	wrmsrl(MSR_STAR, (u64)LG_SEL_HOST_CS << 32);
	/* SYSCALL enters the switcher with interrupts off, like the host. */
	wrmsrl(MSR_SYSCALL_MASK, X86_EFLAGS_TF | X86_EFLAGS_DF |
	       X86_EFLAGS_IF | X86_EFLAGS_IOPL | X86_EFLAGS_AC |
	       X86_EFLAGS_NT);
	/* SYSENTER with a null CS raises #GP instead of entering the host. */
	wrmsrl(MSR_IA32_SYSENTER_CS, 0);
	if (cpu_feature_enabled(X86_FEATURE_OSPKE))
		h->pkru = rdpkru();
}

static void swap_msrs_to_host(const struct host_msrs *h)
{
	wrmsrl(MSR_LSTAR, h->lstar);
	wrmsrl(MSR_STAR, h->star);
	wrmsrl(MSR_SYSCALL_MASK, h->fmask);
	wrmsrl(MSR_IA32_SYSENTER_CS, h->sysenter_cs);
	if (cpu_feature_enabled(X86_FEATURE_OSPKE) && rdpkru() != h->pkru)
		wrpkru(h->pkru);
}

/*
 * CR4 bits the guest runs without, because the guest kernel cannot give
 * what they enable to its processes (or because of TCG, for SMAP):
 * protection keys (the shadow's entries carry no keys, and the guest
 * kernel runs at CPL 3, where keys would apply to it too) and FSGSBASE
 * (the guest kernel switches segment bases by hypercall, never reading
 * them back).  WRPKRU and WRFSBASE then raise #UD, as on a CPU without
 * them.  SMAP: see switcher_64.S.
 *
 * And global pages.  A host whose CPU needs no page-table isolation maps
 * its kernel with global entries, and a CR3 load keeps those in the TLB:
 * into the guest's address space, at the same addresses as the guest
 * kernel's own (one kernel image serves both, so its text is where the
 * host's is).  The guest would fault forever on them at CPL 3, and the
 * switcher, at CPL 0, would read host memory where it means to read the
 * guest's.  Changing CR4.PGE flushes every TLB entry, global ones too: on
 * the way in, and again on the way out.  The shadow's own entries are
 * never global.
 */
#define LG_CR4_OFF	(X86_CR4_SMAP | X86_CR4_PKE | X86_CR4_FSGSBASE | \
			 X86_CR4_PGE)

/* DR7's enable bits: without one, no guest breakpoint is loaded. */
#define LG_DR7_ENABLES	0xffULL

/*
 * The shadow roots of the two views.  On a host with PCIDs each view has
 * its own, so that the fast paths' switches between them (the two CR3
 * loads of every guest system call) keep both views' TLB entries: they
 * load with the "keep" bit.  Nothing needs flushing in between: the
 * shadow changes only in C, and every way between C and the guest flushes
 * the whole TLB anyway (CR4.PGE, see LG_CR4_OFF), every PCID included.
 * Only the switcher's own LHCALL_LOAD_CR3 puts another address space
 * behind the same PCIDs: the views of the spaces it may switch to carry no
 * keep bit, so the first load of each after a switch flushes, and the
 * switcher adds the bit (SW_CR3_KEEP_BIT) once a view is loaded.  Without
 * PCIDs each load flushes, as the first entry's does.
 */
#define LG_PCID_KERNEL_VIEW	0x7fe	/* above the host's PCIDs (1..6) */
#define LG_PCID_USER_VIEW	0x7ff

static void fill_guest_roots(struct lg_vcpu *vcpu, void *state, unsigned int cpu)
{
	bool pcids = cr4_read_shadow() & X86_CR4_PCIDE;
	u64 kernel_pcid = pcids ? LG_PCID_KERNEL_VIEW : 0;
	u64 user_pcid = pcids ? LG_PCID_USER_VIEW : 0;
	u64 keep = pcids ? LG_CR3_NOFLUSH : 0;
	struct lg_space_roots roots[LG_SHADOW_SPACES];
	unsigned int i, cur;

	cur = lg_shadow_roots(vcpu, lg_switcher_cpu_pgd_entry(cpu), roots);
	for (i = 0; i < LG_SHADOW_SPACES; i++) {
		void *entry = state + SW_SPACES + i * SW_SPACE_SIZE;

		STATE(entry, SW_SPACE_KEY, u64) = roots[i].key;
		STATE(entry, SW_SPACE_KERNEL_CR3, u64) = roots[i].kernel | kernel_pcid;
		STATE(entry, SW_SPACE_USER_CR3, u64) = roots[i].user | user_pcid;
		STATE(entry, SW_SPACE_STAMP, u64) = 0;
	}
	STATE(state, SW_GUEST_CR3_KERNEL, u64) = roots[cur].kernel | kernel_pcid | keep;
	STATE(state, SW_GUEST_CR3_USER, u64) = roots[cur].user | user_pcid | keep;
	STATE(state, SW_GUEST_CR3, u64) = vcpu->user_mode ?
		roots[cur].user | user_pcid : roots[cur].kernel | kernel_pcid;
	STATE(state, SW_CR3_KEEP_BIT, u64) = keep;
}

/* The address spaces the switcher made current by itself, and in what order. */
static void take_fast_cr3_loads(struct lg_vcpu *vcpu, void *state)
{
	u64 loads = STATE(state, SW_FAST_CR3_LOADS, u64);
	u64 stamps[LG_SHADOW_SPACES];
	unsigned int i;

	if (!loads)
		return;
	for (i = 0; i < LG_SHADOW_SPACES; i++)
		stamps[i] = STATE(state, SW_SPACES + i * SW_SPACE_SIZE + SW_SPACE_STAMP, u64);
	lg_shadow_took_fast_loads(vcpu, STATE(state, SW_FAST_CR3_SPACE, u64), stamps,
				  loads);
	vcpu->stats.cr3_loads += loads;
	vcpu->stats.fast_cr3_loads += loads;
	vcpu->stats.hypercalls[LHCALL_LOAD_CR3] += loads;
	/* A hypercall is progress: the last handler entered did run. */
	vcpu->handler_entered = 0;
}

/*
 * What the switcher needs to reflect an exception from guest-user mode
 * itself (switcher_64.S, fast_user_exception): the vectors it may take,
 * those with a handler whose C path only reflects (not #DB, which takes
 * DR6, nor the vectors with IST stacks, which never come that way), their
 * handlers and which keep interrupts on, and for a page fault's walk of
 * the guest's tables the PML4 in force and the size of guest RAM.  The
 * walk goes through the guest's direct map, which the switcher takes from
 * the shared page itself, at each fault.
 */
#define LG_FAST_NEVER	(BIT(X86_TRAP_DB) | BIT(X86_TRAP_NMI) | \
			 BIT(X86_TRAP_DF) | BIT(X86_TRAP_MC))

static void fill_fast_reflection(struct lg_vcpu *vcpu, void *state)
{
	u32 vectors = 0, keep_irqs = 0;
	unsigned int v;

	for (v = 0; v < 32; v++) {
		u64 handler = vcpu->trap_handler[v];

		STATE(state, SW_FAST_HANDLERS + v * 8, u64) = handler;
		if (!handler || (LG_FAST_NEVER & BIT(v)))
			continue;
		vectors |= BIT(v);
		if (vcpu->trap_flags[v] & LGUEST_TRAP_KEEP_IRQS)
			keep_irqs |= BIT(v);
	}
	STATE(state, SW_FAST_VECTORS, u32) = vectors;
	STATE(state, SW_FAST_KEEP_IRQS, u32) = keep_irqs;
	STATE(state, SW_GUEST_PML4, u64) = vcpu->shadow.cur->pml4;
	STATE(state, SW_GUEST_MEM_SIZE, u64) = vcpu->lg->mem_size;
}

/*
 * Where Linux keeps a descriptor whose limit is the CPU and node number,
 * for the vDSO's getcpu (LSL) to read at CPL 3: read-only data,
 * expand-down, DPL 3.  The guest's CPU is the vCPU's number, node 0; LSL
 * reads the GDT in memory, so setting it before each entry is enough.
 */
#define LG_CPUNODE_DESC	0x0040f50000000000ULL

static void fill_state_page(struct lg_vcpu *vcpu, void *state, unsigned int cpu)
{
	struct desc_ptr *gdt_rw = state + SW_HOST_GDT_RW;

	set_gdt_entry(state, LG_GDT_CPUNODE, LG_CPUNODE_DESC | vcpu->id);

	STATE(state, SW_HOST_CR3, u64) = __read_cr3();
	STATE(state, SW_HOST_CR4, u64) = cr4_read_shadow();
	STATE(state, SW_GUEST_CR4, u64) = cr4_read_shadow() & ~LG_CR4_OFF;
	native_store_gdt(state + SW_HOST_GDT);
	*gdt_rw = *(struct desc_ptr *)(state + SW_HOST_GDT);
	gdt_rw->address = (unsigned long)get_current_gdt_rw();
	store_idt(state + SW_HOST_IDT);
	rdmsrl(MSR_FS_BASE, STATE(state, SW_HOST_FS_BASE, u64));
	rdmsrl(MSR_GS_BASE, STATE(state, SW_HOST_GS_BASE, u64));

	fill_guest_roots(vcpu, state, cpu);
	STATE(state, SW_GUEST_FS_BASE, u64) = vcpu->fs_base;
	STATE(state, SW_GUEST_GS_BASE, u64) = vcpu->user_mode ?
		vcpu->gs_base_user : vcpu->gs_base_kernel;
	STATE(state, SW_GUEST_GS_OTHER, u64) = vcpu->user_mode ?
		vcpu->gs_base_kernel : vcpu->gs_base_user;
	STATE(state, SW_SYSCALL_ENTRY, u64) =
		vcpu->trap_handler[LGUEST_TRAP_SYSCALL];
	STATE(state, SW_GUEST_KSTACK, u64) = vcpu->kernel_stack;
	fill_fast_reflection(vcpu, state);
	/* Counters from zero; nothing of the guest that ran here before. */
	memset(state + SW_FAST_SYSCALLS, 0, SW_FAST_END - SW_FAST_SYSCALLS);
	STATE(state, SW_SCRATCH, u64) = 0;
	map_guest_shared_page(cpu, vcpu->shared_page);
	if (fast_paths && vcpu->shared_page)
		STATE(state, SW_SWITCH_FLAGS, u64) |= LG_SWITCH_FAST;
	else
		STATE(state, SW_SWITCH_FLAGS, u64) &= ~LG_SWITCH_FAST;
	memcpy(state + SW_GUEST_SEGS, vcpu->segs, sizeof(vcpu->segs));
	vcpu->regs.cs = vcpu->user_mode ? LG_SEL_USER_CS : LG_SEL_GUEST_KERNEL_CS;
	vcpu->regs.ss = LG_SEL_USER_DS;
	STATE(state, SW_GUEST_CS, u64) = vcpu->regs.cs;
	STATE(state, SW_SWITCHER_FAULT, u64) = 0;
	memcpy(state + SW_GUEST_DR, vcpu->debugreg, sizeof(vcpu->debugreg));
	STATE(state, SW_GUEST_DR7, u64) = vcpu->dr7 & LG_DR7_ENABLES ? vcpu->dr7 : 0;
	memcpy(state + SW_REGS, &vcpu->regs, sizeof(vcpu->regs));
}

/*
 * What the guest left, including what the fast paths changed on the way:
 * the mode (and with it which gs base is which) and the kernel stack.
 */
static void read_state_page(struct lg_vcpu *vcpu, void *state, u64 *cr2)
{
	u64 gs = STATE(state, SW_GUEST_GS_BASE, u64);
	u64 gs_other = STATE(state, SW_GUEST_GS_OTHER, u64);
	u64 fast_irets = STATE(state, SW_FAST_IRETS, u64);

	memcpy(&vcpu->regs, state + SW_REGS, sizeof(vcpu->regs));
	*cr2 = STATE(state, SW_CR2, u64);
	vcpu->user_mode = STATE(state, SW_GUEST_CS, u64) == LG_SEL_USER_CS;
	vcpu->fs_base = STATE(state, SW_GUEST_FS_BASE, u64);
	vcpu->gs_base_user = vcpu->user_mode ? gs : gs_other;
	vcpu->gs_base_kernel = vcpu->user_mode ? gs_other : gs;
	vcpu->kernel_stack = STATE(state, SW_GUEST_KSTACK, u64);
	memcpy(vcpu->segs, state + SW_GUEST_SEGS, sizeof(vcpu->segs));

	vcpu->stats.fast_user_syscalls += STATE(state, SW_FAST_SYSCALLS, u64);
	vcpu->stats.fast_irets += fast_irets;
	vcpu->stats.fast_page_faults += STATE(state, SW_FAST_PAGE_FAULTS, u64);
	vcpu->stats.fast_exceptions += STATE(state, SW_FAST_EXCEPTIONS, u64);
	take_fast_cr3_loads(vcpu, state);
	vcpu->stats.hypercalls[LHCALL_IRET] += fast_irets;
	/* A hypercall is progress: the last handler entered did run. */
	if (fast_irets)
		vcpu->handler_entered = 0;
}

/*
 * The host's breakpoints come back after the guest: DR7 always (it was off
 * while the guest ran), DR0-DR3 too if the guest loaded its own.
 */
static void restore_host_debugregs(struct lg_vcpu *vcpu, unsigned long dr7)
{
	if (dr7 && vcpu->dr7 & LG_DR7_ENABLES)
		hw_breakpoint_restore();
	else
		local_db_restore(dr7);
}

/* A #DB from the guest: what DR6 says goes to the guest, not to the host. */
static void take_dr6(struct lg_vcpu *vcpu)
{
	get_debugreg(vcpu->dr6, 6);
	set_debugreg(DR6_RESERVED, 6);
}

/* Run "int $vector" on the host: its own handler, its own IDT. */
static void replay_to_host(unsigned int vector)
{
	lg_switcher_fn stub = (lg_switcher_fn)(lg_host_vectors + 16 * vector);

	stub();
}

/* Events that belong to the host, not to the guest. */
static bool host_event(unsigned int trap)
{
	return trap == X86_TRAP_NMI || trap == X86_TRAP_MC ||
	       (trap >= FIRST_EXTERNAL_VECTOR && trap < 256);
}

/*
 * Enter the guest once and come back with the trap number that ended the
 * run (and the page-fault address).  Host events are already handled when
 * this returns (LG_TRAP_HOST); the caller deals with everything else.
 * LG_TRAP_ENTRY_FAULT means the switcher faulted while entering the guest:
 * the guest's state was unacceptable to the CPU.
 */
unsigned int lg_run_guest_once(struct lg_vcpu *vcpu, u64 *cr2)
{
	struct host_msrs host;
	lg_switcher_fn enter;
	unsigned int cpu, trap;
	unsigned long dr7;
	void *state;
	u64 fault, nmi, mc;

	kernel_fpu_begin();
	local_irq_disable();
	cpu = smp_processor_id();
	state = state_page(cpu);
	fill_state_page(vcpu, state, cpu);
	swap_msrs_to_guest(&host, cpu);
	dr7 = local_db_save();
	guest_fpu_load(vcpu);

	enter = (lg_switcher_fn)(region_base(cpu) + lg_switcher_offset_enter);
	enter();

	guest_fpu_save(vcpu);
	restore_host_debugregs(vcpu, dr7);
	swap_msrs_to_host(&host);
	/*
	 * A fault while entering was pushed over the register area: then
	 * the registers we copied in are still the right ones.
	 */
	fault = STATE(state, SW_SWITCHER_FAULT, u64);
	if (!fault)
		read_state_page(vcpu, state, cr2);
	trap = vcpu->regs.trapnum;
	if (!fault && trap == X86_TRAP_DB)
		take_dr6(vcpu);
	nmi = xchg(&STATE(state, SW_NMI_PENDING, u64), 0);
	mc = xchg(&STATE(state, SW_MC_PENDING, u64), 0);

	if (nmi)
		replay_to_host(X86_TRAP_NMI);
	if (mc)
		replay_to_host(X86_TRAP_MC);
	if (!fault && host_event(trap))
		replay_to_host(trap);
	local_irq_enable();
	kernel_fpu_end();

	if (fault)
		return LG_TRAP_ENTRY_FAULT;
	return host_event(trap) ? LG_TRAP_HOST : trap;
}
