/*
 * fpu.S - load and store the SSE state the fpu case checks.  The rest of
 * the guest is built with -mgeneral-regs-only, so nothing but these two
 * functions touches xmm0..xmm15 or MXCSR.
 */
#include "guest-asm.h"

	.text
/* fpu_load(const u64 xmm[32], u32 mxcsr) */
GLOBAL_FUNC fpu_load
	movdqu 0x00(%rdi), %xmm0
	movdqu 0x10(%rdi), %xmm1
	movdqu 0x20(%rdi), %xmm2
	movdqu 0x30(%rdi), %xmm3
	movdqu 0x40(%rdi), %xmm4
	movdqu 0x50(%rdi), %xmm5
	movdqu 0x60(%rdi), %xmm6
	movdqu 0x70(%rdi), %xmm7
	movdqu 0x80(%rdi), %xmm8
	movdqu 0x90(%rdi), %xmm9
	movdqu 0xa0(%rdi), %xmm10
	movdqu 0xb0(%rdi), %xmm11
	movdqu 0xc0(%rdi), %xmm12
	movdqu 0xd0(%rdi), %xmm13
	movdqu 0xe0(%rdi), %xmm14
	movdqu 0xf0(%rdi), %xmm15
	push %rsi
	ldmxcsr (%rsp)
	pop %rsi
	ret

/* fpu_store(u64 xmm[32], u32 *mxcsr) */
GLOBAL_FUNC fpu_store
	movdqu %xmm0, 0x00(%rdi)
	movdqu %xmm1, 0x10(%rdi)
	movdqu %xmm2, 0x20(%rdi)
	movdqu %xmm3, 0x30(%rdi)
	movdqu %xmm4, 0x40(%rdi)
	movdqu %xmm5, 0x50(%rdi)
	movdqu %xmm6, 0x60(%rdi)
	movdqu %xmm7, 0x70(%rdi)
	movdqu %xmm8, 0x80(%rdi)
	movdqu %xmm9, 0x90(%rdi)
	movdqu %xmm10, 0xa0(%rdi)
	movdqu %xmm11, 0xb0(%rdi)
	movdqu %xmm12, 0xc0(%rdi)
	movdqu %xmm13, 0xd0(%rdi)
	movdqu %xmm14, 0xe0(%rdi)
	movdqu %xmm15, 0xf0(%rdi)
	stmxcsr (%rsi)
	ret
