// SPDX-License-Identifier: GPL-2.0
/*
 * The few privileged instructions a guest kernel may execute.
 *
 * A paravirtualized Linux kernel asks for almost everything by hypercall,
 * but a few privileged instructions survive in code paths no pv_ops hook
 * covers, and at CPL 3 each raises #GP:
 *
 *  - reading a control register: Linux reads %cr4 (and %cr0) directly to
 *    seed its shadow copies.  We answer with the values a guest runs under:
 *    protected mode with paging, write protection, SSE and FXSR enabled,
 *    PAE.  %cr2 and %cr3 read back what the guest gave or got;
 *  - port I/O: legacy drivers probe ports (serial, PIC, PIT, PCI config).
 *    A guest has no ports, so it gets what a machine without those chips
 *    gives: reads return all ones, writes go nowhere.  That is also what
 *    Xen does for an unprivileged PV guest.
 *
 *  - CLI and STI clear and set the virtual interrupt flag, as Xen does for
 *    its PV guests: a few native sequences run before pv_ops patching can
 *    replace them (SLUB's cmpxchg16b emulation, during early boot, with
 *    interrupts off anyway);
 *  - XSETBV: Linux sets the XSAVE features it will switch per process
 *    (x87, SSE, AVX, AVX-512) in XCR0 itself, once.  We keep the guest's
 *    choice (within what the host has) and load it whenever the guest
 *    runs, so XSAVE, XRSTOR and XGETBV see it at CPL 3;
 *  - the microcode revision MSR: Intel CPUs' boot code reads it with
 *    native RDMSR and WRMSR that no pv_ops hook covers.  The guest has no
 *    microcode of its own to report: it reads 0.
 *
 * Only guest-kernel mode gets this; from guest user mode these instructions
 * raise #GP as they would natively.  Anything else is left to the guest's
 * own #GP handler.
 */
#include <asm/processor-flags.h>
#include <asm/msr-index.h>
#include "lg.h"

#define LG_VIRTUAL_CR0	(X86_CR0_PE | X86_CR0_MP | X86_CR0_ET | X86_CR0_NE | \
			 X86_CR0_WP | X86_CR0_AM | X86_CR0_PG)
#define LG_VIRTUAL_CR4	(X86_CR4_PAE | X86_CR4_OSFXSR | X86_CR4_OSXMMEXCPT)

/* Register number (ModRM encoding order) to the saved register. */
u64 *lg_reg(struct lg_vcpu *vcpu, unsigned int reg)
{
	struct lg_regs *r = &vcpu->regs;
	u64 *const map[16] = {
		&r->rax, &r->rcx, &r->rdx, &r->rbx, &r->rsp, &r->rbp, &r->rsi,
		&r->rdi, &r->r8, &r->r9, &r->r10, &r->r11, &r->r12, &r->r13,
		&r->r14, &r->r15,
	};

	return map[reg & 15];
}

static bool read_control_register(struct lg_vcpu *vcpu, unsigned int cr,
				  u64 *value)
{
	switch (cr) {
	case 0:
		*value = LG_VIRTUAL_CR0;
		return true;
	case 2:
		*value = vcpu->shared ? READ_ONCE(vcpu->shared->cr2) : 0;
		return true;
	case 3:
		*value = vcpu->cr3;
		return true;
	case 4:
		*value = LG_VIRTUAL_CR4;
		return true;
	}
	return false;
}

/* IN to al/ax/eax: all ones, merged as the CPU merges partial writes. */
static void port_read(struct lg_vcpu *vcpu, unsigned int size)
{
	u64 mask = size == 4 ? 0xffffffffULL : (1ULL << (size * 8)) - 1;

	/* A 32-bit result clears the upper half, as any 32-bit write does. */
	if (size == 4)
		vcpu->regs.rax = mask;
	else
		vcpu->regs.rax |= mask;
}

/* XSETBV of XCR0 (ecx 0) with edx:eax; false: #GP, as natively. */
static bool write_xcr(struct lg_vcpu *vcpu)
{
	u64 value = (vcpu->regs.rdx << 32) | (u32)vcpu->regs.rax;

	return (u32)vcpu->regs.rcx == 0 && lg_set_guest_xcr0(vcpu, value);
}

/* RDMSR/WRMSR of the one MSR a guest reads natively; others #GP. */
static bool access_msr(struct lg_vcpu *vcpu, bool write)
{
	if ((u32)vcpu->regs.rcx != MSR_IA32_UCODE_REV)
		return false;
	if (!write)
		vcpu->regs.rax = vcpu->regs.rdx = 0;
	return true;
}

/* Returns true when the instruction at rip was emulated and skipped. */
bool lg_emulate_privileged(struct lg_vcpu *vcpu)
{
	unsigned int i = 0, size = 4, rex = 0, len;
	u8 insn[16] = { 0 };
	u64 value;

	if (vcpu->user_mode || lg_copy_from_guest(vcpu, insn, vcpu->regs.rip, 4))
		return false;
	if (insn[i] == 0x66) {
		size = 2;
		i++;
	}
	if ((insn[i] & 0xf0) == 0x40)
		rex = insn[i++];

	switch (insn[i]) {
	case 0x0f:
		switch (insn[i + 1]) {
		case 0x01:		/* xsetbv: 0f 01 d1 */
			if (insn[i + 2] != 0xd1 || !write_xcr(vcpu))
				return false;
			len = i + 3;
			break;
		case 0x20:		/* mov %crN, %reg: 0f 20 /r, register form */
			if ((insn[i + 2] & 0xc0) != 0xc0 ||
			    !read_control_register(vcpu, ((insn[i + 2] >> 3) & 7) |
						   ((rex & 4) << 1), &value))
				return false;
			*lg_reg(vcpu, (insn[i + 2] & 7) | ((rex & 1) << 3)) = value;
			len = i + 3;
			break;
		case 0x30:		/* wrmsr */
		case 0x32:		/* rdmsr */
			if (!access_msr(vcpu, insn[i + 1] == 0x30))
				return false;
			len = i + 2;
			break;
		default:
			return false;
		}
		break;
	case 0xfa:			/* cli */
	case 0xfb:			/* sti */
		lg_set_virtual_if(vcpu, insn[i] == 0xfb ? LGUEST_IF_FLAG : 0);
		len = i + 1;
		break;
	case 0xe4: case 0xe5:		/* in $imm8, %al/%ax/%eax */
		port_read(vcpu, insn[i] == 0xe4 ? 1 : size);
		len = i + 2;
		break;
	case 0xec: case 0xed:		/* in (%dx), %al/%ax/%eax */
		port_read(vcpu, insn[i] == 0xec ? 1 : size);
		len = i + 1;
		break;
	case 0xe6: case 0xe7:		/* out %al/%ax/%eax, $imm8 */
		len = i + 2;
		break;
	case 0xee: case 0xef:		/* out %al/%ax/%eax, (%dx) */
		len = i + 1;
		break;
	default:
		return false;
	}
	vcpu->regs.rip += len;
	return true;
}
