/*
 * hostile.S - the instruction sequences of cases-hostile.c, which must
 * control rflags and %rsp at the moment the CPU leaves the guest.
 *
 * flags_across_*: set DF, AC and NT, leave the guest one way (a hypercall,
 * a shadow fill, a reflected fault, a host interrupt), and return the
 * rflags found afterwards.  The host must come back with its own flags
 * (DF set in the host makes its memcpy write backwards) and give the
 * guest back exactly its own.  A fault resumes at the flag read (extable).
 *
 * tf_over_hcall: a hypercall executed with TF set and %rsp pointing
 * wherever the case likes.  SYSCALL does not switch stacks, so the
 * single-step trap it owes arrives at CPL 0 on the switcher's first
 * instruction: with the guest's %rsp unless lg.ko gives #DB a stack of
 * its own.
 */
#include "guest-asm.h"

/* rflags with the hostile flags set; the arithmetic ones are clobbered. */
.macro SET_HOSTILE_FLAGS
	pushf
	orq $HOSTILE_FLAGS, (%rsp)
	popf
.endm

/* rax = rflags now, then back to clean flags. */
.macro READ_AND_CLEAR_FLAGS
	pushf
	pop %rax
	pushq $2
	popf
.endm

/*
 * FLAGS_ACROSS_BEGIN name ... FLAGS_ACROSS_END: a function that runs the
 * instructions in between with the hostile flags and returns rflags; a
 * fault on the first of them resumes at the flag read.
 */
.macro FLAGS_ACROSS_BEGIN name
GLOBAL_FUNC \name
	SET_HOSTILE_FLAGS
1:
.endm

.macro FLAGS_ACROSS_END
2:	READ_AND_CLEAR_FLAGS
	ret
	EXTABLE 1b, 2b
.endm

	.text
FLAGS_ACROSS_BEGIN flags_across_hcall
	mov $LHCALL_NOP, %eax
	syscall
FLAGS_ACROSS_END

/* flags_across_fill(va): the first touch of a mapped page, filled by the host */
FLAGS_ACROSS_BEGIN flags_across_fill
	mov (%rdi), %rdx
FLAGS_ACROSS_END

FLAGS_ACROSS_BEGIN flags_across_pf
	mov UNMAPPED_LOW, %rdx
FLAGS_ACROSS_END

FLAGS_ACROSS_BEGIN flags_across_ud
	ud2
FLAGS_ACROSS_END

FLAGS_ACROSS_BEGIN flags_across_gp
	hlt
FLAGS_ACROSS_END

/* int3 is a trap: it resumes after itself, where the extable entry is. */
GLOBAL_FUNC flags_across_int3
	SET_HOSTILE_FLAGS
	int3
1:	READ_AND_CLEAR_FLAGS
	ret
	EXTABLE 1b, 1b

/* flags_across_spin(until_tsc): host interrupts come and go meanwhile */
GLOBAL_FUNC flags_across_spin
	mov %rdi, %r8
	SET_HOSTILE_FLAGS
1:	rdtsc
	shl $32, %rdx
	or %rdx, %rax
	cmp %r8, %rax
	jb 1b
	READ_AND_CLEAR_FLAGS
	ret

/*
 * tf_over_hcall(rsp, mov_ss): LHCALL_IRET to a SYSCALL (LHCALL_NOP) with TF
 * set and %rsp = rsp; with mov_ss, a MOV to %ss just before it defers the
 * single step past the SYSCALL, the CVE-2018-8897 pattern.  The next
 * instruction takes the stack back; the single step after it arrives as a
 * #DB that trap.c records.  Returns the address that #DB should name.
 */
GLOBAL_FUNC tf_over_hcall
	push %rbx
	mov %rsp, tf_saved_rsp(%rip)
	mov %ss, %ebx
	test %rsi, %rsi
	lea 1f(%rip), %rcx
	lea 2f(%rip), %rdx
	cmovnz %rdx, %rcx
	pushq $LGUEST_KERNEL_DS
	pushq %rdi
	pushq $(EFLAGS_TF | 2)
	pushq $LGUEST_KERNEL_CS
	pushq %rcx
	pushq $0			/* rcx */
	pushq $0			/* r11 */
	pushq $LHCALL_NOP		/* rax */
	mov $LHCALL_IRET, %eax
	syscall
	ud2
2:	mov %bx, %ss
1:	syscall
	mov tf_saved_rsp(%rip), %rsp
	.globl tf_over_hcall_trap
tf_over_hcall_trap:
	lea tf_over_hcall_trap(%rip), %rax
	pop %rbx
	ret

	.bss
	.balign 8
tf_saved_rsp:	.skip 8
