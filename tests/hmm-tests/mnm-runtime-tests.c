// SPDX-License-Identifier: GPL-2.0
/*
 * mnmirror selftests of what compute runtimes ask of a device: PREFETCH
 * (make a range resident and mapped, migrating it first when asked), ADVISE
 * (a preferred location and read-mostly, followed by device faults and
 * eviction, gone with the mapping) and READ/WRITE copying once through the
 * pinned user buffer.  Every test checks
 * the state it leaves against the CPU: the device may map only what the CPU
 * maps, with no more permission (device_follows_cpu()), and what the device
 * reads is what the CPU holds.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "mnm_util.h"
#include "mnm_pages.h"
#include "mnm_devmem.h"
#include <lib/test_hmm_uapi.h>

static int prefetch(int fd, void *addr, unsigned long npages, unsigned int flags,
		    unsigned int location, struct drm_mnm_prefetch *out)
{
	struct drm_mnm_prefetch p = {
		.size = sizeof(p), .flags = flags, .addr = (unsigned long)addr,
		.npages = npages, .location = location,
	};
	int ret = mnm_ioctl(fd, DRM_IOCTL_MNM_PREFETCH, &p);

	if (out)
		*out = p;
	return ret;
}

static unsigned long prefetch_sum(const struct drm_mnm_prefetch *p)
{
	return p->mapped + p->skip_access + p->skip_fault + p->skip_raced;
}

static unsigned long migrate_sum(const struct drm_mnm_prefetch *p)
{
	return p->migrated + p->mskip_vma + p->mskip_busy + p->mskip_refused +
	       p->mskip_nomem + p->mskip_other;
}

static bool dev_maps(unsigned char prot)
{
	return prot & (MNM_PROT_READ | MNM_PROT_WRITE);
}

/*
 * The promise, page by page: where the device maps a page, the CPU maps one
 * too, and the device may write only where the CPU may.  Returns the first
 * page that breaks it, or -1.
 */
static long device_follows_cpu(int fd, void *addr, unsigned long npages)
{
	unsigned char *cpu = malloc(npages), *dev = malloc(npages);
	unsigned long i;
	long bad = -1;

	if (!cpu || !dev || mnm_snapshot(fd, addr, npages, cpu, 0) ||
	    mnm_snapshot(fd, addr, npages, dev, MNM_SNAPSHOT_DEVICE)) {
		bad = npages;
		goto out;
	}
	for (i = 0; i < npages && bad < 0; i++) {
		if (!dev_maps(dev[i]))
			continue;
		if (cpu[i] == MNM_PROT_NONE || cpu[i] == MNM_PROT_ERROR ||
		    ((dev[i] & MNM_PROT_WRITE) && !(cpu[i] & MNM_PROT_WRITE)))
			bad = i;
	}
out:
	free(cpu);
	free(dev);
	return bad;
}

static unsigned long count_dev_mapped(int fd, void *addr, unsigned long npages,
				      bool writable)
{
	unsigned char *dev = malloc(npages);
	unsigned long i, n = 0;

	if (!dev || mnm_snapshot(fd, addr, npages, dev, MNM_SNAPSHOT_DEVICE)) {
		free(dev);
		return ~0UL;
	}
	for (i = 0; i < npages; i++)
		n += writable ? !!(dev[i] & MNM_PROT_WRITE) : dev_maps(dev[i]);
	free(dev);
	return n;
}

static unsigned long file_faults(int fd)
{
	struct drm_mnm_stats st;

	return mnm_stats(fd, &st) ? ~0UL : st.file.faults;
}

FIXTURE(rt) {
	int fd;
};

FIXTURE_SETUP(rt)
{
	struct drm_mnm_info info = { .size = sizeof(info) };

	self->fd = mnm_open_device(0);
	if (self->fd < 0)
		SKIP(return, "no %s device", mnm_driver_name());
	if (mnm_ioctl(self->fd, DRM_IOCTL_MNM_GET_INFO, &info) ||
	    !(info.caps & MNM_CAP_PREFETCH))
		SKIP(return, "%s has no PREFETCH (ABI version %u)",
		     mnm_driver_name(), info.abi_version);
}

FIXTURE_TEARDOWN(rt)
{
	if (self->fd >= 0)
		close(self->fd);
}

/*
 * PREFETCH maps a written range with no copy to userspace; the READ after
 * it takes no device fault and sees what the CPU wrote.
 */
TEST_F(rt, prefetch_maps_without_fault)
{
	const unsigned long n = 1024;
	struct drm_mnm_prefetch p;
	char *mem = map_anon(n * PS, PROT_READ | PROT_WRITE);
	char *buf = malloc(n * PS);
	unsigned long f0;
	struct drm_mnm_rw rw;

	ASSERT_NE(mem, NULL);
	ASSERT_NE(buf, NULL);
	fill(mem, n, 1);
	ASSERT_EQ(prefetch(self->fd, mem, n, 0, 0, &p), 0);
	ASSERT_EQ(p.mapped, n);
	ASSERT_EQ(prefetch_sum(&p), n);
	ASSERT_EQ(p.migrated + migrate_sum(&p), 0);
	ASSERT_EQ(count_dev_mapped(self->fd, mem, n, false), n);
	ASSERT_EQ(device_follows_cpu(self->fd, mem, n), -1);

	f0 = file_faults(self->fd);
	ASSERT_EQ(mnm_rw(self->fd, 0, mem, buf, n, &rw), 0);
	ASSERT_EQ(rw.faults, 0);
	ASSERT_EQ(file_faults(self->fd), f0);
	ASSERT_EQ(check(buf, n, 1), -1);

	/* Prefetching what is mapped already faults nothing either. */
	ASSERT_EQ(prefetch(self->fd, mem, n, 0, 0, &p), 0);
	ASSERT_EQ(p.mapped, n);
	ASSERT_EQ(file_faults(self->fd), f0);
	munmap(mem, n * PS);
	free(buf);
}

/*
 * Holes do not fail a PREFETCH, and each page lands in exactly one count:
 * 4 pages read-write, 2 with no VMA, 2 PROT_NONE, 2 read-only, 4 of a file
 * past its end (SIGBUS).  The device maps exactly the pages counted.
 */
TEST_F(rt, prefetch_accounts_every_page)
{
	const unsigned long n = 14;
	struct drm_mnm_prefetch p;
	char *mem = mmap(NULL, n * PS, PROT_NONE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int tfd = create_tmpfile(0);

	ASSERT_NE(mem, MAP_FAILED);
	ASSERT_GE(tfd, 0);
	ASSERT_EQ(mprotect(mem, 4 * PS, PROT_READ | PROT_WRITE), 0);
	memset(mem, 7, 4 * PS);
	ASSERT_EQ(munmap(mem + 4 * PS, 2 * PS), 0);
	/* pages 6-7 stay PROT_NONE */
	ASSERT_EQ(mprotect(mem + 8 * PS, 2 * PS, PROT_READ), 0);
	ASSERT_EQ(mmap(mem + 10 * PS, 4 * PS, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_FIXED, tfd, 0), mem + 10 * PS);

	ASSERT_EQ(prefetch(self->fd, mem, n, 0, 0, &p), 0);
	TH_LOG("read: mapped %llu, access %llu, fault %llu, raced %llu",
	       p.mapped, p.skip_access, p.skip_fault, p.skip_raced);
	ASSERT_EQ(p.mapped, 6);
	ASSERT_EQ(p.skip_access, 4);
	ASSERT_EQ(p.skip_fault, 4);
	ASSERT_EQ(p.skip_raced, 0);
	ASSERT_EQ(count_dev_mapped(self->fd, mem, n, false), 6);
	ASSERT_EQ(device_follows_cpu(self->fd, mem, n), -1);

	ASSERT_EQ(prefetch(self->fd, mem, n, MNM_PREFETCH_WRITE, 0, &p), 0);
	ASSERT_EQ(p.mapped, 4);
	ASSERT_EQ(p.skip_access, 6);
	ASSERT_EQ(p.skip_fault, 4);
	ASSERT_EQ(p.skip_raced, 0);
	ASSERT_EQ(count_dev_mapped(self->fd, mem, n, true), 4);
	ASSERT_EQ(device_follows_cpu(self->fd, mem, n), -1);
	munmap(mem, n * PS);
	close(tfd);
}

/*
 * A write PREFETCH breaks copy-on-write as a CPU write would: on untouched
 * memory (the zero page) and on pages shared with a forked child.  The
 * device then writes with no fault, and the child keeps its copy.
 */
TEST_F(rt, prefetch_write_breaks_cow)
{
	const unsigned long n = 64;
	unsigned char *snap = malloc(n);
	struct drm_mnm_prefetch p;
	char *mem = map_anon(n * PS, PROT_READ | PROT_WRITE);
	char *buf = malloc(n * PS);
	int sync[2], st;
	unsigned long f0, i;
	pid_t pid;

	ASSERT_NE(mem, NULL);
	ASSERT_NE(buf, NULL);
	madvise(mem, n * PS, MADV_NOHUGEPAGE);
	/* Untouched: a read prefetch maps the zero page read-only. */
	ASSERT_EQ(prefetch(self->fd, mem, n, 0, 0, &p), 0);
	ASSERT_EQ(p.mapped, n);
	ASSERT_EQ(count_dev_mapped(self->fd, mem, n, true), 0);
	ASSERT_EQ(prefetch(self->fd, mem, n, MNM_PREFETCH_WRITE, 0, &p), 0);
	ASSERT_EQ(p.mapped, n);
	ASSERT_EQ(mnm_snapshot(self->fd, mem, n, snap, 0), 0);
	for (i = 0; i < n; i++)
		ASSERT_EQ(snap[i] & (MNM_PROT_WRITE | MNM_PROT_ZERO), MNM_PROT_WRITE);

	/* Shared with a child after fork. */
	fill(mem, n, 2);
	ASSERT_EQ(pipe(sync), 0);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		char c;

		close(sync[1]);
		if (read(sync[0], &c, 1) != 1)
			_exit(2);
		_exit(check(mem, n, 2) == -1 ? 0 : 1);
	}
	close(sync[0]);
	ASSERT_EQ(count_dev_mapped(self->fd, mem, n, true), 0);
	ASSERT_EQ(prefetch(self->fd, mem, n, MNM_PREFETCH_WRITE, 0, &p), 0);
	ASSERT_EQ(p.mapped, n);
	ASSERT_EQ(count_dev_mapped(self->fd, mem, n, true), n);
	f0 = file_faults(self->fd);
	fill(buf, n, 3);
	ASSERT_EQ(mnm_write(self->fd, mem, buf, n), 0);
	ASSERT_EQ(file_faults(self->fd), f0);
	ASSERT_EQ(check(mem, n, 3), -1);
	ASSERT_EQ(write(sync[1], "x", 1), 1);
	ASSERT_EQ(waitpid(pid, &st, 0), pid);
	ASSERT_TRUE(WIFEXITED(st));
	ASSERT_EQ(WEXITSTATUS(st), 0);
	ASSERT_EQ(device_follows_cpu(self->fd, mem, n), -1);
	close(sync[1]);
	munmap(mem, n * PS);
	free(buf);
	free(snap);
}

/*
 * What the CPU takes away after a PREFETCH, the device loses: munmap,
 * MADV_DONTNEED and mprotect of three 1 MiB parts of a prefetched 4 MiB.
 */
TEST_F(rt, prefetch_then_unmap_leaves_nothing)
{
	const unsigned long n = 1024, q = n / 4;
	struct drm_mnm_prefetch p;
	char *mem = map_aligned(n * PS);
	char *buf = malloc(n * PS);

	ASSERT_NE(mem, NULL);
	ASSERT_NE(buf, NULL);
	fill(mem, n, 4);
	ASSERT_EQ(prefetch(self->fd, mem, n, MNM_PREFETCH_WRITE, 0, &p), 0);
	ASSERT_EQ(p.mapped, n);
	ASSERT_EQ(munmap(mem, q * PS), 0);
	ASSERT_EQ(madvise(mem + q * PS, q * PS, MADV_DONTNEED), 0);
	ASSERT_EQ(mprotect(mem + 2 * q * PS, q * PS, PROT_READ), 0);
	ASSERT_EQ(count_dev_mapped(self->fd, mem, q, false), 0);
	ASSERT_EQ(count_dev_mapped(self->fd, mem + q * PS, q, false), 0);
	ASSERT_EQ(count_dev_mapped(self->fd, mem + 2 * q * PS, q, true), 0);
	ASSERT_EQ(device_follows_cpu(self->fd, mem, n), -1);
	/* The rest still reads what the CPU holds: zeroes after DONTNEED. */
	ASSERT_EQ(mnm_read(self->fd, mem + q * PS, buf, 3 * q), 0);
	ASSERT_EQ(memcmp(buf, mem + q * PS, 3 * q * PS), 0);
	ASSERT_EQ(buf[0], 0);
	munmap(mem + q * PS, 3 * q * PS);
	free(buf);
}

struct racer {
	char *mem;
	unsigned long npages;
	atomic_int stop;
	atomic_int gen;
};

/* Replace the middle half of the range again and again, each time new data. */
static void *unmap_racer(void *arg)
{
	struct racer *r = arg;
	unsigned long off = r->npages / 4 * PS, len = r->npages / 2 * PS;

	while (!atomic_load(&r->stop)) {
		int g = atomic_fetch_add(&r->gen, 1) + 10;
		char *p;

		munmap(r->mem + off, len);
		usleep(100);
		p = mmap(r->mem + off, len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
		if (p == MAP_FAILED)
			break;
		fill(p, len / PS, g);
		usleep(100);
	}
	return NULL;
}

/*
 * PREFETCH against a racing munmap/mmap of half its range: every call
 * accounts for every page, and when the racer stops the device maps nothing
 * the CPU does not, and reads what the CPU holds.
 */
TEST_F(rt, prefetch_races_munmap)
{
	const unsigned long n = 2048;
	struct racer r = { .npages = n };
	struct drm_mnm_prefetch p;
	unsigned long raced = 0, holes = 0;
	char *buf = malloc(n * PS);
	pthread_t t;
	int i, ret;

	r.mem = map_aligned(n * PS);
	ASSERT_NE(r.mem, NULL);
	ASSERT_NE(buf, NULL);
	fill(r.mem, n, 1);
	ASSERT_EQ(pthread_create(&t, NULL, unmap_racer, &r), 0);
	for (i = 0; i < 200; i++) {
		ret = prefetch(self->fd, r.mem, n, i & 1 ? MNM_PREFETCH_WRITE : 0,
			       0, &p);
		ASSERT_TRUE(ret == 0 || ret == -EBUSY);
		if (ret)
			continue;
		ASSERT_EQ(prefetch_sum(&p), n);
		raced += p.skip_raced;
		holes += p.skip_access;
	}
	atomic_store(&r.stop, 1);
	pthread_join(t, NULL);
	TH_LOG("200 prefetches: %lu pages without a VMA, %lu raced", holes, raced);
	ASSERT_EQ(device_follows_cpu(self->fd, r.mem, n), -1);
	ASSERT_EQ(mnm_read(self->fd, r.mem, buf, n), 0);
	ASSERT_EQ(memcmp(buf, r.mem, n * PS), 0);
	munmap(r.mem, n * PS);
	free(buf);
}

TEST_F(rt, prefetch_bad_input)
{
	char *mem = map_anon(4 * PS, PROT_READ | PROT_WRITE);
	struct drm_mnm_prefetch p = {
		.size = sizeof(p), .addr = (unsigned long)mem, .npages = 4,
	};
	struct drm_mnm_prefetch q;
	int st;
	pid_t pid;

	ASSERT_NE(mem, NULL);
	q = p, q.size = sizeof(p) - 8;
	ASSERT_EQ(mnm_ioctl(self->fd, DRM_IOCTL_MNM_PREFETCH, &q), -EINVAL);
	q = p, q.flags = 1U << 1;
	ASSERT_EQ(mnm_ioctl(self->fd, DRM_IOCTL_MNM_PREFETCH, &q), -EINVAL);
	q = p, q.location = 3;
	ASSERT_EQ(mnm_ioctl(self->fd, DRM_IOCTL_MNM_PREFETCH, &q), -EINVAL);
	q = p, q.pad = 1;
	ASSERT_EQ(mnm_ioctl(self->fd, DRM_IOCTL_MNM_PREFETCH, &q), -EINVAL);
	q = p, q.reserved[1] = 1;
	ASSERT_EQ(mnm_ioctl(self->fd, DRM_IOCTL_MNM_PREFETCH, &q), -EINVAL);
	q = p, q.addr += 1;
	ASSERT_EQ(mnm_ioctl(self->fd, DRM_IOCTL_MNM_PREFETCH, &q), -EINVAL);
	q = p, q.npages = 0;
	ASSERT_EQ(mnm_ioctl(self->fd, DRM_IOCTL_MNM_PREFETCH, &q), -EINVAL);
	q = p, q.npages = MNM_MAX_PAGES + 1;
	ASSERT_EQ(mnm_ioctl(self->fd, DRM_IOCTL_MNM_PREFETCH, &q), -EINVAL);
	q = p, q.addr = -4096UL, q.npages = 2;
	ASSERT_EQ(mnm_ioctl(self->fd, DRM_IOCTL_MNM_PREFETCH, &q), -EINVAL);
	/* Output fields are ignored on input. */
	q = p, q.mapped = 99, q.skip_raced = 7, q.mskip_other = 5;
	ASSERT_EQ(mnm_ioctl(self->fd, DRM_IOCTL_MNM_PREFETCH, &q), 0);
	ASSERT_EQ(q.mapped, 4);
	ASSERT_EQ(q.skip_raced + q.mskip_other, 0);
	if (!has_migrate(self->fd)) {
		q = p, q.location = MNM_MIGRATE_TO_DEVICE;
		ASSERT_EQ(mnm_ioctl(self->fd, DRM_IOCTL_MNM_PREFETCH, &q), -EOPNOTSUPP);
	}
	/* Another process's memory: never. */
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		q = p;
		_exit(mnm_ioctl(self->fd, DRM_IOCTL_MNM_PREFETCH, &q) == -EPERM ? 0 : 1);
	}
	ASSERT_EQ(waitpid(pid, &st, 0), pid);
	ASSERT_TRUE(WIFEXITED(st));
	ASSERT_EQ(WEXITSTATUS(st), 0);
	munmap(mem, 4 * PS);
}

/*
 * PREFETCH to device memory migrates and maps; back to system memory, the
 * pages return with no CPU fault (the device counter cpu_faults stays) and
 * the device maps them there.
 */
TEST_F(rt, prefetch_to_device_and_back)
{
	const unsigned long n = 256;
	struct drm_mnm_prefetch p;
	struct drm_mnm_stats st0, st1;
	unsigned char *snap = malloc(n);
	char *mem = map_anon(n * PS, PROT_READ | PROT_WRITE);
	char *buf = malloc(n * PS);
	unsigned long i, f0;

	NEED_MIGRATE(self->fd);
	ASSERT_NE(mem, NULL);
	ASSERT_NE(buf, NULL);
	fill(mem, n, 5);
	ASSERT_EQ(prefetch(self->fd, mem, n, 0, MNM_MIGRATE_TO_DEVICE, &p), 0);
	ASSERT_EQ(p.migrated, n);
	ASSERT_EQ(migrate_sum(&p), n);
	ASSERT_EQ(p.mapped, n);
	ASSERT_EQ(mnm_snapshot(self->fd, mem, n, snap, MNM_SNAPSHOT_DEVICE), 0);
	for (i = 0; i < n; i++)
		ASSERT_TRUE(snap[i] & MNM_PROT_DEV_PRIVATE_LOCAL);
	f0 = file_faults(self->fd);
	ASSERT_EQ(mnm_read(self->fd, mem, buf, n), 0);
	ASSERT_EQ(file_faults(self->fd), f0);
	ASSERT_EQ(check(buf, n, 5), -1);

	ASSERT_EQ(mnm_stats(self->fd, &st0), 0);
	ASSERT_EQ(prefetch(self->fd, mem, n, 0, MNM_MIGRATE_TO_SYSTEM, &p), 0);
	ASSERT_EQ(mnm_stats(self->fd, &st1), 0);
	ASSERT_EQ(p.migrated, n);
	ASSERT_EQ(p.mapped, n);
	ASSERT_EQ(st1.device.cpu_faults, st0.device.cpu_faults);
	ASSERT_EQ(mnm_snapshot(self->fd, mem, n, snap, 0), 0);
	for (i = 0; i < n; i++)
		ASSERT_EQ(snap[i] & MNM_PROT_DEV_PRIVATE_REMOTE, 0);
	ASSERT_EQ(count_dev_mapped(self->fd, mem, n, false), n);
	ASSERT_EQ(device_follows_cpu(self->fd, mem, n), -1);
	ASSERT_EQ(check(mem, n, 5), -1);
	ASSERT_EQ(st1.device.cpu_faults, st0.device.cpu_faults);
	munmap(mem, n * PS);
	free(buf);
	free(snap);
}

/*
 * READ and WRITE copy straight through the user buffer: it may be the range
 * itself, but not overlap it otherwise.
 */
TEST_F(rt, rw_overlap_refused)
{
	const unsigned long n = 8;
	char *mem = map_anon(3 * n * PS, PROT_READ | PROT_WRITE);
	struct drm_mnm_rw rw;

	ASSERT_NE(mem, NULL);
	fill(mem, 3 * n, 6);
	ASSERT_EQ(mnm_rw(self->fd, 0, mem, mem + (n - 1) * PS, n, &rw), -EINVAL);
	ASSERT_EQ(mnm_rw(self->fd, 1, mem + PS, mem, n, &rw), -EINVAL);
	ASSERT_EQ(check(mem, 3 * n, 6), -1);
	ASSERT_EQ(mnm_rw(self->fd, 0, mem, mem, n, &rw), 0);
	ASSERT_EQ(mnm_rw(self->fd, 1, mem, mem, n, &rw), 0);
	ASSERT_EQ(rw.cpages, n);
	ASSERT_EQ(check(mem, 3 * n, 6), -1);
	/* Adjacent is fine. */
	ASSERT_EQ(mnm_rw(self->fd, 0, mem, mem + n * PS, n, &rw), 0);
	ASSERT_EQ(rw.cpages, n);
	ASSERT_EQ(memcmp(mem, mem + n * PS, n * PS), 0);
	ASSERT_EQ(mnm_rw(self->fd, 1, mem + 2 * n * PS, mem + n * PS, n, &rw), 0);
	ASSERT_EQ(memcmp(mem, mem + 2 * n * PS, n * PS), 0);
	munmap(mem, 3 * n * PS);
}

/*
 * The user buffer may be any memory the process could read or write
 * itself: a shared file mapping, a read-only one (for WRITE), memory in
 * device memory.  One it could not use fails with -EFAULT, and the
 * mirrored memory is untouched.
 */
TEST_F(rt, rw_user_buffer_kinds)
{
	const unsigned long n = 32;
	char *mem = map_anon(n * PS, PROT_READ | PROT_WRITE);
	char *anon = map_anon(n * PS, PROT_READ | PROT_WRITE);
	int tfd = create_tmpfile(n * PS);
	char *shared, *ro;
	struct drm_mnm_rw rw;

	ASSERT_NE(mem, NULL);
	ASSERT_NE(anon, NULL);
	ASSERT_GE(tfd, 0);
	fill(mem, n, 7);
	shared = mmap(NULL, n * PS, PROT_READ | PROT_WRITE, MAP_SHARED, tfd, 0);
	ASSERT_NE(shared, MAP_FAILED);
	ASSERT_EQ(mnm_read(self->fd, mem, shared, n), 0);
	ASSERT_EQ(check(shared, n, 7), -1);
	ASSERT_EQ(pread(tfd, anon, n * PS, 0), (ssize_t)(n * PS));
	ASSERT_EQ(check(anon, n, 7), -1);

	/* WRITE from a read-only mapping of the file. */
	fill(shared, n, 8);
	ro = mmap(NULL, n * PS, PROT_READ, MAP_SHARED, tfd, 0);
	ASSERT_NE(ro, MAP_FAILED);
	ASSERT_EQ(mnm_write(self->fd, mem, ro, n), 0);
	ASSERT_EQ(check(mem, n, 8), -1);
	/* READ into it: the process could not write there either. */
	ASSERT_EQ(mnm_rw(self->fd, 0, mem, ro, n, &rw), -EFAULT);
	ASSERT_EQ(check(shared, n, 8), -1);
	/* A buffer whose second half is gone. */
	munmap(anon + n / 2 * PS, n / 2 * PS);
	fill(anon, n / 2, 9);
	ASSERT_EQ(mnm_rw(self->fd, 1, mem, anon, n, &rw), -EFAULT);
	ASSERT_EQ(rw.cpages, n / 2);
	ASSERT_EQ(check(mem, n / 2, 9), -1);
	ASSERT_EQ(mnm_rw(self->fd, 0, mem, anon, n, &rw), -EFAULT);

	/* A buffer in device memory comes back to be written. */
	if (has_migrate(self->fd)) {
		char *dbuf = map_anon(n * PS, PROT_READ | PROT_WRITE);

		ASSERT_NE(dbuf, NULL);
		memset(dbuf, 0x5a, n * PS);
		ASSERT_EQ(mnm_migrate(self->fd, dbuf, n, MNM_MIGRATE_TO_DEVICE, NULL), 0);
		ASSERT_EQ(mnm_read(self->fd, mem, dbuf, n / 2), 0);
		ASSERT_EQ(memcmp(dbuf, mem, n / 2 * PS), 0);
		ASSERT_EQ((unsigned char)dbuf[n / 2 * PS], 0x5a);
		munmap(dbuf, n * PS);
	}
	ASSERT_EQ(device_follows_cpu(self->fd, mem, n), -1);
	munmap(ro, n * PS);
	munmap(shared, n * PS);
	munmap(anon, n / 2 * PS);
	munmap(mem, n * PS);
	close(tfd);
}

/* The user buffer need not be page aligned: every offset copies exactly. */
TEST_F(rt, rw_unaligned_buffer)
{
	const unsigned long n = 600;	/* more than one chunk of 512 */
	static const unsigned int offs[] = { 1, 16, 2048, 4095 };
	char *mem = map_anon(n * PS, PROT_READ | PROT_WRITE);
	char *raw = map_anon((n + 1) * PS, PROT_READ | PROT_WRITE);
	unsigned int k;

	ASSERT_NE(mem, NULL);
	ASSERT_NE(raw, NULL);
	for (k = 0; k < 4; k++) {
		char *buf = raw + offs[k];

		memset(raw, 0xee, (n + 1) * PS);
		fill(mem, n, 10 + k);
		ASSERT_EQ(mnm_read(self->fd, mem, buf, n), 0);
		ASSERT_EQ(memcmp(buf, mem, n * PS), 0);
		/* Nothing outside the buffer was written. */
		ASSERT_EQ((unsigned char)raw[offs[k] - 1], 0xee);
		ASSERT_EQ((unsigned char)buf[n * PS], 0xee);
		fill(buf, n, 20 + k);
		ASSERT_EQ(mnm_write(self->fd, mem, buf, n), 0);
		ASSERT_EQ(check(mem, n, 20 + k), -1);
		ASSERT_EQ(memcmp(buf, mem, n * PS), 0);
	}
	munmap(mem, n * PS);
	munmap(raw, (n + 1) * PS);
}

static void *buffer_racer(void *arg)
{
	struct racer *r = arg;

	while (!atomic_load(&r->stop)) {
		munmap(r->mem, r->npages * PS);
		if (mmap(r->mem, r->npages * PS, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED)
			break;
		usleep(50);
	}
	return NULL;
}

/*
 * The user buffer is unmapped and mapped again under running READs and
 * WRITEs: each either completes or fails with -EFAULT, and the mirrored
 * memory holds only what a WRITE of the buffer's pages could have put there.
 */
TEST_F(rt, rw_buffer_races_munmap)
{
	const unsigned long n = 512;
	struct racer r = { .npages = n };
	char *mem = map_anon(n * PS, PROT_READ | PROT_WRITE);
	int i, ret, ok = 0, efault = 0;
	pthread_t t;
	long bad;

	ASSERT_NE(mem, NULL);
	r.mem = map_anon(n * PS, PROT_READ | PROT_WRITE);
	ASSERT_NE(r.mem, NULL);
	fill(mem, n, 1);
	ASSERT_EQ(pthread_create(&t, NULL, buffer_racer, &r), 0);
	for (i = 0; i < 200; i++) {
		ret = mnm_rw(self->fd, i & 1, mem, r.mem, n, NULL);
		ASSERT_TRUE(ret == 0 || ret == -EFAULT);
		ok += !ret;
		efault += ret == -EFAULT;
	}
	atomic_store(&r.stop, 1);
	pthread_join(t, NULL);
	TH_LOG("%d completed, %d -EFAULT", ok, efault);
	/*
	 * A WRITE copies whole pages of the buffer: zeroes (fresh mappings) or
	 * what an earlier READ put there, mem's own pages.  So each page of
	 * mem holds its first contents or zeroes.
	 */
	for (bad = 0; bad < (long)n; bad++) {
		const uint32_t *w = (const uint32_t *)(mem + bad * PS);
		unsigned long j;

		for (j = 0; j < PS / 4; j++)
			if (w[j] != (w[0] ? TAG(1, bad) : 0))
				break;
		if (j < PS / 4 || (w[0] && w[0] != TAG(1, bad)))
			break;
	}
	ASSERT_EQ(bad, (long)n);
	ASSERT_EQ(device_follows_cpu(self->fd, mem, n), -1);
	munmap(r.mem, n * PS);
	munmap(mem, n * PS);
}

static int advise(int fd, void *addr, unsigned long npages, unsigned int location,
		  unsigned int attrs)
{
	struct drm_mnm_advise a = {
		.size = sizeof(a), .addr = (unsigned long)addr, .npages = npages,
		.location = location, .attrs = attrs,
	};

	return mnm_ioctl(fd, DRM_IOCTL_MNM_ADVISE, &a);
}

/* The advice at @addr as location | attrs << 8; *same: pages sharing it. */
static long advice(int fd, void *addr, unsigned long npages, unsigned long *same)
{
	struct drm_mnm_advise a = {
		.size = sizeof(a), .flags = MNM_ADVISE_QUERY,
		.addr = (unsigned long)addr, .npages = npages,
	};
	int ret = mnm_ioctl(fd, DRM_IOCTL_MNM_ADVISE, &a);

	if (ret)
		return ret;
	if (same)
		*same = a.npages;
	return a.location | a.attrs << 8;
}

#define RM	(MNM_ADVISE_READ_MOSTLY << 8)

/* New advice replaces the old where they overlap, as madvise() does. */
TEST_F(rt, advise_overlap_replaces)
{
	char *mem = map_anon(16 * PS, PROT_READ | PROT_WRITE);
	unsigned long same;

	ASSERT_NE(mem, NULL);
	ASSERT_EQ(advice(self->fd, mem, 16, &same), 0);
	ASSERT_EQ(same, 16);
	ASSERT_EQ(advise(self->fd, mem, 16, MNM_MIGRATE_TO_SYSTEM, 0), 0);
	ASSERT_EQ(advise(self->fd, mem + 4 * PS, 4, 0, MNM_ADVISE_READ_MOSTLY), 0);
	ASSERT_EQ(advice(self->fd, mem, 16, &same), MNM_MIGRATE_TO_SYSTEM);
	ASSERT_EQ(same, 4);
	ASSERT_EQ(advice(self->fd, mem + 4 * PS, 12, &same), RM);
	ASSERT_EQ(same, 4);
	ASSERT_EQ(advice(self->fd, mem + 8 * PS, 8, &same), MNM_MIGRATE_TO_SYSTEM);
	ASSERT_EQ(same, 8);
	/* Clearing the middle of a range keeps both ends. */
	ASSERT_EQ(advise(self->fd, mem + 10 * PS, 2, 0, 0), 0);
	ASSERT_EQ(advice(self->fd, mem + 8 * PS, 8, &same), MNM_MIGRATE_TO_SYSTEM);
	ASSERT_EQ(same, 2);
	ASSERT_EQ(advice(self->fd, mem + 10 * PS, 6, &same), 0);
	ASSERT_EQ(same, 2);
	ASSERT_EQ(advice(self->fd, mem + 12 * PS, 4, &same), MNM_MIGRATE_TO_SYSTEM);
	ASSERT_EQ(same, 4);
	ASSERT_EQ(advise(self->fd, mem, 16, 0, 0), 0);
	ASSERT_EQ(advice(self->fd, mem, 16, &same), 0);
	ASSERT_EQ(same, 16);
	munmap(mem, 16 * PS);
}

/*
 * Advice goes away with the mapping (munmap, mmap over it, mremap's
 * source) and stays through what keeps it (MADV_DONTNEED, mprotect).
 */
TEST_F(rt, advise_gone_with_mapping)
{
	char *mem = map_anon(24 * PS, PROT_READ | PROT_WRITE);
	char *moved;
	unsigned long same;

	ASSERT_NE(mem, NULL);
	memset(mem, 1, 24 * PS);
	ASSERT_EQ(advise(self->fd, mem, 24, MNM_MIGRATE_TO_SYSTEM,
			 MNM_ADVISE_READ_MOSTLY), 0);
	/* munmap of 4-5, mapped again */
	ASSERT_EQ(munmap(mem + 4 * PS, 2 * PS), 0);
	ASSERT_EQ(mmap(mem + 4 * PS, 2 * PS, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0), mem + 4 * PS);
	ASSERT_EQ(advice(self->fd, mem, 24, &same), MNM_MIGRATE_TO_SYSTEM | RM);
	ASSERT_EQ(same, 4);
	ASSERT_EQ(advice(self->fd, mem + 4 * PS, 20, &same), 0);
	ASSERT_EQ(same, 2);
	/* mmap over 8-9 */
	ASSERT_EQ(mmap(mem + 8 * PS, 2 * PS, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0), mem + 8 * PS);
	ASSERT_EQ(advice(self->fd, mem + 6 * PS, 18, &same), MNM_MIGRATE_TO_SYSTEM | RM);
	ASSERT_EQ(same, 2);
	ASSERT_EQ(advice(self->fd, mem + 8 * PS, 16, &same), 0);
	ASSERT_EQ(same, 2);
	/* mremap of 12-13 elsewhere: the advice stays behind and goes */
	moved = mremap(mem + 12 * PS, 2 * PS, 2 * PS, MREMAP_MAYMOVE | MREMAP_FIXED,
		       mem + 22 * PS);
	ASSERT_EQ(moved, mem + 22 * PS);
	ASSERT_EQ(advice(self->fd, mem + 22 * PS, 2, &same), 0);
	ASSERT_EQ(mmap(mem + 12 * PS, 2 * PS, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0), mem + 12 * PS);
	ASSERT_EQ(advice(self->fd, mem + 12 * PS, 2, &same), 0);
	ASSERT_EQ(advice(self->fd, mem + 10 * PS, 2, &same), MNM_MIGRATE_TO_SYSTEM | RM);
	/* MADV_DONTNEED and mprotect keep it */
	ASSERT_EQ(madvise(mem + 14 * PS, 2 * PS, MADV_DONTNEED), 0);
	ASSERT_EQ(mprotect(mem + 16 * PS, 2 * PS, PROT_READ), 0);
	ASSERT_EQ(advice(self->fd, mem + 14 * PS, 8, &same), MNM_MIGRATE_TO_SYSTEM | RM);
	ASSERT_EQ(same, 8);
	/* Advising what is not mapped fails, as madvise() does. */
	ASSERT_EQ(munmap(mem + 18 * PS, 2 * PS), 0);
	ASSERT_EQ(advise(self->fd, mem + 16 * PS, 4, MNM_MIGRATE_TO_SYSTEM, 0), -ENOMEM);
	munmap(mem, 24 * PS);
}

TEST_F(rt, advise_bad_input)
{
	char *mem = map_anon(4 * PS, PROT_READ | PROT_WRITE);
	struct drm_mnm_advise a = {
		.size = sizeof(a), .addr = (unsigned long)mem, .npages = 4,
		.location = MNM_MIGRATE_TO_SYSTEM,
	};
	struct drm_mnm_advise b;
	int st;
	pid_t pid;

	ASSERT_NE(mem, NULL);
	b = a, b.size = sizeof(a) + 8;
	ASSERT_EQ(mnm_ioctl(self->fd, DRM_IOCTL_MNM_ADVISE, &b), -EINVAL);
	b = a, b.flags = 1U << 1;
	ASSERT_EQ(mnm_ioctl(self->fd, DRM_IOCTL_MNM_ADVISE, &b), -EINVAL);
	b = a, b.location = 3;
	ASSERT_EQ(mnm_ioctl(self->fd, DRM_IOCTL_MNM_ADVISE, &b), -EINVAL);
	b = a, b.attrs = 1U << 1;
	ASSERT_EQ(mnm_ioctl(self->fd, DRM_IOCTL_MNM_ADVISE, &b), -EINVAL);
	b = a, b.reserved[0] = 1;
	ASSERT_EQ(mnm_ioctl(self->fd, DRM_IOCTL_MNM_ADVISE, &b), -EINVAL);
	b = a, b.addr += 2048;
	ASSERT_EQ(mnm_ioctl(self->fd, DRM_IOCTL_MNM_ADVISE, &b), -EINVAL);
	b = a, b.npages = 0;
	ASSERT_EQ(mnm_ioctl(self->fd, DRM_IOCTL_MNM_ADVISE, &b), -EINVAL);
	b = a, b.flags = MNM_ADVISE_QUERY;
	ASSERT_EQ(mnm_ioctl(self->fd, DRM_IOCTL_MNM_ADVISE, &b), -EINVAL);
	if (!has_migrate(self->fd)) {
		b = a, b.location = MNM_MIGRATE_TO_DEVICE;
		ASSERT_EQ(mnm_ioctl(self->fd, DRM_IOCTL_MNM_ADVISE, &b), -EOPNOTSUPP);
	}
	ASSERT_EQ(advice(self->fd, mem, 4, NULL), 0);
	b = a;
	ASSERT_EQ(mnm_ioctl(self->fd, DRM_IOCTL_MNM_ADVISE, &b), 0);
	ASSERT_EQ(advice(self->fd, mem, 4, NULL), MNM_MIGRATE_TO_SYSTEM);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		b = a, b.location = 0;
		_exit(mnm_ioctl(self->fd, DRM_IOCTL_MNM_ADVISE, &b) == -EPERM ? 0 : 1);
	}
	ASSERT_EQ(waitpid(pid, &st, 0), pid);
	ASSERT_TRUE(WIFEXITED(st));
	ASSERT_EQ(WEXITSTATUS(st), 0);
	ASSERT_EQ(advice(self->fd, mem, 4, NULL), MNM_MIGRATE_TO_SYSTEM);
	munmap(mem, 4 * PS);
}

/* Pages of [p, p + n) in this device's memory, by the CPU's snapshot. */
static unsigned long count_local(int fd, void *p, unsigned long n)
{
	unsigned char *snap = malloc(n);
	unsigned long i, c = 0;

	if (!snap || mnm_snapshot(fd, p, n, snap, 0)) {
		free(snap);
		return ~0UL;
	}
	for (i = 0; i < n; i++)
		c += (snap[i] & MNM_PROT_DEV_PRIVATE_REMOTE) ==
		     MNM_PROT_DEV_PRIVATE_LOCAL;
	free(snap);
	return c;
}

/*
 * A device access that faults pages advised to the device moves them
 * there; no advice, read-mostly, or advice gone with the mapping: they stay
 * in system memory.  The device reads and writes the right data either way.
 */
TEST_F(rt, advise_device_faults_follow)
{
	const unsigned long n = 256;
	char *a = map_anon(n * PS, PROT_READ | PROT_WRITE);
	char *b = map_anon(n * PS, PROT_READ | PROT_WRITE);
	char *c = map_anon(n * PS, PROT_READ | PROT_WRITE);
	char *buf = malloc(n * PS);

	NEED_MIGRATE(self->fd);
	ASSERT_NE(a, NULL);
	ASSERT_NE(b, NULL);
	ASSERT_NE(c, NULL);
	ASSERT_NE(buf, NULL);
	fill(a, n, 1);
	fill(b, n, 2);
	fill(c, n, 3);
	ASSERT_EQ(advise(self->fd, a, n, MNM_MIGRATE_TO_DEVICE, 0), 0);
	ASSERT_EQ(advise(self->fd, c, n, MNM_MIGRATE_TO_DEVICE,
			 MNM_ADVISE_READ_MOSTLY), 0);
	ASSERT_EQ(mnm_read(self->fd, a, buf, n), 0);
	ASSERT_EQ(check(buf, n, 1), -1);
	ASSERT_EQ(count_local(self->fd, a, n), n);
	ASSERT_EQ(mnm_read(self->fd, b, buf, n), 0);
	ASSERT_EQ(check(buf, n, 2), -1);
	ASSERT_EQ(count_local(self->fd, b, n), 0);
	ASSERT_EQ(mnm_read(self->fd, c, buf, n), 0);
	ASSERT_EQ(check(buf, n, 3), -1);
	ASSERT_EQ(count_local(self->fd, c, n), 0);
	/* A device write into advised memory lands in device memory too. */
	ASSERT_EQ(mnm_release(self->fd, a, n), 0);
	ASSERT_EQ(mnm_migrate(self->fd, a, n, MNM_MIGRATE_TO_SYSTEM, NULL), 0);
	ASSERT_EQ(count_local(self->fd, a, n), 0);
	fill(buf, n, 4);
	ASSERT_EQ(mnm_write(self->fd, a, buf, n), 0);
	ASSERT_EQ(count_local(self->fd, a, n), n);
	ASSERT_EQ(check(a, n, 4), -1);	/* the CPU faults them back */
	ASSERT_EQ(device_follows_cpu(self->fd, a, n), -1);
	/* Mapped anew: no advice. */
	ASSERT_EQ(mmap(a, n * PS, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0), a);
	fill(a, n, 5);
	ASSERT_EQ(mnm_read(self->fd, a, buf, n), 0);
	ASSERT_EQ(check(buf, n, 5), -1);
	ASSERT_EQ(count_local(self->fd, a, n), 0);
	munmap(a, n * PS);
	munmap(b, n * PS);
	munmap(c, n * PS);
	free(buf);
}

/*
 * Eviction follows the advice: with room for two ranges, a third evicts
 * the unadvised one even though the range advised to the device moved in
 * first (plain LRU would take it).
 */
TEST_F(rt, advise_eviction_order)
{
	const unsigned long n = 256;
	char *a = map_anon(n * PS, PROT_READ | PROT_WRITE);
	char *b = map_anon(n * PS, PROT_READ | PROT_WRITE);
	char *c = map_anon(n * PS, PROT_READ | PROT_WRITE);
	unsigned long used, old = devmem_limit();
	struct drm_mnm_migrate m;

	NEED_MIGRATE(self->fd);
	used = devmem_used();
	if (used == ~0UL || !old)
		SKIP(return, "no devmem debugfs files");
	ASSERT_NE(a, NULL);
	ASSERT_NE(b, NULL);
	ASSERT_NE(c, NULL);
	fill(a, n, 1);
	fill(b, n, 2);
	fill(c, n, 3);
	ASSERT_EQ(debugfs_write(0, "devmem_limit", used + 2 * n), 0);
	ASSERT_EQ(advise(self->fd, a, n, MNM_MIGRATE_TO_DEVICE, 0), 0);
	ASSERT_EQ(mnm_migrate(self->fd, a, n, MNM_MIGRATE_TO_DEVICE, &m), 0);
	ASSERT_EQ(m.migrated, n);
	ASSERT_EQ(mnm_migrate(self->fd, b, n, MNM_MIGRATE_TO_DEVICE, &m), 0);
	ASSERT_EQ(m.migrated, n);
	ASSERT_EQ(mnm_migrate(self->fd, c, n, MNM_MIGRATE_TO_DEVICE, &m), 0);
	TH_LOG("third range: %llu migrated; device pages: a %lu, b %lu, c %lu",
	       m.migrated, count_local(self->fd, a, n), count_local(self->fd, b, n),
	       count_local(self->fd, c, n));
	ASSERT_EQ(m.migrated, n);
	ASSERT_EQ(count_local(self->fd, a, n), n);
	ASSERT_EQ(count_local(self->fd, b, n), 0);
	ASSERT_EQ(count_local(self->fd, c, n), n);
	ASSERT_EQ(debugfs_write(0, "devmem_limit", old), 0);
	ASSERT_EQ(check(a, n, 1), -1);
	ASSERT_EQ(check(b, n, 2), -1);
	ASSERT_EQ(check(c, n, 3), -1);
	munmap(a, n * PS);
	munmap(b, n * PS);
	munmap(c, n * PS);
}

/*
 * Device READs of memory advised to the device, against a racing
 * munmap/mmap of half of it (whose new mapping has no advice until the
 * test advises it again): afterwards the device maps nothing the CPU does
 * not, and reads what the CPU holds.
 */
TEST_F(rt, advise_races_munmap)
{
	const unsigned long n = 1024;
	struct racer r = { .npages = n };
	char *buf = malloc(n * PS);
	int i, ret, ok = 0;
	pthread_t t;

	NEED_MIGRATE(self->fd);
	r.mem = map_aligned(n * PS);
	ASSERT_NE(r.mem, NULL);
	ASSERT_NE(buf, NULL);
	fill(r.mem, n, 1);
	ASSERT_EQ(pthread_create(&t, NULL, unmap_racer, &r), 0);
	for (i = 0; i < 100; i++) {
		ret = advise(self->fd, r.mem, n, MNM_MIGRATE_TO_DEVICE, 0);
		ASSERT_TRUE(ret == 0 || ret == -ENOMEM);
		ret = mnm_rw(self->fd, i & 1, r.mem, buf, n, NULL);
		ASSERT_TRUE(ret == 0 || ret == -EFAULT || ret == -EBUSY);
		ok += !ret;
	}
	atomic_store(&r.stop, 1);
	pthread_join(t, NULL);
	TH_LOG("%d of 100 device accesses completed", ok);
	ASSERT_EQ(device_follows_cpu(self->fd, r.mem, n), -1);
	ASSERT_EQ(mnm_read(self->fd, r.mem, buf, n), 0);
	ASSERT_EQ(memcmp(buf, r.mem, n * PS), 0);
	munmap(r.mem, n * PS);
	free(buf);
}

/* check() of pages that were pages @base.. of the range first filled. */
static long check_at(const void *p, unsigned long npages, unsigned int gen,
		     unsigned long base)
{
	const uint32_t *w = p;
	unsigned long i, j;

	for (i = 0; i < npages; i++)
		for (j = 0; j < PS / 4; j++)
			if (w[i * PS / 4 + j] != TAG(gen, base + i))
				return i;
	return -1;
}

static bool has_huge_pte(int fd)
{
	struct drm_mnm_info info = { .size = sizeof(info) };

	return !mnm_ioctl(fd, DRM_IOCTL_MNM_GET_INFO, &info) &&
	       (info.caps & MNM_CAP_HUGE_PTE);
}

#define NEED_DEVICE_2M(fd) do {						\
	NEED_MIGRATE(fd);						\
	if (!has_huge_pte(fd))						\
		SKIP(return, "no 2 MiB device entries (granule_kb below 2048)"); \
	if (devmem_stat("large_allocs") == ~0UL)			\
		SKIP(return, "no devmem debugfs file");			\
} while (0)

/* Pages of [p, p + n) whose snapshot byte has all of @bits. */
static unsigned long count_bits(int fd, void *p, unsigned long n,
				unsigned int flags, unsigned char bits)
{
	unsigned char *snap = malloc(n);
	unsigned long i, c = 0;

	if (!snap || mnm_snapshot(fd, p, n, snap, flags)) {
		free(snap);
		return ~0UL;
	}
	for (i = 0; i < n; i++)
		c += snap[i] != MNM_PROT_ERROR && (snap[i] & bits) == bits;
	free(snap);
	return c;
}

#define LOCAL_PMD	(MNM_PROT_DEV_PRIVATE_LOCAL | MNM_PROT_WRITE | MNM_PROT_PMD)

/*
 * A 2 MiB-aligned migration gets device 2 MiB pages, each mapped by one
 * device entry (PMD in the device view; the CPU view shows the CPU's 4 KiB
 * entries).  A CPU touch of one page
 * brings that page back and drops the whole device entry; the device then
 * maps that block with 4 KiB entries, and every view and byte stays right.
 */
TEST_F(rt, device_2m_pages)
{
	const unsigned long n = 1024, blk = 512;
	char *mem = map_aligned(n * PS);
	char *buf = malloc(n * PS);
	struct drm_mnm_migrate m;
	struct drm_mnm_rw rw;
	unsigned long large0;

	NEED_DEVICE_2M(self->fd);
	ASSERT_NE(mem, NULL);
	ASSERT_NE(buf, NULL);
	fill(mem, n, 1);
	large0 = devmem_stat("large_allocs");
	ASSERT_EQ(mnm_migrate(self->fd, mem, n, MNM_MIGRATE_TO_DEVICE, &m), 0);
	ASSERT_EQ(m.migrated, n);
	ASSERT_EQ(devmem_stat("large_allocs") - large0, 2);
	ASSERT_EQ(count_bits(self->fd, mem, n, MNM_SNAPSHOT_DEVICE, LOCAL_PMD), n);
	ASSERT_EQ(count_bits(self->fd, mem, n, 0, LOCAL_PMD & ~MNM_PROT_PMD), n);
	ASSERT_EQ(count_bits(self->fd, mem, n, 0, MNM_PROT_PMD), 0);
	ASSERT_EQ(mnm_rw(self->fd, 0, mem, buf, n, &rw), 0);
	ASSERT_EQ(rw.faults, 0);
	ASSERT_EQ(check(buf, n, 1), -1);

	/* The CPU reads page 700: it comes back, its block's entry goes. */
	ASSERT_EQ(((uint32_t *)(mem + 700 * PS))[0], TAG(1, 700));
	ASSERT_EQ(count_bits(self->fd, mem, blk, MNM_SNAPSHOT_DEVICE, LOCAL_PMD), blk);
	ASSERT_EQ(count_bits(self->fd, mem + blk * PS, blk, MNM_SNAPSHOT_DEVICE,
			     MNM_PROT_READ), 0);
	ASSERT_EQ(device_follows_cpu(self->fd, mem, n), -1);
	ASSERT_EQ(mnm_rw(self->fd, 0, mem, buf, n, &rw), 0);
	ASSERT_EQ(check(buf, n, 1), -1);
	ASSERT_EQ(count_bits(self->fd, mem + blk * PS, blk, MNM_SNAPSHOT_DEVICE,
			     MNM_PROT_PMD), 0);
	ASSERT_EQ(count_bits(self->fd, mem + blk * PS, blk, MNM_SNAPSHOT_DEVICE,
			     MNM_PROT_DEV_PRIVATE_LOCAL), blk - 1);
	ASSERT_EQ(device_follows_cpu(self->fd, mem, n), -1);
	ASSERT_EQ(check(mem, n, 1), -1);
	munmap(mem, n * PS);
	free(buf);
}

/*
 * When no whole 2 MiB of device memory is free, a 2 MiB migration falls
 * back to 4 KiB pages (evicting as usual) and loses no data.
 */
TEST_F(rt, device_2m_fallback_when_full)
{
	const unsigned long n = 512;
	char *a = map_aligned(n * PS), *b = map_aligned(n * PS);
	unsigned long old = devmem_limit(), used, fb0;
	struct drm_mnm_migrate m;

	NEED_DEVICE_2M(self->fd);
	ASSERT_NE(a, NULL);
	ASSERT_NE(b, NULL);
	fill(a, n, 2);
	fill(b, n, 3);
	used = devmem_used();
	ASSERT_EQ(debugfs_write(0, "devmem_limit", used + n + n / 2), 0);
	fb0 = devmem_stat("large_fallbacks");
	ASSERT_EQ(mnm_migrate(self->fd, a, n, MNM_MIGRATE_TO_DEVICE, &m), 0);
	ASSERT_EQ(m.migrated, n);
	ASSERT_EQ(count_bits(self->fd, a, n, MNM_SNAPSHOT_DEVICE, LOCAL_PMD), n);
	ASSERT_EQ(mnm_migrate(self->fd, b, n, MNM_MIGRATE_TO_DEVICE, &m), 0);
	ASSERT_EQ(debugfs_write(0, "devmem_limit", old), 0);
	TH_LOG("second 2 MiB: %llu pages moved, %lu fallbacks", m.migrated,
	       devmem_stat("large_fallbacks") - fb0);
	ASSERT_EQ(m.migrated, n);
	ASSERT_EQ(devmem_stat("large_fallbacks") - fb0, 1);
	ASSERT_EQ(count_bits(self->fd, b, n, 0, MNM_PROT_DEV_PRIVATE_LOCAL), n);
	ASSERT_EQ(count_bits(self->fd, b, n, MNM_SNAPSHOT_DEVICE, MNM_PROT_PMD), 0);
	ASSERT_EQ(device_follows_cpu(self->fd, a, n), -1);
	ASSERT_EQ(check(a, n, 2), -1);
	ASSERT_EQ(check(b, n, 3), -1);
	munmap(a, n * PS);
	munmap(b, n * PS);
}

#ifndef HMM_DMIRROR_FLAGS
#define HMM_DMIRROR_FLAGS		_IOWR('H', 0x08, struct hmm_dmirror_cmd)
#define HMM_DMIRROR_FLAG_FAIL_ALLOC	(1ULL << 0)
#endif

/*
 * The test_hmm ABI of Linux 6.19: HMM_DMIRROR_FLAGS with FAIL_ALLOC makes
 * the next device 2 MiB allocation fail once; that block falls back to
 * 4 KiB pages, the next one is whole again.  Unknown flags: -EINVAL.
 */
TEST_F(rt, compat_flags_fail_alloc)
{
	const unsigned long n = 1024, blk = 512;
	char *mem = map_aligned(n * PS);
	char *buf = malloc(n * PS);
	unsigned char *snap = malloc(n);
	struct hmm_dmirror_cmd cmd = { 0 };
	unsigned long i, fb0;
	int cfd;

	NEED_DEVICE_2M(self->fd);
	cfd = open("/dev/mnm_dmirror0", O_RDWR | O_CLOEXEC);
	if (cfd < 0)
		SKIP(return, "no /dev/mnm_dmirror0 (mnmirror loaded without compat=1)");
	ASSERT_NE(mem, NULL);
	ASSERT_NE(buf, NULL);
	cmd.npages = 2;
	ASSERT_EQ(mnm_ioctl(cfd, HMM_DMIRROR_FLAGS, &cmd), -EINVAL);
	cmd.npages = HMM_DMIRROR_FLAG_FAIL_ALLOC;
	ASSERT_EQ(mnm_ioctl(cfd, HMM_DMIRROR_FLAGS, &cmd), 0);
	fill(mem, n, 4);
	fb0 = devmem_stat("large_fallbacks");
	cmd = (struct hmm_dmirror_cmd){
		.addr = (unsigned long)mem, .ptr = (unsigned long)buf, .npages = n,
	};
	ASSERT_EQ(mnm_ioctl(cfd, HMM_DMIRROR_MIGRATE_TO_DEV, &cmd), 0);
	ASSERT_EQ(cmd.cpages, n);
	ASSERT_EQ(check(buf, n, 4), -1);
	ASSERT_EQ(devmem_stat("large_fallbacks") - fb0, 1);
	cmd = (struct hmm_dmirror_cmd){
		.addr = (unsigned long)mem, .ptr = (unsigned long)snap, .npages = n,
	};
	ASSERT_EQ(mnm_ioctl(cfd, HMM_DMIRROR_SNAPSHOT, &cmd), 0);
	for (i = 0; i < n; i++)
		ASSERT_EQ(snap[i], i < blk ?
			  HMM_DMIRROR_PROT_DEV_PRIVATE_LOCAL | HMM_DMIRROR_PROT_WRITE :
			  HMM_DMIRROR_PROT_DEV_PRIVATE_LOCAL | HMM_DMIRROR_PROT_WRITE |
			  HMM_DMIRROR_PROT_PMD);
	ASSERT_EQ(check(mem, n, 4), -1);
	close(cfd);
	munmap(mem, n * PS);
	free(buf);
	free(snap);
}

/*
 * What newer test_hmm checks after migrating whole 2 MiB pages: a partial
 * munmap frees exactly the unmapped device pages and the rest fault back
 * intact; an mremap moves device pages to the new address, where the device
 * and the CPU find them, and the old address maps nothing in the device.
 */
TEST_F(rt, device_2m_partial_munmap_and_mremap)
{
	const unsigned long n = 1024, q = 256;
	char *mem = map_aligned(n * PS);
	char *dst = map_aligned(n * PS);
	char *buf = malloc(n * PS);
	struct drm_mnm_migrate m;
	unsigned long used0;
	char *moved;

	NEED_DEVICE_2M(self->fd);
	ASSERT_NE(mem, NULL);
	ASSERT_NE(dst, NULL);
	ASSERT_NE(buf, NULL);
	fill(mem, n, 5);
	used0 = devmem_used();
	ASSERT_EQ(mnm_migrate(self->fd, mem, n, MNM_MIGRATE_TO_DEVICE, &m), 0);
	ASSERT_EQ(m.migrated, n);
	ASSERT_EQ(devmem_used() - used0, n);
	/* munmap of the first 1 MiB: those 256 device pages are freed. */
	ASSERT_EQ(munmap(mem, q * PS), 0);
	ASSERT_EQ(devmem_used() - used0, n - q);
	ASSERT_EQ(count_bits(self->fd, mem + q * PS, n - q, MNM_SNAPSHOT_DEVICE,
			     MNM_PROT_PMD), n - 2 * q);
	/* mremap of the second 2 MiB (device pages) to dst. */
	moved = mremap(mem + 2 * q * PS, 2 * q * PS, 2 * q * PS,
		       MREMAP_MAYMOVE | MREMAP_FIXED, dst);
	ASSERT_EQ(moved, dst);
	ASSERT_EQ(count_dev_mapped(self->fd, mem + 2 * q * PS, 2 * q, false), 0);
	ASSERT_EQ(count_bits(self->fd, dst, 2 * q, 0, MNM_PROT_DEV_PRIVATE_LOCAL), 2 * q);
	ASSERT_EQ(devmem_used() - used0, n - q);
	ASSERT_EQ(device_follows_cpu(self->fd, mem + q * PS, q), -1);
	ASSERT_EQ(device_follows_cpu(self->fd, dst, 2 * q), -1);
	ASSERT_EQ(mnm_read(self->fd, dst, buf, 2 * q), 0);
	ASSERT_EQ(check_at(buf, 2 * q, 5, 2 * q), -1);
	/* The CPU reads all of it back: the data is intact, nothing leaks. */
	ASSERT_EQ(check_at(mem + q * PS, q, 5, q), -1);
	ASSERT_EQ(check_at(dst, 2 * q, 5, 2 * q), -1);
	ASSERT_EQ(device_follows_cpu(self->fd, dst, 2 * q), -1);
	ASSERT_EQ(devmem_used(), used0);
	munmap(mem + q * PS, q * PS);
	munmap(dst, n * PS);
	free(buf);
}

struct advise_arg {
	int fd;
	char *mem;
	atomic_int go;
	int ret;
};

static void *advise_first(void *arg)
{
	struct advise_arg *a = arg;

	while (!atomic_load(&a->go))
		;
	a->ret = advise(a->fd, a->mem, 16, MNM_MIGRATE_TO_SYSTEM, 0);
	return NULL;
}

/*
 * The first ADVISE of a file creates its advice tree: four threads race to
 * be first on fresh files; one tree survives and holds the advice.
 */
TEST_F(rt, advise_first_use_races)
{
	char *mem = map_anon(16 * PS, PROT_READ | PROT_WRITE);
	int round, i;

	ASSERT_NE(mem, NULL);
	for (round = 0; round < 20; round++) {
		struct advise_arg a[4];
		pthread_t t[4];
		int fd = mnm_open_device(0);

		ASSERT_GE(fd, 0);
		for (i = 0; i < 4; i++) {
			a[i] = (struct advise_arg){ .fd = fd, .mem = mem };
			ASSERT_EQ(pthread_create(&t[i], NULL, advise_first, &a[i]), 0);
		}
		for (i = 0; i < 4; i++)
			atomic_store(&a[i].go, 1);
		for (i = 0; i < 4; i++) {
			pthread_join(t[i], NULL);
			ASSERT_EQ(a[i].ret, 0);
		}
		ASSERT_EQ(advice(fd, mem, 16, NULL), MNM_MIGRATE_TO_SYSTEM);
		/* The tree still follows the mapping. */
		ASSERT_EQ(munmap(mem, PS), 0);
		ASSERT_EQ(mmap(mem, PS, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0), mem);
		ASSERT_EQ(advice(fd, mem, 16, NULL), 0);
		close(fd);
	}
	munmap(mem, 16 * PS);
}

/*
 * A process advises and exits with its file open: the file is closed after
 * its mm is gone, and the tree and its notifier go with it (kmemleak and
 * the kernel log are checked after the run).
 */
TEST_F(rt, advise_then_exit)
{
	int i, st;

	for (i = 0; i < 8; i++) {
		pid_t pid = fork();

		ASSERT_GE(pid, 0);
		if (pid == 0) {
			int fd = mnm_open_device(0);
			char *m = map_anon(64 * PS, PROT_READ | PROT_WRITE);

			if (fd < 0 || !m ||
			    advise(fd, m, 64, MNM_MIGRATE_TO_SYSTEM, 0) ||
			    advise(fd, m + 8 * PS, 8, 0, MNM_ADVISE_READ_MOSTLY))
				_exit(1);
			memset(m, 1, 64 * PS);
			if (i & 1)
				munmap(m, 32 * PS);
			_exit(0);	/* fd closed after exit_mm() */
		}
		ASSERT_EQ(waitpid(pid, &st, 0), pid);
		ASSERT_TRUE(WIFEXITED(st));
		ASSERT_EQ(WEXITSTATUS(st), 0);
	}
}

/*
 * Other ways to take one page out of a device 2 MiB page, each of which
 * must end the device's 2 MiB entry: another device migrating the page,
 * a forked child writing it, mprotect of one page.  After each, the device
 * maps only what the CPU maps and reads what the CPU holds.
 */
TEST_F(rt, device_2m_split_by_others)
{
	const unsigned long n = 512;
	char *mem = map_aligned(n * PS);
	char *buf = malloc(n * PS);
	struct drm_mnm_migrate m;
	int fd1 = mnm_open_device(1), st;
	pid_t pid;

	NEED_DEVICE_2M(self->fd);
	ASSERT_NE(mem, NULL);
	ASSERT_NE(buf, NULL);

	/* Another device takes page 100. */
	fill(mem, n, 6);
	ASSERT_EQ(mnm_migrate(self->fd, mem, n, MNM_MIGRATE_TO_DEVICE, &m), 0);
	ASSERT_EQ(count_bits(self->fd, mem, n, MNM_SNAPSHOT_DEVICE, LOCAL_PMD), n);
	if (fd1 >= 0 && has_migrate(fd1)) {
		ASSERT_EQ(mnm_migrate(fd1, mem + 100 * PS, 1, MNM_MIGRATE_TO_DEVICE, &m), 0);
		ASSERT_EQ(m.migrated, 1);
		ASSERT_EQ(count_bits(self->fd, mem, n, MNM_SNAPSHOT_DEVICE, MNM_PROT_PMD), 0);
		ASSERT_EQ(device_follows_cpu(self->fd, mem, n), -1);
		ASSERT_EQ(mnm_read(self->fd, mem, buf, n), 0);
		ASSERT_EQ(check(buf, n, 6), -1);
	}

	/* A forked child writes page 200 and exits. */
	ASSERT_EQ(mnm_migrate(self->fd, mem, n, MNM_MIGRATE_TO_SYSTEM, NULL), 0);
	ASSERT_EQ(mnm_migrate(self->fd, mem, n, MNM_MIGRATE_TO_DEVICE, &m), 0);
	ASSERT_EQ(count_bits(self->fd, mem, n, MNM_SNAPSHOT_DEVICE, LOCAL_PMD), n);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		((uint32_t *)(mem + 200 * PS))[0] = 0xdead;
		_exit(check_at(mem + 200 * PS, 2, 6, 200) == 0 &&
		      check_at(mem + 201 * PS, 1, 6, 201) == -1 ? 0 : 1);
	}
	ASSERT_EQ(waitpid(pid, &st, 0), pid);
	ASSERT_TRUE(WIFEXITED(st));
	ASSERT_EQ(WEXITSTATUS(st), 0);
	ASSERT_EQ(count_bits(self->fd, mem, n, MNM_SNAPSHOT_DEVICE, MNM_PROT_WRITE), 0);
	ASSERT_EQ(device_follows_cpu(self->fd, mem, n), -1);
	ASSERT_EQ(mnm_read(self->fd, mem, buf, n), 0);
	ASSERT_EQ(check(buf, n, 6), -1);

	/* mprotect of page 300 alone. */
	ASSERT_EQ(mnm_migrate(self->fd, mem, n, MNM_MIGRATE_TO_SYSTEM, NULL), 0);
	fill(mem, n, 7);
	ASSERT_EQ(mnm_migrate(self->fd, mem, n, MNM_MIGRATE_TO_DEVICE, &m), 0);
	ASSERT_EQ(count_bits(self->fd, mem, n, MNM_SNAPSHOT_DEVICE, LOCAL_PMD), n);
	ASSERT_EQ(mprotect(mem + 300 * PS, PS, PROT_READ), 0);
	ASSERT_EQ(count_bits(self->fd, mem, n, MNM_SNAPSHOT_DEVICE, MNM_PROT_PMD), 0);
	ASSERT_EQ(device_follows_cpu(self->fd, mem, n), -1);
	fill(buf, n, 8);
	{
		struct drm_mnm_rw rw;

		/* A failed write wrote exactly the first cpages pages. */
		ASSERT_EQ(mnm_rw(self->fd, 1, mem, buf, n, &rw), -EPERM);
		ASSERT_LE(rw.cpages, 300);
		ASSERT_EQ(device_follows_cpu(self->fd, mem, n), -1);
		ASSERT_EQ(check_at(mem, rw.cpages, 8, 0), -1);
		ASSERT_EQ(check_at(mem + rw.cpages * PS, n - rw.cpages, 7,
				   rw.cpages), -1);
	}
	if (fd1 >= 0)
		close(fd1);
	munmap(mem, n * PS);
	free(buf);
}

TEST_HARNESS_MAIN
