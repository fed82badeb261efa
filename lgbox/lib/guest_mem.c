/*
 * guest_mem.c - bounds-checked guest-physical to host translation; see
 * guest_mem.h.  All arithmetic avoids overflow: a guest may pass addresses
 * and lengths near 2^64.
 */
#include <stddef.h>
#include <string.h>

#include "guest_mem.h"

static int overlaps(const struct guest_mem_region *r, uint64_t gpa, uint64_t size)
{
	return gpa < r->gpa + r->size && r->gpa < gpa + size;
}

void guest_mem_init(struct guest_mem *mem)
{
	memset(mem, 0, sizeof(*mem));
}

int guest_mem_add(struct guest_mem *mem, uint64_t gpa, uint64_t size, void *host)
{
	unsigned int i;

	if (mem->n_regions == GUEST_MEM_MAX_REGIONS || size == 0 ||
	    gpa + size < gpa || !host)
		return -1;
	for (i = 0; i < mem->n_regions; i++)
		if (overlaps(&mem->regions[i], gpa, size))
			return -1;
	mem->regions[mem->n_regions++] = (struct guest_mem_region){
		.gpa = gpa, .size = size, .host = host,
	};
	return 0;
}

void *guest_mem_ptr(const struct guest_mem *mem, uint64_t gpa, uint64_t len)
{
	unsigned int i;

	for (i = 0; i < mem->n_regions; i++) {
		const struct guest_mem_region *r = &mem->regions[i];

		if (gpa >= r->gpa && gpa - r->gpa <= r->size &&
		    len <= r->size - (gpa - r->gpa))
			return r->host + (gpa - r->gpa);
	}
	return NULL;
}
