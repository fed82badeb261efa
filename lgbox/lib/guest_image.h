/*
 * guest_image.h - prepares guest RAM for the lguest boot protocol
 * (include/uapi/linux/lguest.h): kernel ELF (vmlinux, or the payload of a
 * bzImage) at its physical addresses, the initrd near the top of RAM, the
 * zero page with e820 map and command line, and the boot page tables.
 *
 * Kept apart from launch so that it can be tested on memory held by a unit
 * test and fuzzed: nothing here does I/O.  Every failure leaves a sentence
 * for the user in boot->error and returns -1.
 */
#ifndef LGBOX_GUEST_IMAGE_H
#define LGBOX_GUEST_IMAGE_H

#include <stddef.h>
#include <stdint.h>
#include <linux/lguest.h>

/*
 * The launcher's first MiB (LGUEST_BOOT_RESERVED): zero page, command line,
 * boot page tables from LGUEST_BOOT_PGTABLES, and at its top a small stack
 * so that the guest may start with a usable rsp.
 */
#define GUEST_BOOT_STACK_SIZE	0x10000ULL
#define GUEST_BOOT_PGTABLES_END	(LGUEST_BOOT_RESERVED - GUEST_BOOT_STACK_SIZE)
#define GUEST_RAM_ALIGN		0x200000ULL	/* 2 MiB boot pages */
#define GUEST_RAM_MIN		(4ULL << 20)

struct guest_boot {
	/* in: guest RAM, guest-physical [0, ram_size) */
	uint8_t *ram;
	uint64_t ram_size;
	/* out, valid after the calls that fill them */
	uint64_t entry;			/* from the lguest ELF note */
	uint64_t kernel_start, kernel_end; /* guest-physical, end exclusive */
	uint64_t initrd_gpa, initrd_size;
	uint64_t cr3, rsp, boot_data;	/* for struct lguest_init */
	char error[256];
};

/* The most guest RAM the boot page tables can map. */
uint64_t guest_ram_max(void);
/* Checks ram_size (2 MiB multiple, minimum, page tables fit). */
int guest_boot_init(struct guest_boot *boot, void *ram, uint64_t ram_size);
/* Loads a vmlinux ELF or a bzImage with an uncompressed ELF payload. */
int guest_boot_load_kernel(struct guest_boot *boot, const void *image, size_t len);
/* Copies an initrd to the top of RAM, above the kernel. */
int guest_boot_load_initrd(struct guest_boot *boot, const void *initrd, size_t len);
/* Writes zero page, command line and page tables; sets cr3/rsp/boot_data. */
int guest_boot_finish(struct guest_boot *boot, const char *cmdline);

#endif /* LGBOX_GUEST_IMAGE_H */
