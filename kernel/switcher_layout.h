/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Where things live inside the switcher, for both the
 * assembly that switches worlds and the C that prepares it.
 *
 * The switcher is a small window of module-owned pages in the x86-64
 * "hypervisor hole" (0xffff800000000000..0xffff87ffffffffff), which Linux
 * never uses.  The same pages appear at the same address in the host's page
 * tables and in every shadow page table we build for a guest, so the code
 * that reloads %cr3 keeps running across the reload.
 *
 * Each host CPU owns one region of LG_SWITCHER_STRIDE bytes:
 *
 *	+0 pages	the switcher text (LG_SWITCHER_TEXT_PAGES), one physical
 *			copy mapped again into every region
 *	+2		the CPU's state page: GDT, TSS, saved host state, the
 *			guest's registers (ending at the page's end: TSS.rsp0)
 *	+3		the CPU's IDT (256 gates of 16 bytes)
 *	+4, +5, +6, +7	IST stacks for #DF, NMI, #MC and #DB
 *	+8		the shared page (struct lguest_shared) of the guest
 *			last entered on this CPU, mapped only in the CPU's
 *			guest-visible branch, for the fast paths
 *
 * Mapping the text again in front of each CPU's data lets the text reach
 * "its" CPU's data with plain %rip-relative addressing: no per-CPU register
 * is needed, which matters because a SYSCALL from the guest arrives with
 * every register still holding guest values.
 */
#ifndef LG_SWITCHER_LAYOUT_H
#define LG_SWITCHER_LAYOUT_H

#define LG_SWITCHER_BASE	0xffff800000000000
#define LG_SWITCHER_PGD_INDEX	256
#define LG_SWITCHER_STRIDE	(16 * 4096)
#define LG_SWITCHER_TEXT_PAGES	2

#define LG_PAGE_STATE		2
#define LG_PAGE_IDT		3
#define LG_PAGE_IST_DF		4
#define LG_PAGE_IST_NMI		5
#define LG_PAGE_IST_MC		6
#define LG_PAGE_IST_DB		7
#define LG_REGION_PAGES		8	/* pages the module owns per region */
#define LG_PAGE_SHARED		8	/* a guest's page, not the module's */

/* Offsets inside the state page. */
#define SW_GDT			0x000	/* 16 descriptors */
#define SW_TSS			0x080	/* struct x86_hw_tss, 104 bytes */
#define SW_HOST_RSP		0x100
#define SW_HOST_CR3		0x108
#define SW_GUEST_CR3		0x110
#define SW_HOST_FS_BASE		0x118
#define SW_HOST_GS_BASE		0x120
#define SW_GUEST_FS_BASE	0x128
#define SW_GUEST_GS_BASE	0x130
#define SW_SCRATCH		0x138
#define SW_GUEST_CS		0x140
#define SW_CR2			0x148
#define SW_NMI_PENDING		0x150
#define SW_MC_PENDING		0x158
#define SW_SWITCHER_FAULT	0x160	/* vector of a fault inside us */
#define SW_HOST_SEGS		0x168	/* ds, es, fs, gs: 4 x 16 bits */
#define SW_GUEST_SEGS		0x170	/* ds, es, fs, gs: 4 x 16 bits */
#define SW_HOST_GDT		0x180	/* struct desc_ptr (10 bytes) */
#define SW_HOST_GDT_RW		0x190	/* writable alias, for ltr */
#define SW_HOST_IDT		0x1a0
#define SW_GDT_DESC		0x1b0
#define SW_IDT_DESC		0x1c0
#define SW_HOST_CR4		0x1d0
#define SW_GUEST_CR4		0x1d8
#define SW_SWITCH_FLAGS		0x1e0	/* LG_SWITCH_* */
#define SW_VERW_SEL		0x1e8	/* a data selector for VERW */
#define SW_GUEST_DR		0x1f0	/* DR0-DR3 of the guest */
#define SW_GUEST_DR7		0x210	/* 0: the guest arms no breakpoint */
/*
 * For the fast paths (switcher_64.S): the gs base of the mode the guest
 * is not in, the CR3 values of both views (with their PCIDs and the keep
 * bit where the host has PCIDs), the guest kernel's syscall entry, the
 * kernel stack in force, and how often each fast path ran.
 */
#define SW_GUEST_GS_OTHER	0x218
#define SW_GUEST_CR3_KERNEL	0x220
#define SW_GUEST_CR3_USER	0x228
#define SW_SYSCALL_ENTRY	0x230
#define SW_GUEST_KSTACK		0x238
#define SW_FAST_SYSCALLS	0x240
#define SW_FAST_IRETS		0x248
#define SW_FAST_SAVE		0x250	/* rax, rcx, rdx, r11 of the guest */
#define SW_FAST_FRAME		0x270	/* struct lguest_iret_frame, copied */
#define SW_FAST_STORES		0x2b0	/* kernel stack, fs, user gs: copied */
#define SW_FAST_PAGE_FAULTS	0x2c8
#define SW_FAST_EXCEPTIONS	0x2d0
#define SW_FAST_CR3_LOADS	0x2d8
#define SW_FAST_CR3_SPACE	0x2e0	/* the space the last one made current */
#define SW_FAST_END		0x2e8
/*
 * For reflecting guest-user exceptions in the switcher: the vectors it may
 * reflect (bit n: vector n has a handler and needs nothing of C), those
 * whose handler keeps interrupts on, the handlers, and for page faults
 * what a walk of the guest's tables needs: the guest's direct map (copied
 * from the shared page at each fault), the PML4 in force and the size of
 * guest RAM.
 */
#define SW_FAST_VECTORS		0x2e8	/* u32 */
#define SW_FAST_KEEP_IRQS	0x2ec	/* u32 */
#define SW_DIRECT_MAP		0x2f0
#define SW_GUEST_PML4		0x2f8
#define SW_GUEST_MEM_SIZE	0x300
#define SW_FAST_HANDLERS	0x308	/* 32 x u64 */
/*
 * For LHCALL_LOAD_CR3 in the switcher: CR3's "keep" bit where the host has
 * PCIDs (else 0), and the address spaces whose shadows lg.ko keeps, one
 * entry each: the guest's PML4 | PCID (LG_SPACE_NONE for an unused slot),
 * the CR3 values of its two views (without the keep bit: the first load
 * after a switch flushes what the view's PCID held of the last space),
 * and when the switcher last made it current (0: not since C looked).
 */
#define SW_CR3_KEEP_BIT		0x408
#define SW_SPACES		0x410
#define SW_SPACE_KEY		0x00
#define SW_SPACE_KERNEL_CR3	0x08
#define SW_SPACE_USER_CR3	0x10
#define SW_SPACE_STAMP		0x18
#define SW_SPACE_SIZE		0x20	/* 1 << 5 */
#define SW_SPACES_END		(SW_SPACES + 8 * SW_SPACE_SIZE)
#define LG_SPACE_NONE		(-1)
#define LG_CR3_NOFLUSH_BIT	63	/* CR3 (and LHCALL_LOAD_CR3): keep the PCID's entries */

/* SW_SWITCH_FLAGS: what this CPU needs on the way into the guest. */
#define LG_SWITCH_VERW		0x1	/* clear CPU buffers (MDS and kin) */
#define LG_SWITCH_FAST		0x2	/* the fast paths may run */

/* Offsets in struct lguest_shared that the fast paths use. */
#define SH_IRQ_ENABLED		0x00
#define SH_PENDING		0x10
#define SH_MASKED		0x18
#define SH_CR2			0x20
#define SH_DIRECT_MAP		0x80
#define SH_KERNEL_STACK		0x50
#define SH_FS_BASE		0x58
#define SH_GS_BASE_USER		0x60

/* Page-fault error code bits, and the page-table entry bits we look at. */
#define LG_PF_PROT		0x01
#define LG_PF_WRITE		0x02
#define LG_PF_USER		0x04
#define LG_PF_RSVD		0x08
#define LG_PF_INSTR		0x10
#define LG_PTE_PRESENT		0x001
#define LG_PTE_WRITE		0x002
#define LG_PTE_USER		0x004
#define LG_PTE_NX_BIT		63
#define LG_RIGHTS_NO_EXEC	0x008	/* the fast walk's own: some level has NX */
#define LG_PTE_LARGE		0x080	/* PS: a 2 MiB or 1 GiB page */
#define LG_PTE_ADDR		0x000ffffffffff000

/* Offsets in struct lguest_iret_frame. */
#define IRET_RAX		0x00
#define IRET_R11		0x08
#define IRET_RCX		0x10
#define IRET_RIP		0x18
#define IRET_CS			0x20
#define IRET_RFLAGS		0x28
#define IRET_RSP		0x30
#define IRET_SS			0x38
#define IRET_SIZE		0x40

/*
 * The guest's rflags: the flags it may hold (IF is always on for real,
 * IOPL always 0; the rest are harmless to the host, since every way out
 * of the guest restores the host's own rflags), and those a SYSCALL from
 * user mode clears, as the host's own SYSCALL mask does natively.
 */
#define LG_GUEST_RFLAGS	(X86_EFLAGS_CF | X86_EFLAGS_PF | X86_EFLAGS_AF | \
			 X86_EFLAGS_ZF | X86_EFLAGS_SF | X86_EFLAGS_TF | \
			 X86_EFLAGS_DF | X86_EFLAGS_OF | X86_EFLAGS_NT | \
			 X86_EFLAGS_RF | X86_EFLAGS_AC | X86_EFLAGS_ID)
#define LG_SYSCALL_CLEARS	(X86_EFLAGS_TF | X86_EFLAGS_DF | \
				 X86_EFLAGS_AC | X86_EFLAGS_NT)
/*
 * What delivering an exception clears for the handler, as event delivery
 * does natively: no single step, nested task or resume flag.  AC goes too:
 * at CPL 3 it would turn on alignment checks in the guest kernel, which
 * natively runs at CPL 0 where AC means nothing of the sort.
 */
#define LG_DELIVERY_CLEARS	(X86_EFLAGS_TF | X86_EFLAGS_NT | \
				 X86_EFLAGS_RF | X86_EFLAGS_AC)

/* The vectors for which the CPU pushes an error code: 8, 10-14, 17, 21, 29, 30. */
#define LG_ERRCODE_VECTORS	0x60227d00

/* The guest's registers, struct lg_regs, end exactly at the page's end. */
#define LG_REGS_SIZE		(22 * 8)
#define SW_REGS			(4096 - LG_REGS_SIZE)
#define SW_REGS_TRAPNUM		(SW_REGS + 15 * 8)
#define SW_REGS_TOP		4096

/*
 * The switcher's GDT mirrors Linux's layout where it matters: the SYSCALL
 * MSR (STAR) derives CS and SS from one base, and the host's own
 * __KERNEL_CS/__KERNEL_DS (0x10/0x18) stay valid while our GDT is loaded.
 * Slot 1 (unused by a 64-bit host) becomes the guest kernel's code
 * segment: 64-bit, DPL 3.
 */
#define LG_GDT_GUEST_KERNEL_CS	1
#define LG_GDT_HOST_CS		2
#define LG_GDT_HOST_DS		3
#define LG_GDT_USER32_CS	4
#define LG_GDT_USER_DS		5
#define LG_GDT_USER_CS		6
#define LG_GDT_TSS		8
#define LG_GDT_CPUNODE		15	/* Linux's GDT_ENTRY_CPUNODE */
#define LG_GDT_ENTRIES		16

#define LG_SEL_GUEST_KERNEL_CS	(LG_GDT_GUEST_KERNEL_CS * 8 + 3)
#define LG_SEL_HOST_CS		(LG_GDT_HOST_CS * 8)
#define LG_SEL_HOST_DS		(LG_GDT_HOST_DS * 8)
#define LG_SEL_USER_DS		(LG_GDT_USER_DS * 8 + 3)
#define LG_SEL_USER_CS		(LG_GDT_USER_CS * 8 + 3)
#define LG_SEL_TSS		(LG_GDT_TSS * 8)

/*
 * Trap numbers above the 256 IDT vectors: SYSCALL from the guest, a fault
 * inside the switcher while entering the guest, and a host event (an
 * interrupt, NMI or #MC that hit while the guest ran, already replayed to
 * the host by the time the C code sees it).
 */
#define LG_TRAP_SYSCALL		256
#define LG_TRAP_ENTRY_FAULT	257
#define LG_TRAP_HOST		258

#endif /* LG_SWITCHER_LAYOUT_H */
