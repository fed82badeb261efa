/*
 * vcpu.h - guest RAM and one boot of the guest on /dev/lguest (vcpu.c).
 */
#ifndef LGBOX_LAUNCH_VCPU_H
#define LGBOX_LAUNCH_VCPU_H

#include "launch.h"

struct guest_boot;

int guest_ram_map(struct guest_ram *ram, uint64_t size);
void vcpu_install_signals(void);
/*
 * host-cpus: this thread, and the threads it starts from now on, run on
 * those host CPUs only; 0, or -1 with a message if the host does not let
 * launch run on every one of them.
 */
int vcpu_pin(const struct launch_opts *opts);
/* Loads kernel, initrd and boot data into RAM (what a boot does first). */
int vcpu_load_guest(const struct launch_opts *opts, struct guest_ram *ram,
		    const char *cmdline, struct guest_boot *boot);
/*
 * Runs the loaded guest on lguest_fd (an open /dev/lguest) until it ends;
 * returns a LAUNCH_EXIT_* code.  One boot per guest process.
 */
int vcpu_boot(const struct launch_opts *opts, struct guest_ram *ram, struct device_set *devs,
	      const struct guest_boot *boot, int lguest_fd);

#endif /* LGBOX_LAUNCH_VCPU_H */
