/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Page helpers shared by the mnmirror selftests: tagged page contents and
 * mappings.  Each 32-bit word of page i holds tag(gen, i), so a read proves
 * which generation of which page it saw.
 */
#ifndef MNM_PAGES_H
#define MNM_PAGES_H

#include <fcntl.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#define PS		4096UL
#define HPS		(2UL << 20)
#define TAG(gen, i)	(((uint32_t)(gen) << 20) | ((uint32_t)(i) & 0xfffff))
#define TAG_GEN(t)	((t) >> 20)
#define TAG_IDX(t)	((t) & 0xfffff)

static inline void fill(void *p, unsigned long npages, unsigned int gen)
{
	uint32_t *w = p;
	unsigned long i, j;

	for (i = 0; i < npages; i++)
		for (j = 0; j < PS / 4; j++)
			w[i * PS / 4 + j] = TAG(gen, i);
}

/* Index of the first page that does not carry tag(gen, i), or -1. */
static inline long check(const void *p, unsigned long npages, unsigned int gen)
{
	const uint32_t *w = p;
	unsigned long i, j;

	for (i = 0; i < npages; i++)
		for (j = 0; j < PS / 4; j++)
			if (w[i * PS / 4 + j] != TAG(gen, i))
				return i;
	return -1;
}

static inline void *map_anon(unsigned long size, int prot)
{
	void *p = mmap(NULL, size, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* An anonymous mapping of @size bytes aligned to 2 MiB (THP candidates). */
static inline void *map_aligned(unsigned long size)
{
	char *p = mmap(NULL, size + HPS, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *a;

	if (p == MAP_FAILED)
		return NULL;
	a = (char *)(((unsigned long)p + HPS - 1) & ~(HPS - 1));
	if (a > p)
		munmap(p, a - p);
	munmap(a + size, p + HPS - a);
	return a;
}

static inline int create_tmpfile(unsigned long size)
{
	int fd = open("/tmp", O_TMPFILE | O_EXCL | O_RDWR, 0600);

	if (fd >= 0 && ftruncate(fd, size)) {
		close(fd);
		return -1;
	}
	return fd;
}

#endif /* MNM_PAGES_H */
