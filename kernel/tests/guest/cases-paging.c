/*
 * cases-paging.c - shadow paging as a guest kernel sees it: mappings it
 * writes into its own tables take effect on first touch, changes take
 * effect after INVLPG, FLUSH_TLB or a CR3 load (global ones survive the CR3
 * load, as under CR4.PGE), accessed and dirty bits appear in its PTEs, NX
 * holds, and segment bases follow the mode.
 */
#include "guest.h"

#define PAGING_VA	(SCRATCH_VA + 0x400000)	/* this file's own range */
#define FILL_PAGES	64
/* the PML4 slot after SCRATCH_VA's, which nothing else maps */
#define GLOBAL_SLOT_VA	(SCRATCH_VA + (1UL << 39))

static u64 *page_words(u64 pa)
{
	return phys_to_virt(pa);
}

static u64 read_va(u64 va)
{
	return *(volatile u64 *)va;
}

static void write_va(u64 va, u64 value)
{
	*(volatile u64 *)va = value;
}

/*
 * Pages mapped but never touched are filled on first access, to the right
 * physical page: what one alias writes, the direct map reads, and back.
 */
static void case_demand_fill(void)
{
	u64 pages[FILL_PAGES];
	unsigned int i;

	for (i = 0; i < FILL_PAGES; i++) {
		pages[i] = alloc_page();
		page_words(pages[i])[1] = 0xd1ec7000 + i;
		map_page(kernel_pml4, PAGING_VA + i * PAGE_SIZE, pages[i], PTE_W);
	}
	for (i = 0; i < FILL_PAGES; i++)
		write_va(PAGING_VA + i * PAGE_SIZE, 0xf111ed00 + i);
	for (i = 0; i < FILL_PAGES; i++) {
		u64 va = PAGING_VA + i * PAGE_SIZE;

		CHECK(page_words(pages[i])[0] == 0xf111ed00 + i, "write through %lx landed "
		      "elsewhere: its page holds %lx", va, page_words(pages[i])[0]);
		CHECK(read_va(va + 8) == 0xd1ec7000 + i, "%lx reads %lx, the direct map "
		      "wrote %lx", va + 8, read_va(va + 8), 0xd1ec7000UL + i);
	}
}
TEST_CASE("demand-fill", case_demand_fill, 0);

/* A changed PTE takes effect after INVLPG: another page, then read-only. */
static void case_invlpg(void)
{
	u64 va = PAGING_VA + 0x100000, a = alloc_page(), b = alloc_page();

	page_words(a)[0] = 0xaaaa;
	page_words(b)[0] = 0xbbbb;
	map_page(kernel_pml4, va, a, PTE_W);
	CHECK(read_va(va) == 0xaaaa, "first mapping reads %lx", read_va(va));
	map_page(kernel_pml4, va, b, PTE_W);	/* replaces and INVLPGs */
	CHECK(read_va(va) == 0xbbbb, "after INVLPG %lx still reads %lx, not the new page",
	      va, read_va(va));
	write_va(va, 0xb0b0);
	map_page(kernel_pml4, va, b, 0);
	CHECK(probe_write(va, 0xbad) == 1 && last_fault.error == (PF_PRESENT | PF_WRITE),
	      "write to a page made read-only (INVLPG) did not fault (error %lx)",
	      last_fault.error);
	CHECK(page_words(b)[0] == 0xb0b0, "the page changed under a read-only mapping");
	unmap_page(kernel_pml4, va);
	CHECK(probe_write(va, 0xbad) == 1 && last_fault.error == PF_WRITE &&
	      last_fault.cr2 == va, "write to an unmapped page: error %lx cr2 %lx",
	      last_fault.error, last_fault.cr2);
}
TEST_CASE("invlpg", case_invlpg, 0);

/* A PTE changed in place takes effect after LHCALL_FLUSH_TLB. */
static void case_flush_tlb(void)
{
	u64 va = PAGING_VA + 0x101000, a = alloc_page(), b = alloc_page(), *pte;

	page_words(a)[0] = 0xaaaa;
	page_words(b)[0] = 0xbbbb;
	map_page(kernel_pml4, va, a, PTE_W);
	CHECK(read_va(va) == 0xaaaa, "first mapping reads %lx", read_va(va));
	pte = pte_lookup(kernel_pml4, va, 0);
	*pte = b | PTE_P | PTE_W;
	hcall0(LHCALL_FLUSH_TLB);
	CHECK(read_va(va) == 0xbbbb, "after FLUSH_TLB %lx still reads %lx", va, read_va(va));
}
TEST_CASE("flush-tlb", case_flush_tlb, 0);

/*
 * Global translations: with the PTEs changed in place and no INVLPG, a CR3
 * load (and FLUSH_TLB with LGUEST_FLUSH_KEEP_GLOBAL) must drop the
 * kernel-half page without G, may keep the one with G (lg.ko does, in a
 * PML4 slot holding only global pages), and FLUSH_TLB without flags must
 * drop both.
 */
static void case_global_pages(void)
{
	u64 global_va = GLOBAL_SLOT_VA, local_va = PAGING_VA + 0x104000;
	u64 a = alloc_page(), b = alloc_page();

	page_words(a)[0] = 0xaaaa;
	page_words(b)[0] = 0xbbbb;
	hcall1(LHCALL_FLUSH_TLB, 0);
	map_page(kernel_pml4, global_va, a, PTE_W | PTE_G);
	map_page(kernel_pml4, local_va, a, PTE_W);
	CHECK(read_va(global_va) == 0xaaaa && read_va(local_va) == 0xaaaa,
	      "first mappings read %lx and %lx", read_va(global_va), read_va(local_va));
	*pte_lookup(kernel_pml4, global_va, 0) = b | PTE_P | PTE_W | PTE_G;
	*pte_lookup(kernel_pml4, local_va, 0) = b | PTE_P | PTE_W;

	load_pml4(kernel_pml4);
	CHECK(read_va(local_va) == 0xbbbb, "after a CR3 load the non-global %lx still "
	      "reads the old page (%lx)", local_va, read_va(local_va));
	CHECK(read_va(global_va) == 0xaaaa, "a CR3 load dropped the global translation "
	      "of %lx (reads %lx)", global_va, read_va(global_va));
	hcall1(LHCALL_FLUSH_TLB, LGUEST_FLUSH_KEEP_GLOBAL);
	CHECK(read_va(global_va) == 0xaaaa, "FLUSH_TLB(KEEP_GLOBAL) dropped the global "
	      "translation of %lx (reads %lx)", global_va, read_va(global_va));
	hcall1(LHCALL_FLUSH_TLB, 0);
	CHECK(read_va(global_va) == 0xbbbb, "after FLUSH_TLB(0) the global %lx still "
	      "reads the old page (%lx)", global_va, read_va(global_va));
	unmap_page(kernel_pml4, global_va);
	unmap_page(kernel_pml4, local_va);
}
TEST_CASE("global-pages", case_global_pages, 0);

/* Two address spaces with the same address mapped differently. */
static void case_cr3_switch(void)
{
	u64 va = PAGING_VA + 0x200000, a = alloc_page(), b = alloc_page();
	u64 *first = pml4_create(), *second = pml4_create();
	unsigned int round;

	page_words(a)[0] = 0xaaaa;
	page_words(b)[0] = 0xbbbb;
	map_page(first, va, a, PTE_W);
	map_page(second, va, b, PTE_W);
	for (round = 0; round < 3; round++) {
		load_pml4(first);
		CHECK(read_va(va) == 0xaaaa, "round %u: first tables read %lx", round,
		      read_va(va));
		load_pml4(second);
		CHECK(read_va(va) == 0xbbbb, "round %u: second tables read %lx", round,
		      read_va(va));
	}
}
TEST_CASE("cr3-switch", case_cr3_switch, 0);

/*
 * Accessed on read, dirty on write, and again after the guest clears them.
 * The PTE is volatile: the hypervisor changes it behind the compiler.
 */
static void case_accessed_dirty(void)
{
	u64 va = PAGING_VA + 0x102000;
	volatile u64 *pte;
	unsigned int round;

	map_page(kernel_pml4, va, alloc_page(), PTE_W);
	pte = pte_lookup(kernel_pml4, va, 0);
	for (round = 0; round < 2; round++) {
		CHECK(!(*pte & (PTE_A | PTE_D)), "round %u: fresh PTE %lx has A or D",
		      round, *pte);
		read_va(va);
		CHECK((*pte & (PTE_A | PTE_D)) == PTE_A, "round %u: after a read the PTE "
		      "is %lx, expected accessed and clean", round, *pte);
		write_va(va, round);
		CHECK(*pte & PTE_D, "round %u: after a write the PTE is %lx, not dirty",
		      round, *pte);
		*pte &= ~(PTE_A | PTE_D);
		hcall1(LHCALL_INVLPG, va);
	}
}
TEST_CASE("accessed-dirty", case_accessed_dirty, 0);

/* Code runs from an executable page and not from an NX one. */
static void case_nx(void)
{
	u64 va = PAGING_VA + 0x103000, pa = alloc_page();

	*(u8 *)phys_to_virt(pa) = 0xc3;		/* ret */
	map_page(kernel_pml4, va, pa, 0);
	CHECK(probe_exec(va) == 0, "call to a ret on an executable page faulted "
	      "(vector %lu error %lx)", last_fault.vector, last_fault.error);
	map_page(kernel_pml4, va, pa, PTE_NX);
	CHECK(probe_exec(va) == 1, "code ran from an NX page");
	CHECK(last_fault.vector == X86_TRAP_PF && last_fault.cr2 == va &&
	      last_fault.error == (PF_PRESENT | PF_INSTR), "fetch from an NX page: "
	      "vector %lu cr2 %lx error %lx, expected #PF error 11", last_fault.vector,
	      last_fault.cr2, last_fault.error);
}
TEST_CASE("nx", case_nx, 0);

/*
 * Large pages in the guest's tables: a 2 MiB PDE and a 1 GiB PDPTE.  Reads
 * at several offsets agree with the direct map, and a write lands in the
 * right place (a page of our own inside each large page).
 */
static void case_large_pages(void)
{
	static const struct {
		const char *name;
		int level;
		u64 va, size;
	} maps[] = {
		{ "2 MiB", 2, SCRATCH_VA + 0x20000000UL, 0x200000UL },
		{ "1 GiB", 3, SCRATCH_VA + 0x80000000UL, 0x40000000UL },
	};
	u64 own = alloc_page();
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(maps); i++) {
		u64 *entry = entry_lookup(kernel_pml4, maps[i].va, maps[i].level, 0);
		u64 pa = own & ~(maps[i].size - 1), off, va;

		*entry = pa | PTE_P | PTE_W | PTE_PS;
		for (off = 0x1000; off < maps[i].size && pa + off < ram_top;
		     off = off * 4 + 0x1008) {
			u64 direct = *(u64 *)phys_to_virt(pa + off);

			va = maps[i].va + off;
			CHECK(read_va(va) == direct, "%s page: %lx reads %lx, the direct map "
			      "has %lx", maps[i].name, va, read_va(va), direct);
		}
		va = maps[i].va + (own - pa);
		write_va(va, 0x1a26e000 + i);
		CHECK(*(volatile u64 *)phys_to_virt(own) == 0x1a26e000 + i, "%s page: the "
		      "write through %lx landed elsewhere", maps[i].name, va);
	}
}
TEST_CASE("large-pages", case_large_pages, 0);

/*
 * CR3 with PCIDs, as the CPU has them with CR4.PCIDE: each PCID keeps its
 * translations, a load with the no-flush bit (63) keeps them even when the
 * guest changed an entry meanwhile (as a TLB would), and a load without it
 * forgets the non-global ones.
 */
#define CR3_NOFLUSH	(1UL << 63)

static void case_cr3_pcid(void)
{
	u64 *a = pml4_create(), *b = pml4_create();
	u64 va = PAGING_VA + 0x300000, x = alloc_page(), y = alloc_page(), z = alloc_page();
	u64 a_cr3 = (u64)a - DIRECT_MAP, b_cr3 = (u64)b - DIRECT_MAP;

	page_words(x)[0] = 0x11;
	page_words(y)[0] = 0x22;
	page_words(z)[0] = 0x33;
	memcpy(a, kernel_pml4, PAGE_SIZE);
	memcpy(b, kernel_pml4, PAGE_SIZE);
	a[(va >> 39) & 511] = 0;
	b[(va >> 39) & 511] = 0;
	map_page(a, va, x, PTE_W);
	map_page(b, va, y, PTE_W);
	hcall1(LHCALL_LOAD_CR3, a_cr3 | 1);
	CHECK(read_va(va) == 0x11, "PCID 1: %lx reads %lx, expected 0x11", va, read_va(va));
	hcall1(LHCALL_LOAD_CR3, b_cr3 | 2);
	CHECK(read_va(va) == 0x22, "PCID 2: %lx reads %lx, expected 0x22", va, read_va(va));
	*pte_lookup(a, va, 0) = z | PTE_P | PTE_W;	/* no INVLPG: PCID 1 is not loaded */
	hcall1(LHCALL_LOAD_CR3, a_cr3 | 1 | CR3_NOFLUSH);
	CHECK(read_va(va) == 0x11, "PCID 1 loaded with no-flush: %lx reads %lx, expected the "
	      "kept translation 0x11", va, read_va(va));
	hcall1(LHCALL_LOAD_CR3, a_cr3 | 1);
	CHECK(read_va(va) == 0x33, "PCID 1 loaded with a flush: %lx reads %lx, expected 0x33",
	      va, read_va(va));
	load_pml4(kernel_pml4);
}
TEST_CASE("cr3-pcid", case_cr3_pcid, 0);

static volatile u64 fs_word = 0xf5f5f5f5, gs_kernel_word = 0x6565656;

static u64 read_fs0(void)
{
	u64 v;

	asm volatile("mov %%fs:0, %0" : "=r"(v) :: "memory");
	return v;
}

static u64 read_gs0(void)
{
	u64 v;

	asm volatile("mov %%gs:0, %0" : "=r"(v) :: "memory");
	return v;
}

/* fs is shared by both modes; gs has one base per mode. */
static void case_segment_bases(void)
{
	u64 user_words = USER_STACK_TOP - 64;
	struct user_exit *e;

	*(volatile u64 *)user_words = 0xf5f5f5f5;
	*(volatile u64 *)(user_words + 8) = 0x75757575;
	hcall2(LHCALL_SET_SEGMENT_BASE, LGUEST_SEG_FS, (u64)&fs_word);
	hcall2(LHCALL_SET_SEGMENT_BASE, LGUEST_SEG_GS_KERNEL, (u64)&gs_kernel_word);
	hcall2(LHCALL_SET_SEGMENT_BASE, LGUEST_SEG_GS_USER, user_words + 8);
	CHECK(read_fs0() == fs_word, "%%fs:0 reads %lx, expected %lx", read_fs0(), fs_word);
	CHECK(read_gs0() == gs_kernel_word, "%%gs:0 reads %lx in kernel mode, expected %lx",
	      read_gs0(), gs_kernel_word);
	hcall2(LHCALL_SET_SEGMENT_BASE, LGUEST_SEG_FS, user_words);
	e = run_user(user_read_segments, 0, RFLAGS_FIXED);
	CHECK(e->regs.vector == LGUEST_TRAP_SYSCALL, "user run ended by vector %lu "
	      "(cr2 %lx)", e->regs.vector, e->cr2);
	CHECK(e->regs.rdi == 0xf5f5f5f5, "user %%fs:0 reads %lx", e->regs.rdi);
	CHECK(e->regs.rsi == 0x75757575, "user %%gs:0 reads %lx, expected the user gs base",
	      e->regs.rsi);
	CHECK(read_gs0() == gs_kernel_word, "back in kernel mode %%gs:0 reads %lx",
	      read_gs0());
	hcall2(LHCALL_SET_SEGMENT_BASE, LGUEST_SEG_FS, 0);
	hcall2(LHCALL_SET_SEGMENT_BASE, LGUEST_SEG_GS_KERNEL, 0);
	hcall2(LHCALL_SET_SEGMENT_BASE, LGUEST_SEG_GS_USER, 0);
}
TEST_CASE("segment-bases", case_segment_bases, 0);

/*
 * The same without hypercalls: stores to the shared page take effect at
 * the next entry, so before any return to user mode.  A user fault's frame
 * lands on the stored kernel stack.
 */
static void case_shared_page_stores(void)
{
	u64 user_words = USER_STACK_TOP - 64, top = ALTERNATE_STACK_TOP;
	struct user_exit *e;

	*(volatile u64 *)user_words = 0xf5f5f5f5;
	*(volatile u64 *)(user_words + 8) = 0x75757575;
	shared.fs_base = (u64)&fs_word;
	hcall0(LHCALL_NOP);
	CHECK(read_fs0() == fs_word, "%%fs:0 reads %lx after a stored fs base, expected %lx",
	      read_fs0(), fs_word);
	shared.fs_base = user_words;
	shared.gs_base_user = user_words + 8;
	e = run_user(user_read_segments, 0, RFLAGS_FIXED);
	CHECK(e->regs.rdi == 0xf5f5f5f5 && e->regs.rsi == 0x75757575,
	      "user %%fs:0 and %%gs:0 read %lx %lx with stored bases", e->regs.rdi,
	      e->regs.rsi);
	shared.kernel_stack = top;
	e = run_user(user_read, UNMAPPED_LOW, USER_RFLAGS);
	shared.kernel_stack = (u64)kernel_stack_top;
	CHECK(e->frame_addr >= (u64)alternate_stack && e->frame_addr < top,
	      "a user fault's frame at %lx, not on the stored kernel stack %lx", e->frame_addr,
	      top);
	shared.fs_base = 0;
	shared.gs_base_user = 0;
	hcall0(LHCALL_NOP);
}
TEST_CASE("shared-page-stores", case_shared_page_stores, 0);
