/*
 * fuzz_guest_image.c - libFuzzer target for the guest kernel loader
 * (lib/guest_image.c): the input is the kernel file (ELF or bzImage), the
 * user-supplied file launch trusts least.  Loading must either succeed
 * inside guest RAM or fail with a reason; ASan catches anything else.
 */
#include <stdint.h>
#include <stdlib.h>

#include "../lib/guest_image.h"

#define RAM_SIZE	(64ULL << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t *ram;
	struct guest_boot boot;

	if (!ram)
		ram = aligned_alloc(4096, RAM_SIZE);
	if (guest_boot_init(&boot, ram, RAM_SIZE) < 0)
		abort();
	if (guest_boot_load_kernel(&boot, data, size) == 0 &&
	    (guest_boot_load_initrd(&boot, data, size) < 0 || guest_boot_finish(&boot, "x") < 0) &&
	    !boot.error[0])
		abort();	/* every failure must say why */
	return 0;
}
