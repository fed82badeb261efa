// SPDX-License-Identifier: GPL-2.0
/*
 * Shadow paging: the guest's page tables, as the CPU may see
 * them.
 *
 * The guest writes ordinary 4-level page tables holding guest-physical
 * addresses.  The CPU must never walk those: they could point anywhere in
 * host memory.  Instead it walks shadow tables that we fill on demand, one
 * page fault at a time, like a software TLB:
 *
 *  - a page fault in the guest arrives here with the faulting address;
 *  - we walk the guest's tables for it, checking every level, and the
 *    guest-physical address against the guest's memory;
 *  - if the guest's tables allow the access, we set the accessed (and for a
 *    write, dirty) bits in the guest's entries, as the CPU would, pin the
 *    host page behind the guest-physical page and install a shadow entry;
 *    otherwise the fault is the guest's own and goes to its handler.
 *
 * Because the whole guest runs at CPL 3, every shadow leaf is a user page.
 * To keep guest-user code away from the guest kernel, each guest page table
 * gets two shadow roots: the kernel view maps everything, the user view only
 * what the guest marked user-accessible.  A clean page is mapped read-only
 * until the guest writes it, so the dirty bit the guest sees is true.
 *
 * Like a TLB, the shadow forgets: the guest tells us (LHCALL_FLUSH_TLB,
 * LHCALL_INVLPG, LHCALL_LOAD_CR3) whenever it changed an entry it may have
 * used, exactly where a native kernel would flush its TLB.  And like a TLB
 * under CR4.PGE, it keeps global translations across a CR3 load: a kernel
 * maps itself identically in every address space and marks those entries
 * global, so refilling them after every context switch would be wasted work
 * (it was most of the cost of a guest's fork or pipe round trip).  The
 * granule is one PML4 slot of the kernel half: a slot is kept only while
 * every translation in it came from a global guest entry.
 *
 * The switcher's slot of the hypervisor hole is part of every root, and the
 * hole is out of the guest's reach: the guest's own entries there are
 * ignored.
 *
 * The guest decides how many shadow tables we build: one guest page table
 * hung into many slots of its tables makes every 2 MiB it touches cost us
 * a page.  So a guest has a budget of shadow tables, a fraction of its
 * memory; a fill that would exceed it first forgets every translation,
 * as a full TLB evicts.  An honest guest never gets near it (its working
 * set needs a few tables per 2 MiB of memory it maps); a hostile one costs
 * the host a bounded amount of memory, charged to its launcher's memory
 * cgroup, and itself its time.
 */
#include <linux/mm.h>
#include <linux/uaccess.h>
#include <linux/slab.h>
#include <asm/pgtable_types.h>
#include <linux/io.h>
#include "lg.h"

#define LG_HOLE_FIRST	256	/* PML4 slots of the hypervisor hole */
#define LG_HOLE_LAST	271

/*
 * The shadow-table budget: one table per LG_SHADOW_PAGES_PER_TABLE pages of
 * guest memory (a 64 MiB guest may have 512 tables, 2 MiB of host memory),
 * and never less than LG_SHADOW_MIN_TABLES.
 */
#define LG_SHADOW_PAGES_PER_TABLE	32
#define LG_SHADOW_MIN_TABLES		256
/* A fill adds at most a PDPT, a PD and a PT. */
#define LG_SHADOW_TABLES_PER_FILL	3

/* Upper levels allow everything: the leaf carries the combined rights. */
#define SHADOW_TABLE	(_PAGE_PRESENT | _PAGE_RW | _PAGE_USER | \
			 _PAGE_ACCESSED)
/*
 * Shadow leaves are always 4 KiB, also where the guest maps 2 MiB or 1 GiB
 * at once.  A native INVLPG of any address in a large page forgets all of
 * it, and Linux relies on that (one flush per 2 MiB of a transparent huge
 * page).  So the shadow PD or PDPT entry above the 4 KiB entries made from
 * a guest's large page is marked with this software bit (ignored by the
 * CPU in a non-leaf entry), and INVLPG drops the whole table below it.
 */
#define SHADOW_FROM_LARGE	_PAGE_SOFTW1

static unsigned int level_index(u64 va, int level)
{
	return (va >> (PAGE_SHIFT + 9 * (level - 1))) & (PTRS_PER_PTE - 1);
}

/* Canonical and outside the hypervisor hole. */
bool lg_guest_may_map(u64 va)
{
	unsigned int pgd_index = level_index(va, 4);

	return lg_canonical(va) &&
	       (pgd_index < LG_HOLE_FIRST || pgd_index > LG_HOLE_LAST);
}

bool lg_gpa_is_ram(struct lguest *lg, u64 gpa, u64 len)
{
	return gpa < lg->mem_size && len <= lg->mem_size - gpa;
}

static bool gpa_is_mmio(struct lguest *lg, u64 gpa)
{
	return gpa >= lg->mmio_base && gpa - lg->mmio_base < lg->mmio_size;
}

static u64 __user *guest_phys(struct lguest *lg, u64 gpa)
{
	return (u64 __user *)(lg->mem_base + gpa);
}

/*
 * The host page behind a guest-physical page, pinned the first time it is
 * asked for and kept until the guest dies.  Two vCPUs may ask at once: both
 * pin, one pin goes into the slot, the loser drops its own.
 */
struct page *lg_guest_page(struct lguest *lg, u64 gpa)
{
	unsigned long pfn = gpa >> PAGE_SHIFT;
	struct page *page, *first;

	if (!lg_gpa_is_ram(lg, gpa, 1))
		return NULL;
	page = READ_ONCE(lg->pinned[pfn]);
	if (page)
		return page;
	if (pin_user_pages_fast(lg->mem_base + (pfn << PAGE_SHIFT), 1,
				FOLL_WRITE | FOLL_LONGTERM, &page) != 1)
		return NULL;
	first = cmpxchg(&lg->pinned[pfn], NULL, page);
	if (first) {
		unpin_user_page(page);
		return first;
	}
	return page;
}

void lg_unpin_all(struct lguest *lg)
{
	unsigned long pfn;

	if (!lg->pinned)
		return;
	for (pfn = 0; pfn < lg->mem_size >> PAGE_SHIFT; pfn++)
		if (lg->pinned[pfn])
			unpin_user_pages_dirty_lock(&lg->pinned[pfn], 1, true);
	kvfree(lg->pinned);
	lg->pinned = NULL;
}

/*
 * Walk the guest's tables for va, for an access of the given kind
 * (LG_PF_WRITE, LG_PF_USER, LG_PF_INSTR).  Returns 0 with *w filled in and
 * the accessed/dirty bits set, or LG_PF_FAULT plus the page-fault error
 * code the guest should see, or -EFAULT when the launcher's memory itself
 * failed us.
 */
/*
 * Set accessed (and dirty) bits in a guest entry as the CPU does: with a
 * locked compare-exchange, since another vCPU may change the entry at the
 * same time.  0 when set, 1 when the entry is no longer old (walk again),
 * -EFAULT when the launcher's memory failed us.
 */
static int set_entry_bits(struct lguest *lg, u64 entry_gpa, u64 old, u64 want)
{
	u64 __user *p = guest_phys(lg, entry_gpa);

	/* LGUEST_INIT checked access_ok() for all of guest RAM. */
	return __try_cmpxchg_user(p, &old, want, efault);
}

int lg_walk(struct lg_vcpu *vcpu, u64 va, u32 access, struct lg_walk *w)
{
	u64 table, entry_gpa[4], entry[4];
	bool user, writable, nx;
	int level, last, err;
	u64 size;

	if (!lg_guest_may_map(va))
		return LG_PF_FAULT | access;
again:
	table = vcpu->cr3 & LG_PTE_ADDR;
	user = true;
	writable = true;
	nx = false;
	last = 0;
	for (level = 4; level >= 1; level--) {
		entry_gpa[4 - level] = table + level_index(va, level) * 8;
		if (!lg_gpa_is_ram(vcpu->lg, entry_gpa[4 - level], 8))
			return LG_PF_FAULT | access | LG_PF_PROT | LG_PF_RSVD;
		if (get_user(entry[4 - level], guest_phys(vcpu->lg, entry_gpa[4 - level])))
			return -EFAULT;
		if (!(entry[4 - level] & _PAGE_PRESENT))
			return LG_PF_FAULT | access;
		user &= !!(entry[4 - level] & _PAGE_USER);
		writable &= !!(entry[4 - level] & _PAGE_RW);
		nx |= !!(entry[4 - level] & _PAGE_NX);
		last = 4 - level;
		size = 1ULL << (PAGE_SHIFT + 9 * (level - 1));
		if (level == 1 || (level <= 3 && (entry[4 - level] & _PAGE_PSE)))
			break;
		table = entry[4 - level] & LG_PTE_ADDR;
	}

	if (((access & LG_PF_USER) && !user) ||
	    ((access & LG_PF_WRITE) && !writable) ||
	    ((access & LG_PF_INSTR) && nx))
		return LG_PF_FAULT | access | LG_PF_PROT;

	w->gpa = (entry[last] & LG_PTE_ADDR & ~(size - 1)) | (va & (size - 1));
	w->user = user;
	w->writable = writable;
	w->nx = nx;

	/* Set accessed bits, and the leaf's dirty bit for a write. */
	for (level = 0; level <= last; level++) {
		u64 want = entry[level] | _PAGE_ACCESSED;

		if (level == last && (access & LG_PF_WRITE))
			want |= _PAGE_DIRTY;
		if (want != entry[level]) {
			err = set_entry_bits(vcpu->lg, entry_gpa[level],
					     entry[level], want);
			if (err < 0)
				return err;
			if (err)
				goto again;
		}
		entry[level] = want;
	}
	w->dirty = !!(entry[last] & _PAGE_DIRTY);
	w->global = !!(entry[last] & _PAGE_GLOBAL);
	w->size = size;
	w->leaf_gpa = entry_gpa[last];
	w->upper_writable = w->upper_user = true;
	w->upper_nx = false;
	for (level = 0; level < last; level++) {
		w->upper_user &= !!(entry[level] & _PAGE_USER);
		w->upper_writable &= !!(entry[level] & _PAGE_RW);
		w->upper_nx |= !!(entry[level] & _PAGE_NX);
	}
	return 0;
}

/*
 * Frees a shadow table of the given level and the tables below it.  Shadow
 * leaves are always 4 KiB PTEs, so every present entry above level 1 is a
 * table of ours; level 1 entries map guest pages, which stay pinned.
 */
static void free_shadow_table(struct lg_vcpu *vcpu, u64 *table, int level)
{
	unsigned int i;

	for (i = 0; level > 1 && i < PTRS_PER_PTE; i++)
		if (table[i] & _PAGE_PRESENT)
			free_shadow_table(vcpu, __va(table[i] & LG_PTE_ADDR),
					  level - 1);
	free_page((unsigned long)table);
	vcpu->shadow.nr_tables--;
	vcpu->stats.shadow_tables_freed++;
}

/* Forgets one PML4 slot's translations in both views of a space. */
static void drop_slot(struct lg_vcpu *vcpu, struct lg_shadow_space *space,
		      unsigned int slot)
{
	u64 *roots[] = { space->kernel_root, space->user_root };
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(roots); i++) {
		if (roots[i][slot] & _PAGE_PRESENT)
			free_shadow_table(vcpu, __va(roots[i][slot] & LG_PTE_ADDR),
					  3);
		roots[i][slot] = 0;
	}
	__clear_bit(slot, space->local_slots);
}

/*
 * Forgets a space's translations: all of them, or (keep_global) all but the
 * kernel-half slots that hold only global ones, what a CR3 load does under
 * CR4.PGE.
 */
static void flush_space(struct lg_vcpu *vcpu, struct lg_shadow_space *space,
			bool keep_global)
{
	unsigned int slot;

	for (slot = 0; slot < PTRS_PER_PGD; slot++) {
		if (slot == LG_SWITCHER_PGD_INDEX)
			continue;
		if (keep_global && slot >= PTRS_PER_PGD / 2 &&
		    !test_bit(slot, space->local_slots))
			continue;
		drop_slot(vcpu, space, slot);
	}
}

int lg_shadow_init(struct lg_vcpu *vcpu)
{
	unsigned int i;

	for (i = 0; i < LG_SHADOW_SPACES; i++) {
		struct lg_shadow_space *space = &vcpu->shadow.spaces[i];

		space->kernel_root = (u64 *)get_zeroed_page(GFP_KERNEL_ACCOUNT);
		space->user_root = (u64 *)get_zeroed_page(GFP_KERNEL_ACCOUNT);
		if (!space->kernel_root || !space->user_root)
			return -ENOMEM;
	}
	vcpu->shadow.cur = &vcpu->shadow.spaces[0];
	vcpu->shadow.cur->in_use = true;
	vcpu->shadow.cur->pml4 = vcpu->cr3 & LG_PTE_ADDR;
	vcpu->shadow.max_tables = max_t(unsigned long, LG_SHADOW_MIN_TABLES,
				      (vcpu->lg->mem_size >> PAGE_SHIFT) /
				      LG_SHADOW_PAGES_PER_TABLE);
	return 0;
}

/*
 * LHCALL_FLUSH_TLB and the shadow budget: forget the current space's
 * non-global translations (keep_global, a CR3 reload), or every
 * translation of every space (a global flush, as a CR4.PGE toggle).
 */
void lg_shadow_flush(struct lg_vcpu *vcpu, bool keep_global)
{
	unsigned int i;

	if (keep_global) {
		flush_space(vcpu, vcpu->shadow.cur, true);
		return;
	}
	for (i = 0; i < LG_SHADOW_SPACES; i++)
		if (vcpu->shadow.spaces[i].kernel_root)
			flush_space(vcpu, &vcpu->shadow.spaces[i], false);
}

/* The space a CR3 load that is not in the cache takes: a free one, or LRU. */
static struct lg_shadow_space *victim_space(struct lg_vcpu *vcpu)
{
	struct lg_shadow_space *best = NULL;
	unsigned int i;

	for (i = 0; i < LG_SHADOW_SPACES; i++) {
		struct lg_shadow_space *space = &vcpu->shadow.spaces[i];

		if (!space->in_use)
			return space;
		if (space != vcpu->shadow.cur &&
		    (!best || space->last_use < best->last_use))
			best = space;
	}
	return best;
}

/*
 * LHCALL_LOAD_CR3, as the CPU loads CR3 with CR4.PCIDE: each PCID has its
 * own shadow (up to LG_SHADOW_SPACES of them, the least recently loaded
 * one making way for a new PCID), so a context switch back to a process
 * finds its working set.  The translations cached under the PCID are kept
 * if the guest asks (the no-flush bit) and the PML4 is the one they were
 * made from; otherwise its non-global ones are forgotten.  Global ones stay
 * in every case, as in a TLB: they are the same in every address space.
 */
void lg_shadow_load_cr3(struct lg_vcpu *vcpu, u64 pml4, u16 pcid, bool keep)
{
	struct lg_shadow_space *space = NULL;
	unsigned int i;

	for (i = 0; i < LG_SHADOW_SPACES && !space; i++)
		if (vcpu->shadow.spaces[i].in_use && vcpu->shadow.spaces[i].pcid == pcid)
			space = &vcpu->shadow.spaces[i];
	if (!space) {
		space = victim_space(vcpu);
		space->in_use = true;
		space->pcid = pcid;
		keep = false;
	}
	if (!keep || space->pml4 != pml4)
		flush_space(vcpu, space, true);
	space->pml4 = pml4;
	space->last_use = ++vcpu->shadow.clock;
	vcpu->shadow.cur = space;
}

void lg_shadow_free(struct lg_vcpu *vcpu)
{
	unsigned int i;

	for (i = 0; i < LG_SHADOW_SPACES; i++) {
		struct lg_shadow_space *space = &vcpu->shadow.spaces[i];

		if (space->kernel_root && space->user_root)
			flush_space(vcpu, space, false);
		free_page((unsigned long)space->kernel_root);
		free_page((unsigned long)space->user_root);
		space->kernel_root = NULL;
		space->user_root = NULL;
		space->in_use = false;
	}
	vcpu->shadow.cur = NULL;
}

/*
 * The roots of both views of every kept space (the switcher's fast paths
 * change the guest's mode, and may make another kept space current,
 * without us), with the switcher slot holding the entering CPU's branch
 * (switcher.c): a guest sees the switcher region of the CPU it runs on and
 * no other.  Returns the index of the current space.
 */
unsigned int lg_shadow_roots(struct lg_vcpu *vcpu, u64 switcher_entry,
			     struct lg_space_roots *roots)
{
	unsigned int i;

	for (i = 0; i < LG_SHADOW_SPACES; i++) {
		struct lg_shadow_space *space = &vcpu->shadow.spaces[i];

		if (!space->in_use) {
			roots[i] = (struct lg_space_roots){ .key = LG_SPACE_NONE };
			continue;
		}
		space->kernel_root[LG_SWITCHER_PGD_INDEX] = switcher_entry;
		space->user_root[LG_SWITCHER_PGD_INDEX] = switcher_entry;
		roots[i].key = space->pml4 | space->pcid;
		roots[i].kernel = __pa(space->kernel_root);
		roots[i].user = __pa(space->user_root);
	}
	return vcpu->shadow.cur - vcpu->shadow.spaces;
}

/*
 * The switcher made kept spaces current by itself (LHCALL_LOAD_CR3 with
 * the no-flush bit, which keeps their translations, as lg_shadow_load_cr3
 * would): loads of them in all, stamps[i] the number of the last one that
 * chose space i (0: none), and cur the last one's.  The LRU order becomes
 * what lg_shadow_load_cr3 would have made it.
 */
void lg_shadow_took_fast_loads(struct lg_vcpu *vcpu, unsigned int cur,
			       const u64 *stamps, u64 loads)
{
	struct lg_shadow_space *space;
	unsigned int i;

	for (i = 0; i < LG_SHADOW_SPACES; i++)
		if (stamps[i])
			vcpu->shadow.spaces[i].last_use = vcpu->shadow.clock + stamps[i];
	vcpu->shadow.clock += loads;
	space = &vcpu->shadow.spaces[min_t(unsigned int, cur, LG_SHADOW_SPACES - 1)];
	vcpu->shadow.cur = space;
	vcpu->cr3 = space->pml4 | space->pcid;
}

/* The shadow leaf for va under root, optionally creating the tables. */
static u64 *shadow_leaf(struct lg_vcpu *vcpu, u64 *root, u64 va, bool create)
{
	u64 *table = root;
	int level;

	for (level = 4; level > 1; level--) {
		u64 *entry = &table[level_index(va, level)];

		if (!(*entry & _PAGE_PRESENT)) {
			u64 *next;

			if (!create)
				return NULL;
			next = (u64 *)get_zeroed_page(GFP_KERNEL_ACCOUNT);
			if (!next)
				return NULL;
			vcpu->shadow.nr_tables++;
			vcpu->stats.shadow_tables_made++;
			*entry = __pa(next) | SHADOW_TABLE;
		}
		table = __va(*entry & LG_PTE_ADDR);
	}
	return &table[level_index(va, 1)];
}

/*
 * The shadow entry at a level (3: PDPT, 2: PD) on va's path that a fill
 * from a guest page of the given size made, or NULL if there is none.
 */
static u64 *large_page_entry(u64 *root, u64 va, u64 size)
{
	int stop = size == PUD_SIZE ? 3 : 2, level;
	u64 *table = root;

	for (level = 4; level > stop; level--) {
		u64 entry = table[level_index(va, level)];

		if (!(entry & _PAGE_PRESENT))
			return NULL;
		table = __va(entry & LG_PTE_ADDR);
	}
	return &table[level_index(va, stop)];
}

/* Forget one page's translations, in one view: what INVLPG does natively. */
static void invlpg_view(struct lg_vcpu *vcpu, u64 *root, u64 va)
{
	static const u64 sizes[] = { PUD_SIZE, PMD_SIZE };
	unsigned int i;
	u64 *entry;

	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		entry = large_page_entry(root, va, sizes[i]);
		if (entry && (*entry & (_PAGE_PRESENT | SHADOW_FROM_LARGE)) ==
			     (_PAGE_PRESENT | SHADOW_FROM_LARGE)) {
			free_shadow_table(vcpu, __va(*entry & LG_PTE_ADDR),
					  sizes[i] == PUD_SIZE ? 2 : 1);
			*entry = 0;
			return;
		}
	}
	entry = shadow_leaf(vcpu, root, va, false);
	if (entry)
		*entry = 0;
}

/*
 * In the current space; for a kernel-half address in every space, as
 * INVLPG forgets a global translation under every PCID (and the kernel's
 * other mappings are the same in every space too).
 */
void lg_shadow_invlpg(struct lg_vcpu *vcpu, u64 va)
{
	bool kernel_half = level_index(va, 4) >= PTRS_PER_PGD / 2;
	unsigned int i;

	/* The hole holds the switcher's entries, not the guest's. */
	if (!lg_guest_may_map(va))
		return;
	for (i = 0; i < LG_SHADOW_SPACES; i++) {
		struct lg_shadow_space *space = &vcpu->shadow.spaces[i];

		if (space != vcpu->shadow.cur && (!kernel_half || !space->in_use))
			continue;
		invlpg_view(vcpu, space->kernel_root, va);
		invlpg_view(vcpu, space->user_root, va);
	}
}

/*
 * A page fault from the guest.  Returns 0 when the shadow now maps the
 * page, or LG_PF_FAULT plus the error code the guest itself must see (with
 * the cr2 of the fault), or -EFAULT/-ENOMEM on a host-side failure.  An
 * access to the device window returns LG_PF_MMIO with the guest-physical
 * address in *gpa.
 */
/*
 * The shadow leaf for a page the guest's tables allow (w): 0 with *pte, or
 * LG_PF_MMIO for the device window, LG_PF_FAULT | LG_PF_PROT | LG_PF_RSVD
 * for an address that is neither RAM nor devices, -EFAULT if the host page
 * cannot be had.  Clean pages are mapped read-only until written, so that
 * the guest's dirty bit is true.
 */
static int shadow_pte(struct lguest *lg, const struct lg_walk *w, u64 *pte)
{
	struct page *page;

	if (gpa_is_mmio(lg, w->gpa))
		return LG_PF_MMIO;
	page = lg_guest_page(lg, w->gpa);
	if (!page)
		return lg_gpa_is_ram(lg, w->gpa, 1) ? -EFAULT :
		       LG_PF_FAULT | LG_PF_PROT | LG_PF_RSVD;
	*pte = page_to_phys(page) | _PAGE_PRESENT | _PAGE_USER | _PAGE_ACCESSED;
	if (w->writable && w->dirty)
		*pte |= _PAGE_RW | _PAGE_DIRTY;
	if (w->nx)
		*pte |= _PAGE_NX & __supported_pte_mask;
	return 0;
}

/*
 * Fault-around: a fill also maps the other pages of its aligned group of
 * LG_FILL_AROUND whose translations the guest's tables already hold and
 * the guest has used (present and accessed entries: a CPU may cache those
 * translations from a walk of its own, and Linux flushes after changing
 * any present entry).  A process coming back to its pages after a fork
 * flushed them, or a child running what its parent ran, then faults once
 * per group rather than once per page.  Nothing changes in the guest's
 * entries, no shadow table is made (the group lies in the faulting page's
 * shadow table), and the rights are the guest's, as for the fill itself.
 */
#define LG_FILL_AROUND	16

/* What the guest's 4 KiB entry e says, under the levels above it in w. */
static bool walk_neighbour(const struct lg_walk *w, u64 e, struct lg_walk *n)
{
	if ((e & (_PAGE_PRESENT | _PAGE_ACCESSED)) != (_PAGE_PRESENT | _PAGE_ACCESSED))
		return false;
	n->gpa = e & LG_PTE_ADDR;
	n->user = w->upper_user && (e & _PAGE_USER);
	n->writable = w->upper_writable && (e & _PAGE_RW);
	n->nx = w->upper_nx || (e & _PAGE_NX);
	n->dirty = !!(e & _PAGE_DIRTY);
	n->global = !!(e & _PAGE_GLOBAL);
	return true;
}

static void fill_around(struct lg_vcpu *vcpu, u64 *leaf, u64 va,
			const struct lg_walk *w)
{
	unsigned int index = level_index(va, 1);
	unsigned int first = index & ~(LG_FILL_AROUND - 1), i;
	u64 *table = leaf - index, entries[LG_FILL_AROUND], pte;
	bool local = false;
	struct lg_walk n;

	if (w->size == PAGE_SIZE) {
		u64 gpa = (w->leaf_gpa & PAGE_MASK) + first * sizeof(u64);

		if (copy_from_user(entries, guest_phys(vcpu->lg, gpa), sizeof(entries)))
			return;
	}
	for (i = first; i < first + LG_FILL_AROUND; i++) {
		if (table[i] & _PAGE_PRESENT)
			continue;
		if (w->size == PAGE_SIZE) {
			if (!walk_neighbour(w, entries[i - first], &n))
				continue;
		} else {
			/* Inside the same large page: its rights, the page next door. */
			n = *w;
			n.gpa = (w->gpa & PAGE_MASK) + ((u64)i - index) * PAGE_SIZE;
		}
		if ((vcpu->user_mode && !n.user) || shadow_pte(vcpu->lg, &n, &pte))
			continue;
		table[i] = pte;
		local |= !n.global;
	}
	if (local)
		__set_bit(level_index(va, 4), vcpu->shadow.cur->local_slots);
}

int lg_shadow_fault(struct lg_vcpu *vcpu, u64 va, u64 hw_errcode, u64 *gpa)
{
	u32 access = hw_errcode & (LG_PF_WRITE | LG_PF_INSTR);
	struct lg_walk w;
	u64 *root, *leaf, pte;
	int r;

	if (vcpu->user_mode)
		access |= LG_PF_USER;
	r = lg_walk(vcpu, va, access, &w);
	if (r)
		return r;
	r = shadow_pte(vcpu->lg, &w, &pte);
	if (r == LG_PF_MMIO)
		*gpa = w.gpa;
	if (r == LG_PF_MMIO || r < 0)
		return r;
	if (r)
		return r | access;
	if (vcpu->shadow.nr_tables + LG_SHADOW_TABLES_PER_FILL >
	    vcpu->shadow.max_tables) {
		lg_shadow_flush(vcpu, false);
		vcpu->stats.shadow_evictions++;
	}
	root = vcpu->user_mode ? vcpu->shadow.cur->user_root :
	       vcpu->shadow.cur->kernel_root;
	leaf = shadow_leaf(vcpu, root, va, true);
	if (!leaf)
		return -ENOMEM;
	*leaf = pte;
	if (w.size > PAGE_SIZE)
		*large_page_entry(root, va, w.size) |= SHADOW_FROM_LARGE;
	if (!w.global)
		__set_bit(level_index(va, 4), vcpu->shadow.cur->local_slots);
	fill_around(vcpu, leaf, va, &w);
	return 0;
}

/*
 * Copy between the guest's virtual memory (as its kernel sees it) and ours,
 * page by page through the guest's own tables.
 */
static int copy_guest(struct lg_vcpu *vcpu, u64 gva, void *buf, size_t len,
		      bool to_guest)
{
	while (len) {
		size_t chunk = min_t(size_t, len, PAGE_SIZE - (gva & ~PAGE_MASK));
		struct lg_walk w;
		void __user *p;

		if (lg_walk(vcpu, gva, to_guest ? LG_PF_WRITE : 0, &w) ||
		    !lg_gpa_is_ram(vcpu->lg, w.gpa, chunk))
			return -EFAULT;
		p = (void __user *)(vcpu->lg->mem_base + w.gpa);
		if (to_guest ? copy_to_user(p, buf, chunk) :
			       copy_from_user(buf, p, chunk))
			return -EFAULT;
		gva += chunk;
		buf += chunk;
		len -= chunk;
	}
	return 0;
}

int lg_copy_from_guest(struct lg_vcpu *vcpu, void *dst, u64 gva, size_t len)
{
	return copy_guest(vcpu, gva, dst, len, false);
}

int lg_copy_to_guest(struct lg_vcpu *vcpu, u64 gva, const void *src, size_t len)
{
	return copy_guest(vcpu, gva, (void *)src, len, true);
}
