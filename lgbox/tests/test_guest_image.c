/*
 * test_guest_image.c - kernel image loading and boot data (lib/guest_image.c)
 * against ELF files and bzImages built here, good and malformed, checked the
 * way the guest will see them: bytes at their physical addresses, the zero
 * page's fields, and virtual addresses translated through the boot page
 * tables by a software page walk.
 */
#include <elf.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>
#include <asm/bootparam.h>

#include "../lib/guest_image.h"
#include "../lib/inflate.h"
#include "elf_builder.h"
#include "test.h"

#define MiB (1ULL << 20)
#define RAM_SIZE (64 * MiB)

static uint8_t *ram;
static struct guest_boot boot;

static Elf64_Ehdr *ehdr(struct elf_image *img)
{
	return (Elf64_Ehdr *)img->buf;
}

static Elf64_Phdr *phdr(struct elf_image *img, int i)
{
	return (Elf64_Phdr *)(img->buf + sizeof(Elf64_Ehdr)) + i;
}

static void reset_ram(void)
{
	memset(ram, 0xEE, RAM_SIZE);	/* garbage so zeroing is visible */
	CHECK_EQ(guest_boot_init(&boot, ram, RAM_SIZE), 0);
}

static int load(struct elf_image *img)
{
	reset_ram();
	return guest_boot_load_kernel(&boot, img->buf, img->len);
}

static int error_has(const char *text)
{
	if (strstr(boot.error, text))
		return 1;
	fprintf(stderr, "  error was \"%s\", expected \"%s\" in it\n", boot.error, text);
	return 0;
}

static void vmlinux_loads_at_paddr_with_note_entry(void)
{
	struct elf_image img;
	size_t i;
	int ok = 1;

	build_elf(&img, 1000, 5000, 1);
	CHECK_EQ(load(&img), 0);
	CHECK_EQ(boot.entry, ENTRY);
	CHECK_EQ(boot.kernel_start, KERNEL_PADDR);
	CHECK_EQ(boot.kernel_end, KERNEL_PADDR + 6000);
	for (i = 0; i < 1000; i++)
		ok &= ram[KERNEL_PADDR + i] == (0xA5 ^ (uint8_t)i);
	for (; i < 6000; i++)
		ok &= ram[KERNEL_PADDR + i] == 0;
	CHECK(ok);
	CHECK_EQ(ram[KERNEL_PADDR + 6000], 0xEE);
}

static void refuses_non_elf(void)
{
	static const char text[] = "#!/bin/sh\necho not a kernel\n";

	reset_ram();
	CHECK_EQ(guest_boot_load_kernel(&boot, text, sizeof(text)), -1);
	CHECK(error_has("not an ELF file or a bzImage"));
}

static void refuses_32bit_and_wrong_machine(void)
{
	struct elf_image img;

	build_elf(&img, 100, 0, 1);
	img.buf[EI_CLASS] = ELFCLASS32;
	CHECK_EQ(load(&img), -1);
	CHECK(error_has("not a 64-bit ELF"));

	build_elf(&img, 100, 0, 1);
	ehdr(&img)->e_machine = EM_AARCH64;
	CHECK_EQ(load(&img), -1);
	CHECK(error_has("not x86-64"));
}

static void refuses_truncated(void)
{
	struct elf_image img;

	build_elf(&img, 1000, 0, 1);
	img.len -= 1;
	CHECK_EQ(load(&img), -1);
	CHECK(error_has("truncated ELF file"));

	build_elf(&img, 1000, 0, 1);
	img.len = sizeof(Elf64_Ehdr) + 10;	/* cut inside the phdrs */
	CHECK_EQ(load(&img), -1);
	CHECK(error_has("truncated ELF file"));

	build_elf(&img, 1000, 0, 1);
	img.len = 40;				/* cut inside the header */
	CHECK_EQ(load(&img), -1);
	CHECK(error_has("truncated ELF file"));

	build_elf(&img, 1000, 0, 1);
	phdr(&img, 0)->p_offset = ~0ULL - 10;	/* offset + size wraps */
	CHECK_EQ(load(&img), -1);
	CHECK(error_has("truncated ELF file"));
}

static void refuses_segments_outside_ram(void)
{
	struct elf_image img;

	build_elf(&img, 100, 0, 1);
	phdr(&img, 0)->p_paddr = RAM_SIZE - 50;
	CHECK_EQ(load(&img), -1);
	CHECK(error_has("kernel too big for the memory given: it needs 65 MiB, the guest has 64 MiB"));

	build_elf(&img, 100, 0, 1);
	phdr(&img, 0)->p_memsz = ~0ULL - 100;	/* paddr + memsz wraps */
	CHECK_EQ(load(&img), -1);
	CHECK(error_has("outside any possible guest RAM"));

	build_elf(&img, 100, 0, 1);
	phdr(&img, 0)->p_paddr = 0x1000;	/* over the zero page */
	CHECK_EQ(load(&img), -1);
	CHECK(error_has("overlaps the launcher's first MiB"));

	build_elf(&img, 100, 0, 1);
	phdr(&img, 0)->p_filesz = 200;
	phdr(&img, 0)->p_memsz = 100;
	CHECK_EQ(load(&img), -1);
	CHECK(error_has("file size above memory size"));
}

static void refuses_missing_or_bad_entry_note(void)
{
	struct elf_image img;
	struct note_entry *note;

	build_elf(&img, 100, 0, 0);
	CHECK_EQ(load(&img), -1);
	CHECK(error_has("no \"lguest\" entry note"));

	build_elf(&img, 100, 0, 1);
	note = (struct note_entry *)(img.buf + phdr(&img, 1)->p_offset);
	note->nh.n_descsz = 0x7fffffff;		/* runs off the segment */
	CHECK_EQ(load(&img), -1);
	CHECK(error_has("entry note"));

	build_elf(&img, 100, 0, 1);
	note = (struct note_entry *)(img.buf + phdr(&img, 1)->p_offset);
	note->name[0] = 'X';
	CHECK_EQ(load(&img), -1);
	CHECK(error_has("entry note"));
}

/* A bzImage: boot sector + setup_sects sectors, then the payload. */
static size_t build_bzimage(uint8_t *out, size_t cap, const void *payload, size_t len)
{
	struct setup_header hdr;
	const int setup_sects = 3;
	size_t payload_at = (setup_sects + 1) * 512 + 64;

	memset(out, 0, cap);
	memset(&hdr, 0, sizeof(hdr));
	hdr.setup_sects = setup_sects;
	hdr.boot_flag = 0xAA55;
	hdr.header = 0x53726448;
	hdr.version = 0x020f;
	hdr.payload_offset = 64;
	hdr.payload_length = len;
	memcpy(out + 0x1f1, &hdr, sizeof(hdr));
	memcpy(out + payload_at, payload, len);
	return payload_at + len;
}

static void bzimage_with_elf_payload_loads(void)
{
	static uint8_t bz[32768];
	struct elf_image img;
	size_t len;

	build_elf(&img, 777, 0, 1);
	len = build_bzimage(bz, sizeof(bz), img.buf, img.len);
	reset_ram();
	CHECK_EQ(guest_boot_load_kernel(&boot, bz, len), 0);
	CHECK_EQ(boot.entry, ENTRY);
	CHECK_EQ(ram[KERNEL_PADDR + 776], 0xA5 ^ (uint8_t)776);

	CHECK_EQ(guest_boot_load_kernel(&boot, bz, len - 1), -1);
	CHECK(error_has("truncated bzImage"));
}

static void bzimage_compressed_payload_is_refused_with_advice(void)
{
	static uint8_t bz[8192];
	static const uint8_t xz[] = { 0xfd, '7', 'z', 'X', 'Z', 0, 0, 0 };
	size_t len = build_bzimage(bz, sizeof(bz), xz, sizeof(xz));

	reset_ram();
	CHECK_EQ(guest_boot_load_kernel(&boot, bz, len), -1);
	CHECK(error_has("compressed with xz"));
	CHECK(error_has("CONFIG_KERNEL_GZIP=y or CONFIG_KERNEL_UNCOMPRESSED=y"));
}

/* gzip -n -9 of buf, as the kernel build does; returns the length. */
static size_t gzip_buffer(const uint8_t *buf, size_t len, uint8_t *out, size_t cap)
{
	char plain[] = "/tmp/lgbox-test-gz-XXXXXX", cmd[128];
	FILE *f;
	size_t n;
	int fd = mkstemp(plain);

	if (fd < 0 || write(fd, buf, len) != (ssize_t)len)
		return 0;
	close(fd);
	snprintf(cmd, sizeof(cmd), "gzip -n -9 -c %s", plain);
	f = popen(cmd, "r");
	n = f ? fread(out, 1, cap, f) : 0;
	if (f)
		pclose(f);
	unlink(plain);
	return n;
}

/* Kernels gzip'ed into a bzImage, compressible and not. */
static void bzimage_with_gzip_payload_loads(void)
{
	static uint8_t gz[32768], bz[65536];
	struct elf_image img;
	size_t j, gz_len, len;
	int random_text;

	for (random_text = 0; random_text < 2; random_text++) {
		uint8_t *text;

		build_elf(&img, 9000, 0, 1);
		text = img.buf + img.len - 9000;
		for (j = 0; random_text && j < 9000; j++)
			text[j] = (uint8_t)(rand() >> 7);
		gz_len = gzip_buffer(img.buf, img.len, gz, sizeof(gz));
		len = build_bzimage(bz, sizeof(bz), gz, gz_len);
		reset_ram();
		CHECK_EQ(guest_boot_load_kernel(&boot, bz, len), 0);
		CHECK_EQ(boot.entry, ENTRY);
		CHECK(memcmp(ram + KERNEL_PADDR, text, 9000) == 0);
	}
}

/*
 * gunzip on data chosen so that gzip emits each deflate block type: a
 * short pattern (fixed Huffman codes), skewed text (dynamic codes) and
 * random bytes (stored).  gzip -n writes no file name, so the first block
 * header is byte 10: checked, so the test cannot silently lose a type.
 */
static void gunzip_handles_every_block_type(void)
{
	static uint8_t plain[9000], gz[16384];
	static const char skewed[] = "aaaaaaabbbc";
	const size_t sizes[] = { 100, 9000, 9000 };
	const unsigned int block_types[] = { 1, 2, 0 };
	size_t i, j, gz_len, out_len;
	const char *why;
	uint8_t *out;

	for (i = 0; i < 3; i++) {
		for (j = 0; j < sizes[i]; j++)
			plain[j] = i == 0 ? (uint8_t)('0' + j % 10) : i == 1 ?
				   (uint8_t)skewed[((j * 7919) >> 3) % 11] : (uint8_t)(rand() >> 7);
		gz_len = gzip_buffer(plain, sizes[i], gz, sizeof(gz));
		CHECK_EQ((gz[10] >> 1) & 3, block_types[i]);
		CHECK_EQ(gunzip(gz, gz_len, 1 << 20, &out, &out_len, &why), 0);
		CHECK_EQ(out_len, sizes[i]);
		CHECK(memcmp(out, plain, sizes[i]) == 0);
		free(out);
	}
	CHECK_EQ(gunzip(gz, gz_len, 100, &out, &out_len, &why), -1);
	CHECK(strstr(why, "larger than the memory given") != NULL);
	gz[3] = 0x80;
	CHECK_EQ(gunzip(gz, gz_len, 1 << 20, &out, &out_len, &why), -1);
	CHECK(strstr(why, "reserved flags") != NULL);
	gz[0] = 0;
	CHECK_EQ(gunzip(gz, gz_len, 1 << 20, &out, &out_len, &why), -1);
	CHECK(strstr(why, "not gzip data") != NULL);
}

static void corrupt_gzip_payload_is_refused(void)
{
	static uint8_t gz[32768], bz[65536];
	struct elf_image img;
	size_t gz_len, len;

	build_elf(&img, 9000, 0, 1);
	gz_len = gzip_buffer(img.buf, img.len, gz, sizeof(gz));
	gz[gz_len / 2] ^= 0x10;
	len = build_bzimage(bz, sizeof(bz), gz, gz_len);
	reset_ram();
	CHECK_EQ(guest_boot_load_kernel(&boot, bz, len), -1);
	CHECK(error_has("bzImage gzip payload: "));

	gz[gz_len / 2] ^= 0x10;
	len = build_bzimage(bz, sizeof(bz), gz, gz_len - 12);	/* cut short */
	CHECK_EQ(guest_boot_load_kernel(&boot, bz, len), -1);
	CHECK(error_has("bzImage gzip payload: "));
}

static void initrd_goes_to_top_of_ram_above_kernel(void)
{
	static uint8_t initrd[10000];
	struct elf_image img;
	uint8_t *big;

	memset(initrd, 0x42, sizeof(initrd));
	build_elf(&img, 100, 0, 1);
	CHECK_EQ(load(&img), 0);
	CHECK_EQ(guest_boot_load_initrd(&boot, initrd, sizeof(initrd)), 0);
	CHECK_EQ(boot.initrd_gpa % 4096, 0);
	CHECK(boot.initrd_gpa + sizeof(initrd) <= RAM_SIZE);
	CHECK(boot.initrd_gpa + sizeof(initrd) + 4096 > RAM_SIZE);
	CHECK(memcmp(ram + boot.initrd_gpa, initrd, sizeof(initrd)) == 0);

	/* 62 MiB + 1 does not fit above a kernel ending just after 2 MiB. */
	big = calloc(1, 62 * MiB + 1);
	CHECK_EQ(guest_boot_load_initrd(&boot, big, 62 * MiB + 1), -1);
	CHECK(error_has("does not fit in guest memory"));
	free(big);
}

static void ram_size_is_checked(void)
{
	CHECK_EQ(guest_boot_init(&boot, ram, RAM_SIZE + 4096), -1);
	CHECK(error_has("not a multiple of 2 MiB"));
	CHECK_EQ(guest_boot_init(&boot, ram, 2 * MiB), -1);
	CHECK(error_has("too small"));
	CHECK_EQ(guest_boot_init(&boot, NULL, 1ULL << 40), -1);
	CHECK(error_has("too large"));
}

/* Walks the boot page tables like the MMU: returns the gpa or ~0 if unmapped. */
static uint64_t translate(const uint8_t *mem, uint64_t va)
{
	uint64_t table = boot.cr3, entry;
	int level;

	for (level = 3; level >= 1; level--) {
		unsigned int index = (va >> (12 + 9 * level)) & 511;

		memcpy(&entry, mem + table + index * 8, 8);
		if (!(entry & 1) || !(entry & 2) || (entry & 4))
			return ~0ULL;	/* absent, read-only or user */
		if (level == 1) {
			if (!(entry & 0x80))
				return ~0ULL;
			return (entry & ~0x1fffffULL & 0x000ffffffffff000ULL) +
			       (va & 0x1fffff);
		}
		table = entry & 0x000ffffffffff000ULL;
	}
	return ~0ULL;
}

static void finish_writes_zero_page_and_page_tables(void)
{
	struct boot_params *bp = (void *)(ram + LGUEST_BOOT_PARAMS);
	static const char cmdline[] = "console=hvc0 case=smoke";
	static uint8_t initrd[5000];
	struct elf_image img;

	build_elf(&img, 100, 0, 1);
	CHECK_EQ(load(&img), 0);
	CHECK_EQ(guest_boot_load_initrd(&boot, initrd, sizeof(initrd)), 0);
	CHECK_EQ(guest_boot_finish(&boot, cmdline), 0);

	CHECK_EQ(boot.boot_data, LGUEST_BOOT_PARAMS);
	CHECK_EQ(boot.cr3, LGUEST_BOOT_PGTABLES);
	CHECK_EQ(bp->hdr.hardware_subarch, 1);
	CHECK_EQ(bp->hdr.boot_flag, 0xAA55);
	CHECK_EQ(bp->hdr.cmd_line_ptr, LGUEST_BOOT_CMDLINE);
	CHECK(strcmp((char *)ram + LGUEST_BOOT_CMDLINE, cmdline) == 0);
	CHECK_EQ(bp->hdr.ramdisk_image, boot.initrd_gpa);
	CHECK_EQ(bp->hdr.ramdisk_size, sizeof(initrd));
	CHECK_EQ(bp->e820_entries, 2);
	CHECK_EQ(bp->e820_table[0].addr, 0);
	CHECK_EQ(bp->e820_table[0].size, LGUEST_BOOT_RESERVED);
	CHECK_EQ(bp->e820_table[0].type, 2);
	CHECK_EQ(bp->e820_table[1].addr, LGUEST_BOOT_RESERVED);
	CHECK_EQ(bp->e820_table[1].size, RAM_SIZE - LGUEST_BOOT_RESERVED);
	CHECK_EQ(bp->e820_table[1].type, 1);

	/* Direct map covers all of RAM and nothing more. */
	CHECK_EQ(translate(ram, LGUEST_BOOT_DIRECT_MAP), 0);
	CHECK_EQ(translate(ram, LGUEST_BOOT_DIRECT_MAP + RAM_SIZE - 1), RAM_SIZE - 1);
	CHECK_EQ(translate(ram, LGUEST_BOOT_DIRECT_MAP + RAM_SIZE), ~0ULL);
	/* Kernel map: the entry's physical address is the kernel's. */
	CHECK_EQ(translate(ram, ENTRY), ENTRY - LGUEST_BOOT_KERNEL_MAP);
	CHECK_EQ(translate(ram, LGUEST_BOOT_KERNEL_MAP + RAM_SIZE), ~0ULL);
	/* No identity map, no user mappings. */
	CHECK_EQ(translate(ram, KERNEL_PADDR), ~0ULL);
	/* The initial stack is in the launcher's reserved MiB, mapped. */
	CHECK_EQ(translate(ram, boot.rsp - 8), LGUEST_BOOT_RESERVED - 8);
	CHECK(LGUEST_BOOT_PGTABLES + 4 * 4096 <= GUEST_BOOT_PGTABLES_END);
}

static void kernel_map_stops_at_one_gib(void)
{
	uint64_t size = 1536 * MiB;
	uint8_t *big = calloc(1, size);
	struct elf_image img;

	build_elf(&img, 100, 0, 1);
	CHECK_EQ(guest_boot_init(&boot, big, size), 0);
	CHECK_EQ(guest_boot_load_kernel(&boot, img.buf, img.len), 0);
	CHECK_EQ(guest_boot_finish(&boot, ""), 0);
	CHECK_EQ(translate(big, LGUEST_BOOT_DIRECT_MAP + size - 1), size - 1);
	CHECK_EQ(translate(big, LGUEST_BOOT_KERNEL_MAP + (1ULL << 30) - 1), (1ULL << 30) - 1);
	CHECK_EQ(translate(big, LGUEST_BOOT_KERNEL_MAP + (1ULL << 30)), ~0ULL);
	free(big);
}

static void overlong_cmdline_is_refused(void)
{
	char *line = malloc(LGUEST_BOOT_CMDLINE_MAX + 1);
	struct elf_image img;

	memset(line, 'x', LGUEST_BOOT_CMDLINE_MAX);
	line[LGUEST_BOOT_CMDLINE_MAX] = '\0';
	build_elf(&img, 100, 0, 1);
	CHECK_EQ(load(&img), 0);
	CHECK_EQ(guest_boot_finish(&boot, line), -1);
	CHECK(error_has("command line is 4096 bytes, the limit is 4095"));
	free(line);
}

int main(void)
{
	ram = malloc(RAM_SIZE);
	TEST_RUN(vmlinux_loads_at_paddr_with_note_entry);
	TEST_RUN(refuses_non_elf);
	TEST_RUN(refuses_32bit_and_wrong_machine);
	TEST_RUN(refuses_truncated);
	TEST_RUN(refuses_segments_outside_ram);
	TEST_RUN(refuses_missing_or_bad_entry_note);
	TEST_RUN(bzimage_with_elf_payload_loads);
	TEST_RUN(bzimage_compressed_payload_is_refused_with_advice);
	TEST_RUN(bzimage_with_gzip_payload_loads);
	TEST_RUN(gunzip_handles_every_block_type);
	TEST_RUN(corrupt_gzip_payload_is_refused);
	TEST_RUN(initrd_goes_to_top_of_ram_above_kernel);
	TEST_RUN(ram_size_is_checked);
	TEST_RUN(finish_writes_zero_page_and_page_tables);
	TEST_RUN(overlong_cmdline_is_refused);
	TEST_RUN(kernel_map_stops_at_one_gib);
	free(ram);
	return test_summary();
}
