// SPDX-License-Identifier: GPL-2.0
/*
 * mnm-pressure-tests: the mirror layer's state stays bounded over the life
 * of a process.
 *
 * Interval notifiers (one per 2 MiB block a device used) go away when the
 * CPU unmaps the block, from a collector outside the notifier.  These tests
 * count them through STATS (the layer fields of ABI version 2) and their
 * slab cache (/proc/slabinfo: hmm_mirror_interval) while a process maps,
 * uses and unmaps memory at ever new addresses.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

#include "kselftest_harness.h"
#include "mnm_util.h"
#include "mnm_pages.h"

#define CYCLES		100000UL
#define BLOCK		(2UL << 20)
/* The collector runs in a worker: allow it a few blocks of lag. */
#define LAG_BOUND	64

static long intervals(int fd)
{
	struct drm_mnm_stats st;

	if (mnm_stats(fd, &st))
		return -1;
	return (long)st.file_layer.intervals;
}

/*
 * Objects in use in the layer's interval cache, or -1 if unreadable.  SLUB
 * counts objects parked in per-CPU slabs as active: shrink the cache first,
 * which flushes them.
 */
static long slab_objects(void)
{
	FILE *f = fopen("/sys/kernel/slab/hmm_mirror_interval/shrink", "w");
	char line[512];
	long n = -1;

	if (f) {
		fputs("1", f);
		fclose(f);
	}
	f = fopen("/proc/slabinfo", "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "hmm_mirror_interval %ld", &n) == 1)
			break;
	fclose(f);
	return n;
}

/* Wait (up to @ms) for the collector to bring the count down to @want. */
static long settle(int fd, long want, int ms)
{
	struct timespec ts = { 0, 10 * 1000 * 1000 };
	long n = intervals(fd);

	while (n > want && ms > 0) {
		nanosleep(&ts, NULL);
		ms -= 10;
		n = intervals(fd);
	}
	return n;
}

FIXTURE(pressure) {
	int fd;
};

FIXTURE_SETUP(pressure)
{
	self->fd = mnm_open_device(0);
	if (self->fd == -ENODEV)
		SKIP(return, "no mnmirror device (is mnmirror.ko loaded?)");
	ASSERT_GE(self->fd, 0);
}

FIXTURE_TEARDOWN(pressure)
{
	if (self->fd >= 0)
		close(self->fd);
}

/* STATS accepts the version-1 size and fills only what it covers. */
TEST_F(pressure, stats_v1_size)
{
	struct drm_mnm_stats st;

	memset(&st, 0xff, sizeof(st));
	st.size = MNM_STATS_SIZE_V1;
	st.flags = 0;
	ASSERT_EQ(mnm_ioctl(self->fd, DRM_IOCTL_MNM_STATS, &st), 0);
	ASSERT_EQ(st.file.faults, 0);
	st.size = MNM_STATS_SIZE_V1 + 8;
	ASSERT_EQ(mnm_ioctl(self->fd, DRM_IOCTL_MNM_STATS, &st), -EINVAL);
}

/* An unmapped block's interval goes; a block still partly mapped stays. */
TEST_F(pressure, interval_follows_unmap)
{
	char *p = mmap(NULL, 2 * BLOCK, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *blk = (char *)(((unsigned long)p + BLOCK - 1) & ~(BLOCK - 1));
	char buf[2 * PS];

	ASSERT_NE(p, MAP_FAILED);
	ASSERT_EQ(intervals(self->fd), 0);
	fill(blk, 2, 1);
	ASSERT_EQ(mnm_read(self->fd, blk, buf, 2), 0);
	ASSERT_EQ(intervals(self->fd), 1);
	/* Half of the block still mapped: the interval must stay. */
	ASSERT_EQ(munmap(blk, PS), 0);
	ASSERT_EQ(settle(self->fd, 0, 300), 1);
	ASSERT_EQ(mnm_read(self->fd, blk + PS, buf, 1), 0);
	ASSERT_EQ(memcmp(buf, blk + PS, PS), 0);
	/* Nothing of the block left: the collector removes it. */
	ASSERT_EQ(munmap(p, 2 * BLOCK), 0);
	ASSERT_EQ(settle(self->fd, 0, 5000), 0);
	/* A READ of memory never mapped leaves no interval behind either. */
	ASSERT_EQ(mnm_read(self->fd, blk, buf, 1), -EFAULT);
	ASSERT_EQ(settle(self->fd, 0, 5000), 0);
}

/*
 * 100,000 cycles of mmap at a new address, device READ, munmap: the
 * interval count and the slab cache stay under a small bound and return to
 * the baseline.
 */
TEST_F_TIMEOUT(pressure, intervals_bounded_over_100k_cycles, 1200)
{
	/* Far from everything else: 100,000 distinct 2 MiB blocks. */
	char *base = (char *)(1UL << 45);
	long slab0 = slab_objects(), slab_max = slab0, n, max = 0;
	struct drm_mnm_stats st;
	unsigned long i;
	char buf[PS];

	for (i = 0; i < CYCLES; i++) {
		char *p = mmap(base + i * BLOCK, PS, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
			       -1, 0);

		ASSERT_EQ(p, base + i * BLOCK);
		p[0] = 1;
		ASSERT_EQ(mnm_read(self->fd, p, buf, 1), 0);
		ASSERT_EQ(buf[0], 1);
		ASSERT_EQ(munmap(p, PS), 0);
		if (i % 1000 == 999) {
			n = intervals(self->fd);
			if (n > max)
				max = n;
			ASSERT_LE(n, LAG_BOUND);
			n = slab_objects();
			if (n > slab_max)
				slab_max = n;
		}
	}
	n = settle(self->fd, 0, 10000);
	ASSERT_EQ(mnm_stats(self->fd, &st), 0);
	TH_LOG("%lu cycles: intervals at most %ld (sampled every 1000), %ld at the end, %llu removed; slab objects %ld at start, at most %ld, %ld at the end",
	       CYCLES, max, n, (unsigned long long)st.file_layer.intervals_removed,
	       slab0, slab_max, slab_objects());
	ASSERT_EQ(n, 0);
	ASSERT_GE(st.file_layer.intervals_removed, CYCLES);
	if (slab0 >= 0) {
		ASSERT_LE(slab_max - slab0, LAG_BOUND);
		/* The frees are RCU-deferred: give them a moment. */
		for (i = 0; i < 200 && slab_objects() > slab0; i++)
			usleep(10000);
		ASSERT_LE(slab_objects(), slab0);
	}
}

TEST_HARNESS_MAIN
