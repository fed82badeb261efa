/*
 * entry.S - the test guest's boot entry, event entries and the few
 * routines that must control every register.
 *
 * Boot: lg.ko enters _start (named by the lguest ELF note) at CPL 3 in
 * guest-kernel mode with rsi = guest-physical boot_params.  We clear .bss
 * (a launcher need not), take our own stack and call guest_main().
 *
 * Events: every exception vector, the upcall vector and the user SYSCALL
 * entry end in trap_common, which saves all registers as struct trap_regs
 * below the native frame lg.ko built and calls trap_dispatch().  The return
 * is the LHCALL_IRET protocol: push rcx, r11, rax on top of the native
 * frame and make the hypercall.
 */
#include "guest-asm.h"

	.section .note.lguest, "a"
	.balign 4
	.long 2f - 1f			/* namesz */
	.long 4f - 3f			/* descsz */
	.long LGUEST_ELFNOTE_ENTRY
1:	.asciz LGUEST_ELFNOTE_NAME
2:	.balign 4
3:	.quad _start
4:	.balign 4

	.section .text.entry, "ax"
GLOBAL_FUNC _start
	cld
	lea __bss_start(%rip), %rdi
	lea __bss_end(%rip), %rcx
	sub %rdi, %rcx
	xor %eax, %eax
	rep stosb
	lea boot_stack_top(%rip), %rsp
	mov %rsi, %rdi
	call guest_main
	ud2

	.text
/* Vectors that push an error code natively; the others get a dummy 0. */
.macro TRAP_ENTRY vec
	.balign 16
trap_entry_\vec:
	.if !((\vec == 8) || (\vec >= 10 && \vec <= 14) || (\vec == 17) || \
	      (\vec == 21) || (\vec == 29) || (\vec == 30))
	pushq $0
	.endif
	pushq $\vec
	jmp trap_common
.endm

.irp vec, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	TRAP_ENTRY \vec
.endr

	.balign 16
GLOBAL_FUNC trap_entry_upcall
	pushq $0
	pushq $LGUEST_UPCALL_VECTOR
	jmp trap_common

/*
 * A SYSCALL from guest-user mode arrives like the native instruction:
 * rcx = user rip, r11 = user rflags, still on the user stack.  One vCPU,
 * so a plain variable holds the user rsp while we switch to the kernel
 * stack and build the frame an exception from user mode would have had.
 */
	.balign 16
GLOBAL_FUNC syscall_entry
	mov %rsp, user_rsp_at_syscall(%rip)
	lea kernel_stack_top(%rip), %rsp
	pushq $LGUEST_USER_DS
	pushq user_rsp_at_syscall(%rip)
	pushq %r11
	pushq $LGUEST_USER_CS
	pushq %rcx
	pushq $0
	pushq $LGUEST_TRAP_SYSCALL
	/* fall through */

trap_common:
	pushq %r15
	pushq %r14
	pushq %r13
	pushq %r12
	pushq %r11
	pushq %r10
	pushq %r9
	pushq %r8
	pushq %rbp
	pushq %rdi
	pushq %rsi
	pushq %rdx
	pushq %rcx
	pushq %rbx
	pushq %rax
	mov %rsp, %rdi
	cld
	call trap_dispatch
	popq %rax
	popq %rbx
	popq %rcx
	popq %rdx
	popq %rsi
	popq %rdi
	popq %rbp
	popq %r8
	popq %r9
	popq %r10
	popq %r11
	popq %r12
	popq %r13
	popq %r14
	popq %r15
	add $16, %rsp			/* vector, error code */
iret_to_frame:
	pushq %rcx
	pushq %r11
	pushq %rax
	mov $LHCALL_IRET, %eax
	syscall
	ud2				/* LHCALL_IRET does not return here */

/*
 * enter_user(rip, rsp, arg, rflags): leave for user mode through a frame
 * with cs = USER_CS.  rdi = arg in user mode; other registers are cleared
 * so user code starts from a known state.  Comes back only as an event.
 */
GLOBAL_FUNC enter_user
	pushq $LGUEST_USER_DS
	pushq %rsi
	pushq %rcx
	pushq $LGUEST_USER_CS
	pushq %rdi
	mov %rdx, %rdi
	xor %eax, %eax
	xor %ebx, %ebx
	xor %ecx, %ecx
	xor %edx, %edx
	xor %esi, %esi
	xor %ebp, %ebp
	xor %r8d, %r8d
	xor %r9d, %r9d
	xor %r10d, %r10d
	xor %r11d, %r11d
	xor %r12d, %r12d
	xor %r13d, %r13d
	xor %r14d, %r14d
	xor %r15d, %r15d
	jmp iret_to_frame

/*
 * iret_to_next(cs, rflags): LHCALL_IRET to our own return address with the
 * given cs and rflags and the current stack, to see what lg.ko makes of
 * frames a guest should not be able to use.
 */
GLOBAL_FUNC iret_to_next
	pop %rdx			/* return address */
	mov %rsp, %rax
	pushq $LGUEST_KERNEL_DS
	pushq %rax
	pushq %rsi
	pushq %rdi
	pushq %rdx
	pushq %rcx
	pushq %r11
	pushq $0
	mov $LHCALL_IRET, %eax
	syscall
	ud2

/*
 * iret_through(frame): LHCALL_IRET through a struct lguest_iret_frame the
 * caller placed where it wants the hypervisor to read it.
 */
GLOBAL_FUNC iret_through
	mov %rdi, %rsp
	mov $LHCALL_IRET, %eax
	syscall
	ud2

/* ctx_save(ctx) returns 0; ctx_restore(ctx, v) makes it return v again. */
GLOBAL_FUNC ctx_save
	mov (%rsp), %rax
	mov %rax, 0(%rdi)
	lea 8(%rsp), %rax
	mov %rax, 8(%rdi)
	mov %rbx, 16(%rdi)
	mov %rbp, 24(%rdi)
	mov %r12, 32(%rdi)
	mov %r13, 40(%rdi)
	mov %r14, 48(%rdi)
	mov %r15, 56(%rdi)
	xor %eax, %eax
	ret

GLOBAL_FUNC ctx_restore
	mov 8(%rdi), %rsp
	mov 16(%rdi), %rbx
	mov 24(%rdi), %rbp
	mov 32(%rdi), %r12
	mov 40(%rdi), %r13
	mov 48(%rdi), %r14
	mov 56(%rdi), %r15
	mov %esi, %eax
	jmp *0(%rdi)

/*
 * LHCALL_NOP with every register loaded from regs_before and stored to
 * regs_after right after the SYSCALL (rip-relative, so no register is
 * needed as a base): the C side compares them.
 */
GLOBAL_FUNC hcall_regs_roundtrip
	pushq %rbx
	pushq %rbp
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	mov %rsp, regs_before+0x78(%rip)
	mov regs_before+0x08(%rip), %rbx
	mov regs_before+0x10(%rip), %rcx
	mov regs_before+0x18(%rip), %rdx
	mov regs_before+0x20(%rip), %rsi
	mov regs_before+0x28(%rip), %rdi
	mov regs_before+0x30(%rip), %rbp
	mov regs_before+0x38(%rip), %r8
	mov regs_before+0x40(%rip), %r9
	mov regs_before+0x48(%rip), %r10
	mov regs_before+0x50(%rip), %r11
	mov regs_before+0x58(%rip), %r12
	mov regs_before+0x60(%rip), %r13
	mov regs_before+0x68(%rip), %r14
	mov regs_before+0x70(%rip), %r15
	mov $LHCALL_NOP, %eax
	syscall
	mov %rax, regs_after+0x00(%rip)
	mov %rbx, regs_after+0x08(%rip)
	mov %rcx, regs_after+0x10(%rip)
	mov %rdx, regs_after+0x18(%rip)
	mov %rsi, regs_after+0x20(%rip)
	mov %rdi, regs_after+0x28(%rip)
	mov %rbp, regs_after+0x30(%rip)
	mov %r8, regs_after+0x38(%rip)
	mov %r9, regs_after+0x40(%rip)
	mov %r10, regs_after+0x48(%rip)
	mov %r11, regs_after+0x50(%rip)
	mov %r12, regs_after+0x58(%rip)
	mov %r13, regs_after+0x60(%rip)
	mov %r14, regs_after+0x68(%rip)
	mov %r15, regs_after+0x70(%rip)
	mov %rsp, regs_after+0x78(%rip)
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %rbp
	popq %rbx
	ret

	.bss
	.balign 16
	.globl regs_before, regs_after
regs_before:	.skip 16 * 8
regs_after:	.skip 16 * 8
user_rsp_at_syscall:	.skip 8

	.balign 4096
	.globl kernel_stack, kernel_stack_top
boot_stack:	.skip STACK_SIZE
boot_stack_top:
kernel_stack:	.skip STACK_SIZE
kernel_stack_top:

	.section .rodata
	.balign 8
	.globl trap_entry_table
trap_entry_table:
.irp vec, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	.quad trap_entry_\vec
.endr
