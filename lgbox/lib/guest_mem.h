/*
 * guest_mem.h - guest-physical memory as seen by device models: a few
 * regions, each a range of guest-physical addresses backed by launcher
 * memory.  launch has one region (guest RAM); block-export's vhost-user
 * backend has one per memory table entry QEMU sends.
 *
 * guest_mem_ptr() is the only way device code turns a guest address into a
 * pointer, and it only answers for ranges lying entirely inside one region,
 * so a hostile guest cannot make the launcher touch anything else.
 */
#ifndef LGBOX_GUEST_MEM_H
#define LGBOX_GUEST_MEM_H

#include <stdint.h>

#define GUEST_MEM_MAX_REGIONS	8

struct guest_mem_region {
	uint64_t gpa;		/* guest-physical start */
	uint64_t size;
	uint8_t *host;		/* where it is mapped here */
};

struct guest_mem {
	struct guest_mem_region regions[GUEST_MEM_MAX_REGIONS];
	unsigned int n_regions;
};

void guest_mem_init(struct guest_mem *mem);

/* Adds a region; -1 if full, empty, wrapping or overlapping another. */
int guest_mem_add(struct guest_mem *mem, uint64_t gpa, uint64_t size, void *host);

/* Host pointer for [gpa, gpa + len), or NULL unless wholly in one region. */
void *guest_mem_ptr(const struct guest_mem *mem, uint64_t gpa, uint64_t len);

#endif /* LGBOX_GUEST_MEM_H */
