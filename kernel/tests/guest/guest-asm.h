/*
 * guest-asm.h - constants the test guest's assembly and C share: the ABI
 * (<linux/lguest.h> hides its structures from the assembler, which the
 * Makefile runs with __ASSEMBLY__ defined), the guest's virtual layout, its
 * own user-mode system calls and register patterns, and the assembler's
 * exception-table macro.
 */
#ifndef GUEST_ASM_H
#define GUEST_ASM_H

#include <linux/lguest.h>

/* Constants typed unsigned long in C, plain numbers for the assembler. */
#ifdef __ASSEMBLER__
#define UL(x)			x
#else
#define UL(x)			x##UL
#endif

/* Virtual layout of the test guest (see guest.lds and mm.c). */
#define KERNEL_MAP		UL(0xffffffff80000000)
#define DIRECT_MAP		UL(0xffff888000000000)
#define USER_CODE_VA		UL(0x400000)
#define USER_STACK_TOP		UL(0x800000)
#define USER_STACK_PAGES	2
#define UNMAPPED_LOW		UL(0x12345678)	/* nothing maps the low half here */

/*
 * The guest's own system calls from user mode (rax).  USER_SYS_EXIT ends a
 * user-mode run and hands rdi back to the kernel side; USER_SYS_ECHO
 * returns rdi + 1 to user mode, proving the return path carries rax.
 */
#define USER_SYS_EXIT		60
#define USER_SYS_ECHO		0x1234
#define USER_SYS_NOP		0

/* rflags bits the cases set and check. */
#define EFLAGS_TF		UL(0x100)
#define EFLAGS_DF		UL(0x400)
#define EFLAGS_NT		UL(0x4000)
#define EFLAGS_AC		UL(0x40000)
/* What cases-hostile.c sets before it leaves the guest (hostile.S, user.S). */
#define HOSTILE_FLAGS		(EFLAGS_DF | EFLAGS_AC | EFLAGS_NT)

/* Distinct values loaded into every register around a SYSCALL. */
#define REG_PATTERN(n)		(UL(0x5a5a0000c0de0000) + (n))

#define STACK_SIZE		16384

#ifdef __ASSEMBLER__
/*
 * An exception table entry, as in Linux: if the instruction at \insn
 * faults in guest-kernel mode, the trap handler records the fault and
 * resumes at \fixup instead of failing the case.
 */
.macro EXTABLE insn, fixup
	.pushsection extable, "a"
	.balign 8
	.quad \insn, \fixup
	.popsection
.endm

/*
 * The end of a probe (cpu.S, probes.S) whose instruction is at local label
 * 1: returns 0 when it completed, 1 from the fixup when it faulted.
 */
.macro PROBE_RETURN
	xor %eax, %eax
	ret
2:	mov $1, %eax
	ret
	EXTABLE 1b, 2b
.endm

.macro GLOBAL_FUNC name
	.globl \name
	.type \name, @function
\name:
.endm
#endif

#endif /* GUEST_ASM_H */
