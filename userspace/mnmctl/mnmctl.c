// SPDX-License-Identifier: MIT
/*
 * mnmctl: list mnmirror devices, show their info and counters, snapshot a
 * demo buffer, prefetch and advise one, and walk through what mirroring does (mnmctl demo, which
 * `make demo` runs).  Built on libmnmirror.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mnmirror.h"

/* The page size, from sysconf() in main(): never assumed. */
static unsigned long PS;

static struct mnm_device *open_or_die(unsigned int index)
{
	struct mnm_device *dev;
	int ret = mnm_open_index(index, &dev);

	if (ret) {
		fprintf(stderr, "mnmctl: device %u: %s\n", index, mnm_strerror(ret));
		exit(1);
	}
	return dev;
}

static void show_maps(struct mnm_device *dev, void *addr, size_t npages,
		      const char *what)
{
	char cpu[80], devmap[80];

	if (mnm_snapshot_map(dev, addr, npages, MNM_SNAP_CPU, cpu, sizeof(cpu)))
		strcpy(cpu, "?");
	if (mnm_snapshot_map(dev, addr, npages, MNM_SNAP_DEVICE, devmap, sizeof(devmap)))
		strcpy(devmap, "?");
	printf("    %-36s CPU [%s]  device [%s]\n", what, cpu, devmap);
}

static void print_counters(const char *who, const struct mnm_counters *c)
{
	printf("  %s: %llu faults (%llu pages), %llu retries, %llu timeouts\n", who,
	       (unsigned long long)c->faults, (unsigned long long)c->pages_faulted,
	       (unsigned long long)c->retries, (unsigned long long)c->timeouts);
	printf("  %*s  %llu invalidations (+%llu non-blockable, %llu refused, %llu own)\n",
	       (int)strlen(who), "", (unsigned long long)c->invalidations,
	       (unsigned long long)c->invalidations_nonblock,
	       (unsigned long long)c->nonblock_refusals,
	       (unsigned long long)c->self_invalidations);
	printf("  %*s  %llu pages mapped in %llu page-table pages; migrated %llu in, %llu out\n",
	       (int)strlen(who), "", (unsigned long long)c->mapped_pages,
	       (unsigned long long)c->pt_pages, (unsigned long long)c->migrated_to_device,
	       (unsigned long long)c->migrated_to_system);
}

static int cmd_list(void)
{
	int i, n = mnm_device_count();

	if (n < 0) {
		fprintf(stderr, "mnmctl: %s\n", mnm_strerror(n));
		return 1;
	}
	for (i = 0; i < n; i++) {
		struct mnm_device *dev;
		struct mnm_info info = MNM_INFO_INIT;

		if (mnm_open_index(i, &dev))
			continue;
		mnm_get_info(dev, &info);
		printf("device %u: %s%s\n", info.index, info.path,
		       info.caps & MNM_CAP_MIGRATE ? " (device memory)" : "");
		mnm_close(dev);
	}
	printf("%d device(s)\n", n);
	return n ? 0 : 1;
}

static int cmd_info(unsigned int index)
{
	struct mnm_device *dev = open_or_die(index);
	struct mnm_info info = MNM_INFO_INIT;

	mnm_get_info(dev, &info);
	printf("device %u at %s\n", info.index, info.path);
	printf("  ABI version %u, page size %u\n", info.abi_version, info.page_size);
	printf("  capabilities:%s%s%s%s\n",
	       info.caps & MNM_CAP_MIRROR ? " mirror" : "",
	       info.caps & MNM_CAP_HUGE_PTE ? " huge-pte" : "",
	       info.caps & MNM_CAP_MIGRATE ? " migrate" : "",
	       info.caps & MNM_CAP_EXCLUSIVE ? " exclusive" : "");
	printf("  device memory: %llu MiB\n",
	       (unsigned long long)(info.devmem_size >> 20));
	mnm_close(dev);
	return 0;
}

static int cmd_stats(unsigned int index)
{
	struct mnm_device *dev = open_or_die(index);
	struct mnm_counters d = MNM_COUNTERS_INIT;
	int ret = mnm_stats(dev, NULL, &d);

	if (ret) {
		fprintf(stderr, "mnmctl: %s\n", mnm_strerror(ret));
		return 1;
	}
	print_counters("device", &d);
	printf("  device memory: %llu pages free; %llu evictions, %llu CPU-fault returns\n",
	       (unsigned long long)d.devmem_free, (unsigned long long)d.evictions,
	       (unsigned long long)d.cpu_faults);
	mnm_close(dev);
	return 0;
}

/* A buffer with one page of each kind, snapshotted by the device. */
static int cmd_snapshot(unsigned int index)
{
	struct mnm_device *dev = open_or_die(index);
	size_t npages = 8;
	char *p = mmap(NULL, npages * PS, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *buf = malloc(PS);
	volatile char c;

	if (p == MAP_FAILED || !buf)
		return 1;
	madvise(p, npages * PS, MADV_NOHUGEPAGE);
	c = p[PS];		/* page 1: zero page */
	(void)c;
	p[2 * PS] = 1;		/* page 2: written */
	p[3 * PS] = 1;		/* page 3: read-only */
	mprotect(p + 3 * PS, PS, PROT_READ);
	mprotect(p + 4 * PS, PS, PROT_NONE);	/* page 4: no access */
	p[5 * PS] = 1;
	mnm_read(dev, p + 5 * PS, buf, 1, NULL);	/* page 5: device mapped */
	if (mnm_has_cap(dev, MNM_CAP_MIGRATE)) {
		p[6 * PS] = 1;
		mnm_migrate(dev, p + 6 * PS, 1, MNM_TO_DEVICE, NULL);
	}
	printf("pages: 0 untouched, 1 read, 2 written, 3 read-only, 4 PROT_NONE,\n"
	       "       5 read by the device, 6 in device memory (if supported), 7 untouched\n");
	printf("legend: . none  z zero  r read-only  w writable  d device memory\n"
	       "        o other device  x exclusive  - no access; upper case: 2 MiB\n");
	show_maps(dev, p, npages, "snapshot:");
	munmap(p, npages * PS);
	free(buf);
	mnm_close(dev);
	return 0;
}

static void print_prefetch(const char *what, int ret,
			   const struct mnm_prefetch_result *r)
{
	printf("    %-22s %s: %llu mapped; skipped %llu (no access), %llu (fault), %llu (raced)",
	       what, mnm_strerror(ret), (unsigned long long)r->mapped,
	       (unsigned long long)r->skip_access, (unsigned long long)r->skip_fault,
	       (unsigned long long)r->skip_raced);
	if (r->migrate.migrated || r->migrate.skip_other || r->migrate.skip_vma)
		printf("; %llu migrated", (unsigned long long)r->migrate.migrated);
	printf("\n");
}

/*
 * PREFETCH on a buffer of this process: 16 pages, 12 of them written, 2 of
 * them PROT_NONE; in place, writable, then into device memory and back.
 */
static int cmd_prefetch(unsigned int index)
{
	struct mnm_device *dev = open_or_die(index);
	const size_t npages = 16;
	struct mnm_prefetch_result r;
	char *p = mmap(NULL, npages * PS, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int ret, status;

	if (p == MAP_FAILED)
		return 1;
	if (!mnm_has_cap(dev, MNM_CAP_PREFETCH)) {
		fprintf(stderr, "mnmctl: device %u has no PREFETCH\n", index);
		return 1;
	}
	madvise(p, npages * PS, MADV_NOHUGEPAGE);
	memset(p, 1, 12 * PS);
	mprotect(p + 12 * PS, 2 * PS, PROT_NONE);
	printf("pages 0-11 written, 12-13 PROT_NONE, 14-15 untouched\n");
	show_maps(dev, p, npages, "before:");
	ret = mnm_prefetch(dev, p, npages, 0, 0, &r);
	print_prefetch("prefetch (read):", ret, &r);
	/* Exit status: the 14 accessible pages mapped, the 2 others counted. */
	status = ret || r.mapped != 14 || r.skip_access != 2;
	show_maps(dev, p, npages, "after it:");
	ret = mnm_prefetch(dev, p, npages, 0, MNM_PREFETCH_WRITE, &r);
	print_prefetch("prefetch (write):", ret, &r);
	show_maps(dev, p, npages, "after it:");
	if (mnm_has_cap(dev, MNM_CAP_MIGRATE)) {
		ret = mnm_prefetch(dev, p, 12, MNM_TO_DEVICE, 0, &r);
		print_prefetch("prefetch to device:", ret, &r);
		show_maps(dev, p, npages, "after it:");
		ret = mnm_prefetch(dev, p, 12, MNM_TO_SYSTEM, 0, &r);
		print_prefetch("prefetch to system:", ret, &r);
		show_maps(dev, p, npages, "after it:");
	}
	munmap(p, npages * PS);
	mnm_close(dev);
	return status;
}

/*
 * ADVISE on a buffer of this process: pages 0-7 prefer the device, 8-15
 * read-mostly; the device reads all 16; then munmap and a fresh mapping at
 * the same place carry no advice.
 */
static int cmd_advise(unsigned int index)
{
	struct mnm_device *dev = open_or_die(index);
	const size_t npages = 16;
	char *p = mmap(NULL, npages * PS, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *buf = malloc(npages * PS);
	unsigned int attrs = 0;
	size_t same = 0;
	int loc = -1, ret;

	if (p == MAP_FAILED || !buf)
		return 1;
	if (!mnm_has_cap(dev, MNM_CAP_ADVISE)) {
		fprintf(stderr, "mnmctl: device %u has no ADVISE\n", index);
		return 1;
	}
	madvise(p, npages * PS, MADV_NOHUGEPAGE);
	memset(p, 1, npages * PS);
	ret = mnm_advise(dev, p, 8, mnm_has_cap(dev, MNM_CAP_MIGRATE) ?
			 MNM_TO_DEVICE : MNM_TO_SYSTEM, 0);
	printf("    advise 0-7 to prefer the %s: %s\n",
	       mnm_has_cap(dev, MNM_CAP_MIGRATE) ? "device" : "system (no device memory)",
	       mnm_strerror(ret));
	ret = mnm_advise(dev, p + 8 * PS, 8, 0, MNM_ADVISE_READ_MOSTLY);
	printf("    advise 8-15 read-mostly: %s\n", mnm_strerror(ret));
	mnm_read(dev, p, buf, npages, NULL);
	show_maps(dev, p, npages, "after a device read:");
	munmap(p, npages * PS);
	p = mmap(p, npages * PS, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	if (p == MAP_FAILED)
		return 1;
	ret = mnm_advice(dev, p, npages, &loc, &attrs, &same);
	printf("    mapped anew: advice at page 0: %s, location %d, attrs %u, for %zu pages\n",
	       mnm_strerror(ret), loc, attrs, same);
	munmap(p, npages * PS);
	free(buf);
	mnm_close(dev);
	/* Exit status: the new mapping carries no advice. */
	return ret || loc || attrs || same != npages;
}

static int demo(void)
{
	struct mnm_device *dev = open_or_die(0);
	const size_t npages = 16;
	struct mnm_migrate_result m;
	struct mnm_counters file = MNM_COUNTERS_INIT;
	struct mnm_rw_result r;
	struct mnm_info info = MNM_INFO_INIT;
	char *mem, *buf;
	size_t i;
	int ret;

	mnm_get_info(dev, &info);
	printf("mnmirror demo: mock device %u (%s), ABI %u%s\n", info.index, info.path,
	       info.abi_version, info.caps & MNM_CAP_MIGRATE ?
	       ", with device memory" : ", no device memory on this kernel");
	printf("legend: . none  z zero page  r read-only  w writable  d in device memory  - no access\n\n");

	mem = mmap(NULL, npages * PS, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	buf = malloc(npages * PS);
	if (mem == MAP_FAILED || !buf)
		return 1;
	madvise(mem, npages * PS, MADV_NOHUGEPAGE);

	printf("1. The process allocates %zu pages and writes a greeting into 12 of them.\n", npages);
	for (i = 0; i < 12; i++)
		snprintf(mem + i * PS, PS, "page %zu: hello from the CPU", i);
	show_maps(dev, mem, npages, "after the CPU writes:");

	printf("2. The device reads all %zu pages through its own page table.\n", npages);
	ret = mnm_read(dev, mem, buf, npages, &r);
	printf("    read: %s, %llu pages, %llu device fault batch(es); page 3 says \"%s\"\n",
	       mnm_strerror(ret), (unsigned long long)r.pages,
	       (unsigned long long)r.faults, buf + 3 * PS);
	show_maps(dev, mem, npages, "after the device read:");

	printf("3. The CPU rewrites page 3 in place: same physical page, so the device\n"
	       "   entry stays valid and the device sees the new text without a fault.\n");
	snprintf(mem + 3 * PS, PS, "page 3: changed by the CPU");
	mnm_read(dev, mem + 3 * PS, buf, 1, &r);
	printf("    device re-reads page 3: \"%s\" (%llu faults)\n", buf,
	       (unsigned long long)r.faults);
	printf("   madvise(MADV_DONTNEED) frees pages 2-3: the mirror zaps the device entries.\n");
	madvise(mem + 2 * PS, 2 * PS, MADV_DONTNEED);
	show_maps(dev, mem, npages, "after MADV_DONTNEED:");
	mnm_read(dev, mem + 2 * PS, buf, 2, &r);
	printf("    device re-reads pages 2-3: %llu fault, first byte now %d (the zero page)\n",
	       (unsigned long long)r.faults, buf[0]);

	printf("4. The device writes page 5; the CPU reads it.\n");
	memset(buf, 0, PS);
	snprintf(buf, PS, "page 5: written by the device");
	ret = mnm_write(dev, mem + 5 * PS, buf, 1, NULL);
	printf("    device write: %s; the CPU now reads \"%s\"\n", mnm_strerror(ret),
	       mem + 5 * PS);

	printf("5. mprotect(PROT_READ) on pages 8-11: device writes there are refused.\n");
	mprotect(mem + 8 * PS, 4 * PS, PROT_READ);
	ret = mnm_write(dev, mem + 8 * PS, buf, 1, NULL);
	printf("    device write to page 8: %s\n", mnm_strerror(ret));
	mnm_read(dev, mem, buf, 12, NULL);
	show_maps(dev, mem, npages, "after mprotect and a device read:");

	if (mnm_has_cap(dev, MNM_CAP_MIGRATE)) {
		printf("6. Pages 0-7 move into device memory.\n");
		ret = mnm_migrate(dev, mem, 8, MNM_TO_DEVICE, &m);
		printf("    migrate: %s, %llu pages moved\n", mnm_strerror(ret),
		       (unsigned long long)m.migrated);
		show_maps(dev, mem, npages, "after the migration:");
		printf("   The CPU reads page 0: \"%s\" -- it came back on its own.\n", mem);
		show_maps(dev, mem, npages, "after the CPU touched page 0:");
	} else {
		printf("6. (skipped: this kernel has no DEVICE_PRIVATE, so no device memory)\n");
	}

	printf("7. munmap of pages 12-15: the device forgets them too.\n");
	munmap(mem + 12 * PS, 4 * PS);
	show_maps(dev, mem, npages, "after munmap:");
	ret = mnm_read(dev, mem, buf, npages, NULL);
	printf("    device read of all 16 pages: %s\n", mnm_strerror(ret));
	if (!mnm_stats(dev, &file, NULL))
		print_counters("this file", &file);

	munmap(mem, 12 * PS);
	free(buf);
	mnm_close(dev);
	printf("\ndone: the device saw exactly what the CPU mapped, and nothing else.\n");
	return 0;
}

int main(int argc, char **argv)
{
	unsigned int index = argc > 2 ? (unsigned int)atoi(argv[2]) : 0;

	PS = sysconf(_SC_PAGESIZE);

	if (argc < 2 || !strcmp(argv[1], "list"))
		return cmd_list();
	if (!strcmp(argv[1], "info"))
		return cmd_info(index);
	if (!strcmp(argv[1], "stats"))
		return cmd_stats(index);
	if (!strcmp(argv[1], "snapshot"))
		return cmd_snapshot(index);
	if (!strcmp(argv[1], "prefetch"))
		return cmd_prefetch(index);
	if (!strcmp(argv[1], "advise"))
		return cmd_advise(index);
	if (!strcmp(argv[1], "demo"))
		return demo();
	fprintf(stderr, "usage: mnmctl [list | info [N] | stats [N] | snapshot [N] | prefetch [N] | advise [N] | demo]\n");
	return 2;
}
