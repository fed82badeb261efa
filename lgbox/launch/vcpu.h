/*
 * vcpu.h - guest RAM and one boot of the guest on /dev/lguest (vcpu.c).
 */
#ifndef LGBOX_LAUNCH_VCPU_H
#define LGBOX_LAUNCH_VCPU_H

#include "launch.h"

struct guest_boot;

int guest_ram_map(struct guest_ram *ram, uint64_t size);
void vcpu_install_signals(void);
/* Loads kernel, initrd and boot data into RAM (what a boot does first). */
int vcpu_load_guest(const struct launch_opts *opts, struct guest_ram *ram,
		    const char *cmdline, struct guest_boot *boot);
/*
 * Loads and runs the guest until it ends; returns a LAUNCH_EXIT_* code.
 * reboot: clear RAM first (the devices must have been reset).
 */
int vcpu_boot(const struct launch_opts *opts, struct guest_ram *ram, struct device_set *devs,
	      const char *cmdline, const char *rundir, bool reboot);

#endif /* LGBOX_LAUNCH_VCPU_H */
