/*
 * sharenet.h - launch's shared-memory network (sharenet.c): every guest
 * whose launcher names the same file is on one Ethernet segment, with no
 * tap and no bridge in the host.
 */
#ifndef LGBOX_LAUNCH_SHARENET_H
#define LGBOX_LAUNCH_SHARENET_H

#include <stdbool.h>
#include <stdint.h>

struct net_backend;

/*
 * Opens (or creates) the network file PATH and takes a port in it for a
 * guest NIC with address MAC; fills *be and returns an eventfd that turns
 * readable when frames may have arrived (the caller polls it, reads it and
 * then receives).  -1 with a message on failure.
 */
int sharenet_join(const char *path, const uint8_t mac[6], struct net_backend *be);
/* --dry-run: whether PATH is a network file (or absent); 0 or -1 with a message. */
int sharenet_check(const char *path);

#endif /* LGBOX_LAUNCH_SHARENET_H */
