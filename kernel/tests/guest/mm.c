/*
 * mm.c - the test guest's memory: a page allocator over the RAM the e820
 * map gives us past our image, and 4-level page tables of our own.
 *
 * The boot tables (LGUEST_BOOT_PGTABLES) map RAM with 2 MiB supervisor
 * pages only.  Cases need more: user pages, 4 KiB pages that were never
 * touched, device and out-of-RAM addresses.  So every PML4 we build starts
 * as a copy of the boot PML4 (the direct and kernel maps stay shared with
 * the launcher's tables, which we never modify) and adds its own slots.
 */
#include <asm/bootparam.h>
#include "guest.h"

extern char _end[];

u64 ram_top;
u64 *kernel_pml4;
static u64 next_free_page;

static u64 *boot_pml4(void)
{
	return phys_to_virt(LGUEST_BOOT_PGTABLES);
}

/* A zeroed page of RAM; running out is a bug in the guest, not a result. */
u64 alloc_page(void)
{
	u64 pa = next_free_page;

	if (pa + PAGE_SIZE > ram_top)
		shutdown(LGUEST_SHUTDOWN_CRASH, "test guest: out of memory at %lx", pa);
	next_free_page += PAGE_SIZE;
	memset(phys_to_virt(pa), 0, PAGE_SIZE);
	return pa;
}

u64 *pml4_create(void)
{
	u64 *pml4 = phys_to_virt(alloc_page());

	memcpy(pml4, boot_pml4(), PAGE_SIZE);
	return pml4;
}

static u64 table_index(u64 va, int level)
{
	return (va >> (12 + 9 * (level - 1))) & 511;
}

/*
 * The entry for va at a level (1: PTE, 2: PDE, 3: PDPTE), creating the
 * missing tables above it (with the user bit if asked).
 */
u64 *entry_lookup(u64 *pml4, u64 va, int level, u64 flags)
{
	u64 *table = pml4;
	int l;

	if (pml4[table_index(va, 4)] &&
	    pml4[table_index(va, 4)] == boot_pml4()[table_index(va, 4)])
		shutdown(LGUEST_SHUTDOWN_CRASH,
			 "test guest: %lx lies in a slot of the boot tables", va);
	for (l = 4; l > level; l--) {
		u64 *entry = &table[table_index(va, l)];

		if (!(*entry & PTE_P))
			*entry = alloc_page() | PTE_P | PTE_W | (flags & PTE_U);
		table = phys_to_virt(*entry & PTE_ADDR);
	}
	return &table[table_index(va, level)];
}

u64 *pte_lookup(u64 *pml4, u64 va, u64 flags)
{
	return entry_lookup(pml4, va, 1, flags);
}

/* Map one 4 KiB page; replacing a present entry invalidates it, natively. */
void map_page(u64 *pml4, u64 va, u64 pa, u64 flags)
{
	u64 *pte = pte_lookup(pml4, va, flags);
	bool was_present = *pte & PTE_P;

	*pte = (pa & PTE_ADDR) | flags | PTE_P;
	if (was_present)
		hcall1(LHCALL_INVLPG, va);
}

void unmap_page(u64 *pml4, u64 va)
{
	*pte_lookup(pml4, va, 0) = 0;
	hcall1(LHCALL_INVLPG, va);
}

void load_pml4(u64 *pml4)
{
	hcall1(LHCALL_LOAD_CR3, (u64)pml4 - DIRECT_MAP);
}

static void find_ram(const struct boot_params *bp)
{
	unsigned int i;

	for (i = 0; i < bp->e820_entries && i < ARRAY_SIZE(bp->e820_table); i++) {
		const struct boot_e820_entry *e = &bp->e820_table[i];

		if (e->type == 1 && e->addr + e->size > ram_top)	/* E820_TYPE_RAM */
			ram_top = e->addr + e->size;
	}
}

/* User code pages (read-only) and a user stack, all with the user bit. */
static void map_user(u64 *pml4)
{
	u64 off;
	int i;

	for (off = 0; __user_text_start + off < __user_text_end; off += PAGE_SIZE)
		map_page(pml4, USER_CODE_VA + off,
			 image_to_phys(__user_text_start + off), PTE_U);
	for (i = 1; i <= USER_STACK_PAGES; i++)
		map_page(pml4, USER_STACK_TOP - i * PAGE_SIZE, alloc_page(), PTE_U | PTE_W);
}

void mm_init(const void *boot_params)
{
	find_ram(boot_params);
	next_free_page = image_to_phys(_end + PAGE_SIZE - 1) & PAGE_MASK;
	kernel_pml4 = pml4_create();
	map_user(kernel_pml4);
	load_pml4(kernel_pml4);
}
