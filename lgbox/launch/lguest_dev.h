/*
 * lguest_dev.h - launch's only contact with /dev/lguest (lguest_dev.c).
 * Kept behind these few functions so that unit tests can link a scripted
 * stand-in instead of lg.ko (tests/fake_lguest.c) and drive the whole
 * vCPU loop on any host.
 */
#ifndef LGBOX_LAUNCH_LGUEST_DEV_H
#define LGBOX_LAUNCH_LGUEST_DEV_H

#include <linux/lguest.h>

/* Opens the device and checks the ABI version; -1 with a message. */
int lguest_dev_open(void);
/* These return the ioctl's result (-1 and errno on failure). */
int lguest_dev_init(int fd, const struct lguest_init *init);
int lguest_dev_run(int fd, struct lguest_run *run);
int lguest_dev_irq(int fd, unsigned int irq);

#endif /* LGBOX_LAUNCH_LGUEST_DEV_H */
