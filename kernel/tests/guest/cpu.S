/*
 * cpu.S - single instructions for cases-cpu.c: the CPU a guest kernel and
 * its processes see.  Each probe_NAME returns 0 when the instruction
 * completed and 1 when it faulted (trap.c records the fault), like the
 * probes in probes.S; the value probes store what they read at (%rdi).
 */
#include "guest-asm.h"

.macro VALUE_PROBE name, insn:vararg
GLOBAL_FUNC probe_\name
	xor %eax, %eax
	xor %edx, %edx
	xor %ecx, %ecx
1:	\insn
	shl $32, %rdx
	or %rdx, %rax
	mov %rax, (%rdi)
	PROBE_RETURN
.endm

	.text
/* probe_xgetbv(&xcr0) */
	VALUE_PROBE xgetbv, xgetbv
/* probe_rdpkru(&pkru) */
	VALUE_PROBE rdpkru, rdpkru
/* probe_rdmsr_ucode(&value): MSR 0x8b, the microcode revision */
	VALUE_PROBE rdmsr_ucode, mov $0x8b, %ecx; rdmsr

/* probe_xsetbv(xcr0) */
GLOBAL_FUNC probe_xsetbv
	mov %rdi, %rax
	mov %rdi, %rdx
	shr $32, %rdx
	xor %ecx, %ecx
1:	xsetbv
	PROBE_RETURN

/* probe_wrmsr_ucode(): writing 0 to MSR 0x8b, as Intel's boot code does */
GLOBAL_FUNC probe_wrmsr_ucode
	xor %eax, %eax
	xor %edx, %edx
	mov $0x8b, %ecx
1:	wrmsr
	PROBE_RETURN

/* probe_wrfsbase(base): FSGSBASE, which a guest runs without */
GLOBAL_FUNC probe_wrfsbase
1:	wrfsbase %rdi
	PROBE_RETURN

/* probe_wrpkru(pkru) */
GLOBAL_FUNC probe_wrpkru
	mov %rdi, %rax
	xor %ecx, %ecx
	xor %edx, %edx
1:	wrpkru
	PROBE_RETURN

/* probe_ymm_load(const u64 words[4]): into ymm7 (faults without AVX) */
GLOBAL_FUNC probe_ymm_load
1:	vmovdqu (%rdi), %ymm7
	PROBE_RETURN

/* ymm_store(u64 words[4]): ymm7 back */
GLOBAL_FUNC ymm_store
	vmovdqu %ymm7, (%rdi)
	ret

/* lsl_cpunode(&limit): LSL of the vDSO's CPU and node selector; 1: no such */
GLOBAL_FUNC lsl_cpunode
	xor %eax, %eax
	mov $0x7b, %edx		/* GDT_ENTRY_CPUNODE * 8 + 3 */
	lsl %edx, %eax
	jnz 1f
	mov %rax, (%rdi)
	xor %eax, %eax
	ret
1:	mov $1, %eax
	ret

/* set_tf(): TF on; the next instruction is single-stepped */
GLOBAL_FUNC set_tf
	pushf
	orq $EFLAGS_TF, (%rsp)
	popf
	.globl set_tf_stepped
set_tf_stepped:
	ret
