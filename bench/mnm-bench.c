// SPDX-License-Identifier: GPL-2.0
/*
 * mnm-bench: the same ioctl sequences against upstream test_hmm.ko
 * (/dev/hmm_dmirror0, the peer), mnmirror through the same ABI
 * (/dev/mnm_dmirror0, compat) and mnmirror's native render node, interleaved
 * round by round.  Each measurement runs in a fresh child process that opens
 * only its own device, so one driver's notifiers never tax the other.
 *
 * Output: one line per sample, "R metric param backend round value unit",
 * for scripts/bench-report.  Absolute TCG times mean little; ratios do.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/test_hmm_uapi.h"
#include "mnmirror.h"

#define PS 4096UL
#define HPS (2UL << 20)

enum backend { PEER, COMPAT, NATIVE, NBACKENDS };
static const char *const bname[] = { "test_hmm", "mnm_compat", "mnm_native" };

struct dev {
	enum backend b;
	int fd;				/* PEER, COMPAT */
	struct mnm_device *mnm;		/* NATIVE */
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int dev_open_index(struct dev *d, enum backend b, int index)
{
	char path[32];

	d->b = b;
	if (b == NATIVE)
		return mnm_open_index(index, &d->mnm);
	snprintf(path, sizeof(path), "/dev/%s_dmirror%d", b == PEER ? "hmm" : "mnm",
		 index);
	d->fd = open(path, O_RDWR);
	return d->fd < 0 ? -errno : 0;
}

static int dev_open(struct dev *d, enum backend b)
{
	return dev_open_index(d, b, 0);
}

static int dmirror(struct dev *d, unsigned long req, void *addr, void *buf,
		   unsigned long npages)
{
	struct hmm_dmirror_cmd c = {
		.addr = (uintptr_t)addr, .ptr = (uintptr_t)buf, .npages = npages,
	};

	return ioctl(d->fd, req, &c) ? -errno : 0;
}

static int dev_read(struct dev *d, void *addr, void *buf, unsigned long npages)
{
	if (d->b == NATIVE)
		return mnm_read(d->mnm, addr, buf, npages, NULL);
	return dmirror(d, HMM_DMIRROR_READ, addr, buf, npages);
}

static int dev_snapshot(struct dev *d, void *addr, void *buf, unsigned long npages)
{
	if (d->b == NATIVE)
		return mnm_snapshot(d->mnm, addr, npages, MNM_SNAP_CPU, buf);
	return dmirror(d, HMM_DMIRROR_SNAPSHOT, addr, buf, npages);
}

static int dev_migrate(struct dev *d, void *addr, void *buf, unsigned long npages,
		       int to_dev)
{
	if (d->b == NATIVE)
		return mnm_migrate(d->mnm, addr, npages,
				   to_dev ? MNM_TO_DEVICE : MNM_TO_SYSTEM, NULL);
	return dmirror(d, to_dev ? HMM_DMIRROR_MIGRATE_TO_DEV :
		       HMM_DMIRROR_MIGRATE_TO_SYS, addr, buf, npages);
}

static char *map(unsigned long size, int thp)
{
	char *p = mmap(NULL, size + HPS, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *a;

	if (p == MAP_FAILED)
		return NULL;
	a = (char *)(((uintptr_t)p + HPS - 1) & ~(HPS - 1));
	if (a > p)
		munmap(p, a - p);
	munmap(a + size, p + HPS - a);
	madvise(a, size, thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
	memset(a, 0x5a, size);
	return a;
}

static void emit_as(const char *metric, const char *param, const char *who,
		    int round, double value, const char *unit)
{
	printf("R %s %s %s %d %.6g %s\n", metric, param, who, round, value, unit);
	fflush(stdout);
}

static void emit(const char *metric, const char *param, enum backend b, int round,
		 double value, const char *unit)
{
	emit_as(metric, param, bname[b], round, value, unit);
}

/* Write a module parameter or debugfs file; 0 or -errno. */
static int write_str(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY), ret = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, val, strlen(val)) != (ssize_t)strlen(val))
		ret = -errno;
	close(fd);
	return ret;
}

#define DEVMEM_LARGE	"/sys/module/mnmirror/parameters/devmem_large"
#define BENCH_LIMIT	"/sys/kernel/debug/mnmirror/bench_range_fault"

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* ---- one measurement (runs in a child) ------------------------------ */

struct job {
	const char *metric;
	unsigned long mib;
	int thp;
};

static int run_fault(struct dev *d, const struct job *j, int round)
{
	unsigned long size = j->mib << 20, npages = size / PS;
	char *p = map(size, j->thp), *buf = malloc(size), param[32];
	double t;

	if (!p || !buf)
		return -ENOMEM;
	memset(buf, 0, size);
	t = now();
	if (dev_read(d, p, buf, npages))
		return -EIO;
	t = now() - t;
	snprintf(param, sizeof(param), "%luMiB-%s", j->mib, j->thp ? "thp" : "4k");
	emit("fault_in", param, d->b, round, npages / t, "pages/s");
	/* The same read again, every entry present: the copy alone. */
	t = now();
	if (dev_read(d, p, buf, npages))
		return -EIO;
	t = now() - t;
	emit("read_warm", param, d->b, round, npages / t, "pages/s");
	t = now();
	if (dev_snapshot(d, p, buf, npages))
		return -EIO;
	t = now() - t;
	emit("snapshot", param, d->b, round, npages / t, "pages/s");
	return 0;
}

/*
 * Migration round trips.  With j->thp set, "dev4k": mnmirror with its device
 * 2 MiB pages turned off (module parameter devmem_large), for comparing its
 * two paths; test_hmm (no device 2 MiB pages on 6.12) does not run then.
 */
static int run_migrate(struct dev *d, const struct job *j, int round)
{
	unsigned long size = j->mib << 20, npages = size / PS;
	char *p, *buf, *dst, param[32];
	double t, tc;

	if (d->b == PEER && j->thp)
		return 0;
	if (d->b != PEER && write_str(DEVMEM_LARGE, j->thp ? "0" : "1"))
		return -ENOENT;
	p = map(size, 0);
	buf = malloc(size);
	dst = malloc(size);
	if (!p || !buf || !dst)
		return -ENOMEM;
	memset(buf, 0, size);
	memset(dst, 0, size);
	snprintf(param, sizeof(param), "%luMiB%s", j->mib, j->thp ? "-dev4k" : "");
	t = now();
	if (dev_migrate(d, p, buf, npages, 1) || dev_migrate(d, p, buf, npages, 0))
		return -EIO;
	t = now() - t;
	tc = now();
	memcpy(dst, p, size);
	memcpy(p, dst, size);
	tc = now() - tc;
	emit("migrate_roundtrip", param, d->b, round, 2.0 * size / t / (1 << 30), "GiB/s");
	emit("migrate_copy_efficiency", param, d->b, round, tc / t, "ratio");
	if (d->b != PEER)
		write_str(DEVMEM_LARGE, "1");
	return 0;
}

/*
 * Binding memory to the device without copying it: native PREFETCH of a
 * populated range, against the limit of the mirror path, bare
 * hmm_range_fault() over the same range in the kernel (debugfs
 * bench_range_fault, run by the compat backend's child as "limit"), and
 * that plus a DMA mapping of every page (test_hmm's child, "limit_dma"):
 * test_hmm itself has no PREFETCH.
 */
static int run_bind(struct dev *d, const struct job *j, int round)
{
	unsigned long size = j->mib << 20, npages = size / PS;
	char *p = map(size, j->thp), param[32], cmd[64], res[64];
	struct mnm_prefetch_result r;
	unsigned long long ns = 0, pages = 0;
	double t;
	int fd, n;

	if (!p)
		return -ENOMEM;
	snprintf(param, sizeof(param), "%luMiB-%s", j->mib, j->thp ? "thp" : "4k");
	if (d->b == NATIVE) {
		t = now();
		if (mnm_prefetch(d->mnm, p, npages, 0, 0, &r) || r.mapped != npages)
			return -EIO;
		t = now() - t;
		emit("bind", param, d->b, round, npages / t, "pages/s");
	} else {
		/* compat's child: the bare limit; test_hmm's: limit + DMA map */
		snprintf(cmd, sizeof(cmd), "%lx %lu%s", (unsigned long)p, npages,
			 d->b == PEER ? " dma" : "");
		if (write_str(BENCH_LIMIT, cmd))
			return -ENOENT;
		fd = open(BENCH_LIMIT, O_RDONLY);
		n = fd < 0 ? -1 : read(fd, res, sizeof(res) - 1);
		if (fd >= 0)
			close(fd);
		if (n <= 0)
			return -EIO;
		res[n] = 0;
		if (sscanf(res, "%llu %llu", &ns, &pages) != 2 || !ns)
			return -EIO;
		emit_as("bind", param, d->b == PEER ? "limit_dma" : "limit", round,
			pages / (ns * 1e-9), "pages/s");
	}
	return 0;
}

static int run_cpu_fault(struct dev *d, const struct job *j, int round)
{
	unsigned long npages = 256, i;
	char *p = map(npages * PS, 0), *buf = malloc(npages * PS);
	double lat[256];
	volatile char c;

	if (!p || !buf)
		return -ENOMEM;
	if (dev_migrate(d, p, buf, npages, 1))
		return -EIO;
	for (i = 0; i < npages; i++) {
		double t = now();

		c = p[i * PS];
		lat[i] = now() - t;
	}
	(void)c;
	qsort(lat, npages, sizeof(double), cmp_double);
	emit("cpu_fault_p50", "256pages", d->b, round, lat[npages / 2] * 1e6, "us");
	emit("cpu_fault_p99", "256pages", d->b, round, lat[npages * 99 / 100] * 1e6, "us");
	return 0;
}

/* munmap / MADV_DONTNEED / mprotect of a mirrored range minus an unmirrored one */
static int run_invalidate(struct dev *d, const struct job *j, int round)
{
	static const char *const ops[] = { "munmap", "dontneed", "mprotect" };
	unsigned long size = j->mib << 20, npages = size / PS;
	char *buf = malloc(size), param[32];
	int op, mirrored;

	if (!buf)
		return -ENOMEM;
	for (op = 0; op < 3; op++) {
		double cost[2];

		for (mirrored = 0; mirrored < 2; mirrored++) {
			char *p = map(size, 0);
			double t;

			if (!p)
				return -ENOMEM;
			if (mirrored && dev_read(d, p, buf, npages))
				return -EIO;
			t = now();
			if (op == 0)
				munmap(p, size);
			else if (op == 1)
				madvise(p, size, MADV_DONTNEED);
			else
				mprotect(p, size, PROT_READ);
			cost[mirrored] = now() - t;
			if (op)
				munmap(p, size);
		}
		snprintf(param, sizeof(param), "%s-%luMiB", ops[op], j->mib);
		emit("invalidate_overhead", param, d->b, round,
		     (cost[1] - cost[0]) * 1e6, "us");
	}
	return 0;
}

struct stress {
	char *p;
	unsigned long npages;
	volatile int stop;
};

static void *invalidator(void *data)
{
	struct stress *s = data;

	while (!s->stop) {
		madvise(s->p, s->npages * PS, MADV_DONTNEED);
		memset(s->p, 1, s->npages * PS);
	}
	return NULL;
}

static int run_stalls(struct dev *d, const struct job *j, int round)
{
	struct stress s = { .npages = 64 };
	char *buf = malloc(64 * PS);
	unsigned long reads = 0, fails = 0, stalls = 0;
	double end, worst = 0;
	pthread_t th;

	s.p = map(64 * PS, 0);
	if (!s.p || !buf)
		return -ENOMEM;
	pthread_create(&th, NULL, invalidator, &s);
	end = now() + 2.0;
	while (now() < end) {
		double t = now();

		if (dev_read(d, s.p, buf, s.npages))
			fails++;
		t = now() - t;
		worst = t > worst ? t : worst;
		stalls += t >= 1.0;
		reads++;
	}
	s.stop = 1;
	pthread_join(th, NULL);
	emit("stall_reads", "2s", d->b, round, reads, "reads");
	emit("stall_failed", "2s", d->b, round, fails, "reads");
	emit("stall_ge_1s", "2s", d->b, round, stalls, "reads");
	emit("stall_worst", "2s", d->b, round, worst * 1e3, "ms");
	return 0;
}

static int run_fixed(struct dev *d, const struct job *j, int round)
{
	char *p = map(PS, 0), *buf = malloc(PS);
	int i, n = 2000;
	double t, tg;

	if (!p || !buf || dev_read(d, p, buf, 1))
		return -EIO;
	t = now();
	for (i = 0; i < n; i++)
		dev_read(d, p, buf, 1);
	t = (now() - t) / n;
	tg = now();
	for (i = 0; i < n; i++)
		syscall(SYS_getpid);
	tg = (now() - tg) / n;
	emit("read_1page", "ns", d->b, round, t * 1e9, "ns");
	emit("read_1page_vs_getpid", "ratio", d->b, round, t / tg, "x");
	return 0;
}

/* Cost of invalidating an unrelated range while K 2 MiB ranges are mirrored. */
static int run_ranges(struct dev *d, const struct job *j, int round)
{
	unsigned long k = j->mib, i;	/* mib field reused as the range count */
	char **r = calloc(k, sizeof(*r)), *buf = malloc(HPS), param[32];
	double t;
	int n;

	for (i = 0; i < k; i++) {
		r[i] = map(HPS, 0);
		if (!r[i] || dev_read(d, r[i], buf, HPS / PS))
			return -EIO;
	}
	t = now();
	for (n = 0; n < 200; n++) {
		char *q = map(PS, 0);

		munmap(q, PS);
	}
	t = (now() - t) / 200;
	snprintf(param, sizeof(param), "%luranges", k);
	emit("unrelated_munmap", param, d->b, round, t * 1e6, "us");
	return 0;
}

/*
 * How fault-in scales: N workers (threads of one process on one device, or
 * one device each) fault in their own 16 MiB at the same time.
 */
struct scale_arg {
	struct dev d;
	char *p, *buf;
	unsigned long npages;
	pthread_barrier_t *go;
	int ret;
};

static void *scale_worker(void *data)
{
	struct scale_arg *a = data;

	pthread_barrier_wait(a->go);
	a->ret = dev_read(&a->d, a->p, a->buf, a->npages);
	return NULL;
}

static int run_scale(struct dev *d, const struct job *j, int round)
{
	int n = (int)j->mib, per_device = j->thp, i, ret = 0;	/* reused fields */
	unsigned long size = 16UL << 20;
	struct scale_arg a[4];
	pthread_barrier_t go;
	pthread_t th[4];
	char param[32];
	double t;

	pthread_barrier_init(&go, NULL, n + 1);
	for (i = 0; i < n; i++) {
		a[i].d = *d;
		if (per_device && i && dev_open_index(&a[i].d, d->b, i))
			return -ENODEV;
		a[i].p = map(size, 0);
		a[i].buf = malloc(size);
		a[i].npages = size / PS;
		a[i].go = &go;
		if (!a[i].p || !a[i].buf)
			return -ENOMEM;
		memset(a[i].buf, 0, size);
		pthread_create(&th[i], NULL, scale_worker, &a[i]);
	}
	pthread_barrier_wait(&go);
	t = now();
	for (i = 0; i < n; i++) {
		pthread_join(th[i], NULL);
		ret |= a[i].ret;
	}
	t = now() - t;
	if (ret)
		return -EIO;
	snprintf(param, sizeof(param), "%d%s", n, per_device ? "devices" : "threads");
	emit("scale_fault_in", param, d->b, round, n * (size / PS) / t, "pages/s");
	return 0;
}

struct metric {
	const char *name;
	int (*fn)(struct dev *d, const struct job *j, int round);
	int needs_migrate;
};

static const struct metric metrics[] = {
	{ "fault", run_fault, 0 },
	{ "migrate", run_migrate, 1 },
	{ "cpu_fault", run_cpu_fault, 1 },
	{ "invalidate", run_invalidate, 0 },
	{ "stalls", run_stalls, 0 },
	{ "fixed", run_fixed, 0 },
	{ "ranges", run_ranges, 0 },
	{ "scale", run_scale, 0 },
	{ "bind", run_bind, 0 },
};

static int run_child(enum backend b, const struct metric *m, const struct job *j,
		     int round)
{
	pid_t pid = fork();
	int status;

	if (pid == 0) {
		struct dev d;
		int ret = dev_open(&d, b);

		if (ret) {
			fprintf(stderr, "%s: open: %s\n", bname[b], strerror(-ret));
			_exit(2);
		}
		ret = m->fn(&d, j, round);
		if (ret)
			fprintf(stderr, "%s %s: %s\n", bname[b], m->name, strerror(-ret));
		_exit(ret ? 1 : 0);
	}
	waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 3;
}

/*
 * "mnm-bench profile BACKEND N [METRIC MIB]": one metric (by default
 * fault-in of 32 MiB), N times, for perf.
 */
static int profile(const char *backend, int n, const char *metric,
		   unsigned long mib)
{
	const struct job j = { metric, mib, 0 };
	const struct metric *m = NULL;
	int b, r, fails = 0;
	unsigned int k;

	for (b = 0; b < NBACKENDS; b++)
		if (!strcmp(bname[b], backend))
			break;
	for (k = 0; k < sizeof(metrics) / sizeof(metrics[0]); k++)
		if (!strcmp(metrics[k].name, metric))
			m = &metrics[k];
	if (b == NBACKENDS || !m)
		return 2;
	for (r = 0; r < n; r++)
		fails += run_child(b, m, &j, r) != 0;
	return fails ? 1 : 0;
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 11, r, b, fails = 0;
	static const struct { const char *metric; struct job job; } plan[] = {
		{ "fault", { "fault", 2, 0 } },
		{ "fault", { "fault", 32, 0 } },
		{ "fault", { "fault", 256, 0 } },
		{ "fault", { "fault", 2, 1 } },
		{ "fault", { "fault", 32, 1 } },
		{ "fault", { "fault", 256, 1 } },
		{ "migrate", { "migrate", 2, 0 } },
		{ "migrate", { "migrate", 32, 0 } },
		{ "migrate", { "migrate", 2, 1 } },
		{ "migrate", { "migrate", 32, 1 } },
		{ "bind", { "bind", 32, 0 } },
		{ "bind", { "bind", 256, 0 } },
		{ "bind", { "bind", 32, 1 } },
		{ "cpu_fault", { "cpu_fault", 1, 0 } },
		{ "invalidate", { "invalidate", 2, 0 } },
		{ "invalidate", { "invalidate", 32, 0 } },
		{ "stalls", { "stalls", 0, 0 } },
		{ "fixed", { "fixed", 0, 0 } },
		{ "ranges", { "ranges", 1, 0 } },
		{ "ranges", { "ranges", 64, 0 } },
		{ "scale", { "scale", 1, 0 } },
		{ "scale", { "scale", 2, 0 } },
		{ "scale", { "scale", 2, 1 } },
	};
	unsigned int i, k;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc > 3 && !strcmp(argv[1], "profile"))
		return profile(argv[2], atoi(argv[3]), argc > 5 ? argv[4] : "fault",
			       argc > 5 ? strtoul(argv[5], NULL, 0) : 32);
	for (i = 0; i < sizeof(plan) / sizeof(plan[0]); i++) {
		const struct metric *m = NULL;

		for (k = 0; k < sizeof(metrics) / sizeof(metrics[0]); k++)
			if (!strcmp(metrics[k].name, plan[i].metric))
				m = &metrics[k];
		fprintf(stderr, "# %s %lu%s\n", m->name, plan[i].job.mib,
			plan[i].job.thp ? " thp" : "");
		for (r = 0; r < rounds; r++) {
			/* A/B/A/B: alternate which driver goes first. */
			for (b = 0; b < NBACKENDS; b++) {
				int which = (r & 1) ? NBACKENDS - 1 - b : b;

				fails += run_child(which, m, &plan[i].job, r) != 0;
			}
		}
	}
	fprintf(stderr, "# done, %d failed measurements\n", fails);
	return fails ? 1 : 0;
}
