/*
 * abi-check.c - compile-time proof that guest-asm.h repeats the ABI of
 * <linux/lguest.h> faithfully, and that struct trap_regs ends in the
 * native frame layout the LHCALL_IRET protocol expects.
 */
#include "guest.h"

_Static_assert(GA_LHCALL_NOP == LHCALL_NOP, "LHCALL_NOP");
_Static_assert(GA_LHCALL_IRET == LHCALL_IRET, "LHCALL_IRET");
_Static_assert(GA_ELFNOTE_ENTRY == LGUEST_ELFNOTE_ENTRY, "LGUEST_ELFNOTE_ENTRY");
_Static_assert(GA_KERNEL_CS == LGUEST_KERNEL_CS, "LGUEST_KERNEL_CS");
_Static_assert(GA_KERNEL_DS == LGUEST_KERNEL_DS, "LGUEST_KERNEL_DS");
_Static_assert(GA_USER_CS == LGUEST_USER_CS, "LGUEST_USER_CS");
_Static_assert(GA_USER_DS == LGUEST_USER_DS, "LGUEST_USER_DS");
_Static_assert(GA_TRAP_SYSCALL == LGUEST_TRAP_SYSCALL, "LGUEST_TRAP_SYSCALL");
_Static_assert(GA_SHUTDOWN_CRASH == LGUEST_SHUTDOWN_CRASH, "LGUEST_SHUTDOWN_CRASH");
_Static_assert(LGUEST_UPCALL_VECTOR == 0xf3, "entry.S pushes 0xf3 for the upcall");
_Static_assert(KERNEL_MAP == LGUEST_BOOT_KERNEL_MAP, "LGUEST_BOOT_KERNEL_MAP");
_Static_assert(DIRECT_MAP == LGUEST_BOOT_DIRECT_MAP, "LGUEST_BOOT_DIRECT_MAP");
_Static_assert(offsetof(struct trap_regs, ss) - offsetof(struct trap_regs, rip) ==
	       offsetof(struct lguest_iret_frame, ss) - offsetof(struct lguest_iret_frame, rip),
	       "trap_regs ends in the native frame, in lguest_iret_frame's order");
_Static_assert(sizeof(struct trap_regs) == (15 + 2 + 5) * 8,
	       "entry.S pushes 15 registers, vector and error code");
_Static_assert(offsetof(struct gprs, rsp) == 0x78, "entry.S stores rsp at 0x78");
