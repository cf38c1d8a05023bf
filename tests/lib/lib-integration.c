// SPDX-License-Identifier: MIT
/*
 * In-guest integration tests of libmnmirror against the real module, in the
 * kselftest harness: every call once, bad arguments, and many threads on one
 * handle.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <sys/inotify.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>

#include "kselftest_harness.h"
#include "mnmirror.h"

#define PS 4096UL

FIXTURE(lib) {
	struct mnm_device *dev;
};

FIXTURE_SETUP(lib)
{
	int ret = mnm_open_index(0, &self->dev);

	if (ret == -ENODEV)
		SKIP(return, "no mnmirror device (is mnmirror.ko loaded?)");
	ASSERT_EQ(ret, 0);
}

FIXTURE_TEARDOWN(lib)
{
	mnm_close(self->dev);
}

TEST_F(lib, discovery)
{
	struct mnm_info info = MNM_INFO_INIT;
	struct mnm_device *again;

	ASSERT_GE(mnm_device_count(), 1);
	ASSERT_EQ(mnm_get_info(self->dev, &info), 0);
	ASSERT_EQ(info.index, 0);
	ASSERT_EQ(info.page_size, PS);
	ASSERT_TRUE(mnm_has_cap(self->dev, MNM_CAP_MIRROR));
	ASSERT_EQ(mnm_open_path(info.path, &again), 0);
	ASSERT_GE(mnm_fd(again), 0);
	mnm_close(again);
	ASSERT_EQ(mnm_open_index(99, &again), -ENODEV);
}

/*
 * The structs the library fills can grow: a size below the first
 * version's is refused, a larger one (a program built against a newer
 * header) gets what the library knows and zeroes beyond.
 */
TEST_F(lib, growable_structs)
{
	struct { struct mnm_info info; unsigned char more[16]; } big;
	struct { struct mnm_counters c; unsigned char more[16]; } bigc;
	struct mnm_info info = MNM_INFO_INIT, none = { 0 };
	struct mnm_counters c = { .size = 8 };
	unsigned int i;

	ASSERT_EQ(mnm_get_info(self->dev, &none), -EINVAL);
	ASSERT_EQ(mnm_get_info(self->dev, &info), 0);
	ASSERT_EQ(info.size, sizeof(info));
	memset(&big, 0xa5, sizeof(big));
	big.info.size = sizeof(big);
	ASSERT_EQ(mnm_get_info(self->dev, &big.info), 0);
	ASSERT_EQ(big.info.size, sizeof(info));	/* what the library filled */
	ASSERT_EQ(big.info.caps, info.caps);
	ASSERT_EQ(strcmp(big.info.path, info.path), 0);
	for (i = 0; i < sizeof(big.more); i++)
		ASSERT_EQ(big.more[i], 0);
	ASSERT_EQ(mnm_stats(self->dev, &c, NULL), -EINVAL);
	memset(&bigc, 0xa5, sizeof(bigc));
	bigc.c.size = sizeof(bigc);
	ASSERT_EQ(mnm_stats(self->dev, NULL, &bigc.c), 0);
	for (i = 0; i < sizeof(bigc.more); i++)
		ASSERT_EQ(bigc.more[i], 0);
}

/* Entries of a directory (open fds, a device's mirrors in debugfs). */
static int count_entries(const char *path, const char *prefix)
{
	struct dirent *e;
	DIR *d = opendir(path);
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		n += !strncmp(e->d_name, prefix, strlen(prefix));
	closedir(d);
	return n;
}

/* Render nodes opened since the last call (inotify IN_OPEN on /dev/dri). */
static int opens(int ifd, char *last, size_t len)
{
	char ev[4096] __attribute__((aligned(8)));
	ssize_t n;
	int count = 0;

	while ((n = read(ifd, ev, sizeof(ev))) > 0) {
		char *p = ev;

		while (p < ev + n) {
			struct inotify_event *e = (struct inotify_event *)p;

			if ((e->mask & IN_OPEN) && e->len) {
				snprintf(last, len, "%s", e->name);
				count++;
			}
			p += sizeof(*e) + e->len;
		}
	}
	return count;
}

/*
 * Discovery has no side effects: counting opens no render node (inotify
 * sees none) and no fd; opening device 1 opens its node only, and
 * registers a mirror with that device only (one ctx entry in its debugfs
 * directory, none in the other's).
 */
TEST_F(lib, discovery_opens_only_what_it_asks)
{
	const char *d0 = "/sys/kernel/debug/mnmirror/dev0";
	const char *d1 = "/sys/kernel/debug/mnmirror/dev1";
	int fds = count_entries("/proc/self/fd", "");
	int c0 = count_entries(d0, "ctx"), c1 = count_entries(d1, "ctx");
	struct mnm_device *one;

	int ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	struct mnm_info info = MNM_INFO_INIT;
	char last[64] = "";

	if (c0 < 0 || c1 < 0)
		SKIP(return, "no mnmirror debugfs with two devices");
	if (ifd < 0 && errno == ENOSYS)
		SKIP(return, "no inotify in this kernel (CONFIG_INOTIFY_USER)");
	ASSERT_GE(ifd, 0);
	ASSERT_GE(inotify_add_watch(ifd, "/dev/dri", IN_OPEN), 0);
	fds++;	/* the inotify fd */
	ASSERT_EQ(mnm_device_count(), 2);
	ASSERT_EQ(opens(ifd, last, sizeof(last)), 0);
	ASSERT_EQ(count_entries("/proc/self/fd", ""), fds);
	ASSERT_EQ(count_entries(d0, "ctx"), c0);
	ASSERT_EQ(count_entries(d1, "ctx"), c1);
	ASSERT_EQ(mnm_open_index(1, &one), 0);
	ASSERT_EQ(opens(ifd, last, sizeof(last)), 1);
	ASSERT_EQ(mnm_get_info(one, &info), 0);
	ASSERT_EQ(strcmp(strrchr(info.path, '/') + 1, last), 0);
	ASSERT_EQ(count_entries("/proc/self/fd", ""), fds + 1);
	ASSERT_EQ(count_entries(d0, "ctx"), c0);
	ASSERT_EQ(count_entries(d1, "ctx"), c1 + 1);
	mnm_close(one);
	close(ifd);
	ASSERT_EQ(count_entries(d1, "ctx"), c1);
}

TEST_F(lib, read_write_snapshot_release)
{
	size_t npages = 32, i;
	char *mem = mmap(NULL, npages * PS, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *buf = malloc(npages * PS), map[40];
	struct mnm_rw_result r;
	struct mnm_counters file = MNM_COUNTERS_INIT;

	memset(mem, 'a', npages * PS);
	ASSERT_EQ(mnm_read(self->dev, mem, buf, npages, &r), 0);
	ASSERT_EQ(r.pages, npages);
	ASSERT_EQ(memcmp(mem, buf, npages * PS), 0);
	memset(buf, 'b', npages * PS);
	ASSERT_EQ(mnm_write(self->dev, mem, buf, npages, NULL), 0);
	ASSERT_EQ(mem[0], 'b');
	ASSERT_EQ(mnm_snapshot_map(self->dev, mem, npages, MNM_SNAP_DEVICE, map,
				   sizeof(map)), 0);
	for (i = 0; i < npages; i++)
		ASSERT_TRUE(map[i] == 'w' || map[i] == 'W');
	ASSERT_EQ(mnm_release(self->dev, mem, npages), 0);
	ASSERT_EQ(mnm_snapshot_map(self->dev, mem, npages, MNM_SNAP_DEVICE, map,
				   sizeof(map)), 0);
	ASSERT_EQ(map[0], '.');
	ASSERT_EQ(mnm_stats(self->dev, &file, NULL), 0);
	ASSERT_GE(file.faults, 1);
	munmap(mem, npages * PS);
	free(buf);
}

TEST_F(lib, bad_arguments)
{
	char *mem = mmap(NULL, PS, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char buf[PS];
	uint8_t raw[1];

	ASSERT_EQ(mnm_read(self->dev, mem + 1, buf, 1, NULL), -EINVAL);
	ASSERT_EQ(mnm_read(self->dev, mem, buf, 0, NULL), -EINVAL);
	ASSERT_EQ(mnm_read(self->dev, mem, NULL, 1, NULL), -EFAULT);
	ASSERT_EQ(mnm_write(self->dev, mem, buf, 1, NULL), -EPERM);
	ASSERT_EQ(mnm_snapshot(self->dev, mem, 1, 7, raw), -EINVAL);
	ASSERT_EQ(mnm_migrate(self->dev, mem, 1, 3, NULL), -EINVAL);
	ASSERT_EQ(mnm_read(self->dev, (void *)0xffff888000000000UL, buf, 1, NULL), -EINVAL);
	munmap(mem, PS);
	ASSERT_EQ(mnm_read(self->dev, mem, buf, 1, NULL), -EFAULT);
}

TEST_F(lib, migrate_and_exclusive)
{
	size_t npages = 16;
	char *mem = mmap(NULL, npages * PS, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct mnm_migrate_result m;
	uint64_t left;
	char map[20];

	memset(mem, 'c', npages * PS);
	if (!mnm_has_cap(self->dev, MNM_CAP_MIGRATE)) {
		ASSERT_EQ(mnm_migrate(self->dev, mem, npages, MNM_TO_DEVICE, &m), -EOPNOTSUPP);
		SKIP(return, "no device memory: the kernel lacks DEVICE_PRIVATE");
	}
	ASSERT_EQ(mnm_migrate(self->dev, mem, npages, MNM_TO_DEVICE, &m), 0);
	ASSERT_EQ(m.migrated, npages);
	ASSERT_EQ(mnm_snapshot_map(self->dev, mem, npages, MNM_SNAP_CPU, map, sizeof(map)), 0);
	ASSERT_EQ(map[0], 'd');
	ASSERT_EQ(mem[PS], 'c');	/* comes back */
	ASSERT_EQ(mnm_migrate(self->dev, mem, npages, MNM_TO_SYSTEM, &m), 0);
	ASSERT_EQ(mnm_exclusive(self->dev, mem, npages), 0);
	ASSERT_EQ(mnm_check_exclusive(self->dev, mem, npages, &left), 0);
	ASSERT_EQ(left, npages);
	mem[0] = 'd';
	ASSERT_EQ(mnm_check_exclusive(self->dev, mem, 1, &left), 0);
	ASSERT_EQ(left, 0);
	munmap(mem, npages * PS);
}

struct worker {
	struct mnm_device *dev;
	int errors;
	int last_err;
	int mismatches;
};

static void *worker(void *data)
{
	struct worker *w = data;
	char *mem = mmap(NULL, 64 * PS, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *buf = malloc(64 * PS);
	int i;

	for (i = 0; i < 20; i++) {
		int ret;

		memset(mem, i, 64 * PS);
		ret = mnm_read(w->dev, mem, buf, 64, NULL);
		if (ret) {
			w->errors++;
			w->last_err = ret;
		} else if (memcmp(mem, buf, 64 * PS)) {
			w->mismatches++;
		}
	}
	munmap(mem, 64 * PS);
	free(buf);
	return NULL;
}

/* Library 1.1: prefetch and advice, with the counts and errors they promise. */
TEST_F(lib, prefetch_and_advise)
{
	const size_t n = 64;
	char *p = mmap(NULL, n * PS, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct mnm_prefetch_result r;
	unsigned int attrs;
	size_t same;
	char map[65];
	int loc;

	if (!mnm_has_cap(self->dev, MNM_CAP_PREFETCH))
		SKIP(return, "the device has no PREFETCH");
	ASSERT_NE(p, MAP_FAILED);
	memset(p, 3, n * PS);
	ASSERT_EQ(mprotect(p + 60 * PS, 4 * PS, PROT_NONE), 0);
	ASSERT_EQ(mnm_prefetch(self->dev, p, n, 0, MNM_PREFETCH_WRITE, &r), 0);
	ASSERT_EQ(r.mapped, 60);
	ASSERT_EQ(r.skip_access, 4);
	ASSERT_EQ(r.skip_fault + r.skip_raced + r.migrate.migrated, 0);
	ASSERT_EQ(mnm_snapshot_map(self->dev, p, n, MNM_SNAP_DEVICE, map, sizeof(map)), 0);
	ASSERT_EQ(strspn(map, "wW"), 60);
	ASSERT_EQ(strcmp(map + 60, "...."), 0);
	ASSERT_EQ(mnm_prefetch(self->dev, p, n, 3, 0, &r), -EINVAL);
	ASSERT_EQ(mnm_prefetch(self->dev, p + 1, n, 0, 0, &r), -EINVAL);

	ASSERT_EQ(mnm_advise(self->dev, p, 16, MNM_TO_SYSTEM, MNM_ADVISE_READ_MOSTLY), 0);
	ASSERT_EQ(mnm_advice(self->dev, p, n, &loc, &attrs, &same), 0);
	ASSERT_EQ(loc, MNM_TO_SYSTEM);
	ASSERT_EQ(attrs, MNM_ADVISE_READ_MOSTLY);
	ASSERT_EQ(same, 16);
	ASSERT_EQ(mnm_advise(self->dev, p, n, 0, 1U << 5), -EINVAL);
	ASSERT_EQ(munmap(p, 16 * PS), 0);
	ASSERT_EQ(mnm_advise(self->dev, p, 16, MNM_TO_SYSTEM, 0), -ENOMEM);
	munmap(p + 16 * PS, (n - 16) * PS);
}

TEST_F(lib, threads_share_a_handle)
{
	struct worker w[4];
	pthread_t th[4];
	int i;

	for (i = 0; i < 4; i++) {
		w[i] = (struct worker){ .dev = self->dev };
		ASSERT_EQ(pthread_create(&th[i], NULL, worker, &w[i]), 0);
	}
	for (i = 0; i < 4; i++) {
		ASSERT_EQ(pthread_join(th[i], NULL), 0);
		ASSERT_EQ(w[i].mismatches, 0);
		ASSERT_EQ(w[i].errors, 0) TH_LOG("thread %d: %d failed reads, last %s",
					       i, w[i].errors, mnm_strerror(w[i].last_err));
	}
}

TEST_HARNESS_MAIN
