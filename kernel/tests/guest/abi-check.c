/*
 * abi-check.c - compile-time proof that the guest's layout constants
 * (plain numbers the linker script and assembler can read) match the boot
 * protocol of <linux/lguest.h>, and that struct trap_regs ends in the
 * native frame layout the LHCALL_IRET protocol expects.
 */
#include "guest.h"

_Static_assert(KERNEL_MAP == LGUEST_BOOT_KERNEL_MAP, "LGUEST_BOOT_KERNEL_MAP");
_Static_assert(DIRECT_MAP == LGUEST_BOOT_DIRECT_MAP, "LGUEST_BOOT_DIRECT_MAP");
_Static_assert(offsetof(struct trap_regs, ss) - offsetof(struct trap_regs, rip) ==
	       offsetof(struct lguest_iret_frame, ss) - offsetof(struct lguest_iret_frame, rip),
	       "trap_regs ends in the native frame, in lguest_iret_frame's order");
_Static_assert(sizeof(struct trap_regs) == (15 + 2 + 5) * 8,
	       "entry.S pushes 15 registers, vector and error code");
_Static_assert(offsetof(struct gprs, rsp) == 0x78, "entry.S stores rsp at 0x78");
