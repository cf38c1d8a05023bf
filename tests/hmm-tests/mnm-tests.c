// SPDX-License-Identifier: GPL-2.0
/*
 * mnmirror selftests: the mirror behaviour that upstream's hmm-tests checks
 * (on mnmirror's native uapi) and what it does not check.  Built with the
 * kselftest harness of the installed kernel source.
 *
 * Pages carry tags: each 32-bit word of page i holds tag(gen, i), so a
 * device read proves which generation of which page it saw.
 *
 * With MNM_DRIVER=mnmskel (mnm_util.h) the tests run against the skeleton
 * driver, which has one device and only GET_INFO, READ, WRITE and SNAPSHOT;
 * a test that needs more (RELEASE, STATS, mmap of the device file, the
 * mock's debugfs, a second device, huge device entries, device memory)
 * skips, or leaves that part out, on a driver that lacks it.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "mm/gup_test.h"	/* from the kernel source, for migrate_gup */
#include "mnm_util.h"
#include "mnm_pages.h"
#include "mnm_devmem.h"

FIXTURE(hmm) {
	int fd;
};

/*
 * What only the mock is known to have: STATS, mmap of the device file and
 * its debugfs (no GET_INFO cap says so), and RELEASE, which mnmskel leaves
 * out.  Elsewhere DRM fails such an ioctl with -EINVAL, as it fails a
 * malformed one: the tests cannot tell the two apart.
 */
#define NEED_MOCK(what) do {						\
	if (!mnm_driver_is_mock())					\
		SKIP(return, "needs %s: mnmirror's, not %s's",		\
		     what, mnm_driver_name());				\
} while (0)

/* Does the device map a PMD-mapped CPU page with one 2 MiB entry? */
static bool has_huge_pte(int fd)
{
	struct drm_mnm_info info = { .size = sizeof(info) };

	return !mnm_ioctl(fd, DRM_IOCTL_MNM_GET_INFO, &info) &&
	       (info.caps & MNM_CAP_HUGE_PTE);
}

FIXTURE_SETUP(hmm)
{
	self->fd = mnm_open_device(0);
	if (self->fd == -ENODEV)
		SKIP(return, "no %s device (is its module loaded?)", mnm_driver_name());
	ASSERT_GE(self->fd, 0);
}

FIXTURE_TEARDOWN(hmm)
{
	if (self->fd >= 0)
		close(self->fd);
}

FIXTURE(hmm2) {
	int fd0;
	int fd1;
};

FIXTURE_SETUP(hmm2)
{
	self->fd0 = mnm_open_device(0);
	self->fd1 = mnm_open_device(1);
	if (self->fd0 == -ENODEV || self->fd1 == -ENODEV)
		SKIP(return, "needs two %s devices (mnmirror: num_devices >= 2)",
		     mnm_driver_name());
	ASSERT_GE(self->fd0, 0);
	ASSERT_GE(self->fd1, 0);
}

FIXTURE_TEARDOWN(hmm2)
{
	if (self->fd0 >= 0)
		close(self->fd0);
	if (self->fd1 >= 0)
		close(self->fd1);
}

/* ---- what upstream hmm-tests checks, without migration --------------- */

TEST(open_close)
{
	int i, fd;

	for (i = 0; i < 64; i++) {
		fd = mnm_open_device(i & 1);
		if (fd == -ENODEV && (i & 1))	/* a driver with one device */
			fd = mnm_open_device(0);
		if (fd == -ENODEV)
			SKIP(return, "no %s device", mnm_driver_name());
		ASSERT_GE(fd, 0);
		ASSERT_EQ(close(fd), 0);
	}
}

TEST_F(hmm, info)
{
	struct drm_mnm_info info = { .size = sizeof(info) };

	ASSERT_EQ(mnm_ioctl(self->fd, DRM_IOCTL_MNM_GET_INFO, &info), 0);
	ASSERT_EQ(info.abi_version, MNM_ABI_VERSION);
	ASSERT_TRUE(info.caps & MNM_CAP_MIRROR);
	ASSERT_EQ(info.page_size, sysconf(_SC_PAGESIZE));
	ASSERT_EQ(info.device_index, 0);
}

TEST_F(hmm, anon_read)
{
	unsigned long npages = 1027;	/* crosses several 2 MiB intervals */
	char *p = map_anon(npages * PS, PROT_READ | PROT_WRITE);
	char *buf = malloc(npages * PS);
	struct drm_mnm_rw rw;

	ASSERT_NE(p, NULL);
	ASSERT_NE(buf, NULL);
	fill(p, npages, 1);
	ASSERT_EQ(mnm_rw(self->fd, 0, p, buf, npages, &rw), 0);
	ASSERT_EQ(rw.cpages, npages);
	ASSERT_GE(rw.faults, 1);
	ASSERT_EQ(check(buf, npages, 1), -1);
	munmap(p, npages * PS);
	free(buf);
}

TEST_F(hmm, anon_read_prot)
{
	unsigned long npages = 64;
	char *p = map_anon(npages * PS, PROT_NONE);
	char *buf = malloc(npages * PS);
	unsigned char prot[64];
	unsigned long i;

	ASSERT_NE(p, NULL);
	memset(buf, 0xab, npages * PS);
	/* No access on the CPU side: no access for the device either. */
	ASSERT_EQ(mnm_read(self->fd, p, buf, npages), -EFAULT);
	ASSERT_EQ(mnm_snapshot(self->fd, p, npages, prot, 0), 0);
	for (i = 0; i < npages; i++)
		ASSERT_EQ(prot[i], MNM_PROT_ERROR);
	/* Readable but never written: the device reads the zero page. */
	ASSERT_EQ(mprotect(p, npages * PS, PROT_READ), 0);
	ASSERT_EQ(madvise(p, npages * PS, MADV_NOHUGEPAGE), 0);
	ASSERT_EQ(mnm_read(self->fd, p, buf, npages), 0);
	for (i = 0; i < npages * PS; i++)
		ASSERT_EQ(buf[i], 0);
	ASSERT_EQ(mnm_snapshot(self->fd, p, npages, prot, MNM_SNAPSHOT_DEVICE), 0);
	for (i = 0; i < npages; i++)
		ASSERT_EQ(prot[i], MNM_PROT_READ | MNM_PROT_ZERO);
	/* A device write needs a writable CPU mapping. */
	ASSERT_EQ(mnm_write(self->fd, p, buf, npages), -EPERM);
	munmap(p, npages * PS);
	free(buf);
}

TEST_F(hmm, anon_write)
{
	unsigned long npages = 700;
	char *p = map_anon(npages * PS, PROT_READ | PROT_WRITE);
	char *buf = malloc(npages * PS);
	struct drm_mnm_rw rw;

	ASSERT_NE(p, NULL);
	fill(buf, npages, 2);
	ASSERT_EQ(mnm_rw(self->fd, 1, p, buf, npages, &rw), 0);
	ASSERT_EQ(rw.cpages, npages);
	ASSERT_EQ(check(p, npages, 2), -1);
	munmap(p, npages * PS);
	free(buf);
}

TEST_F(hmm, anon_write_prot)
{
	unsigned long npages = 32, i;
	char *p = map_anon(npages * PS, PROT_READ | PROT_WRITE);
	char *buf = malloc(npages * PS);
	unsigned char prot[32];

	ASSERT_NE(p, NULL);
	fill(p, npages, 3);
	ASSERT_EQ(mnm_write(self->fd, p, p, npages), 0);	/* maps writable */
	ASSERT_EQ(mprotect(p, npages * PS, PROT_READ), 0);
	/* mprotect downgraded the device mapping too. */
	ASSERT_EQ(mnm_snapshot(self->fd, p, npages, prot, MNM_SNAPSHOT_DEVICE), 0);
	for (i = 0; i < npages; i++)
		ASSERT_EQ(prot[i] & MNM_PROT_WRITE, 0);
	fill(buf, npages, 4);
	ASSERT_EQ(mnm_write(self->fd, p, buf, npages), -EPERM);
	ASSERT_EQ(check(p, npages, 3), -1);
	ASSERT_EQ(mnm_read(self->fd, p, buf, npages), 0);
	ASSERT_EQ(check(buf, npages, 3), -1);
	ASSERT_EQ(mnm_snapshot(self->fd, p, npages, prot, MNM_SNAPSHOT_DEVICE), 0);
	for (i = 0; i < npages; i++)
		ASSERT_EQ(prot[i], MNM_PROT_READ);
	munmap(p, npages * PS);
	free(buf);
}

static void write_child(struct __test_metadata *_metadata, int shared)
{
	unsigned long npages = 64;
	int flags = (shared ? MAP_SHARED : MAP_PRIVATE) | MAP_ANONYMOUS;
	char *p = mmap(NULL, npages * PS, PROT_READ | PROT_WRITE, flags, -1, 0);
	char *buf = malloc(npages * PS);
	int status;
	pid_t pid;

	ASSERT_NE(p, MAP_FAILED);
	fill(p, npages, 5);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		int fd = mnm_open_device(0);

		if (fd < 0)
			_exit(10);
		fill(buf, npages, 6);
		if (mnm_write(fd, p, buf, npages))
			_exit(11);
		if (check(p, npages, 6) != -1)
			_exit(12);
		_exit(0);
	}
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(WEXITSTATUS(status), 0);
	/* The child's device write reaches us only through a shared mapping. */
	ASSERT_EQ(check(p, npages, shared ? 6 : 5), -1);
	munmap(p, npages * PS);
	free(buf);
}

TEST(anon_write_child)
{
	int fd = mnm_open_device(0);

	if (fd == -ENODEV)
		SKIP(return, "no %s device", mnm_driver_name());
	close(fd);
	write_child(_metadata, 0);
}

TEST(anon_write_child_shared)
{
	int fd = mnm_open_device(0);

	if (fd == -ENODEV)
		SKIP(return, "no %s device", mnm_driver_name());
	close(fd);
	write_child(_metadata, 1);
}

TEST_F(hmm, anon_write_huge)
{
	unsigned long npages = 2 * HPS / PS, i;
	char *p = map_aligned(2 * HPS);
	char *buf = malloc(npages * PS);
	unsigned char *cpu = malloc(npages), *dev = malloc(npages);
	unsigned char huge = has_huge_pte(self->fd) ? MNM_PROT_PMD : 0;

	ASSERT_NE(p, NULL);
	madvise(p, 2 * HPS, MADV_HUGEPAGE);
	p[0] = 1;
	p[HPS] = 1;	/* let THP populate both blocks */
	fill(buf, npages, 7);
	ASSERT_EQ(mnm_write(self->fd, p, buf, npages), 0);
	ASSERT_EQ(check(p, npages, 7), -1);
	ASSERT_EQ(mnm_snapshot(self->fd, p, npages, cpu, 0), 0);
	ASSERT_EQ(mnm_snapshot(self->fd, p, npages, dev, MNM_SNAPSHOT_DEVICE), 0);
	if (!(cpu[0] & MNM_PROT_PMD))
		SKIP(goto out, "the kernel did not back the range with a THP");
	/* A PMD-mapped CPU page becomes one 2 MiB device entry (or 512). */
	for (i = 0; i < npages; i++) {
		ASSERT_EQ(cpu[i], MNM_PROT_WRITE | MNM_PROT_PMD);
		ASSERT_EQ(dev[i], MNM_PROT_WRITE | huge);
	}
out:
	munmap(p, 2 * HPS);
	free(buf);
	free(cpu);
	free(dev);
}

TEST_F(hmm, anon_write_hugetlbfs)
{
	unsigned long npages = HPS / PS, i;
	char *buf = malloc(HPS);
	unsigned char *dev = malloc(npages), *cpu = malloc(npages);
	unsigned char huge = has_huge_pte(self->fd) ? MNM_PROT_PMD : 0;
	char *p = mmap(NULL, HPS, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);

	if (p == MAP_FAILED)
		SKIP(return, "no 2 MiB huge page reserved (vm.nr_hugepages)");
	fill(buf, npages, 8);
	ASSERT_EQ(mnm_write(self->fd, p, buf, npages), 0);
	ASSERT_EQ(check(p, npages, 8), -1);
	ASSERT_EQ(mnm_snapshot(self->fd, p, npages, cpu, 0), 0);
	ASSERT_EQ(mnm_snapshot(self->fd, p, npages, dev, MNM_SNAPSHOT_DEVICE), 0);
	for (i = 0; i < npages; i++) {
		ASSERT_EQ(cpu[i], MNM_PROT_WRITE | MNM_PROT_PMD);
		ASSERT_EQ(dev[i], MNM_PROT_WRITE | huge);
	}
	munmap(p, HPS);
	free(buf);
	free(dev);
	free(cpu);
}

TEST_F(hmm, file_read)
{
	unsigned long npages = 100;
	int fd = create_tmpfile(npages * PS);
	char *buf = malloc(npages * PS), *p;

	ASSERT_GE(fd, 0);
	fill(buf, npages, 9);
	ASSERT_EQ(pwrite(fd, buf, npages * PS, 0), (ssize_t)(npages * PS));
	p = mmap(NULL, npages * PS, PROT_READ, MAP_SHARED, fd, 0);
	ASSERT_NE(p, MAP_FAILED);
	memset(buf, 0, npages * PS);
	ASSERT_EQ(mnm_read(self->fd, p, buf, npages), 0);
	ASSERT_EQ(check(buf, npages, 9), -1);
	munmap(p, npages * PS);
	close(fd);
	free(buf);
}

TEST_F(hmm, file_write)
{
	unsigned long npages = 100;
	int fd = create_tmpfile(npages * PS);
	char *buf = malloc(npages * PS), *p;

	ASSERT_GE(fd, 0);
	p = mmap(NULL, npages * PS, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(p, MAP_FAILED);
	fill(buf, npages, 10);
	ASSERT_EQ(mnm_write(self->fd, p, buf, npages), 0);
	memset(buf, 0, npages * PS);
	ASSERT_EQ(pread(fd, buf, npages * PS, 0), (ssize_t)(npages * PS));
	ASSERT_EQ(check(buf, npages, 10), -1);
	munmap(p, npages * PS);
	close(fd);
	free(buf);
}

TEST_F(hmm, anon_read_multiple)
{
	unsigned long npages = 300;
	char *p = map_anon(npages * PS, PROT_READ | PROT_WRITE);
	char *buf = malloc(npages * PS);
	struct drm_mnm_rw rw;
	unsigned int gen;

	ASSERT_NE(p, NULL);
	for (gen = 1; gen <= 8; gen++) {
		fill(p, npages, gen);	/* CPU writes: the device must see them */
		ASSERT_EQ(mnm_rw(self->fd, 0, p, buf, npages, &rw), 0);
		ASSERT_EQ(check(buf, npages, gen), -1);
	}
	/* Unchanged memory is read through the device page table, no fault. */
	ASSERT_EQ(mnm_rw(self->fd, 0, p, buf, npages, &rw), 0);
	ASSERT_EQ(rw.faults, 0);
	ASSERT_EQ(check(buf, npages, 8), -1);
	munmap(p, npages * PS);
	free(buf);
}

TEST_F(hmm, anon_teardown)
{
	unsigned long npages = 257;
	char *buf = malloc(npages * PS);
	unsigned char *dev = malloc(npages);
	struct drm_mnm_stats st;
	int i;

	for (i = 0; i < 40; i++) {
		char *p = map_anon(npages * PS, PROT_READ | PROT_WRITE);
		unsigned long j;

		ASSERT_NE(p, NULL);
		fill(p, npages, i + 1);
		ASSERT_EQ(mnm_read(self->fd, p, buf, npages), 0);
		ASSERT_EQ(check(buf, npages, i + 1), -1);
		ASSERT_EQ(munmap(p, npages * PS), 0);
		ASSERT_EQ(mnm_snapshot(self->fd, p, npages, dev, MNM_SNAPSHOT_DEVICE), 0);
		for (j = 0; j < npages; j++)
			ASSERT_EQ(dev[j], MNM_PROT_NONE);
	}
	if (mnm_driver_is_mock()) {	/* STATS */
		ASSERT_EQ(mnm_stats(self->fd, &st), 0);
		ASSERT_EQ(st.file.mapped_pages, 0);
		ASSERT_GE(st.file.invalidations, 40);
	}
	free(buf);
	free(dev);
}

TEST_F(hmm, snapshot)
{
	unsigned long npages = 6, i;
	char *p = map_anon(npages * PS, PROT_READ | PROT_WRITE);
	unsigned char prot[6], dev[6];
	volatile char c;

	ASSERT_NE(p, NULL);
	ASSERT_EQ(madvise(p, npages * PS, MADV_NOHUGEPAGE), 0);
	/* page 0 untouched, 1 read (zero page), 2 written, 3 written then
	 * read-only, 4 PROT_NONE, 5 unmapped */
	c = p[PS];
	(void)c;
	p[2 * PS] = 1;
	p[3 * PS] = 1;
	ASSERT_EQ(mprotect(p + 3 * PS, PS, PROT_READ), 0);
	ASSERT_EQ(mprotect(p + 4 * PS, PS, PROT_NONE), 0);
	ASSERT_EQ(munmap(p + 5 * PS, PS), 0);
	ASSERT_EQ(mnm_snapshot(self->fd, p, npages, prot, 0), 0);
	ASSERT_EQ(prot[0], MNM_PROT_NONE);
	ASSERT_EQ(prot[1], MNM_PROT_READ | MNM_PROT_ZERO);
	ASSERT_EQ(prot[2], MNM_PROT_WRITE);
	ASSERT_EQ(prot[3], MNM_PROT_READ);
	ASSERT_EQ(prot[4], MNM_PROT_ERROR);
	ASSERT_EQ(prot[5], MNM_PROT_ERROR);	/* no VMA: a CPU access faults */
	/* A snapshot faults nothing in, on the CPU or the device. */
	ASSERT_EQ(mnm_snapshot(self->fd, p, npages, prot, 0), 0);
	ASSERT_EQ(prot[0], MNM_PROT_NONE);
	ASSERT_EQ(mnm_snapshot(self->fd, p, npages, dev, MNM_SNAPSHOT_DEVICE), 0);
	for (i = 0; i < npages; i++)
		ASSERT_EQ(dev[i], MNM_PROT_NONE);
	munmap(p, 5 * PS);
}

TEST_F(hmm2, snapshot_two_devices)
{
	unsigned long npages = 64, i;
	char *p = map_anon(npages * PS, PROT_READ | PROT_WRITE);
	char *buf = malloc(npages * PS);
	unsigned char c0[64], c1[64], d0[64], d1[64];

	ASSERT_NE(p, NULL);
	fill(p, npages, 11);
	ASSERT_EQ(mnm_read(self->fd0, p, buf, npages), 0);
	ASSERT_EQ(mnm_read(self->fd1, p, buf, npages / 2), 0);
	ASSERT_EQ(mnm_snapshot(self->fd0, p, npages, c0, 0), 0);
	ASSERT_EQ(mnm_snapshot(self->fd1, p, npages, c1, 0), 0);
	ASSERT_EQ(memcmp(c0, c1, npages), 0);	/* one CPU page table */
	ASSERT_EQ(mnm_snapshot(self->fd0, p, npages, d0, MNM_SNAPSHOT_DEVICE), 0);
	ASSERT_EQ(mnm_snapshot(self->fd1, p, npages, d1, MNM_SNAPSHOT_DEVICE), 0);
	for (i = 0; i < npages; i++) {
		ASSERT_EQ(d0[i] & ~MNM_PROT_PMD, MNM_PROT_WRITE);
		ASSERT_EQ(d1[i] & ~MNM_PROT_PMD,
			  i < npages / 2 ? MNM_PROT_WRITE : MNM_PROT_NONE);
	}
	munmap(p, npages * PS);
	free(buf);
}

TEST_F(hmm2, double_map)
{
	unsigned long npages = 128;
	char *p = map_anon(npages * PS, PROT_READ | PROT_WRITE);
	char *b0 = malloc(npages * PS), *b1 = malloc(npages * PS);

	ASSERT_NE(p, NULL);
	fill(p, npages, 12);
	ASSERT_EQ(mnm_read(self->fd0, p, b0, npages), 0);
	ASSERT_EQ(mnm_read(self->fd1, p, b1, npages), 0);
	ASSERT_EQ(check(b0, npages, 12), -1);
	ASSERT_EQ(check(b1, npages, 12), -1);
	/* One device writes; the other device and the CPU see it. */
	fill(b0, npages, 13);
	ASSERT_EQ(mnm_write(self->fd0, p, b0, npages), 0);
	ASSERT_EQ(mnm_read(self->fd1, p, b1, npages), 0);
	ASSERT_EQ(check(b1, npages, 13), -1);
	ASSERT_EQ(check(p, npages, 13), -1);
	munmap(p, npages * PS);
	free(b0);
	free(b1);
}

TEST_F(hmm, compound)
{
	unsigned long npages = HPS / PS, i;
	unsigned char *cpu = malloc(npages);
	char *p = mmap(NULL, HPS, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);

	if (p == MAP_FAILED)
		SKIP(return, "no 2 MiB huge page reserved (vm.nr_hugepages)");
	memset(p, 1, HPS);
	ASSERT_EQ(mprotect(p, HPS, PROT_READ), 0);
	ASSERT_EQ(mnm_snapshot(self->fd, p, npages, cpu, 0), 0);
	for (i = 0; i < npages; i++)
		ASSERT_EQ(cpu[i], MNM_PROT_READ | MNM_PROT_PMD);
	munmap(p, HPS);
	free(cpu);
}

TEST_F(hmm, mixedmap)
{
	unsigned long npages = 8, i;
	unsigned char prot[8];
	char *buf = malloc(npages * PS);
	char *p;

	NEED_MOCK("mmap of the device file");
	p = mmap(NULL, npages * PS, PROT_READ | PROT_WRITE, MAP_PRIVATE,
		 self->fd, 0);
	ASSERT_NE(p, MAP_FAILED);
	/* Driver-inserted pages, mapped privately: readable, COW on write. */
	ASSERT_EQ(mnm_snapshot(self->fd, p, npages, prot, 0), 0);
	for (i = 0; i < npages; i++)
		ASSERT_EQ(prot[i], MNM_PROT_READ);
	memset(buf, 0xab, npages * PS);
	ASSERT_EQ(mnm_read(self->fd, p, buf, npages), 0);
	for (i = 0; i < npages * PS; i++)
		ASSERT_EQ(buf[i], 0);
	munmap(p, npages * PS);
	ASSERT_EQ(mmap(NULL, 128UL << 20, PROT_READ, MAP_PRIVATE, self->fd, 0),
		  MAP_FAILED);
	ASSERT_EQ(errno, EINVAL);
	free(buf);
}

/* ---- beyond upstream ------------------------------------------------ */

TEST_F(hmm, munmap_remap)
{
	unsigned long npages = 96, i;
	char *p = map_anon(npages * PS, PROT_READ | PROT_WRITE);
	char *buf = malloc(npages * PS), *q;
	unsigned char dev[96];

	ASSERT_NE(p, NULL);
	fill(p, npages, 14);
	ASSERT_EQ(mnm_read(self->fd, p, buf, npages), 0);
	/* Partial munmap: exactly those device entries go. */
	ASSERT_EQ(munmap(p + 32 * PS, 32 * PS), 0);
	ASSERT_EQ(mnm_snapshot(self->fd, p, npages, dev, MNM_SNAPSHOT_DEVICE), 0);
	for (i = 0; i < npages; i++) {
		if (i >= 32 && i < 64) {
			ASSERT_EQ(dev[i], MNM_PROT_NONE);
		} else {
			ASSERT_NE(dev[i], MNM_PROT_NONE);
		}
	}
	ASSERT_EQ(mnm_read(self->fd, p, buf, npages), -EFAULT);
	/* New memory at the same address: never the old pages. */
	q = mmap(p + 32 * PS, 32 * PS, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	ASSERT_EQ(q, p + 32 * PS);
	ASSERT_EQ(mnm_read(self->fd, p, buf, npages), 0);
	ASSERT_EQ(check(buf, 32, 14), -1);
	for (i = 32 * PS; i < 64 * PS; i++)
		ASSERT_EQ(buf[i], 0);
	munmap(p, npages * PS);
	free(buf);
}

TEST_F(hmm, mremap)
{
	unsigned long npages = 64;
	char *p = map_anon(npages * PS, PROT_READ | PROT_WRITE);
	char *buf = malloc(npages * PS), *q;

	ASSERT_NE(p, NULL);
	fill(p, npages, 15);
	ASSERT_EQ(mnm_read(self->fd, p, buf, npages), 0);
	q = mremap(p, npages * PS, npages * PS * 2, MREMAP_MAYMOVE);
	ASSERT_NE(q, MAP_FAILED);
	if (q != p) {
		ASSERT_EQ(mnm_read(self->fd, p, buf, npages), -EFAULT);
	}
	memset(buf, 0, npages * PS);
	ASSERT_EQ(mnm_read(self->fd, q, buf, npages), 0);
	ASSERT_EQ(check(buf, npages, 15), -1);
	munmap(q, npages * PS * 2);
	free(buf);
}

TEST_F(hmm, madvise_dontneed)
{
	unsigned long npages = 64, i;
	char *p = map_anon(npages * PS, PROT_READ | PROT_WRITE);
	char *buf = malloc(npages * PS);
	unsigned char dev[64];

	ASSERT_NE(p, NULL);
	ASSERT_EQ(madvise(p, npages * PS, MADV_NOHUGEPAGE), 0);
	fill(p, npages, 16);
	ASSERT_EQ(mnm_read(self->fd, p, buf, npages), 0);
	ASSERT_EQ(madvise(p, npages * PS, MADV_DONTNEED), 0);
	ASSERT_EQ(mnm_read(self->fd, p, buf, npages), 0);
	for (i = 0; i < npages * PS; i++)
		ASSERT_EQ(buf[i], 0);
	ASSERT_EQ(mnm_snapshot(self->fd, p, npages, dev, MNM_SNAPSHOT_DEVICE), 0);
	for (i = 0; i < npages; i++)
		ASSERT_EQ(dev[i], MNM_PROT_READ | MNM_PROT_ZERO);
	munmap(p, npages * PS);
	free(buf);
}

TEST_F(hmm, mprotect_none)
{
	unsigned long npages = 16;
	char *p = map_anon(npages * PS, PROT_READ | PROT_WRITE);
	char *buf = malloc(npages * PS);

	ASSERT_NE(p, NULL);
	fill(p, npages, 17);
	ASSERT_EQ(mnm_read(self->fd, p, buf, npages), 0);
	ASSERT_EQ(mprotect(p, npages * PS, PROT_NONE), 0);
	ASSERT_EQ(mnm_read(self->fd, p, buf, npages), -EFAULT);
	ASSERT_EQ(mprotect(p, npages * PS, PROT_READ), 0);
	ASSERT_EQ(mnm_read(self->fd, p, buf, npages), 0);
	ASSERT_EQ(check(buf, npages, 17), -1);
	munmap(p, npages * PS);
	free(buf);
}

TEST_F(hmm, fork_cow)
{
	unsigned long npages = 64;
	char *p = map_anon(npages * PS, PROT_READ | PROT_WRITE);
	char *buf = malloc(npages * PS);
	int go[2], done[2], status;
	pid_t pid;
	char c;

	ASSERT_NE(p, NULL);
	ASSERT_EQ(madvise(p, npages * PS, MADV_NOHUGEPAGE), 0);
	fill(p, npages, 18);
	ASSERT_EQ(mnm_write(self->fd, p, p, npages), 0);	/* writable entries */
	ASSERT_EQ(pipe(go), 0);
	ASSERT_EQ(pipe(done), 0);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		if (read(go[0], &c, 1) != 1)
			_exit(1);
		_exit(check(p, npages, 18) == -1 ? 0 : 2);
	}
	/* After fork the parent writes: copy-on-write gives it new pages,
	 * and the device must follow the parent, not keep the shared ones. */
	fill(p, npages, 19);
	ASSERT_EQ(mnm_read(self->fd, p, buf, npages), 0);
	ASSERT_EQ(check(buf, npages, 19), -1);
	ASSERT_EQ(write(go[1], "x", 1), 1);
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(WEXITSTATUS(status), 0);
	munmap(p, npages * PS);
	free(buf);
}

#include "mnm-abi-tests.c"
#include "mnm-race-tests.c"
#include "mnm-migrate-tests.c"

TEST_HARNESS_MAIN
