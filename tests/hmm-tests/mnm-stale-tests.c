// SPDX-License-Identifier: GPL-2.0
/*
 * mnmirror selftests: regressions for the ways a device entry could outlive
 * the CPU mapping it came from, and for the crash of MIGRATE to system
 * memory over never-touched memory.  Each test attacks one hole and then
 * checks the state it left: the device's page table (SNAPSHOT_DEVICE)
 * against what the CPU maps, and device READs against what the CPU holds.
 *
 * Narrow windows are widened with hmm_mirror's debug_delay_us parameter
 * (a sleep between reading CPU state and committing it), not left to timing.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "mnm_util.h"
#include "mnm_pages.h"
#include "mnm_devmem.h"
#include <lib/test_hmm_uapi.h>

#define DELAY_PARAM	"/sys/module/hmm_mirror/parameters/debug_delay_us"
#define COMPAT_NODE	"/dev/mnm_dmirror%d"

static int exclusive(int fd, void *addr, unsigned long npages)
{
	struct drm_mnm_exclusive e = {
		.size = sizeof(e), .addr = (unsigned long)addr, .npages = npages,
	};

	return mnm_ioctl(fd, DRM_IOCTL_MNM_EXCLUSIVE, &e);
}

static int compat_cmd(int fd, unsigned long req, void *addr, void *buf,
		      unsigned long npages)
{
	struct hmm_dmirror_cmd cmd = {
		.addr = (unsigned long)addr, .ptr = (unsigned long)buf,
		.npages = npages,
	};

	return mnm_ioctl(fd, req, &cmd);
}

/*
 * Index of the first page the device maps although the CPU does not map it
 * readable there (@cpu_prot from a CPU snapshot), or maps writable although
 * the CPU maps it read-only; -1 if none.  The device's entries must always
 * be a subset of the CPU's.
 */
static long stale_entry(int fd, void *p, unsigned long npages)
{
	unsigned char *dev = malloc(npages), *cpu = malloc(npages);
	unsigned long i;
	long bad = -2;

	if (!dev || !cpu || mnm_snapshot(fd, p, npages, dev, MNM_SNAPSHOT_DEVICE) ||
	    mnm_snapshot(fd, p, npages, cpu, 0))
		goto out;
	bad = -1;
	for (i = 0; i < npages && bad < 0; i++) {
		if (dev[i] == MNM_PROT_NONE)
			continue;
		if (cpu[i] == MNM_PROT_NONE || cpu[i] == MNM_PROT_ERROR ||
		    ((dev[i] & MNM_PROT_WRITE) && !(cpu[i] & MNM_PROT_WRITE)))
			bad = i;
	}
out:
	free(dev);
	free(cpu);
	return bad;
}

FIXTURE(stale) {
	int a, b;	/* two files of one process on device 0 */
	int c;		/* a file on device 1, or -1 */
};

FIXTURE_SETUP(stale)
{
	self->a = mnm_open_device(0);
	if (self->a == -ENODEV)
		SKIP(return, "no mnmirror device (is mnmirror.ko loaded?)");
	ASSERT_GE(self->a, 0);
	self->b = mnm_open_device(0);
	ASSERT_GE(self->b, 0);
	self->c = mnm_open_device(1);
}

FIXTURE_TEARDOWN(stale)
{
	mnm_write_file(DELAY_PARAM, 0);
	if (self->a >= 0)
		close(self->a);
	if (self->b >= 0)
		close(self->b);
	if (self->c >= 0)
		close(self->c);
}

/* ---- the crash: MIGRATE to system memory of never-touched memory ------ */

TEST_F(stale, migrate_to_system_untouched)
{
	unsigned long npages = 16;
	char *p = map_anon(npages * PS, PROT_READ | PROT_WRITE);
	char *buf = malloc(npages * PS);
	struct drm_mnm_migrate m;

	NEED_MIGRATE(self->a);
	ASSERT_NE(p, NULL);
	/* Nothing touched: empty PTEs that migrate_vma_setup() selects. */
	ASSERT_EQ(mnm_migrate(self->a, p, npages, MNM_MIGRATE_TO_SYSTEM, &m), 0);
	ASSERT_EQ(m.migrated, 0);
	ASSERT_EQ(m.skip_other + m.skip_busy + m.skip_vma, npages);
	/* Half in device memory, a quarter touched, a quarter empty. */
	fill(p, npages / 2, 3);
	ASSERT_EQ(mnm_migrate(self->a, p, npages / 2, MNM_MIGRATE_TO_DEVICE, &m), 0);
	ASSERT_EQ(m.migrated, npages / 2);
	fill(p + npages / 2 * PS, npages / 4, 4);
	ASSERT_EQ(mnm_migrate(self->a, p, npages, MNM_MIGRATE_TO_SYSTEM, &m), 0);
	ASSERT_EQ(m.migrated, npages / 2);
	ASSERT_EQ(check(p, npages / 2, 3), -1);
	ASSERT_EQ(mnm_read(self->a, p, buf, npages / 2), 0);
	ASSERT_EQ(check(buf, npages / 2, 3), -1);
	munmap(p, npages * PS);
	free(buf);
}

TEST_F(stale, compat_migrate_to_system_untouched)
{
	unsigned long npages = 16;
	char *p = map_anon(npages * PS, PROT_READ | PROT_WRITE);
	char path[64];
	int fd;

	NEED_MIGRATE(self->a);
	snprintf(path, sizeof(path), COMPAT_NODE, 0);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		SKIP(return, "no %s (load mnmirror with compat=1)", path);
	ASSERT_EQ(compat_cmd(fd, HMM_DMIRROR_MIGRATE_TO_SYS, p, NULL, npages), 0);
	close(fd);
	munmap(p, npages * PS);
}

/* ---- hole 1: the self-invalidation filter was keyed on the owner ------- */

/* B maps system pages, A migrates them to device memory, B writes. */
TEST_F(stale, two_fds_migrate_then_write)
{
	unsigned long npages = 64;
	char *p = map_anon(npages * PS, PROT_READ | PROT_WRITE);
	char *buf = malloc(npages * PS);

	NEED_MIGRATE(self->a);
	fill(p, npages, 10);
	ASSERT_EQ(mnm_read(self->b, p, buf, npages), 0);
	ASSERT_EQ(mnm_migrate(self->a, p, npages, MNM_MIGRATE_TO_DEVICE, NULL), 0);
	/* B's entries to the old system pages must be gone. */
	ASSERT_EQ(stale_entry(self->b, p, npages), -1);
	fill(buf, npages, 11);
	ASSERT_EQ(mnm_write(self->b, p, buf, npages), 0);
	ASSERT_EQ(check(p, npages, 11), -1);
	munmap(p, npages * PS);
	free(buf);
}

/* The reverse: B maps device pages, A moves them out, they are reused. */
TEST_F(stale, two_fds_device_page_reused)
{
	unsigned long npages = 64;
	char *p = map_anon(npages * PS, PROT_READ | PROT_WRITE);
	char *q = map_anon(npages * PS, PROT_READ | PROT_WRITE);
	char *buf = malloc(npages * PS);

	NEED_MIGRATE(self->a);
	fill(p, npages, 12);
	ASSERT_EQ(mnm_migrate(self->a, p, npages, MNM_MIGRATE_TO_DEVICE, NULL), 0);
	ASSERT_EQ(mnm_read(self->b, p, buf, npages), 0);	/* B maps them */
	ASSERT_EQ(check(buf, npages, 12), -1);
	ASSERT_EQ(mnm_migrate(self->a, p, npages, MNM_MIGRATE_TO_SYSTEM, NULL), 0);
	/* Reuse the freed device pages for other data. */
	fill(q, npages, 13);
	ASSERT_EQ(mnm_migrate(self->a, q, npages, MNM_MIGRATE_TO_DEVICE, NULL), 0);
	ASSERT_EQ(stale_entry(self->b, p, npages), -1);
	ASSERT_EQ(mnm_read(self->b, p, buf, npages), 0);
	ASSERT_EQ(check(buf, npages, 12), -1);
	fill(buf, npages, 14);
	ASSERT_EQ(mnm_write(self->b, p, buf, npages), 0);
	ASSERT_EQ(check(p, npages, 14), -1);
	ASSERT_EQ(check(q, npages, 13), -1);
	munmap(p, npages * PS);
	munmap(q, npages * PS);
	free(buf);
}

/* Another device maps system pages; device 0 migrates them. */
TEST_F(stale, two_devices_migrate_then_write)
{
	unsigned long npages = 64;
	char *p = map_anon(npages * PS, PROT_READ | PROT_WRITE);
	char *buf = malloc(npages * PS);

	NEED_MIGRATE(self->a);
	if (self->c < 0)
		SKIP(return, "needs two mnmirror devices");
	fill(p, npages, 15);
	ASSERT_EQ(mnm_read(self->c, p, buf, npages), 0);
	ASSERT_EQ(mnm_migrate(self->a, p, npages, MNM_MIGRATE_TO_DEVICE, NULL), 0);
	ASSERT_EQ(stale_entry(self->c, p, npages), -1);
	fill(buf, npages, 16);
	ASSERT_EQ(mnm_write(self->c, p, buf, npages), 0);
	ASSERT_EQ(check(p, npages, 16), -1);
	/* And device 0 sees device 1's write. */
	ASSERT_EQ(mnm_read(self->a, p, buf, npages), 0);
	ASSERT_EQ(check(buf, npages, 16), -1);
	munmap(p, npages * PS);
	free(buf);
}

/* A CPU fault on a device page (migrate_to_ram) zaps every file's entry. */
TEST_F(stale, cpu_fault_zaps_every_file)
{
	unsigned long npages = 32;
	char *p = map_anon(npages * PS, PROT_READ | PROT_WRITE);
	char *buf = malloc(npages * PS);

	NEED_MIGRATE(self->a);
	fill(p, npages, 17);
	ASSERT_EQ(mnm_migrate(self->a, p, npages, MNM_MIGRATE_TO_DEVICE, NULL), 0);
	ASSERT_EQ(mnm_read(self->b, p, buf, npages), 0);
	fill(p, npages, 18);	/* every page comes back, then changes */
	ASSERT_EQ(stale_entry(self->a, p, npages), -1);
	ASSERT_EQ(stale_entry(self->b, p, npages), -1);
	ASSERT_EQ(mnm_read(self->b, p, buf, npages), 0);
	ASSERT_EQ(check(buf, npages, 18), -1);
	munmap(p, npages * PS);
	free(buf);
}

/* ---- hole 2: a migration without an interval behind its entries -------- */

TEST_F(stale, compat_migrate_munmap_remap)
{
	unsigned long npages = 32;
	char *p = map_anon(npages * PS, PROT_READ | PROT_WRITE);
	char *buf = malloc(npages * PS);
	char path[64];
	int fd;

	NEED_MIGRATE(self->a);
	snprintf(path, sizeof(path), COMPAT_NODE, 0);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		SKIP(return, "no %s (load mnmirror with compat=1)", path);
	fill(p, npages, 20);
	ASSERT_EQ(compat_cmd(fd, HMM_DMIRROR_MIGRATE_TO_DEV, p, buf, npages), 0);
	ASSERT_EQ(check(buf, npages, 20), -1);
	ASSERT_EQ(munmap(p, npages * PS), 0);
	ASSERT_EQ(mmap(p, npages * PS, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0), p);
	fill(p, npages, 21);
	ASSERT_EQ(compat_cmd(fd, HMM_DMIRROR_READ, p, buf, npages), 0);
	ASSERT_EQ(check(buf, npages, 21), -1);
	close(fd);
	munmap(p, npages * PS);
	free(buf);
}

TEST_F(stale, migrate_munmap_remap)
{
	unsigned long npages = 32;
	char *p = map_anon(npages * PS, PROT_READ | PROT_WRITE);
	char *buf = malloc(npages * PS);

	NEED_MIGRATE(self->a);
	fill(p, npages, 22);
	ASSERT_EQ(mnm_migrate(self->a, p, npages, MNM_MIGRATE_TO_DEVICE, NULL), 0);
	ASSERT_EQ(munmap(p, npages * PS), 0);
	ASSERT_EQ(stale_entry(self->a, p, npages), -1);
	ASSERT_EQ(mmap(p, npages * PS, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0), p);
	fill(p, npages, 23);
	ASSERT_EQ(mnm_read(self->a, p, buf, npages), 0);
	ASSERT_EQ(check(buf, npages, 23), -1);
	munmap(p, npages * PS);
	free(buf);
}

/* ---- races, widened with debug_delay_us ----------------------------------- */

struct racer {
	int fd;
	char *p;
	unsigned long npages;
	atomic_bool *stop;
	int op;		/* 0 read, 1 release, 2 migrate, 3 exclusive */
	unsigned long ok;
};

static void *racer_fn(void *arg)
{
	struct racer *r = arg;
	char *buf = malloc(r->npages * PS);

	while (!atomic_load(r->stop)) {
		int ret = -1;

		switch (r->op) {
		case 0:
			ret = mnm_read(r->fd, r->p, buf, r->npages);
			break;
		case 1:
			ret = mnm_release(r->fd, r->p, r->npages);
			break;
		case 2:
			ret = mnm_migrate(r->fd, r->p, r->npages, MNM_MIGRATE_TO_DEVICE, NULL);
			break;
		case 3:
			ret = exclusive(r->fd, r->p, r->npages);
			break;
		}
		r->ok += !ret;
	}
	free(buf);
	return NULL;
}

static void race(struct __test_metadata *_metadata, struct racer *r, int n,
		 useconds_t us)
{
	pthread_t th[4];
	int i;

	for (i = 0; i < n; i++)
		ASSERT_EQ(pthread_create(&th[i], NULL, racer_fn, &r[i]), 0);
	usleep(us);
	atomic_store(r[0].stop, true);
	for (i = 0; i < n; i++)
		ASSERT_EQ(pthread_join(th[i], NULL), 0);
}

/* hole 3: hmm_mirror_forget() (RELEASE) racing a fault (READ). */
TEST_F_TIMEOUT(stale, forget_races_fault, 180)
{
	unsigned long npages = 16;
	char *p = map_anon(npages * PS, PROT_READ | PROT_WRITE);
	atomic_bool stop;
	int round;

	if (mnm_write_file(DELAY_PARAM, 2000))
		SKIP(return, "no %s", DELAY_PARAM);
	for (round = 0; round < 20; round++) {
		struct racer r[2] = {
			{ .fd = self->a, .p = p, .npages = npages, .stop = &stop, .op = 0 },
			{ .fd = self->a, .p = p, .npages = npages, .stop = &stop, .op = 1 },
		};

		fill(p, npages, 30 + round);
		atomic_store(&stop, false);
		race(_metadata, r, 2, 20000);
		/* Whatever the device kept must still be tracked: unmap. */
		ASSERT_EQ(munmap(p, npages * PS), 0);
		ASSERT_EQ(stale_entry(self->a, p, npages), -1);
		ASSERT_EQ(mmap(p, npages * PS, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0), p);
	}
	munmap(p, npages * PS);
}

/*
 * CPU side of the migration and exclusive races: MADV_DONTNEED (mmap_lock
 * for read only) and refill, again and again.  Afterwards the device must
 * read exactly what the CPU holds.
 */
static void dontneed_race(struct __test_metadata *_metadata, int fd, int op,
			  int rounds)
{
	unsigned long npages = 8, ok = 0;
	char *p = map_anon(npages * PS, PROT_READ | PROT_WRITE);
	char *buf = malloc(npages * PS);
	atomic_bool stop;
	int round, i;

	for (round = 0; round < rounds; round++) {
		struct racer r = {
			.fd = fd, .p = p, .npages = npages, .stop = &stop, .op = op,
		};
		pthread_t th;

		fill(p, npages, 40);
		atomic_store(&stop, false);
		ASSERT_EQ(pthread_create(&th, NULL, racer_fn, &r), 0);
		for (i = 0; i < 20; i++) {
			usleep(1000 + (i % 4) * 700);
			ASSERT_EQ(madvise(p, npages * PS, MADV_DONTNEED), 0);
		}
		atomic_store(&stop, true);
		ASSERT_EQ(pthread_join(th, NULL), 0);
		ok += r.ok;
		/* Device first: a CPU touch would bring device pages back. */
		ASSERT_EQ(stale_entry(fd, p, npages), -1);
		ASSERT_EQ(mnm_read(fd, p, buf, npages), 0);
		for (i = 0; i < (int)(npages * PS); i++)
			ASSERT_EQ(buf[i], p[i]);
	}
	/* The race must not starve the device operation. */
	TH_LOG("%lu of the racing device operations succeeded", ok);
	ASSERT_GT(ok, 0);
	munmap(p, npages * PS);
	free(buf);
}

/* hole 4: MADV_DONTNEED between migrate_vma_pages() and finalize. */
TEST_F_TIMEOUT(stale, migrate_races_dontneed, 180)
{
	NEED_MIGRATE(self->a);
	ASSERT_EQ(mnm_write_file(DELAY_PARAM, 3000), 0);
	dontneed_race(_metadata, self->a, 2, 15);
}

/* hole 5: MADV_DONTNEED between the exclusive grant and its commit. */
TEST_F_TIMEOUT(stale, exclusive_races_dontneed, 180)
{
	NEED_MIGRATE(self->a);
	ASSERT_EQ(mnm_write_file(DELAY_PARAM, 3000), 0);
	dontneed_race(_metadata, self->a, 3, 15);
}

/* ---- exclusive grants that must not livelock ----------------------------- */

/* Granting twice, after a read (zero page), and an untouched 2 MiB range. */
TEST_F(stale, exclusive_again_and_after_read)
{
	unsigned long npages = 16, left;
	char *p = map_anon(npages * PS, PROT_READ | PROT_WRITE);
	char *h = map_aligned(HPS);
	char *buf = malloc(HPS);
	struct drm_mnm_exclusive e = { .size = sizeof(e) };

	NEED_MIGRATE(self->a);
	ASSERT_EQ(mnm_read(self->a, p, buf, npages), 0);	/* zero pages */
	ASSERT_EQ(exclusive(self->a, p, npages), 0);
	ASSERT_EQ(exclusive(self->a, p, npages), 0);		/* again */
	e.addr = (unsigned long)p;
	e.npages = npages;
	ASSERT_EQ(mnm_ioctl(self->a, DRM_IOCTL_MNM_CHECK_EXCLUSIVE, &e), 0);
	left = e.exclusive;
	ASSERT_EQ(left, npages);
	ASSERT_EQ(exclusive(self->b, p, npages), 0);		/* another file */
	ASSERT_EQ(stale_entry(self->a, p, npages), -1);
	e.addr = (unsigned long)p;	/* a's grant went to b */
	ASSERT_EQ(mnm_ioctl(self->a, DRM_IOCTL_MNM_CHECK_EXCLUSIVE, &e), 0);
	ASSERT_EQ(e.exclusive, 0);
	for (left = 0; left < npages * PS; left++)
		ASSERT_EQ(p[left], 0);
	madvise(h, HPS, MADV_HUGEPAGE);
	ASSERT_EQ(exclusive(self->a, h, HPS / PS), 0);		/* untouched THP */
	fill(h, HPS / PS, 5);
	ASSERT_EQ(mnm_read(self->a, h, buf, HPS / PS), 0);
	ASSERT_EQ(check(buf, HPS / PS, 5), -1);
	munmap(p, npages * PS);
	munmap(h, HPS);
	free(buf);
}

/* After fork our device pages are read-only: a device write must work. */
TEST_F(stale, device_write_after_fork)
{
	unsigned long npages = 16;
	char *p = map_anon(npages * PS, PROT_READ | PROT_WRITE);
	char *buf = malloc(npages * PS);
	int status;
	pid_t pid;

	NEED_MIGRATE(self->a);
	fill(p, npages, 60);
	ASSERT_EQ(mnm_migrate(self->a, p, npages, MNM_MIGRATE_TO_DEVICE, NULL), 0);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		usleep(200000);
		_exit(check(p, npages, 60) == -1 ? 0 : 1);
	}
	fill(buf, npages, 61);
	ASSERT_EQ(mnm_write(self->a, p, buf, npages), 0);
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_EQ(WEXITSTATUS(status), 0);	/* the child kept its copy */
	ASSERT_EQ(check(p, npages, 61), -1);
	munmap(p, npages * PS);
	free(buf);
}

/* A device write must dirty the page, or reclaim discards it as clean. */
TEST_F(stale, device_write_survives_madv_free)
{
	unsigned long npages = 16;
	char *p = map_anon(npages * PS, PROT_READ | PROT_WRITE);
	char *buf = malloc(npages * PS);

	fill(p, npages, 70);
	ASSERT_EQ(madvise(p, npages * PS, MADV_FREE), 0);
	fill(buf, npages, 71);
	ASSERT_EQ(mnm_write(self->a, p, buf, npages), 0);
	if (madvise(p, npages * PS, MADV_PAGEOUT))
		SKIP(return, "no MADV_PAGEOUT");
	ASSERT_EQ(check(p, npages, 71), -1);
	munmap(p, npages * PS);
	free(buf);
}

/*
 * memfd_secret() memory is not in the kernel's direct map: a device that
 * copied through it would oops the kernel.  No device may map it (GUP
 * refuses it too); migration skips it before copying.
 */
TEST_F(stale, secret_memory_refused)
{
	unsigned long npages = 8;
	char *buf = malloc(npages * PS), path[64];
	struct drm_mnm_migrate m;
	int sfd, cfd;
	char *p;

	sfd = syscall(SYS_memfd_secret, 0);
	if (sfd < 0)
		SKIP(return, "memfd_secret: %s (CONFIG_SECRETMEM, secretmem.enable)",
		     strerror(errno));
	ASSERT_EQ(ftruncate(sfd, npages * PS), 0);
	p = mmap(NULL, npages * PS, PROT_READ | PROT_WRITE, MAP_SHARED, sfd, 0);
	ASSERT_NE(p, MAP_FAILED);
	fill(p, npages, 80);

	ASSERT_EQ(mnm_read(self->a, p, buf, npages), -EFAULT);
	fill(buf, npages, 81);
	ASSERT_EQ(mnm_write(self->a, p, buf, npages), -EFAULT);
	ASSERT_NE(exclusive(self->a, p, npages), 0);
	if (has_migrate(self->a)) {
		ASSERT_EQ(mnm_migrate(self->a, p, npages, MNM_MIGRATE_TO_DEVICE, &m), 0);
		ASSERT_EQ(m.migrated, 0);
		ASSERT_EQ(m.skip_refused + m.skip_busy + m.skip_vma, npages);
	}
	snprintf(path, sizeof(path), COMPAT_NODE, 0);
	cfd = open(path, O_RDWR);
	if (cfd >= 0) {
		ASSERT_EQ(compat_cmd(cfd, HMM_DMIRROR_READ, p, buf, npages), -EFAULT);
		close(cfd);
	}
	ASSERT_EQ(stale_entry(self->a, p, npages), -1);
	ASSERT_EQ(check(p, npages, 80), -1);
	munmap(p, npages * PS);
	close(sfd);
	free(buf);
}

/* ---- smaller defects ---------------------------------------------------- */

/* Exit releases the mirror, then unmaps: no callback may follow release. */
TEST(exit_no_callback_after_release)
{
	int status, i;
	pid_t pid;

	for (i = 0; i < 4; i++) {
		pid = fork();
		ASSERT_GE(pid, 0);
		if (pid == 0) {
			int fd = mnm_open_device(0);
			char *p = map_anon(64 * PS, PROT_READ | PROT_WRITE);
			char *buf = malloc(64 * PS);

			if (fd < 0 || !p || !buf)
				_exit(fd == -ENODEV ? 4 : 1);
			fill(p, 64, 1);
			if (mnm_read(fd, p, buf, 64))
				_exit(2);
			_exit(0);	/* fd still open: exit releases first */
		}
		ASSERT_EQ(waitpid(pid, &status, 0), pid);
		if (WEXITSTATUS(status) == 4)
			SKIP(return, "no mnmirror device");
		ASSERT_EQ(WEXITSTATUS(status), 0);
	}
	/* The mock WARNs on an ->invalidate after its ->release: a splat. */
}

TEST_F(stale, devmem_free_after_limit_lowered)
{
	unsigned long npages = 64, limit;
	char *p = map_anon(npages * PS, PROT_READ | PROT_WRITE);
	struct drm_mnm_stats st;
	char path[128];
	FILE *f;

	NEED_MIGRATE(self->a);
	snprintf(path, sizeof(path), "/sys/kernel/debug/mnmirror/dev0/devmem_limit");
	f = fopen(path, "r");
	if (!f)
		SKIP(return, "no %s", path);
	ASSERT_EQ(fscanf(f, "%lu", &limit), 1);
	fclose(f);
	fill(p, npages, 50);
	ASSERT_EQ(mnm_migrate(self->a, p, npages, MNM_MIGRATE_TO_DEVICE, NULL), 0);
	ASSERT_EQ(mnm_write_file(path, 1), 0);
	ASSERT_EQ(mnm_stats(self->a, &st), 0);
	ASSERT_EQ(mnm_write_file(path, limit), 0);
	ASSERT_EQ(st.device.devmem_free, 0);
	ASSERT_EQ(check(p, npages, 50), -1);
	munmap(p, npages * PS);
}

TEST_HARNESS_MAIN
