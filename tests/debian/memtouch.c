/*
 * memtouch: most of the machine's memory written and read back.
 *
 *   memtouch PERCENT
 *
 * Maps PERCENT % of MemAvailable (from /proc/meminfo) as anonymous memory, writes every
 * 4 KiB page with words of its own (its address and a seed), then reads every page back.
 * Exit status 0: every page held what was written; 1: the first wrong page is printed.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

#define PAGE 4096UL
#define SEED 0x6c67626f78ull	/* "lgbox" */

static long mem_available_kib(void)
{
	char line[256];
	long kib = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "MemAvailable: %ld kB", &kib) == 1)
			break;
	if (f)
		fclose(f);
	return kib;
}

int main(int argc, char **argv)
{
	long percent = argc == 2 ? atol(argv[1]) : 0, available = mem_available_kib();
	size_t size, words, i;
	uint64_t *mem;

	if (percent <= 0 || percent > 95) {
		fprintf(stderr, "usage: memtouch PERCENT (1-95, of MemAvailable)\n");
		return 2;
	}
	if (available <= 0) {
		printf("memtouch: no MemAvailable line in /proc/meminfo\n");
		return 1;
	}
	size = (size_t)available * 1024 / 100 * percent & ~(PAGE - 1);
	mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED) {
		perror("memtouch: mmap");
		return 1;
	}
	words = size / sizeof(*mem);
	for (i = 0; i < words; i += 64)	/* 8 words in every 512 bytes: each page, each line */
		for (size_t j = i; j < i + 8; j++)
			mem[j] = (uintptr_t)&mem[j] ^ SEED;
	for (i = 0; i < words; i += 64)
		for (size_t j = i; j < i + 8; j++)
			if (mem[j] != ((uintptr_t)&mem[j] ^ SEED)) {
				printf("memtouch: %p holds 0x%llx, written 0x%llx (page %zu of %zu)\n",
				       (void *)&mem[j], (unsigned long long)mem[j],
				       (unsigned long long)((uintptr_t)&mem[j] ^ SEED),
				       j * sizeof(*mem) / PAGE, size / PAGE);
				return 1;
			}
	printf("memtouch: %zu MiB (%ld%% of MemAvailable %ld MiB) written and read back\n",
	       size >> 20, percent, available >> 10);
	return 0;
}
