/*
 * elf_builder.h - builds small x86-64 guest kernel ELF images in memory for
 * tests: one PT_LOAD of patterned bytes (+ bss) at KERNEL_PADDR and,
 * optionally, the lguest entry note, so loaders can be checked against
 * exactly known contents.
 */
#ifndef LGBOX_TEST_ELF_BUILDER_H
#define LGBOX_TEST_ELF_BUILDER_H

#include <elf.h>
#include <stdint.h>
#include <string.h>
#include <linux/lguest.h>

#define KERNEL_PADDR (2ULL << 20)
#define ENTRY 0xffffffff81000040ULL

/* An ELF image under construction: header, phdrs, note, segment data. */
struct elf_image {
	uint8_t buf[16384];
	size_t len;
};

struct note_entry {
	Elf64_Nhdr nh;
	char name[8];		/* "lguest\0" padded to 4 */
	uint64_t entry;		/* at offset 20: notes are 4-byte aligned */
} __attribute__((packed));

/*
 * One PT_LOAD of text_len bytes (pattern 0xA5 ^ i) + bss_len zero bytes at
 * KERNEL_PADDR, and (with_note) a PT_NOTE carrying the entry point.
 */
static inline void build_elf(struct elf_image *img, size_t text_len, size_t bss_len, int with_note)
{
	Elf64_Ehdr *eh = (Elf64_Ehdr *)img->buf;
	Elf64_Phdr *ph = (Elf64_Phdr *)(img->buf + sizeof(*eh));
	struct note_entry *note = (struct note_entry *)(ph + 2);
	uint8_t *text = (uint8_t *)(note + 1);
	size_t i;

	memset(img, 0, sizeof(*img));
	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = ELFCLASS64;
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	eh->e_ident[EI_VERSION] = EV_CURRENT;
	eh->e_type = ET_EXEC;
	eh->e_machine = EM_X86_64;
	eh->e_entry = 0x1000000;	/* native entry: must be ignored */
	eh->e_phoff = sizeof(*eh);
	eh->e_phentsize = sizeof(*ph);
	eh->e_phnum = with_note ? 2 : 1;

	ph[0].p_type = PT_LOAD;
	ph[0].p_offset = text - img->buf;
	ph[0].p_paddr = KERNEL_PADDR;
	ph[0].p_vaddr = LGUEST_BOOT_KERNEL_MAP + KERNEL_PADDR;
	ph[0].p_filesz = text_len;
	ph[0].p_memsz = text_len + bss_len;
	for (i = 0; i < text_len; i++)
		text[i] = 0xA5 ^ (uint8_t)i;

	ph[1].p_type = PT_NOTE;
	ph[1].p_offset = (uint8_t *)note - img->buf;
	ph[1].p_filesz = sizeof(*note);
	note->nh.n_namesz = sizeof(LGUEST_ELFNOTE_NAME);
	note->nh.n_descsz = 8;
	note->nh.n_type = LGUEST_ELFNOTE_ENTRY;
	memcpy(note->name, LGUEST_ELFNOTE_NAME, sizeof(LGUEST_ELFNOTE_NAME));
	note->entry = ENTRY;
	img->len = (text - img->buf) + text_len;
}

#endif /* LGBOX_TEST_ELF_BUILDER_H */
