/*
 * guest_image.c - loads a guest kernel and builds its boot data exactly as
 * the boot protocol in include/uapi/linux/lguest.h says.
 *
 * The image comes from the user and may be anything, so every offset and
 * size read from it is checked against the file length and against guest
 * RAM before use, with overflow-safe arithmetic (a + b > limit is written
 * as b > limit - a once a <= limit is known).
 *
 * bzImage: the setup header says where the protected-mode payload is
 * (payload_offset/payload_length, boot protocol 2.08+).  The payload may
 * be an ELF (CONFIG_KERNEL_UNCOMPRESSED=y) or gzip (CONFIG_KERNEL_GZIP=y,
 * decompressed by lib/inflate.c); other compressions are refused with that
 * advice: an XZ or zstd decoder would cost the launcher more than it saves.
 */
#include <elf.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <asm/bootparam.h>

#include "guest_image.h"
#include "inflate.h"

#define PAGE_SIZE	4096ULL
#define PTE_PRESENT	0x1ULL
#define PTE_WRITE	0x2ULL
#define PTE_LARGE	0x80ULL
#define E820_RAM	1
#define E820_RESERVED	2

#define BZIMAGE_HDR_OFFSET	0x1f1
#define BZIMAGE_MAGIC		0x53726448	/* "HdrS" */
#define BZIMAGE_MIN_VERSION	0x0208		/* has payload_offset */

static int fail(struct guest_boot *boot, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int fail(struct guest_boot *boot, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(boot->error, sizeof(boot->error), fmt, ap);
	va_end(ap);
	return -1;
}

/* [off, off + len) inside [0, size)? */
static int in_range(uint64_t off, uint64_t len, uint64_t size)
{
	return off <= size && len <= size - off;
}

static unsigned long long mib(uint64_t bytes)
{
	return (bytes + (1 << 20) - 1) >> 20;
}

/* Page tables: PML4, two PDPTs, one PD per GiB of RAM. */
static uint64_t pgtable_pages(uint64_t ram_size)
{
	return 3 + (ram_size + (1ULL << 30) - 1) / (1ULL << 30);
}

uint64_t guest_ram_max(void)
{
	return ((GUEST_BOOT_PGTABLES_END - LGUEST_BOOT_PGTABLES) / PAGE_SIZE - 3) << 30;
}

int guest_boot_init(struct guest_boot *boot, void *ram, uint64_t ram_size)
{
	uint64_t max_ram = guest_ram_max();

	memset(boot, 0, sizeof(*boot));
	boot->ram = ram;
	boot->ram_size = ram_size;
	if (ram_size % GUEST_RAM_ALIGN)
		return fail(boot, "guest memory size %llu is not a multiple of 2 MiB",
			    (unsigned long long)ram_size);
	if (ram_size < GUEST_RAM_MIN)
		return fail(boot, "guest memory %llu MiB is too small (minimum %llu MiB)",
			    (unsigned long long)mib(ram_size), mib(GUEST_RAM_MIN));
	if (ram_size > max_ram)
		return fail(boot, "guest memory %llu MiB is too large (boot page tables cover %llu GiB)",
			    (unsigned long long)mib(ram_size),
			    (unsigned long long)(max_ram >> 30));
	return 0;
}

/*
 * Finds the lguest entry note in a PT_NOTE segment's bytes.  Headers are
 * copied out with memcpy: a bzImage payload need not be aligned.
 */
static int find_entry_note(const uint8_t *notes, uint64_t size, uint64_t *entry)
{
	uint64_t off = 0;

	while (in_range(off, sizeof(Elf64_Nhdr), size)) {
		Elf64_Nhdr nh;
		uint64_t name_off, desc_off, next;

		memcpy(&nh, notes + off, sizeof(nh));
		name_off = off + sizeof(nh);
		desc_off = name_off + ((nh.n_namesz + 3ULL) & ~3ULL);
		next = desc_off + ((nh.n_descsz + 3ULL) & ~3ULL);
		if (!in_range(name_off, nh.n_namesz, size) ||
		    !in_range(desc_off, nh.n_descsz, size))
			return 0;
		if (nh.n_type == LGUEST_ELFNOTE_ENTRY &&
		    nh.n_namesz == sizeof(LGUEST_ELFNOTE_NAME) &&
		    memcmp(notes + name_off, LGUEST_ELFNOTE_NAME,
			   sizeof(LGUEST_ELFNOTE_NAME)) == 0 &&
		    nh.n_descsz == sizeof(*entry)) {
			memcpy(entry, notes + desc_off, sizeof(*entry));
			return 1;
		}
		off = next;
	}
	return 0;
}

static int check_elf_header(struct guest_boot *boot, const uint8_t *img, size_t len,
			    Elf64_Ehdr *eh)
{
	if (len < SELFMAG || memcmp(img, ELFMAG, SELFMAG) != 0)
		return fail(boot, "not an ELF file or a bzImage");
	if (len < EI_NIDENT || img[EI_CLASS] != ELFCLASS64)
		return fail(boot, "not a 64-bit ELF file (the guest must be an x86-64 kernel)");
	if (len < sizeof(*eh))
		return fail(boot, "truncated ELF file: %zu bytes, header needs %zu",
			    len, sizeof(*eh));
	memcpy(eh, img, sizeof(*eh));
	if (img[EI_DATA] != ELFDATA2LSB || eh->e_machine != EM_X86_64)
		return fail(boot, "ELF file for machine %u, not x86-64", eh->e_machine);
	if (eh->e_phentsize != sizeof(Elf64_Phdr) || eh->e_phnum == 0)
		return fail(boot, "ELF file has no usable program headers");
	if (!in_range(eh->e_phoff, (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr), len))
		return fail(boot, "truncated ELF file: program headers end beyond its %zu bytes",
			    len);
	return 0;
}

static int load_segment(struct guest_boot *boot, const uint8_t *img, size_t len,
			const Elf64_Phdr *ph)
{
	if (ph->p_filesz > ph->p_memsz)
		return fail(boot, "corrupt ELF segment at 0x%llx: file size above memory size",
			    (unsigned long long)ph->p_paddr);
	if (!in_range(ph->p_offset, ph->p_filesz, len))
		return fail(boot, "truncated ELF file: segment at 0x%llx needs bytes up to %llu, file has %zu",
			    (unsigned long long)ph->p_paddr,
			    (unsigned long long)ph->p_offset + ph->p_filesz, len);
	if (ph->p_paddr < LGUEST_BOOT_RESERVED)
		return fail(boot, "ELF segment at 0x%llx overlaps the launcher's first MiB",
			    (unsigned long long)ph->p_paddr);
	if (!in_range(ph->p_paddr, ph->p_memsz, boot->ram_size)) {
		if (ph->p_paddr + ph->p_memsz < ph->p_paddr ||
		    ph->p_paddr + ph->p_memsz > (1ULL << 46))
			return fail(boot, "ELF segment at 0x%llx (+0x%llx) is outside any possible guest RAM",
				    (unsigned long long)ph->p_paddr,
				    (unsigned long long)ph->p_memsz);
		return fail(boot, "kernel too big for the memory given: it needs %llu MiB, the guest has %llu MiB",
			    mib(ph->p_paddr + ph->p_memsz), mib(boot->ram_size));
	}
	memcpy(boot->ram + ph->p_paddr, img + ph->p_offset, ph->p_filesz);
	memset(boot->ram + ph->p_paddr + ph->p_filesz, 0, ph->p_memsz - ph->p_filesz);
	if (!boot->kernel_end || ph->p_paddr < boot->kernel_start)
		boot->kernel_start = ph->p_paddr;
	if (ph->p_paddr + ph->p_memsz > boot->kernel_end)
		boot->kernel_end = ph->p_paddr + ph->p_memsz;
	return 0;
}

static int load_elf(struct guest_boot *boot, const uint8_t *img, size_t len)
{
	int have_entry = 0, loaded = 0, i;
	Elf64_Ehdr eh;
	Elf64_Phdr ph;

	if (check_elf_header(boot, img, len, &eh) < 0)
		return -1;
	for (i = 0; i < eh.e_phnum; i++) {
		memcpy(&ph, img + eh.e_phoff + i * sizeof(ph), sizeof(ph));
		if (ph.p_type == PT_LOAD && ph.p_memsz) {
			if (load_segment(boot, img, len, &ph) < 0)
				return -1;
			loaded++;
		} else if (ph.p_type == PT_NOTE && !have_entry &&
			   in_range(ph.p_offset, ph.p_filesz, len)) {
			have_entry = find_entry_note(img + ph.p_offset,
						     ph.p_filesz, &boot->entry);
		}
	}
	if (!loaded)
		return fail(boot, "ELF file has no loadable segment");
	if (!have_entry)
		return fail(boot, "no \"%s\" entry note: this kernel was not built as an lguest guest (CONFIG_LGUEST_GUEST)",
			    LGUEST_ELFNOTE_NAME);
	return 0;
}

static const char *compression_name(const uint8_t *p, size_t len)
{
	static const struct { const char *name; uint8_t magic[4]; size_t n; } kinds[] = {
		{ "gzip", { 0x1f, 0x8b }, 2 },
		{ "xz", { 0xfd, '7', 'z', 'X' }, 4 },
		{ "zstd", { 0x28, 0xb5, 0x2f, 0xfd }, 4 },
		{ "lzma", { 0x5d, 0x00, 0x00 }, 3 },
		{ "bzip2", { 'B', 'Z', 'h' }, 3 },
		{ "lz4", { 0x02, 0x21, 0x4c, 0x18 }, 4 },
		{ "lzo", { 0x89, 'L', 'Z', 'O' }, 4 },
	};
	size_t i;

	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (len >= kinds[i].n && memcmp(p, kinds[i].magic, kinds[i].n) == 0)
			return kinds[i].name;
	return "an unknown format";
}

/* The decompressed ELF lives only while its segments are copied. */
static int load_gzip_elf(struct guest_boot *boot, const uint8_t *gz, size_t len)
{
	const char *why;
	uint8_t *elf;
	size_t elf_len;
	int ret;

	if (gunzip(gz, len, boot->ram_size, &elf, &elf_len, &why) < 0)
		return fail(boot, "bzImage gzip payload: %s", why);
	ret = load_elf(boot, elf, elf_len);
	free(elf);
	return ret;
}

static int is_bzimage(const uint8_t *img, size_t len)
{
	struct setup_header hdr;

	if (len < BZIMAGE_HDR_OFFSET + sizeof(hdr))
		return 0;
	memcpy(&hdr, img + BZIMAGE_HDR_OFFSET, sizeof(hdr));
	return hdr.header == BZIMAGE_MAGIC;
}

static int load_bzimage(struct guest_boot *boot, const uint8_t *img, size_t len)
{
	struct setup_header hdr;
	uint64_t setup_size, payload;

	memcpy(&hdr, img + BZIMAGE_HDR_OFFSET, sizeof(hdr));
	if (hdr.version < BZIMAGE_MIN_VERSION)
		return fail(boot, "bzImage boot protocol %u.%02u is too old (need 2.08+)",
			    hdr.version >> 8, hdr.version & 0xff);
	/* The protected-mode code follows the boot sector and setup_sects sectors. */
	setup_size = ((hdr.setup_sects ? hdr.setup_sects : 4) + 1) * 512ULL;
	payload = setup_size + hdr.payload_offset;
	if (!in_range(payload, hdr.payload_length, len) || hdr.payload_length == 0)
		return fail(boot, "truncated bzImage: payload at %llu (+%u) beyond its %zu bytes",
			    (unsigned long long)payload, hdr.payload_length, len);
	if (hdr.payload_length >= SELFMAG && memcmp(img + payload, ELFMAG, SELFMAG) == 0)
		return load_elf(boot, img + payload, hdr.payload_length);
	if (!strcmp(compression_name(img + payload, hdr.payload_length), "gzip"))
		return load_gzip_elf(boot, img + payload, hdr.payload_length);
	return fail(boot, "bzImage payload is compressed with %s; build the guest kernel with CONFIG_KERNEL_GZIP=y or CONFIG_KERNEL_UNCOMPRESSED=y, or pass its vmlinux",
		    compression_name(img + payload, hdr.payload_length));
}

int guest_boot_load_kernel(struct guest_boot *boot, const void *image, size_t len)
{
	if (is_bzimage(image, len))
		return load_bzimage(boot, image, len);
	return load_elf(boot, image, len);
}

int guest_boot_load_initrd(struct guest_boot *boot, const void *initrd, size_t len)
{
	uint64_t low = boot->kernel_end > LGUEST_BOOT_RESERVED ?
		       boot->kernel_end : LGUEST_BOOT_RESERVED;
	uint64_t gpa;

	low = (low + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
	if (len > boot->ram_size || boot->ram_size - len < low)
		return fail(boot, "initrd of %llu MiB does not fit in guest memory above the kernel (%llu MiB free)",
			    mib(len), mib(boot->ram_size - low));
	gpa = (boot->ram_size - len) & ~(PAGE_SIZE - 1);
	memcpy(boot->ram + gpa, initrd, len);
	boot->initrd_gpa = gpa;
	boot->initrd_size = len;
	return 0;
}

static void write_pgtables(struct guest_boot *boot)
{
	uint64_t *pml4 = (uint64_t *)(boot->ram + LGUEST_BOOT_PGTABLES);
	uint64_t direct_pdpt = LGUEST_BOOT_PGTABLES + PAGE_SIZE;
	uint64_t kernel_pdpt = direct_pdpt + PAGE_SIZE;
	uint64_t pds = kernel_pdpt + PAGE_SIZE;
	uint64_t *pd = (uint64_t *)(boot->ram + pds);
	uint64_t *dpdpt = (uint64_t *)(boot->ram + direct_pdpt);
	uint64_t *kpdpt = (uint64_t *)(boot->ram + kernel_pdpt);
	uint64_t table = PTE_PRESENT | PTE_WRITE, addr;
	unsigned int gib;

	memset(pml4, 0, pgtable_pages(boot->ram_size) * PAGE_SIZE);
	/* 2 MiB pages for all of RAM, one page directory per GiB. */
	for (addr = 0; addr < boot->ram_size; addr += GUEST_RAM_ALIGN)
		pd[addr / GUEST_RAM_ALIGN] = addr | PTE_PRESENT | PTE_WRITE | PTE_LARGE;
	for (gib = 0; (uint64_t)gib << 30 < boot->ram_size; gib++)
		dpdpt[gib] = (pds + gib * PAGE_SIZE) | table;
	pml4[(LGUEST_BOOT_DIRECT_MAP >> 39) & 511] = direct_pdpt | table;
	/* The kernel map reuses the page directory of the first GiB. */
	kpdpt[(LGUEST_BOOT_KERNEL_MAP >> 30) & 511] = pds | table;
	pml4[(LGUEST_BOOT_KERNEL_MAP >> 39) & 511] = kernel_pdpt | table;
	boot->cr3 = LGUEST_BOOT_PGTABLES;
}

static void add_e820(struct boot_params *bp, uint64_t addr, uint64_t size, uint32_t type)
{
	struct boot_e820_entry *e = &bp->e820_table[bp->e820_entries++];

	e->addr = addr;
	e->size = size;
	e->type = type;
}

int guest_boot_finish(struct guest_boot *boot, const char *cmdline)
{
	struct boot_params *bp = (void *)(boot->ram + LGUEST_BOOT_PARAMS);
	size_t cmdline_len = strlen(cmdline);

	if (!boot->entry)
		return fail(boot, "no kernel loaded");
	if (cmdline_len >= LGUEST_BOOT_CMDLINE_MAX)
		return fail(boot, "kernel command line is %zu bytes, the limit is %llu",
			    cmdline_len, LGUEST_BOOT_CMDLINE_MAX - 1);
	memset(bp, 0, sizeof(*bp));
	bp->hdr.boot_flag = 0xAA55;
	bp->hdr.header = BZIMAGE_MAGIC;
	bp->hdr.version = 0x020f;
	bp->hdr.type_of_loader = 0xff;	/* "undefined loader" */
	bp->hdr.loadflags = LOADED_HIGH;
	bp->hdr.hardware_subarch = X86_SUBARCH_LGUEST;
	bp->hdr.cmd_line_ptr = (uint32_t)LGUEST_BOOT_CMDLINE;
	bp->hdr.cmdline_size = LGUEST_BOOT_CMDLINE_MAX - 1;
	bp->hdr.ramdisk_image = (uint32_t)boot->initrd_gpa;
	bp->ext_ramdisk_image = (uint32_t)(boot->initrd_gpa >> 32);
	bp->hdr.ramdisk_size = (uint32_t)boot->initrd_size;
	bp->ext_ramdisk_size = (uint32_t)(boot->initrd_size >> 32);
	memcpy(boot->ram + LGUEST_BOOT_CMDLINE, cmdline, cmdline_len + 1);
	add_e820(bp, 0, LGUEST_BOOT_RESERVED, E820_RESERVED);
	add_e820(bp, LGUEST_BOOT_RESERVED, boot->ram_size - LGUEST_BOOT_RESERVED, E820_RAM);
	write_pgtables(boot);
	boot->boot_data = LGUEST_BOOT_PARAMS;
	boot->rsp = LGUEST_BOOT_DIRECT_MAP + LGUEST_BOOT_RESERVED;
	return 0;
}
