/*
 * user.S - the test guest's user-mode code.  mm.c maps these pages at
 * USER_CODE_VA with the user bit, so the code must be position independent
 * and touch nothing but its registers and its stack: the user view of
 * memory holds no guest-kernel mapping.  Each stub ends with
 * USER_SYS_EXIT (rdi = result) unless an event ends it first.
 */
#include "guest-asm.h"

.macro USER_EXIT
	mov $USER_SYS_EXIT, %eax
	syscall
	ud2
.endm

	.section .user_text, "ax"
	.balign 4096

/*
 * rdi = 41.  Load a pattern into every register the kernel must not see
 * changed, ask for USER_SYS_ECHO (returns rdi + 1) and exit with the
 * answer: the kernel side checks the registers at both syscalls.
 */
GLOBAL_FUNC user_syscall
	movabs $REG_PATTERN(1), %rbx
	movabs $REG_PATTERN(3), %rdx
	movabs $REG_PATTERN(4), %rsi
	movabs $REG_PATTERN(6), %rbp
	movabs $REG_PATTERN(7), %r8
	movabs $REG_PATTERN(8), %r9
	movabs $REG_PATTERN(9), %r10
	movabs $REG_PATTERN(11), %r12
	movabs $REG_PATTERN(12), %r13
	movabs $REG_PATTERN(13), %r14
	movabs $REG_PATTERN(14), %r15
	mov $USER_SYS_ECHO, %eax
	syscall
	.globl user_syscall_ret
user_syscall_ret:
	mov %rax, %rdi
	USER_EXIT

/* Read the quadword at rdi and exit with it (the read should fault). */
GLOBAL_FUNC user_read
	.globl user_read_insn
user_read_insn:
	mov (%rdi), %rax
	mov %rax, %rdi
	USER_EXIT

/* Write to rdi (should fault). */
GLOBAL_FUNC user_write
	.globl user_write_insn
user_write_insn:
	movq $1, (%rdi)
	USER_EXIT

/* Jump to rdi (a page that may not be executed: should fault). */
GLOBAL_FUNC user_jump
	jmp *%rdi

/* A privileged instruction in user mode (should raise #GP). */
GLOBAL_FUNC user_cli
	.globl user_cli_insn
user_cli_insn:
	cli
	USER_EXIT

/* Exit with the quadwords at %fs:0 (rdi) and %gs:0 (rsi). */
GLOBAL_FUNC user_read_segments
	mov %fs:0, %rdi
	mov %gs:0, %rsi
	USER_EXIT

/*
 * SYSCALL with rax = rdi from user mode, as if it were a hypercall.  For
 * LHCALL_IRET the stack holds a frame that would return to
 * user_escalated in guest-kernel mode: if lg.ko ever took it, that code
 * would run and its exit would show rdi = 0xbad.
 */
GLOBAL_FUNC user_hcall
	lea user_escalated(%rip), %rcx
	mov %rsp, %rdx
	pushq $LGUEST_KERNEL_DS
	pushq %rdx
	pushq $0x2
	pushq $LGUEST_KERNEL_CS
	pushq %rcx
	pushq $0
	pushq $0
	pushq $0
	mov %rdi, %rax
	mov $LGUEST_SHUTDOWN_CRASH, %edi
	syscall
	mov %rax, %rdi
	USER_EXIT
user_escalated:
	mov $0xbad, %edi
	USER_EXIT

/* Port input in user mode (should raise #GP: only the kernel's is emulated). */
GLOBAL_FUNC user_in
	.globl user_in_insn
user_in_insn:
	inb $0x80, %al
	USER_EXIT

/* rdi USER_SYS_NOP syscalls, then exit (benchmark). */
GLOBAL_FUNC user_syscall_loop
	mov %rdi, %rbx
1:	mov $USER_SYS_NOP, %eax
	syscall
	dec %rbx
	jnz 1b
	USER_EXIT

/* Spin until an interrupt takes the CPU away. */
GLOBAL_FUNC user_spin
1:	pause
	jmp 1b

/*
 * The hostile flags (DF, AC, NT: see hostile.S) set in user mode, then one
 * way out: a fault (rdi: an address), #UD, #GP, int3, a shadow fill (rdi:
 * a mapped, untouched page) followed by the exit syscall, the exit
 * syscall alone, or a spin until an interrupt.
 */
.macro USER_HOSTILE name
GLOBAL_FUNC \name
	pushf
	orq $HOSTILE_FLAGS, (%rsp)
	popf
.endm
USER_HOSTILE user_hostile_read
	mov (%rdi), %rax
	USER_EXIT
USER_HOSTILE user_hostile_ud
	ud2
	USER_EXIT
USER_HOSTILE user_hostile_gp
	cli
	USER_EXIT
USER_HOSTILE user_hostile_int3
	int3
	USER_EXIT
USER_HOSTILE user_hostile_syscall
	USER_EXIT
USER_HOSTILE user_hostile_spin
	.globl user_hostile_spin_loop
user_hostile_spin_loop:
	pause
	jmp user_hostile_spin_loop

/*
 * A MOV to %ss from (%rdi), where the kernel side armed a watchpoint,
 * then at once the exit SYSCALL: the debug trap the read owes is held
 * back past the SYSCALL and lands on the hypervisor's first instruction
 * (CVE-2018-8897).
 */
/* Exit with what LHCALL_IRET loaded: rdi = rax, rsi = rcx, rdx = r11. */
GLOBAL_FUNC user_report_iret_regs
	mov %rax, %rdi
	mov %rcx, %rsi
	mov %r11, %rdx
	USER_EXIT

/* SYSCALL with rsp = rdi, an address that need not be a stack at all. */
GLOBAL_FUNC user_syscall_on_stack
	mov %rdi, %rsp
	USER_EXIT

GLOBAL_FUNC user_movss_syscall
	mov $USER_SYS_EXIT, %eax
	mov (%rdi), %ss
	syscall
	ud2

	.balign 4096
