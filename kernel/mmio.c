// SPDX-License-Identifier: GPL-2.0
/*
 * Turning a guest's device-register access into an exit.
 *
 * Guest drivers reach virtio-mmio registers with readl()/writel() and
 * friends, which compile to plain MOVs.  The device window is never mapped
 * in the shadow tables, so such a MOV page-faults; we decode it here, hand
 * the launcher the address, size, direction and (for a write) the value,
 * and step over it.  For a read, the launcher's answer arrives with the
 * next LGUEST_RUN and goes into the destination register first.
 *
 * Only the forms compilers emit for register accessors are accepted:
 * MOV r/m,r (88/89), MOV r,r/m (8A/8B), MOV r/m,imm (C6/C7) and MOVZX
 * (0F B6/B7), with optional 66 and REX prefixes.  Anything else is a guest
 * bug, and the guest dies with the bytes in the reason.
 */
#include "lg.h"

struct mmio_insn {
	u8 len, size, reg;
	bool is_write, zero_extend, high_byte, has_imm;
	u64 imm;
};

/* Length of ModRM, SIB and displacement; 0 for a register operand. */
static unsigned int modrm_len(const u8 *p, unsigned int avail)
{
	unsigned int mod = p[0] >> 6, rm = p[0] & 7, len = 1;

	if (mod == 3)
		return 0;
	if (rm == 4) {
		if (avail < 2)
			return 0;
		len++;
		if (mod == 0 && (p[1] & 7) == 5)
			len += 4;
	} else if (mod == 0 && rm == 5) {
		len += 4;		/* %rip-relative */
	}
	if (mod == 1)
		len += 1;
	else if (mod == 2)
		len += 4;
	return len <= avail ? len : 0;
}

static bool decode(const u8 *insn, unsigned int avail, struct mmio_insn *d)
{
	unsigned int i = 0, opsize = 4, ml, rex = 0;
	u8 op;

	memset(d, 0, sizeof(*d));
	for (; i < avail; i++) {
		if (insn[i] == 0x66)
			opsize = 2;
		else if (insn[i] == 0x2e || insn[i] == 0x3e ||
			 insn[i] == 0x26 || insn[i] == 0x36)
			continue;	/* segment overrides mean nothing here */
		else
			break;
	}
	if (i < avail && (insn[i] & 0xf0) == 0x40)
		rex = insn[i++];
	if (rex & 8)
		opsize = 8;
	if (i >= avail)
		return false;
	op = insn[i++];
	if (op == 0x0f) {
		if (i >= avail || (insn[i] != 0xb6 && insn[i] != 0xb7))
			return false;
		d->size = insn[i++] == 0xb6 ? 1 : 2;
		d->zero_extend = true;
	} else if (op == 0x88 || op == 0x8a || op == 0xc6) {
		d->size = 1;
	} else if (op == 0x89 || op == 0x8b || op == 0xc7) {
		d->size = opsize;
	} else {
		return false;
	}
	d->is_write = op == 0x88 || op == 0x89 || op == 0xc6 || op == 0xc7;
	if (i >= avail)
		return false;
	d->reg = ((insn[i] >> 3) & 7) | ((rex & 4) << 1);
	if ((op == 0xc6 || op == 0xc7) && (insn[i] & 0x38))
		return false;
	/* Without REX, byte registers 4-7 are ah, ch, dh, bh. */
	d->high_byte = d->size == 1 && !d->zero_extend && !rex &&
		       d->reg >= 4 && d->reg < 8 && op != 0xc6;
	ml = modrm_len(insn + i, avail - i);
	if (!ml)
		return false;
	i += ml;
	if (op == 0xc6 || op == 0xc7) {
		unsigned int n = op == 0xc6 ? 1 : min(opsize, 4U);

		if (i + n > avail)
			return false;
		memcpy(&d->imm, insn + i, n);
		if (n == 4 && opsize == 8)
			d->imm = (u64)(s64)(s32)d->imm;
		d->has_imm = true;
		i += n;
	}
	d->len = i;
	return true;
}

static u64 size_mask(unsigned int size)
{
	return size == 8 ? ~0ULL : (1ULL << (size * 8)) - 1;
}

int lg_emulate_mmio(struct lg_vcpu *vcpu, u64 gpa, struct lguest_run *run)
{
	u8 insn[LGUEST_MMIO_INSN_MAX] = { 0 };
	unsigned int avail = LGUEST_MMIO_INSN_MAX;
	struct mmio_insn d;
	u64 value;

	/* Fetch what we can: the instruction may end just before a hole. */
	while (avail && lg_copy_from_guest(vcpu, insn, vcpu->regs.rip, avail))
		avail--;
	if (!decode(insn, avail, &d)) {
		lg_kill(vcpu, "unsupported instruction %*ph at rip %#llx touching device address %#llx",
			(int)min(avail, 8U), insn, vcpu->regs.rip, gpa);
		return -1;
	}

	memset(&run->mmio, 0, sizeof(run->mmio));
	run->exit_reason = LGUEST_EXIT_MMIO;
	run->mmio.gpa = gpa;
	run->mmio.size = d.size;
	run->mmio.is_write = d.is_write;
	run->mmio.insn_len = d.len;
	memcpy(run->mmio.insn, insn, d.len);

	if (d.is_write) {
		if (d.has_imm)
			value = d.imm;
		else if (d.high_byte)
			value = *lg_reg(vcpu, d.reg - 4) >> 8;
		else
			value = *lg_reg(vcpu, d.reg);
		run->mmio.data = value & size_mask(d.size);
		vcpu->regs.rip += d.len;
		return 1;
	}
	vcpu->mmio_read_pending = true;
	vcpu->mmio_reg = d.reg;
	vcpu->mmio_access_size = d.size;
	vcpu->mmio_zero_extend = d.zero_extend || d.size == 4;
	vcpu->mmio_high_byte = d.high_byte;
	vcpu->mmio_insn_len = d.len;
	return 1;
}

/* The launcher's answer to a read: into the register, past the MOV. */
void lg_complete_mmio(struct lg_vcpu *vcpu, const struct lguest_run *run)
{
	u64 mask = size_mask(vcpu->mmio_access_size), value = run->mmio.data & mask;
	u64 *reg;

	vcpu->mmio_read_pending = false;
	if (vcpu->mmio_high_byte) {
		reg = lg_reg(vcpu, vcpu->mmio_reg - 4);
		*reg = (*reg & ~0xff00ULL) | (value << 8);
	} else {
		reg = lg_reg(vcpu, vcpu->mmio_reg);
		*reg = vcpu->mmio_zero_extend ? value : (*reg & ~mask) | value;
	}
	vcpu->regs.rip += vcpu->mmio_insn_len;
}
