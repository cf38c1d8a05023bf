// SPDX-License-Identifier: GPL-2.0
/*
 * mnmctl: list mnmirror mock devices, show their info and counters, and walk
 * through what mirroring does ("mnmctl demo", run by `make demo`).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mnmirror.h"

#define PS 4096UL

static int xioctl(int fd, unsigned long req, void *arg)
{
	return ioctl(fd, req, arg) ? -errno : 0;
}

/* Open mock device @index (or return how many exist with @count). */
static int open_device(int index, int *count)
{
	char path[64], name[32];
	int minor, fd, n = 0;

	for (minor = 128; minor < 192; minor++) {
		struct drm_version v = { .name = name, .name_len = sizeof(name) - 1 };

		snprintf(path, sizeof(path), "/dev/dri/renderD%d", minor);
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			continue;
		memset(name, 0, sizeof(name));
		if (ioctl(fd, DRM_IOCTL_VERSION, &v) == 0 && !strcmp(name, "mnmirror")) {
			if (n++ == index && !count)
				return fd;
			if (count)
				printf("  %s: mnmirror device %d\n", path, n - 1);
		}
		close(fd);
	}
	if (count)
		*count = n;
	return -ENODEV;
}

static char prot_char(unsigned char p)
{
	if (p == MNM_PROT_ERROR)
		return 'X';
	if (p == MNM_PROT_NONE)
		return '.';
	if (p & MNM_PROT_ZERO)
		return 'z';
	if (p & MNM_PROT_PMD)
		return (p & MNM_PROT_WRITE) ? 'H' : 'h';
	return (p & MNM_PROT_WRITE) ? 'W' : 'R';
}

static void show_maps(int fd, void *addr, unsigned long npages, const char *what)
{
	struct drm_mnm_snapshot s = {
		.size = sizeof(s), .addr = (unsigned long)addr, .npages = npages,
	};
	unsigned char cpu[64], dev[64];
	unsigned long i;

	s.ptr = (unsigned long)cpu;
	if (xioctl(fd, DRM_IOCTL_MNM_SNAPSHOT, &s))
		memset(cpu, MNM_PROT_ERROR, npages);
	s.ptr = (unsigned long)dev;
	s.flags = MNM_SNAPSHOT_DEVICE;
	if (xioctl(fd, DRM_IOCTL_MNM_SNAPSHOT, &s))
		memset(dev, MNM_PROT_ERROR, npages);
	printf("    %-34s CPU [", what);
	for (i = 0; i < npages; i++)
		putchar(prot_char(cpu[i]));
	printf("]  device [");
	for (i = 0; i < npages; i++)
		putchar(prot_char(dev[i]));
	printf("]\n");
}

static int rw(int fd, int write, void *addr, void *buf, unsigned long npages,
	      struct drm_mnm_rw *out)
{
	struct drm_mnm_rw a = {
		.size = sizeof(a), .addr = (unsigned long)addr,
		.ptr = (unsigned long)buf, .npages = npages,
	};
	int ret = xioctl(fd, write ? DRM_IOCTL_MNM_WRITE : DRM_IOCTL_MNM_READ, &a);

	if (out)
		*out = a;
	return ret;
}

static void show_stats(int fd)
{
	struct drm_mnm_stats st = { .size = sizeof(st) };

	if (xioctl(fd, DRM_IOCTL_MNM_STATS, &st))
		return;
	printf("    counters: %llu faults (%llu pages), %llu invalidations, %llu retries, "
	       "%llu pages mapped in %llu page-table pages\n",
	       (unsigned long long)st.file.faults, (unsigned long long)st.file.pages_faulted,
	       (unsigned long long)st.file.invalidations, (unsigned long long)st.file.retries,
	       (unsigned long long)st.file.mapped_pages, (unsigned long long)st.file.pt_pages);
}

static int demo(void)
{
	const unsigned long npages = 16;
	struct drm_mnm_info info = { .size = sizeof(info) };
	char *mem, *buf;
	struct drm_mnm_rw r;
	unsigned long i;
	int fd, ret;

	fd = open_device(0, NULL);
	if (fd < 0) {
		fprintf(stderr, "mnmctl: no mnmirror device (load mnmirror.ko)\n");
		return 1;
	}
	xioctl(fd, DRM_IOCTL_MNM_GET_INFO, &info);
	printf("mnmirror demo: mock device %u, ABI %u, capabilities%s%s%s\n",
	       info.device_index, info.abi_version,
	       info.caps & MNM_CAP_MIRROR ? " mirror" : "",
	       info.caps & MNM_CAP_HUGE_PTE ? " huge-pte" : "",
	       info.caps & MNM_CAP_MIGRATE ? " migrate" : " (no migration on this kernel/build)");
	printf("legend: . none  z zero page  R read-only  W writable  H/h 2 MiB  X no access\n\n");

	mem = mmap(NULL, npages * PS, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	buf = malloc(npages * PS);
	if (mem == MAP_FAILED || !buf)
		return 1;
	madvise(mem, npages * PS, MADV_NOHUGEPAGE);

	printf("1. The process allocates %lu pages and writes a greeting into 12 of them.\n", npages);
	for (i = 0; i < 12; i++)
		snprintf(mem + i * PS, PS, "page %lu: hello from the CPU", i);
	show_maps(fd, mem, npages, "after the CPU writes:");

	printf("2. The device reads all %lu pages through its own page table.\n", npages);
	ret = rw(fd, 0, mem, buf, npages, &r);
	printf("    read: %s, %llu pages copied, %llu device faults; page 3 says \"%s\"\n",
	       ret ? strerror(-ret) : "ok", (unsigned long long)r.cpages,
	       (unsigned long long)r.faults, buf + 3 * PS);
	show_maps(fd, mem, npages, "after the device read:");

	printf("3. The CPU rewrites page 3 in place: same physical page, so the device\n"
	       "   entry stays valid and the device sees the new text without a fault.\n");
	snprintf(mem + 3 * PS, PS, "page 3: changed by the CPU");
	ret = rw(fd, 0, mem + 3 * PS, buf, 1, &r);
	printf("    device re-reads page 3: \"%s\" (%llu faults)\n", buf,
	       (unsigned long long)r.faults);
	printf("   madvise(MADV_DONTNEED) frees pages 2-3: the mirror zaps the device entries.\n");
	madvise(mem + 2 * PS, 2 * PS, MADV_DONTNEED);
	show_maps(fd, mem, npages, "after MADV_DONTNEED:");
	ret = rw(fd, 0, mem + 2 * PS, buf, 2, &r);
	printf("    device re-reads pages 2-3: %llu fault, first byte now %d (the zero page)\n",
	       (unsigned long long)r.faults, buf[0]);

	printf("4. The device writes page 5; the CPU reads it.\n");
	memset(buf, 0, PS);
	snprintf(buf, PS, "page 5: written by the device");
	ret = rw(fd, 1, mem + 5 * PS, buf, 1, NULL);
	printf("    device write: %s; the CPU now reads \"%s\"\n",
	       ret ? strerror(-ret) : "ok", mem + 5 * PS);

	printf("5. mprotect(PROT_READ) on pages 8-11: device writes there are refused.\n");
	mprotect(mem + 8 * PS, 4 * PS, PROT_READ);
	ret = rw(fd, 1, mem + 8 * PS, buf, 1, NULL);
	printf("    device write to page 8: %s\n", ret ? strerror(-ret) : "ok (unexpected!)");
	rw(fd, 0, mem, buf, npages, NULL);
	show_maps(fd, mem, npages, "after mprotect and a device read:");

	printf("6. munmap of pages 12-15: the device forgets them too.\n");
	munmap(mem + 12 * PS, 4 * PS);
	show_maps(fd, mem, npages, "after munmap:");
	ret = rw(fd, 0, mem, buf, npages, NULL);
	printf("    device read of all 16 pages: %s\n", ret ? strerror(-ret) : "ok (unexpected!)");
	show_stats(fd);

	munmap(mem, 12 * PS);
	free(buf);
	close(fd);
	printf("\ndone: the device saw exactly what the CPU mapped, and nothing else.\n");
	return 0;
}

static int info_cmd(int index)
{
	struct drm_mnm_info info = { .size = sizeof(info) };
	int fd = open_device(index, NULL);

	if (fd < 0 || xioctl(fd, DRM_IOCTL_MNM_GET_INFO, &info)) {
		fprintf(stderr, "mnmctl: no mnmirror device %d\n", index);
		return 1;
	}
	printf("device %u: ABI %u, caps 0x%llx, page size %u, device memory %llu bytes\n",
	       info.device_index, info.abi_version, (unsigned long long)info.caps,
	       info.page_size, (unsigned long long)info.devmem_size);
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	int n;

	if (argc < 2 || !strcmp(argv[1], "list")) {
		printf("mnmirror devices:\n");
		open_device(-1, &n);
		printf("%d device(s)\n", n);
		return n ? 0 : 1;
	}
	if (!strcmp(argv[1], "info"))
		return info_cmd(argc > 2 ? atoi(argv[2]) : 0);
	if (!strcmp(argv[1], "demo"))
		return demo();
	fprintf(stderr, "usage: mnmctl [list | info [N] | demo]\n");
	return 2;
}
