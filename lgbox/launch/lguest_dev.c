/*
 * lguest_dev.c - /dev/lguest for launch: open with a message that says
 * what to do when lg.ko is missing or speaks another ABI, and thin ioctl
 * wrappers (see lguest_dev.h for why they are separate).
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "../lgbox.h"
#include "lguest_dev.h"

int lguest_dev_open(void)
{
	int fd = open(LGUEST_DEVICE_PATH, O_RDWR | O_CLOEXEC), version;

	if (fd < 0) {
		if (errno == ENOENT || errno == ENODEV || errno == ENXIO)
			lgbox_warn_errno("cannot open %s: lg.ko not loaded? (insmod lg.ko; the appliance keeps it in /lib/modules)",
					 LGUEST_DEVICE_PATH);
		else
			lgbox_warn_errno("cannot open %s", LGUEST_DEVICE_PATH);
		return -1;
	}
	version = ioctl(fd, LGUEST_GET_ABI_VERSION);
	if (version != LGUEST_ABI_VERSION) {
		lgbox_warn("lg.ko speaks lguest ABI version %d, this launch speaks %d: use a matching lgbox and module",
			   version, LGUEST_ABI_VERSION);
		close(fd);
		return -1;
	}
	return fd;
}

int lguest_dev_init(int fd, const struct lguest_init *init)
{
	return ioctl(fd, LGUEST_INIT, init);
}

int lguest_dev_run(int fd, struct lguest_run *run)
{
	return ioctl(fd, LGUEST_RUN, run);
}

int lguest_dev_irq(int fd, unsigned int irq)
{
	struct lguest_irq arg = { .irq = irq };

	return ioctl(fd, LGUEST_IRQ, &arg);
}
