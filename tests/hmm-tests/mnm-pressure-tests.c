// SPDX-License-Identifier: GPL-2.0
/*
 * mnm-pressure-tests: the mirror layer's state stays bounded over the life
 * of a process.
 *
 * Interval notifiers (one per 2 MiB block a device used) go away when the
 * CPU unmaps the block, from a collector outside the notifier.  These tests
 * count them through STATS (the layer fields of ABI version 2) and their
 * slab cache (/proc/slabinfo: hmm_mirror_interval) while a process maps,
 * uses and unmaps memory at ever new addresses.  And the OOM reaper, which
 * may not sleep on a device, reaps a mirrored process whose device is busy.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <time.h>

#include "kselftest_harness.h"
#include "mnm_util.h"
#include "mnm_pages.h"
#include "mnm_devmem.h"
#include "mnm_oom.h"

/* MNM_CYCLES overrides (the slower debug guest runs fewer). */
#define CYCLES		100000UL
#define BLOCK		(2UL << 20)
/* The collector runs in a worker: allow it a few blocks of lag. */
#define LAG_BOUND	64
/*
 * Freed intervals wait for an RCU grace period; with lazy RCU (Debian's
 * kernel) callbacks are batched for up to 10 s, so the slab cache lags more.
 */
#define SLAB_BOUND	1024

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

#define COPY_SLICE_PARAM "/sys/module/mnmirror/parameters/copy_slice"

/* A 2 MiB READ, WRITE and munmap through a fresh file: its longest holds. */
static int holds_of_2m(struct drm_mnm_stats *st)
{
	unsigned long npages = 512;
	char *p = map_anon(npages * PS, PROT_READ | PROT_WRITE);
	char *buf = malloc(npages * PS);
	int fd = mnm_open_device(0), ret = -1;

	if (!p || !buf || fd < 0)
		goto out;
	fill(p, npages, 5);
	if (mnm_read(fd, p, buf, npages) || check(buf, npages, 5) != -1)
		goto out;
	fill(buf, npages, 6);
	if (mnm_write(fd, p, buf, npages) || check(p, npages, 6) != -1)
		goto out;
	munmap(p, npages * PS);
	p = NULL;
	ret = mnm_stats(fd, st);
out:
	if (p)
		munmap(p, npages * PS);
	if (fd >= 0)
		close(fd);
	free(buf);
	return ret;
}

/*
 * The longest update-lock hold per holder is counted (a maximum).  The
 * device copies copy_slice pages per hold (default 32); the same work with
 * copy_slice=512 is a whole 2 MiB batch per hold, as before slicing.  The
 * numbers are logged, not judged (timing goals live in `make bench`).
 */
TEST_F(pressure, lock_holds_counted)
{
	struct drm_mnm_stats whole, sliced;
	int set, r_whole, r_sliced;

	if (access(COPY_SLICE_PARAM, W_OK))
		SKIP(return, "mnmirror has no copy_slice parameter");
	set = mnm_write_str(COPY_SLICE_PARAM, "512");
	r_whole = set ? set : holds_of_2m(&whole);
	/* Back to the default before any assertion can end the test. */
	set = mnm_write_str(COPY_SLICE_PARAM, "32");
	r_sliced = set ? set : holds_of_2m(&sliced);
	ASSERT_EQ(r_whole, 0);
	ASSERT_EQ(r_sliced, 0);
	TH_LOG("2 MiB READ + WRITE + munmap, longest holds (ns): invalidate %llu, commit %llu, remove %llu, device copy %llu (512 pages per hold) -> %llu (32 per hold)",
	       (unsigned long long)sliced.file_layer.hold_max_invalidate_ns,
	       (unsigned long long)sliced.file_layer.hold_max_commit_ns,
	       (unsigned long long)sliced.file_layer.hold_max_remove_ns,
	       (unsigned long long)whole.file_layer.hold_max_device_ns,
	       (unsigned long long)sliced.file_layer.hold_max_device_ns);
	ASSERT_GT(sliced.file_layer.hold_max_invalidate_ns, 0);
	ASSERT_GT(sliced.file_layer.hold_max_commit_ns, 0);
	ASSERT_GT(sliced.file_layer.hold_max_device_ns, 0);
	ASSERT_GT(whole.file_layer.hold_max_device_ns, 0);
	ASSERT_GE(sliced.device_layer.hold_max_device_ns, sliced.file_layer.hold_max_device_ns);
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
	const char *env = getenv("MNM_CYCLES");
	unsigned long i, cycles = env ? strtoul(env, NULL, 0) : CYCLES;
	struct drm_mnm_stats st;
	char buf[PS];

	for (i = 0; i < cycles; i++) {
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
	       cycles, max, n, (unsigned long long)st.file_layer.intervals_removed,
	       slab0, slab_max, slab_objects());
	ASSERT_EQ(n, 0);
	ASSERT_GE(st.file_layer.intervals_removed, cycles);
	if (slab0 >= 0) {
		ASSERT_LE(slab_max - slab0, SLAB_BOUND);
		/* The frees are RCU-deferred (lazily, maybe): wait for them. */
		for (i = 0; i < 300 && slab_objects() > slab0; i++)
			usleep(50000);
		ASSERT_LE(slab_objects(), slab0);
	}
}

/* ---- injected failures --------------------------------------------------- */

static int make_it_fail_fd = -1;

/* Fault injection for this thread only (the attributes' task-filter). */
static void make_it_fail(int on)
{
	if (make_it_fail_fd < 0)
		make_it_fail_fd = open("/proc/thread-self/make-it-fail", O_WRONLY);
	if (make_it_fail_fd >= 0)
		pwrite(make_it_fail_fd, on ? "1" : "0", 1, 0);
}

/* Arm the fault attribute in debugfs directory @dir: fail once, this task. */
static int fail_once(const char *dir)
{
	static const char *const kv[][2] = {
		{ "task-filter", "Y" }, { "verbose", "0" }, { "interval", "1" },
		{ "probability", "100" }, { "times", "1" },
	};
	char path[160];
	unsigned int i;

	for (i = 0; i < sizeof(kv) / sizeof(kv[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, kv[i][0]);
		if (mnm_write_str(path, kv[i][1]))
			return -1;
	}
	return 0;
}

/*
 * A device READ whose layer or driver step fails (an interval that cannot
 * be allocated, a commit) returns -ENOMEM, leaves memory as it was, and the
 * next READ works.  The points are fault attributes in debugfs (the same
 * functions carry ALLOW_ERROR_INJECTION() for BPF and fail_function).
 */
TEST_F(pressure, injected_failures_reach_userspace)
{
	static const char *const attrs[] = {
		"/sys/kernel/debug/hmm_mirror/fail_interval_alloc",
		"/sys/kernel/debug/mnmirror/fail_commit",
	};
	unsigned long npages = 64, i;
	char *buf = malloc(npages * PS);

	if (access(attrs[0], F_OK))
		SKIP(return, "no %s (CONFIG_FAULT_INJECTION_DEBUG_FS)", attrs[0]);
	for (i = 0; i < sizeof(attrs) / sizeof(attrs[0]); i++) {
		char *p = map_anon(npages * PS, PROT_READ | PROT_WRITE);
		int ret;

		ASSERT_NE(p, NULL);
		fill(p, npages, 20 + i);
		ASSERT_EQ(fail_once(attrs[i]), 0);
		make_it_fail(1);
		ret = mnm_read(self->fd, p, buf, npages);
		make_it_fail(0);
		TH_LOG("%s, once: READ returned %d", attrs[i], ret);
		ASSERT_EQ(ret, -ENOMEM);
		ASSERT_EQ(check(p, npages, 20 + i), -1);
		ASSERT_EQ(mnm_read(self->fd, p, buf, npages), 0);
		ASSERT_EQ(check(buf, npages, 20 + i), -1);
		munmap(p, npages * PS);
	}
	free(buf);
}

/*
 * A migration whose first batch gets no device memory (devN/fail_alloc)
 * fails halfway: the second 512 pages move, the first stay, and every page
 * keeps its data, seen from the CPU and from the device.
 */
TEST_F(pressure, migration_failing_halfway_keeps_data)
{
	const char *knob = "/sys/kernel/debug/mnmirror/dev0/fail_alloc";
	unsigned long npages = 1024;
	char *p = map_anon(npages * PS + BLOCK, PROT_READ | PROT_WRITE);
	char *buf = malloc(npages * PS);
	struct drm_mnm_migrate m = { .size = sizeof(m) };
	int ret;

	if (access(knob, F_OK))
		SKIP(return, "no %s (no device memory on this kernel)", knob);
	ASSERT_NE(p, NULL);
	p = (char *)(((unsigned long)p + BLOCK - 1) & ~(BLOCK - 1));
	fill(p, npages, 30);
	m.addr = (unsigned long)p;
	m.npages = npages;
	m.direction = MNM_MIGRATE_TO_DEVICE;
	ASSERT_EQ(mnm_write_str(knob, "1"), 0);
	ret = mnm_ioctl(self->fd, DRM_IOCTL_MNM_MIGRATE, &m);
	mnm_write_str(knob, "0");
	ASSERT_EQ(ret, 0);
	TH_LOG("first batch without device memory: migrated %llu, skip_nomem %llu",
	       (unsigned long long)m.migrated, (unsigned long long)m.skip_nomem);
	ASSERT_EQ(m.migrated, npages / 2);
	ASSERT_EQ(m.skip_nomem, npages / 2);
	ASSERT_EQ(mnm_read(self->fd, p, buf, npages), 0);
	ASSERT_EQ(check(buf, npages, 30), -1);
	ASSERT_EQ(check(p, npages, 30), -1);
	free(buf);
}

/*
 * Slab allocations of a device READ over fresh memory, failed one at a
 * time at moving points (failslab, task-filtered): the READ returns 0 or
 * -ENOMEM, never another errno, never a splat or a leak, and memory keeps
 * its data.
 */
TEST_F(pressure, failslab_sweep)
{
	unsigned long npages = 16;
	char *buf = malloc(npages * PS);
	int k, fails = 0;

	if (access("/sys/kernel/debug/failslab", F_OK))
		SKIP(return, "no failslab (CONFIG_FAILSLAB)");
	ASSERT_EQ(mnm_write_str("/sys/kernel/debug/failslab/ignore-gfp-wait", "N"), 0);
	ASSERT_EQ(mnm_write_str("/sys/kernel/debug/failslab/verbose", "0"), 0);
	ASSERT_EQ(mnm_write_str("/sys/kernel/debug/failslab/task-filter", "Y"), 0);
	ASSERT_EQ(mnm_write_str("/sys/kernel/debug/failslab/probability", "100"), 0);
	ASSERT_EQ(mnm_write_str("/sys/kernel/debug/failslab/interval", "1"), 0);
	for (k = 0; k < 24; k++) {
		char *p = map_anon(npages * PS, PROT_READ | PROT_WRITE);
		char sp[16];
		int ret;

		ASSERT_NE(p, NULL);
		fill(p, npages, 40 + k);
		/*
		 * failslab's space is a byte budget: allocations pass until
		 * it runs out.  Growing budgets move the failure along the
		 * READ's allocations (bounce buffer, interval, tables...).
		 */
		snprintf(sp, sizeof(sp), "%d", k * k * 256);
		ASSERT_EQ(mnm_write_str("/sys/kernel/debug/failslab/space", sp), 0);
		ASSERT_EQ(mnm_write_str("/sys/kernel/debug/failslab/times", "1"), 0);
		make_it_fail(1);
		ret = mnm_read(self->fd, p, buf, npages);
		make_it_fail(0);
		ASSERT_EQ(mnm_write_str("/sys/kernel/debug/failslab/times", "0"), 0);
		if (ret)
			fails++;
		ASSERT_TRUE(ret == 0 || ret == -ENOMEM);
		if (!ret)
			ASSERT_EQ(check(buf, npages, 40 + k), -1);
		ASSERT_EQ(check(p, npages, 40 + k), -1);
		ASSERT_EQ(mnm_read(self->fd, p, buf, npages), 0);
		ASSERT_EQ(check(buf, npages, 40 + k), -1);
		munmap(p, npages * PS);
	}
	mnm_write_str("/sys/kernel/debug/failslab/probability", "0");
	TH_LOG("24 READs, each with one slab allocation failed: %d returned -ENOMEM, the others 0", fails);
	free(buf);
}

/* ---- the OOM reaper ------------------------------------------------------ */

#define CG		"/sys/fs/cgroup"
#define OOM_CG		CG "/mnm-oom"
#define DRAIN_PARAM	"/sys/module/mnmirror/parameters/debug_drain_ms"
#define FAIL_TRYLOCK	"/sys/kernel/debug/hmm_mirror/fail_nonblock_trylock"
#define REFUSE_INVAL	"/sys/kernel/debug/mnmirror/refuse_nonblock_invalidate"
/* MNM_OOM_RUNS overrides. */
#define OOM_RUNS	20
/* Victims at a time, each in a memory cgroup of its own. */
#define OOM_PAR		2

/* The victim: device threads busy on its memory, then allocate until killed. */
static void __attribute__((noreturn)) oom_victim(int cg)
{
	char procs[64];

	pthread_t t[3];
	unsigned long total = 0;
	int fd, i;

	snprintf(procs, sizeof(procs), OOM_CG "%d/cgroup.procs", cg);
	if (mnm_write_str(procs, "0"))
		_exit(2);
	fd = mnm_open_device(0);
	oom_mem = mmap(NULL, OOM_REGION, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (fd < 0 || oom_mem == MAP_FAILED)
		_exit(2);
	memset(oom_mem, 1, OOM_REGION);
	for (i = 0; i < 3; i++)
		pthread_create(&t[i], NULL, oom_device_thread,
			       (void *)(long)(fd << 1 | (i == 2)));
	usleep(100 * 1000);
	while (total < (1UL << 30)) {
		char *p = mmap(NULL, 4UL << 20, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p == MAP_FAILED)
			_exit(3);
		memset(p, 2, 4UL << 20);
		total += 4UL << 20;
	}
	_exit(3);	/* the cgroup limit did not hold */
}

/* Count this round's OOM lines in the kernel log (from @kfd's position). */
static void oom_scan(int kfd, const pid_t *pid, int n, int *killed,
		     int *reaped, int *unable)
{
	char rec[2048], want[64];
	ssize_t len;
	int i;

	while ((len = read(kfd, rec, sizeof(rec) - 1)) > 0 ||
	       (len < 0 && errno == EPIPE)) {
		if (len <= 0)
			continue;
		rec[len] = 0;
		if (strstr(rec, "Killed process"))
			(*killed)++;
		if (strstr(rec, "unable to reap"))
			(*unable)++;
		for (i = 0; i < n; i++) {
			snprintf(want, sizeof(want), "reaped process %d ", pid[i]);
			if (strstr(rec, want))
				(*reaped)++;
		}
	}
}

/*
 * A mirrored process is OOM-killed (memory cgroup) while three device
 * threads keep its update lock busy with 2 MiB READs and WRITEs, and keep
 * at it for 3 s after the kill (debug_drain_ms), so that the OOM reaper
 * (which waits 2 s for a victim to exit) has to unmap its memory while the
 * device works.  Two victims at a time: the reaper serves them one after
 * the other, so the second one's device is the busier.  The reaper's invalidations are non-blockable: they trylock
 * the update lock and may be refused, and the reaper retries.  Every run
 * must end in "reaped process", never "unable to reap", with exactly one
 * process killed.
 */
TEST_F_TIMEOUT(pressure, oom_reaper_reaps_busy_mirror, 900)
{
	long nb0 = dev_counter("invalidations_nonblock");
	long ref0 = dev_counter("nonblock_refusals");
	long dref0 = dev_counter("driver_refusals");
	long gate0 = dev_counter("gate_waits");
	const char *env = getenv("MNM_OOM_RUNS");
	int runs = env ? atoi(env) : OOM_RUNS;
	int killed = 0, reaped = 0, unable = 0, forced = 0, forced_driver = 0, run, i;

	if (runs <= 0)
		SKIP(return, "MNM_OOM_RUNS=%d", runs);
	if (access(CG "/cgroup.controllers", F_OK)) {
		mkdir(CG, 0755);
		mount("none", CG, "cgroup2", 0, NULL);
	}
	if (mnm_write_str(CG "/cgroup.subtree_control", "+memory"))
		SKIP(return, "no cgroup v2 memory controller (CONFIG_MEMCG)");
	if (access(DRAIN_PARAM, F_OK))
		SKIP(return, "mnmirror without debug_drain_ms");
	for (i = 0; i < OOM_PAR; i++) {
		char path[80];

		snprintf(path, sizeof(path), OOM_CG "%d", i);
		mkdir(path, 0755);
		snprintf(path, sizeof(path), OOM_CG "%d/memory.max", i);
		ASSERT_EQ(mnm_write_str(path, "50331648"), 0);	/* 48 MiB */
		snprintf(path, sizeof(path), OOM_CG "%d/memory.swap.max", i);
		mnm_write_str(path, "0");
	}
	ASSERT_EQ(mnm_write_str(DRAIN_PARAM, "3000"), 0);

	/* OOM_PAR victims at a time, each in a cgroup of its own. */
	for (run = 0; run < runs; run += OOM_PAR) {
		int kfd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);
		int st[OOM_PAR], k = 0, r = 0, u = 0, n = 0;
		pid_t pid[OOM_PAR];

		ASSERT_GE(kfd, 0);
		lseek(kfd, 0, SEEK_END);
		/*
		 * In the second half, refusals on purpose (fault injection):
		 * the layer's first non-blockable trylock of each run fails,
		 * and the device refuses its first non-blockable invalidation
		 * (a TLB flush still pending).  Both are counted and the
		 * reaper's retry succeeds.
		 */
		if (run >= runs / 2 && !access(FAIL_TRYLOCK, F_OK)) {
			ASSERT_EQ(mnm_write_str(FAIL_TRYLOCK "/verbose", "0"), 0);
			ASSERT_EQ(mnm_write_str(FAIL_TRYLOCK "/probability", "100"), 0);
			ASSERT_EQ(mnm_write_str(FAIL_TRYLOCK "/times", "1"), 0);
			forced++;
		}
		if (run >= runs / 2 && !access(REFUSE_INVAL, F_OK)) {
			ASSERT_EQ(mnm_write_str(REFUSE_INVAL "/verbose", "0"), 0);
			ASSERT_EQ(mnm_write_str(REFUSE_INVAL "/probability", "100"), 0);
			ASSERT_EQ(mnm_write_str(REFUSE_INVAL "/times", "1"), 0);
			forced_driver++;
		}
		for (n = 0; n < OOM_PAR && run + n < runs; n++) {
			pid[n] = fork();
			ASSERT_GE(pid[n], 0);
			if (pid[n] == 0)
				oom_victim(n);
		}
		for (i = 0; i < n; i++)
			ASSERT_EQ(waitpid(pid[i], &st[i], 0), pid[i]);
		usleep(300 * 1000);
		oom_scan(kfd, pid, n, &k, &r, &u);
		close(kfd);
		if (k != n || r != n || u)
			TH_LOG("runs %d..%d: killed %d, reaped %d, unable %d",
			       run, run + n - 1, k, r, u);
		for (i = 0; i < n; i++)
			ASSERT_TRUE(WIFSIGNALED(st[i]) && WTERMSIG(st[i]) == SIGKILL);
		killed += k;
		reaped += r;
		unable += u;
	}
	mnm_write_str(DRAIN_PARAM, "0");
	mnm_write_str(FAIL_TRYLOCK "/probability", "0");
	mnm_write_str(REFUSE_INVAL "/probability", "0");
	for (i = 0; i < OOM_PAR; i++) {
		char path[80];

		snprintf(path, sizeof(path), OOM_CG "%d", i);
		rmdir(path);
	}
	TH_LOG("%d runs: %d killed, %d reaped, %d unable to reap; non-blockable invalidations %ld, refused by the layer %ld (%d of them injected), by the device %ld (%d injected), device waits at the gate %ld",
	       runs, killed, reaped, unable,
	       dev_counter("invalidations_nonblock") - nb0,
	       dev_counter("nonblock_refusals") - ref0, forced,
	       dev_counter("driver_refusals") - dref0, forced_driver,
	       dev_counter("gate_waits") - gate0);
	ASSERT_EQ(killed, runs);
	ASSERT_EQ(unable, 0);
	ASSERT_EQ(reaped, runs);
	ASSERT_GT(dev_counter("invalidations_nonblock") - nb0, 0);
	ASSERT_GE(dev_counter("nonblock_refusals") - ref0, forced);
	ASSERT_GE(dev_counter("driver_refusals") - dref0, forced_driver);
}

TEST_HARNESS_MAIN
