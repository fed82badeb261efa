/*
 * hello_guest.S - the smallest lguest guest: it prints one line through
 * the early console hypercall and powers off.  launch runs it as
 *	lgbox launch --kernel hello-guest.elf --memory 32M
 * and must print the line and exit 0; that checks the whole path from
 * ELF note and boot page tables to hypercalls and exit status.  Built by
 * "make -C lgbox hello-guest" (linked at physical 16 MiB; it runs at the
 * kernel-map address the note gives, so it only uses RIP-relative data).
 */
	.section .note.lguest, "a"
	.balign 4
	.long	7, 8, 1			/* namesz, descsz, LGUEST_ELFNOTE_ENTRY */
	.asciz	"lguest"
	.balign 4
	/* _start's kernel-map address: LGUEST_BOOT_KERNEL_MAP + physical */
	.quad	_start + 0xffffffff80000000

	.text
	.globl	_start
_start:
	lea	message(%rip), %rdi
	mov	$message_len, %rsi
	mov	$2, %eax		/* LHCALL_CONSOLE_WRITE(gva, len) */
	syscall
	mov	$3, %eax		/* LHCALL_SHUTDOWN(kind, reason, len) */
	xor	%edi, %edi		/* LGUEST_SHUTDOWN_POWEROFF */
	xor	%esi, %esi
	xor	%edx, %edx
	syscall
1:	jmp	1b

message:
	.ascii	"hello from an lguest guest\n"
	.set	message_len, . - message
