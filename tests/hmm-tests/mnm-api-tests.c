// SPDX-License-Identifier: GPL-2.0
/*
 * mnmirror selftests of the mirror API a real driver relies on, each
 * checked by the state it must leave:
 *  - the DMA step: the layer holds exactly one DMA mapping per system page
 *    the device maps, and none once the CPU unmaps, drops, write-protects
 *    or the process exits (STATS dma_mapped, against a model of which pages
 *    the device may still reach), with READs checked against the CPU;
 *  - the granule: one interval per block of the driver's chosen size, and
 *    an unmapped block's interval goes;
 *  - ->release runs outside the per-mm lock: while one device's release
 *    waits (a GPU waiting for idle), another device of the same process
 *    registers, faults and reads.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>

#include "kselftest_harness.h"
#include "mnm_util.h"
#include "mnm_pages.h"
#include "mnm_devmem.h"

#define DEBUGFS		"/sys/kernel/debug/mnmirror"
#define GRANULE_PARAM	"/sys/module/mnmirror/parameters/granule_kb"

static unsigned long read_ulong(const char *path)
{
	unsigned long v = 0;
	FILE *f = fopen(path, "r");

	if (f) {
		if (fscanf(f, "%lu", &v) != 1)
			v = 0;
		fclose(f);
	}
	return v;
}

static long file_dma(int fd)
{
	struct drm_mnm_stats st;

	return mnm_stats(fd, &st) ? -1 : (long)st.file_layer.dma_mapped;
}

static long device_dma(int fd)
{
	struct drm_mnm_stats st;

	return mnm_stats(fd, &st) ? -1 : (long)st.device_layer.dma_mapped;
}

static long file_intervals(int fd)
{
	struct drm_mnm_stats st;

	return mnm_stats(fd, &st) ? -1 : (long)st.file_layer.intervals;
}

/* Wait up to 2 s for the collector to bring the count to @want. */
static long wait_intervals(int fd, long want)
{
	long n = -1;
	int i;

	for (i = 0; i < 200; i++) {
		n = file_intervals(fd);
		if (n == want)
			break;
		usleep(10000);
	}
	return n;
}

FIXTURE(api) {
	int fd;
};

FIXTURE_SETUP(api)
{
	self->fd = mnm_open_device(0);
	if (self->fd == -ENODEV)
		SKIP(return, "no mnmirror device (is mnmirror.ko loaded?)");
	ASSERT_GE(self->fd, 0);
}

FIXTURE_TEARDOWN(api)
{
	if (self->fd >= 0)
		close(self->fd);
}

/* Pages of [p, p + npages) the device maps (SNAPSHOT_DEVICE), or -1. */
static long device_mapped(int fd, void *p, unsigned long npages,
			  unsigned char *prot)
{
	unsigned long i;
	long n = 0;

	if (mnm_snapshot(fd, p, npages, prot, MNM_SNAPSHOT_DEVICE))
		return -1;
	for (i = 0; i < npages; i++)
		n += prot[i] != MNM_PROT_NONE;
	return n;
}

/*
 * The layer holds exactly one DMA mapping per system page the device maps
 * (SNAPSHOT_DEVICE), and the device maps nothing the CPU dropped (the
 * model: @gone).  The kernel may invalidate more than an operation
 * changes (a VMA split inside a 2 MiB block invalidates the whole block,
 * for a PMD split that may not be needed), so the model says only what
 * must be gone; the count must match the device's table exactly.
 */
TEST_F(api, dma_follows_mappings)
{
	unsigned long npages = 1024, i;	/* 4 MiB */
	char *p = map_aligned(npages * PS);
	char *buf = malloc(npages * PS);
	unsigned char *prot = malloc(npages);
	bool *gone = calloc(npages, sizeof(*gone));
	unsigned long first = 0;	/* what is still mapped: [first, npages) */
	int fd2;

#define CHECK_DMA() do {							\
	long mapped = device_mapped(self->fd, p + first * PS,		\
				    npages - first, prot);		\
									\
	ASSERT_GE(mapped, 0);						\
	ASSERT_EQ(file_dma(self->fd), mapped);				\
	for (i = first; i < npages; i++)				\
		if (gone[i])						\
			ASSERT_EQ(prot[i - first], MNM_PROT_NONE);	\
} while (0)

	ASSERT_NE(p, NULL);
	/* Small pages: each page its own, no THP or zero page to share. */
	ASSERT_EQ(madvise(p, npages * PS, MADV_NOHUGEPAGE), 0);
	fill(p, npages, 1);
	ASSERT_EQ(file_dma(self->fd), 0);

	ASSERT_EQ(mnm_read(self->fd, p, buf, npages), 0);
	ASSERT_EQ(check(buf, npages, 1), -1);
	ASSERT_EQ(file_dma(self->fd), npages);
	CHECK_DMA();

	/* MADV_DONTNEED of 256 pages: exactly their mappings go. */
	ASSERT_EQ(madvise(p + 256 * PS, 256 * PS, MADV_DONTNEED), 0);
	for (i = 256; i < 512; i++)
		gone[i] = true;
	ASSERT_EQ(file_dma(self->fd), npages - 256);
	CHECK_DMA();
	/* munmap of the first 128 pages. */
	ASSERT_EQ(munmap(p, 128 * PS), 0);
	first = 128;
	CHECK_DMA();
	/* mprotect read-only: write-protection zaps too. */
	ASSERT_EQ(mprotect(p + 768 * PS, 64 * PS, PROT_READ), 0);
	for (i = 768; i < 832; i++)
		gone[i] = true;
	CHECK_DMA();

	/* The device sees what the CPU holds: zeros where dropped. */
	ASSERT_EQ(mnm_read(self->fd, p + 128 * PS, buf, npages - 128), 0);
	for (i = 128; i < npages; i++) {
		uint32_t w = *(uint32_t *)(buf + (i - 128) * PS);

		ASSERT_EQ(w, i >= 256 && i < 512 ? 0 : TAG(1, i));
	}
	/*
	 * Everything mapped again, the dropped pages as the zero page (one
	 * mapping per slot: the same page mapped many times for reading).
	 */
	memset(gone, 0, npages * sizeof(*gone));
	ASSERT_EQ(file_dma(self->fd), npages - 128);
	CHECK_DMA();

	/* RELEASE: the device forgets 64 pages, and their mappings go. */
	ASSERT_EQ(mnm_release(self->fd, p + 600 * PS, 64), 0);
	ASSERT_EQ(file_dma(self->fd), npages - 128 - 64);
	CHECK_DMA();
	ASSERT_EQ(mnm_read(self->fd, p + 600 * PS, buf, 64), 0);
	ASSERT_EQ(file_dma(self->fd), npages - 128);

	/* A second file maps the same pages: its own mappings. */
	fd2 = mnm_open_device(0);
	ASSERT_GE(fd2, 0);
	ASSERT_EQ(mnm_read(fd2, p + 512 * PS, buf, 256), 0);
	ASSERT_EQ(file_dma(fd2), 256);
	ASSERT_EQ(device_dma(self->fd), npages - 128 + 256);
	close(fd2);
	/* Unregister unmapped what that file held. */
	ASSERT_EQ(device_dma(self->fd), npages - 128);

	ASSERT_EQ(munmap(p + 128 * PS, (npages - 128) * PS), 0);
	ASSERT_EQ(file_dma(self->fd), 0);
#undef CHECK_DMA
	free(buf);
	free(prot);
	free(gone);
}

/*
 * A page the device read while the CPU mapped it read-only (copy-on-write
 * after fork) becomes writable in place when the child is gone: the CPU's
 * write reuses it and notifies nobody.  A device write must then map it
 * for writing; its read-only mapping must not simply be dropped under the
 * device (the layer zaps the device's entry first).  The counts stay
 * exact, the data right, and the DMA API checker sees no direction
 * mismatch (the guest suite checks its error count).
 */
TEST_F(api, dma_read_only_becomes_writable)
{
	unsigned long npages = 64;
	char *p = map_anon(npages * PS, PROT_READ | PROT_WRITE);
	char *buf = malloc(npages * PS);
	unsigned char *prot = malloc(npages);
	struct drm_mnm_stats before, after;
	unsigned long i;
	int status;
	pid_t pid;

	ASSERT_NE(p, NULL);
	fill(p, npages, 3);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0)
		_exit(0);
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	/* Read-only in the CPU (COW not broken yet): mapped for reading. */
	ASSERT_EQ(mnm_read(self->fd, p, buf, npages), 0);
	ASSERT_EQ(check(buf, npages, 3), -1);
	ASSERT_EQ(device_mapped(self->fd, p, npages, prot), npages);
	for (i = 0; i < npages; i++)
		ASSERT_EQ(prot[i] & MNM_PROT_WRITE, 0);
	ASSERT_EQ(file_dma(self->fd), npages);
	ASSERT_EQ(mnm_stats(self->fd, &before), 0);
	/* The CPU writes: the same pages, writable now. */
	fill(p, npages, 4);
	/* The device writes: every page mapped again, for writing. */
	fill(buf, npages, 5);
	ASSERT_EQ(mnm_write(self->fd, p, buf, npages), 0);
	/* No notifier ran: the CPU reused the pages in place. */
	ASSERT_EQ(mnm_stats(self->fd, &after), 0);
	ASSERT_EQ(after.file.invalidations, before.file.invalidations);
	ASSERT_EQ(check(p, npages, 5), -1);
	ASSERT_EQ(device_mapped(self->fd, p, npages, prot), npages);
	for (i = 0; i < npages; i++)
		ASSERT_NE(prot[i] & MNM_PROT_WRITE, 0);
	ASSERT_EQ(file_dma(self->fd), npages);
	ASSERT_EQ(mnm_read(self->fd, p, buf, npages), 0);
	ASSERT_EQ(check(buf, npages, 5), -1);
	munmap(p, npages * PS);
	ASSERT_EQ(file_dma(self->fd), 0);
	free(buf);
	free(prot);
}

/* A process that exits with its device file open leaves no mapping. */
TEST_F(api, dma_none_after_exit)
{
	unsigned long npages = 512;
	int status;
	pid_t pid;

	ASSERT_EQ(device_dma(self->fd), 0);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		char *p = map_anon(npages * PS, PROT_READ | PROT_WRITE);
		char *buf = malloc(npages * PS);
		int fd = mnm_open_device(0);

		if (!p || !buf || fd < 0)
			_exit(2);
		fill(p, npages, 5);
		if (mnm_read(fd, p, buf, npages) || check(buf, npages, 5) != -1)
			_exit(3);
		if (file_dma(fd) != (long)npages)
			_exit(4);
		_exit(0);	/* exit_mmap() first, then the file's close */
	}
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(WEXITSTATUS(status), 0);
	ASSERT_EQ(device_dma(self->fd), 0);
}

/* Intervals follow the driver's granule: one per block, gone with it. */
TEST_F(api, granule_blocks)
{
	unsigned long g = read_ulong(GRANULE_PARAM) * 1024;
	unsigned long size = 4 * g, npages = size / PS, nblocks = 4;
	char *p, *buf;

	if (!g)
		SKIP(return, "no %s", GRANULE_PARAM);
	p = map_aligned(size);
	buf = malloc(size);
	ASSERT_NE(p, NULL);
	fill(p, npages, 7);
	ASSERT_EQ(wait_intervals(self->fd, 0), 0);
	ASSERT_EQ(mnm_read(self->fd, p, buf, npages), 0);
	ASSERT_EQ(check(buf, npages, 7), -1);
	ASSERT_EQ(file_intervals(self->fd), nblocks);

	/* Unmap the second block: its interval goes, the others stay. */
	ASSERT_EQ(munmap(p + g, g), 0);
	ASSERT_EQ(wait_intervals(self->fd, nblocks - 1), nblocks - 1);
	/* A part of a block: the block is still mapped, its interval stays. */
	ASSERT_EQ(munmap(p + 2 * g, PS), 0);
	usleep(100000);
	ASSERT_EQ(file_intervals(self->fd), nblocks - 1);
	ASSERT_EQ(mnm_read(self->fd, p + 2 * g + PS, buf, g / PS - 1), 0);
	ASSERT_EQ(*(uint32_t *)buf, TAG(7, 2 * g / PS + 1));
	munmap(p, g);
	munmap(p + 2 * g + PS, size - 2 * g - PS);
	ASSERT_EQ(wait_intervals(self->fd, 0), 0);
	free(buf);
}

struct closer {
	int fd;
	atomic_bool done;
};

static void *close_fd(void *arg)
{
	struct closer *c = arg;

	close(c->fd);
	atomic_store(&c->done, true);
	return NULL;
}

/* The render node of mock device @index, found once (opening is cheap). */
static int device_path(int index, char *path, size_t len)
{
	int fd = mnm_open_device(index);
	char link[64];
	ssize_t n;

	if (fd < 0)
		return fd;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, path, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	path[n] = 0;
	return 0;
}

/*
 * Device 0's ->release waits (the mock's hold_release hook, as a GPU
 * waiting for idle).  Meanwhile another device (or file) of the same
 * process must be able to register, fault, read and unregister: the
 * per-mm lock is not held across ->release.
 */
TEST(release_outside_mm_lock)
{
	struct closer c = { .fd = mnm_open_device(0) };
	unsigned long npages = 16;
	char *p = map_anon(npages * PS, PROT_READ | PROT_WRITE);
	char *buf = malloc(npages * PS);
	char path[64];
	pthread_t t;
	int fd1, i;

	if (c.fd == -ENODEV)
		SKIP(return, "no mnmirror device");
	ASSERT_GE(c.fd, 0);
	if (access(DEBUGFS "/hold_release", W_OK))
		SKIP(return, "no %s/hold_release", DEBUGFS);
	if (device_path(1, path, sizeof(path)))
		ASSERT_EQ(device_path(0, path, sizeof(path)), 0);
	ASSERT_EQ(mnm_read(c.fd, p, buf, npages), 0);
	ASSERT_EQ(mnm_write_file(DEBUGFS "/hold_release", 1), 0);
	ASSERT_EQ(pthread_create(&t, NULL, close_fd, &c), 0);
	for (i = 0; i < 500 && read_ulong(DEBUGFS "/releases_held") != 1; i++)
		usleep(10000);
	ASSERT_EQ(read_ulong(DEBUGFS "/releases_held"), 1);

	fd1 = open(path, O_RDWR | O_CLOEXEC);	/* registers a mirror */
	ASSERT_GE(fd1, 0);
	fill(p, npages, 9);
	ASSERT_EQ(mnm_read(fd1, p, buf, npages), 0);
	ASSERT_EQ(check(buf, npages, 9), -1);
	ASSERT_EQ(close(fd1), 0);		/* unregisters it */
	/* All of that happened while device 0's release was still waiting. */
	ASSERT_EQ(read_ulong(DEBUGFS "/releases_held"), 1);
	ASSERT_FALSE(atomic_load(&c.done));

	ASSERT_EQ(mnm_write_file(DEBUGFS "/hold_release", 0), 0);
	ASSERT_EQ(pthread_join(t, NULL), 0);
	ASSERT_TRUE(atomic_load(&c.done));
	munmap(p, npages * PS);
	free(buf);
}

/* The value of "key:" in /proc/PID/fdinfo/FD, or -1. */
static long fdinfo_value(pid_t pid, int fd, const char *key, char *str, size_t len)
{
	char path[64], line[256];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", (int)pid, fd);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		size_t k = strlen(key);

		if (strncmp(line, key, k) || line[k] != ':')
			continue;
		if (str)
			sscanf(line + k + 1, " %63s", str);
		v = strtol(line + k + 1, NULL, 10);
		break;
	}
	fclose(f);
	return v;
}

/*
 * DRM fdinfo: /proc/PID/fdinfo of a device file names the driver and
 * carries the file's mirror counters, equal to STATS, readable by another
 * process that never opens the device (as top-style tools do).
 */
TEST_F(api, fdinfo_counters)
{
	const unsigned long n = 64;
	char *mem = map_anon(n * PS, PROT_READ | PROT_WRITE);
	char *buf = malloc(n * PS), drv[64] = "";
	struct drm_mnm_stats st;
	int st_child;
	pid_t pid;

	if (!mnm_driver_is_mock())
		SKIP(return, "fdinfo keys are the mock's");
	ASSERT_NE(mem, NULL);
	ASSERT_NE(buf, NULL);
	memset(mem, 1, n * PS);
	ASSERT_EQ(mnm_read(self->fd, mem, buf, n), 0);
	ASSERT_EQ(mnm_stats(self->fd, &st), 0);
	ASSERT_GE(fdinfo_value(getpid(), self->fd, "drm-driver", drv, sizeof(drv)), -1);
	ASSERT_EQ(strcmp(drv, "mnmirror"), 0);
	ASSERT_GE(fdinfo_value(getpid(), self->fd, "drm-client-id", NULL, 0), 0);
	ASSERT_EQ(fdinfo_value(getpid(), self->fd, "mnmirror-mapped-pages", NULL, 0),
		  (long)st.file.mapped_pages);
	ASSERT_GE((long)st.file.mapped_pages, (long)n);
	ASSERT_EQ(fdinfo_value(getpid(), self->fd, "mnmirror-faults", NULL, 0),
		  (long)st.file.faults);
	ASSERT_EQ(fdinfo_value(getpid(), self->fd, "mnmirror-dma-mapped-pages", NULL, 0),
		  (long)st.file_layer.dma_mapped);
	/*
	 * Another process's file, read from outside: a child opens the
	 * device, reads, and reports its fd and STATS; this process reads
	 * the child's fdinfo, a file it never opened.
	 */
	{
		int p2c[2], c2p[2];
		long msg[2] = { -1, -1 };
		char go;

		ASSERT_EQ(pipe(p2c), 0);
		ASSERT_EQ(pipe(c2p), 0);
		pid = fork();
		ASSERT_GE(pid, 0);
		if (pid == 0) {
			int cfd = mnm_open_device(0);
			struct drm_mnm_stats cst;
			char *m = map_anon(n * PS, PROT_READ | PROT_WRITE);

			if (cfd < 0 || !m || mnm_read(cfd, m, buf, n) ||
			    mnm_stats(cfd, &cst))
				_exit(1);
			msg[0] = cfd;
			msg[1] = cst.file.mapped_pages;
			if (write(c2p[1], msg, sizeof(msg)) != sizeof(msg) ||
			    read(p2c[0], &go, 1) != 1)
				_exit(1);
			_exit(0);
		}
		ASSERT_EQ(read(c2p[0], msg, sizeof(msg)), (ssize_t)sizeof(msg));
		ASSERT_GE(msg[1], (long)n);
		ASSERT_EQ(fdinfo_value(pid, msg[0], "mnmirror-mapped-pages", NULL, 0),
			  msg[1]);
		ASSERT_EQ(write(p2c[1], "x", 1), 1);
		ASSERT_EQ(waitpid(pid, &st_child, 0), pid);
		ASSERT_TRUE(WIFEXITED(st_child));
		ASSERT_EQ(WEXITSTATUS(st_child), 0);
		close(p2c[0]);
		close(p2c[1]);
		close(c2p[0]);
		close(c2p[1]);
	}
	/* munmap: the device forgets, and fdinfo says so. */
	ASSERT_EQ(munmap(mem, n * PS), 0);
	ASSERT_EQ(mnm_stats(self->fd, &st), 0);
	ASSERT_EQ(fdinfo_value(getpid(), self->fd, "mnmirror-mapped-pages", NULL, 0),
		  (long)st.file.mapped_pages);
	free(buf);
}

TEST_HARNESS_MAIN
