/*
 * probes.S - single instructions that are expected to fault, each with an
 * exception-table fixup.  A probe returns 0 when the instruction completed
 * and 1 when it faulted; trap.c records the fault (vector, error code,
 * rip, cr2) in last_fault for the case to check.
 */
#include "guest-asm.h"

	.text
/* probe_read(addr, &value) */
GLOBAL_FUNC probe_read
1:	mov (%rdi), %rax
	mov %rax, (%rsi)
	PROBE_RETURN

/* probe_write(addr, value) */
GLOBAL_FUNC probe_write
1:	mov %rsi, (%rdi)
	PROBE_RETURN

/*
 * probe_exec(addr): call addr, which should hold a ret.  A fault on the
 * fetch is reported at addr itself, not here, so trap.c redirects a fault
 * at exec_probe_target to probe_exec_fixup, which drops the return address
 * the call pushed.
 */
GLOBAL_FUNC probe_exec
	mov %rdi, exec_probe_target(%rip)
	call *%rdi
	xor %eax, %eax
	ret
GLOBAL_FUNC probe_exec_fixup
	add $8, %rsp
	mov $1, %eax
	ret

/* int3 is a trap: the frame's rip is the next instruction, 2 below. */
GLOBAL_FUNC probe_int3
	xor %eax, %eax
	int3
2:	ret
3:	mov $1, %eax
	ret
	EXTABLE 2b, 3b

/*
 * Privileged instructions a guest kernel must not execute for real at
 * CPL 3: each has to raise #GP, which lg.ko reflects to the guest (OUT is
 * the exception: in guest-kernel mode lg.ko drops it, see <linux/lguest.h>).
 * The operands are chosen to do harm if one ever ran with host privilege
 * (LSTAR = 0, a null GDT, cr3 = 0).
 */
.macro PRIV_PROBE name, insn:vararg
GLOBAL_FUNC probe_\name
	xor %eax, %eax
	xor %edx, %edx
	mov $0xc0000082, %ecx		/* MSR_LSTAR */
1:	\insn
	PROBE_RETURN
.endm

	PRIV_PROBE cli, cli
	PRIV_PROBE sti, sti
	PRIV_PROBE hlt, hlt
	PRIV_PROBE mov_cr3, mov %rax, %cr3
	PRIV_PROBE mov_cr0, mov %rax, %cr0
	PRIV_PROBE mov_cr4, mov %rax, %cr4
	PRIV_PROBE wrmsr, wrmsr
	PRIV_PROBE rdmsr, rdmsr
	PRIV_PROBE lgdt, lgdt zero_descriptor(%rip)
	PRIV_PROBE lidt, lidt zero_descriptor(%rip)
	PRIV_PROBE out, outb %al, $0x80
	PRIV_PROBE swapgs, swapgs
	PRIV_PROBE invlpg, invlpg (%rax)
	PRIV_PROBE wbinvd, wbinvd
	PRIV_PROBE clts, clts
	PRIV_PROBE mov_dr7, mov %rax, %db7

/*
 * Instructions lg.ko emulates in guest-kernel mode (control-register
 * reads, port input): probe_NAME(&value) returns 0 and the value, or 1 if
 * the instruction faulted.  rax starts at 0, so a byte read shows as such.
 */
.macro READ_PROBE name, insn:vararg
GLOBAL_FUNC probe_\name
	xor %eax, %eax
	mov $0x80, %edx
1:	\insn
	mov %rax, (%rdi)
	PROBE_RETURN
.endm

	READ_PROBE read_cr0, mov %cr0, %rax
	READ_PROBE read_cr2, mov %cr2, %rax
	READ_PROBE read_cr3, mov %cr3, %rax
	READ_PROBE read_cr4, mov %cr4, %rax
	READ_PROBE inb, inb $0x80, %al
	READ_PROBE inw, inw %dx, %ax
	READ_PROBE inl, inl %dx, %eax

	.bss
	.balign 8
	.globl exec_probe_target
exec_probe_target:
	.skip 8

	.section .rodata
zero_descriptor:
	.skip 16
