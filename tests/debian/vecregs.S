/*
 * vecregs.S: hold known values in every vector register while something else happens,
 * for vecstate.c.  In C the compiler owns the registers; here nothing but the kernel can
 * change them between the load and the store.
 *
 * For each width W (sse: xmm0-15 with legacy SSE moves, which leave the upper halves of
 * the ymm registers alone; avx: ymm0-15; avx512: zmm0-31 and the mask registers k0-7),
 * with IN and OUT buffers laid out register after register (the masks after the zmm's,
 * each one's 16 bits, all AVX-512F has, in an 8-byte slot):
 *
 *   void vec_hold_W(const void *in, void *out, long spins, long yields)
 *	load IN; spin SPINS times, then sched_yield(), YIELDS times over (spin once more at
 *	the end); store OUT.  Preemption can strike during any spin.
 *
 *   long vec_wait_W(const void *in, void *out, const volatile long *counter, long spins)
 *	load IN; spin until *COUNTER changes (a signal handler bumps it) or SPINS run out;
 *	store OUT; return how much *COUNTER grew (0: no signal came).
 *
 *   void vec_load_W(const void *in)
 *	load IN and return: what a signal handler calls to clobber the interrupted code's
 *	registers.
 *
 * All vector and mask registers are caller-saved in the x86-64 ABI, so these are
 * ordinary functions.
 */

	.text

	/* move OP (load or store) COUNT registers REG0.. of SIZE bytes with INSN between
	   them and OFFSET + n * SIZE (BASE) */
	.macro move op, insn, reg, size, count, offset, base
	.irp r, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	.if \r < \count
	.ifc \op, load
	\insn	\offset+\r*\size(\base), %\reg\()\r
	.else
	\insn	%\reg\()\r, \offset+\r*\size(\base)
	.endif
	.endif
	.endr
	.endm

	.macro move_sse op, base
	move \op, movdqu, xmm, 16, 16, 0, \base
	.endm
	.macro move_avx op, base
	move \op, vmovdqu, ymm, 32, 16, 0, \base
	.endm
	.macro move_avx512 op, base
	move \op, vmovdqu64, zmm, 64, 32, 0, \base
	move \op, kmovw, k, 8, 8, 2048, \base
	.endm

	/* leaving AVX code: no false dependency on the upper halves for later SSE code */
	.macro leave_sse
	.endm
	.macro leave_avx
	vzeroupper
	.endm
	.macro leave_avx512
	vzeroupper
	.endm

	.macro functions width
	.globl	vec_hold_\width
	.type	vec_hold_\width, @function
vec_hold_\width:			/* rdi in, rsi out, rdx spins, rcx yields */
	move_\width load, %rdi
	mov	%rdx, %r8
	mov	%rcx, %r9
	mov	%rsi, %r10		/* syscall clobbers rcx and r11 */
1:	mov	%r8, %rdx
2:	sub	$1, %rdx
	jg	2b
	test	%r9, %r9
	jz	3f
	mov	$24, %eax		/* __NR_sched_yield */
	syscall
	sub	$1, %r9
	jmp	1b
3:	move_\width store, %r10
	leave_\width
	ret
	.size	vec_hold_\width, . - vec_hold_\width

	.globl	vec_wait_\width
	.type	vec_wait_\width, @function
vec_wait_\width:			/* rdi in, rsi out, rdx counter, rcx spins */
	move_\width load, %rdi
	mov	(%rdx), %r8
1:	cmp	(%rdx), %r8
	jne	2f
	sub	$1, %rcx
	jg	1b
2:	move_\width store, %rsi
	mov	(%rdx), %rax
	sub	%r8, %rax
	leave_\width
	ret
	.size	vec_wait_\width, . - vec_wait_\width

	.globl	vec_load_\width
	.type	vec_load_\width, @function
vec_load_\width:			/* rdi in */
	move_\width load, %rdi
	ret
	.size	vec_load_\width, . - vec_load_\width
	.endm

	functions sse
	functions avx
	functions avx512

	.section .note.GNU-stack, "", @progbits
