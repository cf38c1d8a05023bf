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

TEST(fd_other_process)
{
	int fd = mnm_open_device(0), sv[2], status;
	char *p = map_anon(PS, PROT_READ | PROT_WRITE);
	char buf[4096];
	pid_t pid;

	if (fd == -ENODEV)
		SKIP(return, "no %s device", mnm_driver_name());
	ASSERT_GE(fd, 0);
	ASSERT_EQ(mnm_read(fd, p, buf, 1), 0);
	ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		struct drm_mnm_info info = { .size = sizeof(info) };
		char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
		struct iovec iov = { .iov_base = buf, .iov_len = 1 };
		struct msghdr msg = {
			.msg_iov = &iov, .msg_iovlen = 1,
			.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
		};
		int passed;

		/* The inherited fd: same memory at the same address, other mm. */
		if (mnm_read(fd, p, buf, 1) != -EPERM)
			_exit(1);
		if (mnm_write(fd, p, buf, 1) != -EPERM)
			_exit(2);
		if (mnm_snapshot(fd, p, 1, (unsigned char *)buf, 0) != -EPERM)
			_exit(3);
		if (mnm_driver_is_mock() && mnm_release(fd, p, 1) != -EPERM)
			_exit(4);
		if (mnm_ioctl(fd, DRM_IOCTL_MNM_GET_INFO, &info))
			_exit(5);
		/* The same file passed over a socket. */
		if (recvmsg(sv[1], &msg, 0) != 1)
			_exit(6);
		memcpy(&passed, CMSG_DATA(CMSG_FIRSTHDR(&msg)), sizeof(int));
		if (mnm_read(passed, p, buf, 1) != -EPERM)
			_exit(7);
		_exit(0);
	} else {
		char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
		struct iovec iov = { .iov_base = "f", .iov_len = 1 };
		struct msghdr msg = {
			.msg_iov = &iov, .msg_iovlen = 1,
			.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
		};
		struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);

		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
		ASSERT_EQ(sendmsg(sv[0], &msg, 0), 1);
	}
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(WEXITSTATUS(status), 0);
	/* Still fine for its own process. */
	ASSERT_EQ(mnm_read(fd, p, buf, 1), 0);
	close(fd);
}

struct bad_case {
	const char *name;
	unsigned long addr;	/* 0: use the valid buffer */
	unsigned long npages;
	unsigned long ptr;	/* 1: use the valid buffer */
	unsigned int size_delta;
	unsigned int flags;
	unsigned long reserved;
	int err;
};

TEST_F(hmm, bad_inputs)
{
	char *p = map_anon(4 * PS, PROT_READ | PROT_WRITE);
	char *buf = malloc(4 * PS);
	char *hole = map_anon(PS, PROT_READ);
	const struct bad_case cases[] = {
		{ "valid", 0, 4, 1, 0, 0, 0, 0 },
		{ "unaligned address", 1, 1, 1, 0, 0, 0, -EINVAL },
		{ "zero pages", 0, 0, 1, 0, 0, 0, -EINVAL },
		{ "too many pages", 0, MNM_MAX_PAGES + 1, 1, 0, 0, 0, -EINVAL },
		{ "huge page count", 0, ~0UL, 1, 0, 0, 0, -EINVAL },
		{ "address overflow", -PS, 2, 1, 0, 0, 0, -EINVAL },
		{ "kernel address", 0xffff888000000000UL, 1, 1, 0, 0, 0, -EINVAL },
		{ "NULL buffer", 0, 1, 0, 0, 0, 0, -EFAULT },
		{ "kernel buffer", 0, 1, 0xffff888000000000UL, 0, 0, 0, -EFAULT },
		{ "nonzero flags", 0, 1, 1, 0, 1, 0, -EINVAL },
		{ "nonzero reserved", 0, 1, 1, 0, 0, 1, -EINVAL },
		{ "struct too small", 0, 1, 1, 8, 0, 0, -EINVAL },
		{ "unmapped address", 2, 1, 1, 0, 0, 0, -EFAULT },
	};
	unsigned int i, w;

	ASSERT_NE(p, NULL);
	ASSERT_NE(hole, NULL);
	munmap(hole, PS);
	for (w = 0; w < 2; w++) {
		for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			const struct bad_case *c = &cases[i];
			struct drm_mnm_rw rw = {
				.size = sizeof(rw) - c->size_delta,
				.flags = c->flags,
				.addr = c->addr == 0 ? (unsigned long)p :
					c->addr == 1 ? (unsigned long)p + 1 :
					c->addr == 2 ? (unsigned long)hole : c->addr,
				.ptr = c->ptr == 1 ? (unsigned long)buf : c->ptr,
				.npages = c->npages,
			};
			int ret;

			rw.reserved[1] = c->reserved;
			ret = mnm_ioctl(self->fd, w ? DRM_IOCTL_MNM_WRITE :
					DRM_IOCTL_MNM_READ, &rw);
			if (ret != c->err)
				TH_LOG("%s %s: got %d, want %d", w ? "write" : "read",
				       c->name, ret, c->err);
			ASSERT_EQ(ret, c->err);
		}
	}
	{
		struct drm_mnm_snapshot s = {
			.size = sizeof(s), .flags = 2, .addr = (unsigned long)p,
			.ptr = (unsigned long)buf, .npages = 1,
		};
		struct drm_mnm_release r = {
			.size = sizeof(r), .addr = (unsigned long)p + 1, .npages = 1,
		};
		struct drm_mnm_info info = { .size = sizeof(info), .reserved = { 1 } };
		struct drm_mnm_stats st = { .size = 4 };

		ASSERT_EQ(mnm_ioctl(self->fd, DRM_IOCTL_MNM_SNAPSHOT, &s), -EINVAL);
		s.flags = 0;
		s.ptr = 0;
		ASSERT_EQ(mnm_ioctl(self->fd, DRM_IOCTL_MNM_SNAPSHOT, &s), -EFAULT);
		ASSERT_EQ(mnm_ioctl(self->fd, DRM_IOCTL_MNM_GET_INFO, &info), -EINVAL);
		/* Elsewhere -EINVAL proves nothing: DRM's for unknown ioctls. */
		if (mnm_driver_is_mock()) {
			ASSERT_EQ(mnm_ioctl(self->fd, DRM_IOCTL_MNM_RELEASE, &r), -EINVAL);
			r.addr = (unsigned long)p;
			r.npages = 0;
			ASSERT_EQ(mnm_ioctl(self->fd, DRM_IOCTL_MNM_RELEASE, &r), -EINVAL);
			ASSERT_EQ(mnm_ioctl(self->fd, DRM_IOCTL_MNM_STATS, &st), -EINVAL);
		}
	}
	munmap(p, 4 * PS);
	free(buf);
}

TEST_F(hmm, release_range)
{
	unsigned long npages = 1024, i;
	char *p = map_anon(npages * PS, PROT_READ | PROT_WRITE);
	char *buf = malloc(npages * PS);
	unsigned char *dev = malloc(npages);
	struct drm_mnm_stats st;
	struct drm_mnm_rw rw;

	NEED_MOCK("RELEASE or STATS");
	ASSERT_NE(p, NULL);
	fill(p, npages, 20);
	ASSERT_EQ(mnm_read(self->fd, p, buf, npages), 0);
	ASSERT_EQ(mnm_release(self->fd, p, npages), 0);
	ASSERT_EQ(mnm_snapshot(self->fd, p, npages, dev, MNM_SNAPSHOT_DEVICE), 0);
	for (i = 0; i < npages; i++)
		ASSERT_EQ(dev[i], MNM_PROT_NONE);
	ASSERT_EQ(mnm_stats(self->fd, &st), 0);
	ASSERT_EQ(st.file.mapped_pages, 0);
	/* The device faults again and still sees current data. */
	fill(p, npages, 21);
	ASSERT_EQ(mnm_rw(self->fd, 0, p, buf, npages, &rw), 0);
	ASSERT_GE(rw.faults, 1);
	ASSERT_EQ(check(buf, npages, 21), -1);
	munmap(p, npages * PS);
	free(buf);
	free(dev);
}

/* ---- concurrency ---------------------------------------------------- */

struct reader_arg {
	int fd;
	char *p;
	unsigned long npages;
	atomic_uint *gen;	/* generation fully written before a read starts */
	atomic_bool *stop;
	unsigned long reads, ok, stale;
};

static void *reader(void *data)
{
	struct reader_arg *a = data;
	uint32_t *buf = malloc(a->npages * PS);

	while (!atomic_load(a->stop)) {
		unsigned int min_gen = atomic_load(a->gen);
		unsigned long i, j;

		a->reads++;
		if (mnm_read(a->fd, a->p, buf, a->npages))
			continue;	/* unmapped or busy right now: allowed */
		a->ok++;
		for (i = 0; i < a->npages; i++) {
			for (j = 0; j < PS / 4; j += 256) {
				uint32_t t = buf[i * PS / 4 + j];

				/* zero (fresh page) or a current-or-newer tag */
				if (t && (TAG_IDX(t) != i || TAG_GEN(t) < min_gen))
					a->stale++;
			}
		}
	}
	free(buf);
	return NULL;
}

TEST_F_TIMEOUT(hmm, stress_invalidate, 120)
{
	unsigned long npages = 64;
	char *p = map_anon(npages * PS, PROT_READ | PROT_WRITE);
	atomic_uint gen = 1;
	atomic_bool stop = false;
	struct reader_arg args[2];
	pthread_t th[2];
	unsigned int g, i;

	ASSERT_NE(p, NULL);
	fill(p, npages, 1);
	for (i = 0; i < 2; i++) {
		args[i] = (struct reader_arg){ .fd = self->fd, .p = p,
			.npages = npages, .gen = &gen, .stop = &stop };
		ASSERT_EQ(pthread_create(&th[i], NULL, reader, &args[i]), 0);
	}
	for (g = 2; g < 200; g++) {
		switch (g % 3) {
		case 0:	/* unmap and map fresh memory */
			ASSERT_EQ(munmap(p, npages * PS), 0);
			ASSERT_EQ(mmap(p, npages * PS, PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0), p);
			break;
		case 1:	/* take write access away and back */
			ASSERT_EQ(mprotect(p, npages * PS, PROT_READ), 0);
			ASSERT_EQ(mprotect(p, npages * PS, PROT_READ | PROT_WRITE), 0);
			break;
		case 2:	/* drop the pages */
			ASSERT_EQ(madvise(p, npages * PS, MADV_DONTNEED), 0);
			break;
		}
		fill(p, npages, g);
		atomic_store(&gen, g);
	}
	atomic_store(&stop, true);
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(pthread_join(th[i], NULL), 0);
		TH_LOG("reader %u: %lu reads, %lu complete, %lu stale words",
		       i, args[i].reads, args[i].ok, args[i].stale);
		ASSERT_EQ(args[i].stale, 0);
	}
	ASSERT_GT(args[0].ok + args[1].ok, 0);
	munmap(p, npages * PS);
}

struct release_arg {
	int fd;
	char *p;
	unsigned long npages;
	atomic_bool *stop;
	atomic_ulong reads;	/* reads started so far */
	unsigned long releases;
};

/*
 * Up to three releases, 1 ms apart, into every read: each read meets
 * releases, and each can still finish.  (A releaser that never pauses
 * starves a reader whose refault takes longer than one release period:
 * on the debug kernel a cold 6 MiB refault with its DMA mappings takes
 * about 270 ms, a release 50 ms.)
 */
static void *releaser(void *data)
{
	struct release_arg *a = data;
	unsigned long seen = 0, n = 0;

	while (!atomic_load(a->stop)) {
		unsigned long r = atomic_load(&a->reads);

		if (r != seen) {
			seen = r;
			n = 0;
		}
		if (n < 3 && mnm_release(a->fd, a->p, a->npages) == 0) {
			a->releases++;
			n++;
		}
		usleep(1000);
	}
	return NULL;
}

/* RELEASE drops device mappings and interval notifiers under running reads. */
TEST_F_TIMEOUT(hmm, release_race, 300)
{
	unsigned long npages = 1536;	/* three 2 MiB intervals */
	char *p = map_anon(npages * PS, PROT_READ | PROT_WRITE);
	char *buf = malloc(npages * PS);
	atomic_bool stop = false;
	struct release_arg ra;
	pthread_t th;
	int i, ok = 0;

	NEED_MOCK("RELEASE");
	ASSERT_NE(p, NULL);
	fill(p, npages, 22);
	ra = (struct release_arg){ .fd = self->fd, .p = p, .npages = npages,
				   .stop = &stop };
	ASSERT_EQ(pthread_create(&th, NULL, releaser, &ra), 0);
	for (i = 0; i < 20; i++) {
		int ret;

		atomic_fetch_add(&ra.reads, 1);
		ret = mnm_read(self->fd, p, buf, npages);
		/* Only a retry budget exhausted by the releases may fail. */
		if (ret == -EBUSY)
			continue;
		ASSERT_EQ(ret, 0);
		ASSERT_EQ(check(buf, npages, 22), -1);
		ok++;
	}
	atomic_store(&stop, true);
	ASSERT_EQ(pthread_join(th, NULL), 0);
	TH_LOG("%d of 20 reads complete, %lu releases", ok, ra.releases);
	ASSERT_GT(ok, 0);
	ASSERT_GT(ra.releases, 0);
	munmap(p, npages * PS);
	free(buf);
}

static void *exit_reader(void *data)
{
	struct reader_arg *a = data;
	char *buf = malloc(a->npages * PS);

	for (;;)
		mnm_read(a->fd, a->p, buf, a->npages);
	return NULL;
}

TEST(exit_during_read)
{
	int fd = mnm_open_device(0), round;
	struct drm_mnm_stats st;

	if (fd == -ENODEV)
		SKIP(return, "no %s device", mnm_driver_name());
	ASSERT_GE(fd, 0);
	for (round = 0; round < 10; round++) {
		int status;
		pid_t pid = fork();

		ASSERT_GE(pid, 0);
		if (pid == 0) {
			static struct reader_arg a;
			pthread_t th[2];

			a.fd = mnm_open_device(0);
			a.npages = 2048;
			a.p = map_anon(a.npages * PS, PROT_READ | PROT_WRITE);
			if (a.fd < 0 || !a.p)
				_exit(1);
			fill(a.p, a.npages, 1);
			pthread_create(&th[0], NULL, exit_reader, &a);
			pthread_create(&th[1], NULL, exit_reader, &a);
			usleep(1000 * (round * 7 % 20));
			exit(0);	/* exit_group with reads in flight */
		}
		ASSERT_EQ(waitpid(pid, &status, 0), pid);
		ASSERT_TRUE(WIFEXITED(status));
		ASSERT_EQ(WEXITSTATUS(status), 0);
	}
	/* Every mapping of the exited processes is gone from the device. */
	if (mnm_driver_is_mock()) {	/* STATS */
		ASSERT_EQ(mnm_stats(fd, &st), 0);
		ASSERT_EQ(st.device.mapped_pages, st.file.mapped_pages);
	}
	close(fd);
}

/* ---- the per-mm teardown chain (needs mnmirror.test_teardown=1) ------- */

#define LOG_PATH "/sys/kernel/debug/mnmirror/teardown_log"

struct ctx_log {
	int opened, releases, closes, exit_release;
	int teardown[3];	/* prio 10, 20, 30 counts */
	int first_line;		/* line of the first teardown entry */
};

static int log_clear(void)
{
	int fd = open(LOG_PATH, O_WRONLY);

	if (fd < 0)
		return -1;
	if (write(fd, "c", 1) != 1) {
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/*
 * Parse the log into per-context records and check the global ordering
 * rules: within one mm's chain, entries run in priority order, and each
 * context's release comes before its chain entries.
 */
static int log_parse(struct ctx_log *c, int max, char *err, size_t errlen)
{
	FILE *f = fopen(LOG_PATH, "r");
	char line[128];
	int n = 0, last_prio = 0;
	unsigned int id;

	if (!f)
		return -1;
	memset(c, 0, sizeof(*c) * max);
	while (fgets(line, sizeof(line), f)) {
		char reason[16];
		int prio;

		n++;
		if (sscanf(line, "open ctx=%u", &id) == 1 && id < (unsigned int)max) {
			c[id].opened++;
		} else if (sscanf(line, "release ctx=%u reason=%15s", &id, reason) == 2 &&
			   id < (unsigned int)max) {
			c[id].releases++;
			c[id].exit_release = !strcmp(reason, "exit");
			if (!strstr(line, "mapped=0")) {
				snprintf(err, errlen, "release left mappings: %s", line);
				fclose(f);
				return -1;
			}
		} else if (sscanf(line, "teardown ctx=%u prio=%d", &id, &prio) == 2 &&
			   id < (unsigned int)max && prio >= 10 && prio <= 30) {
			if (!c[id].releases) {
				snprintf(err, errlen, "chain before release: %s", line);
				fclose(f);
				return -1;
			}
			if (prio < last_prio && c[id].teardown[0] + c[id].teardown[1] +
			    c[id].teardown[2] > 0) {
				snprintf(err, errlen, "priority order broken: %s", line);
				fclose(f);
				return -1;
			}
			last_prio = prio;
			c[id].teardown[prio / 10 - 1]++;
		} else if (sscanf(line, "close ctx=%u", &id) == 1 && id < (unsigned int)max) {
			c[id].closes++;
			last_prio = 0;
		}
	}
	fclose(f);
	return n;
}

#define MAX_CTX 65536

/* Check every logged context; return how many were released by exit. */
static int check_ctx_logs(struct __test_metadata *_metadata)
{
	static struct ctx_log c[MAX_CTX];
	char err[160] = "";
	int id, seen = 0, by_exit = 0;

	ASSERT_GE(log_parse(c, MAX_CTX, err, sizeof(err)), 0) TH_LOG("%s", err);
	for (id = 0; id < MAX_CTX; id++) {
		int t;

		if (!c[id].opened)
			continue;
		seen++;
		ASSERT_EQ(c[id].releases, 1) TH_LOG("ctx %d released %d times", id, c[id].releases);
		ASSERT_EQ(c[id].closes, 1);
		for (t = 0; t < 3; t++) {
			ASSERT_LE(c[id].teardown[t], 1);
			ASSERT_EQ(c[id].teardown[t], c[id].teardown[0]);
		}
		if (!c[id].exit_release) {
			ASSERT_EQ(c[id].teardown[0], 0);
		} else {
			by_exit++;
		}
	}
	ASSERT_GT(seen, 0);
	return by_exit;
}

static int teardown_available(void)
{
	return mnm_driver_is_mock() && access(LOG_PATH, R_OK) == 0;
}

TEST(teardown_exit_once)
{
	int status;
	pid_t pid;

	if (!teardown_available())
		SKIP(return, "load mnmirror with test_teardown=1 to test the chain");
	ASSERT_EQ(log_clear(), 0);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		/* Two mirrors on one mm share one chain; exit without close. */
		int a = mnm_open_device(0), b = mnm_open_device(1 % 2);
		char *p = map_anon(16 * PS, PROT_READ | PROT_WRITE);
		char buf[16 * 4096];

		if (a < 0 || b < 0 || !p)
			_exit(1);
		fill(p, 16, 1);
		mnm_read(a, p, buf, 16);
		mnm_read(b, p, buf, 16);
		_exit(0);
	}
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_EQ(WEXITSTATUS(status), 0);
	/* The two files still open at exit: released by exit, chain ran. */
	ASSERT_EQ(check_ctx_logs(_metadata), 2);
}

TEST(teardown_unregister_first)
{
	int status;
	pid_t pid;

	if (!teardown_available())
		SKIP(return, "load mnmirror with test_teardown=1 to test the chain");
	ASSERT_EQ(log_clear(), 0);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		int a = mnm_open_device(0);

		if (a < 0)
			_exit(1);
		close(a);	/* released by unregister, the chain never runs */
		_exit(0);
	}
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_EQ(WEXITSTATUS(status), 0);
	ASSERT_EQ(check_ctx_logs(_metadata), 0);
}

static void *closer(void *data)
{
	int *fds = data, i;

	for (i = 0; i < 4; i++)
		close(fds[i]);
	return NULL;
}

static void *opener(void *data)
{
	int i;

	(void)data;
	for (i = 0; i < 12; i++) {
		int fd = mnm_open_device(0);

		if (fd >= 0)
			close(fd);
	}
	return NULL;
}

TEST_F_TIMEOUT(hmm, teardown_races, 120)
{
	int round;

	if (!teardown_available())
		SKIP(return, "load mnmirror with test_teardown=1 to test the chain");
	ASSERT_EQ(log_clear(), 0);
	for (round = 0; round < 24; round++) {
		int status;
		pid_t pid = fork();

		ASSERT_GE(pid, 0);
		if (pid == 0) {
			static int fds[4];
			pthread_t th[3];
			int i;

			for (i = 0; i < 4; i++)
				fds[i] = mnm_open_device(i & 1);
			/* unregister races exit; registration races exit */
			pthread_create(&th[0], NULL, closer, fds);
			pthread_create(&th[1], NULL, opener, NULL);
			pthread_create(&th[2], NULL, opener, NULL);
			usleep(500 * (round % 8));
			exit(0);
		}
		ASSERT_EQ(waitpid(pid, &status, 0), pid);
		ASSERT_TRUE(WIFEXITED(status));
	}
	check_ctx_logs(_metadata);
}

#include "mnm-migrate-tests.c"

TEST_HARNESS_MAIN
