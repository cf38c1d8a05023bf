// SPDX-License-Identifier: GPL-2.0
/*
 * mnm-fuzz --inject PCT: the kernel's fault injection, aimed at the device
 * ioctls of the checker's own thread.
 *
 * The checker sets up four fault attributes in debugfs: failslab and
 * fail_page_alloc (every slab and page allocation, sleeping ones included),
 * hmm_mirror/fail_interval_alloc (the layer's interval) and
 * mnmirror/fail_commit (the mock's commit to its page table).  Each fails
 * with probability PCT %, only in tasks with make-it-fail set (task-filter).
 * The checker sets /proc/thread-self/make-it-fail around each device ioctl
 * of an operation and clears it at once, so CPU operations, page faults of
 * the checker's own accesses and every verification run without injection.
 *
 * An attribute's "times" counts down once per failure it injects: the
 * difference across an ioctl says whether, and where, a failure hit it.
 * That needs one tested task at a time: --inject runs one seed at a time,
 * without forked children or concurrent phases.
 *
 * What an operation that met a failure must do: fail with ENOMEM (the layer
 * turns a CPU fault that found no memory, which hmm_range_fault() reports
 * as -EFAULT, into -ENOMEM; a commit's -EAGAIN and a timeout's -EBUSY do
 * not follow from a failed allocation), or succeed; and lose nothing.  inject_verify() then reads
 * the range back, through the CPU and through the device, against the
 * model.  A failure the model expected anyway (EFAULT for an unmapped page,
 * EPERM for a read-only one) is checked as without injection.
 */
#include "fuzz.h"	/* first: it defines _GNU_SOURCE */

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEBUGFS		"/sys/kernel/debug"
#define INJ_TIMES	2000000000L	/* "times": failures left to inject */

const char *inj_attr_names[INJ_NATTRS] = {
	"failslab", "fail_page_alloc", "hmm_mirror/fail_interval_alloc",
	"mnmirror/fail_commit",
};

const char *inj_errno_names[INJ_NERR] = {
	"ok", "ENOMEM", "EAGAIN", "EBUSY", "EFAULT", "EPERM", "EINVAL", "ENOENT",
	"ENODEV", "other",
};

static bool armed[INJ_NATTRS];
static int self_fd = -1;		/* /proc/thread-self/make-it-fail */
static pid_t self_pid;			/* ... of this process's main thread */
static long before[INJ_NATTRS];

static int put(const char *attr, const char *file, const char *val)
{
	char path[256];
	int fd, ret = 0;

	snprintf(path, sizeof(path), DEBUGFS "/%s/%s", attr, file);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, val, strlen(val)) != (ssize_t)strlen(val))
		ret = -errno;
	close(fd);
	return ret;
}

/* An attribute's "times" (debugfs attribute files are not seekable). */
static long times_left(int k)
{
	char buf[32], path[256];
	ssize_t r;
	int fd;

	if (!armed[k])
		return 0;
	snprintf(path, sizeof(path), DEBUGFS "/%s/times", inj_attr_names[k]);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	r = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (r <= 0)
		return 0;
	buf[r] = 0;
	return strtol(buf, NULL, 10);
}

/* A line in the kernel log: scripts/vm forgives allocation-failure
 * reports (warn_alloc) between "fault injection on" and "off". */
static void kmsg_say(const char *what)
{
	int fd = open("/dev/kmsg", O_WRONLY | O_CLOEXEC);
	char line[128];
	int len = snprintf(line, sizeof(line), "mnm-fuzz: %s\n", what);

	if (fd < 0)
		return;
	if (write(fd, line, len) != len)
		perror("/dev/kmsg");
	close(fd);
}

/*
 * The text of memremap_pages(), from /proc/kallsyms: no failure is injected
 * below it (the stack-trace filter's reject range), because x86's
 * add_pages() WARNs when it cannot allocate a memmap, which is the core's
 * choice and would hide our own splats.
 */
static bool memremap_range(unsigned long *start, unsigned long *end)
{
	FILE *f = fopen("/proc/kallsyms", "r");
	unsigned long a, lo = 0, hi = ~0UL;
	char type, name[256];

	if (!f)
		return false;
	while (fscanf(f, "%lx %c %255s%*[^\n]", &a, &type, name) == 3)
		if (!strcmp(name, "memremap_pages"))
			lo = a;
	rewind(f);
	while (lo && fscanf(f, "%lx %c %255s%*[^\n]", &a, &type, name) == 3)
		if (a > lo && a < hi)
			hi = a;
	fclose(f);
	*start = lo;
	*end = hi;
	return lo && hi != ~0UL;
}

/*
 * inject_setup() - arm the attributes (in the parent, before any seed runs).
 * Returns the number armed; prints the ones missing and why.
 */
int inject_setup(int pct)
{
	char prob[16], times[24], rs[24] = "", re[24] = "";
	unsigned long lo, hi;
	int k, n = 0;

	snprintf(prob, sizeof(prob), "%d", pct);
	snprintf(times, sizeof(times), "%ld", INJ_TIMES);
	if (memremap_range(&lo, &hi)) {
		snprintf(rs, sizeof(rs), "%#lx", lo);
		snprintf(re, sizeof(re), "%#lx", hi);
	}
	for (k = 0; k < INJ_NATTRS; k++) {
		const char *a = inj_attr_names[k];
		int ret;

		ret = put(a, "task-filter", "Y");
		if (!ret)
			ret = put(a, "verbose", "0");	/* no stack dumps in the log */
		if (!ret)
			ret = put(a, "interval", "1");
		if (!ret)
			ret = put(a, "space", "0");
		if (!ret)
			ret = put(a, "times", times);
		if (!ret && k == 0)
			ret = put(a, "ignore-gfp-wait", "N");
		if (!ret && k == 1) {
			ret = put(a, "ignore-gfp-wait", "N");
			if (!ret)
				ret = put(a, "ignore-gfp-highmem", "N");
			if (!ret)
				ret = put(a, "min-order", "0");
		}
		if (!ret && k < 2) {	/* the core's allocators */
			if (!rs[0] || put(a, "reject-start", rs) ||
			    put(a, "reject-end", re) || put(a, "stacktrace-depth", "32"))
				printf("# inject: %s: no stack-trace filter (FAULT_INJECTION_STACKTRACE_FILTER): failures inside memremap_pages() may WARN\n",
				       a);
		}
		if (!ret)
			ret = put(a, "probability", prob);
		if (ret) {
			printf("# inject: %s not armed: %s\n", a, strerror(-ret));
			continue;
		}
		armed[k] = true;
		n++;
	}
	if (n)
		kmsg_say("fault injection on");
	return n;
}

/* inject_teardown() - back to the defaults: nothing injected anywhere. */
void inject_teardown(void)
{
	int k;

	bool any = false;

	for (k = 0; k < INJ_NATTRS; k++) {
		if (!armed[k])
			continue;
		put(inj_attr_names[k], "probability", "0");
		put(inj_attr_names[k], "task-filter", "N");
		put(inj_attr_names[k], "times", "1");
		put(inj_attr_names[k], "verbose", "2");
		if (k < 2) {	/* the kernel's defaults */
			put(inj_attr_names[k], "reject-start", "0");
			put(inj_attr_names[k], "reject-end", "0");
			put(inj_attr_names[k], "ignore-gfp-wait", "Y");
		}
		if (k == 1) {
			put(inj_attr_names[k], "ignore-gfp-highmem", "Y");
			put(inj_attr_names[k], "min-order", "1");
		}
		armed[k] = false;
		any = true;
	}
	if (any)
		kmsg_say("fault injection off");
}

/* Injection on for this thread, from here to inject_end(). */
void inject_begin(void)
{
	int k;

	if (!opt.inject)
		return;
	if (self_pid != getpid()) {	/* a fresh process (a replay): its own file */
		if (self_fd >= 0)
			close(self_fd);
		self_fd = open("/proc/thread-self/make-it-fail", O_WRONLY | O_CLOEXEC);
		self_pid = getpid();
	}
	for (k = 0; k < INJ_NATTRS; k++)
		before[k] = times_left(k);
	if (self_fd < 0 || write(self_fd, "1", 1) != 1) {
		perror("make-it-fail");
		exit(2);
	}
}

/*
 * inject_end() - injection off; count what was injected since
 * inject_begin() against @type and its result @ret.  Returns the number of
 * failures injected (0: the call ran as without injection).
 */
long inject_end(int type, int ret)
{
	static const int errs[INJ_NERR - 1] = {
		0, ENOMEM, EAGAIN, EBUSY, EFAULT, EPERM, EINVAL, ENOENT, ENODEV,
	};
	long hits = 0, d;
	int k;

	if (!opt.inject)
		return 0;
	if (write(self_fd, "0", 1) != 1) {
		perror("make-it-fail");
		exit(2);
	}
	for (k = 0; k < INJ_NATTRS; k++) {
		d = before[k] - times_left(k);
		if (d > 0 && !P->replaying)
			atomic_fetch_add(&SH->inj_attr[k], d);
		hits += d > 0 ? d : 0;
	}
	if (!hits || P->replaying)
		return hits;
	for (k = 0; k < INJ_NERR - 1 && errs[k] != -ret; k++)
		;
	atomic_fetch_add(&SH->inj_outcome[type][k], 1);
	return hits;
}

/* An errno an operation that met an injected failure may return. */
bool inject_errno_ok(int ret)
{
	return ret == -ENOMEM;
}

/*
 * inject_verify() - after an operation that met an injected failure, every
 * page of [p, p + n) still holds what the model allows: read it through the
 * CPU, then through device file @slot, with injection off.
 */
void inject_verify(int slot, unsigned long p, unsigned long n)
{
	unsigned long i;

	for (i = p; i < p + n && i < P->npages; i++)
		if (readable(i) && !P->replaying)
			atomic_fetch_add(&SH->inj_pages_verified, 1);
	cpu_check_range(p, n, "CPU read after an injected failure");
	dev_verify_runs(slot, p, n);
}

void inject_print_stats(void)
{
	char line[1024];
	size_t o = 0;
	int t, e, k;

	if (!opt.inject)
		return;
	for (k = 0; k < INJ_NATTRS; k++)
		o += snprintf(line + o, sizeof(line) - o, " %s=%ld", inj_attr_names[k],
			      atomic_load(&SH->inj_attr[k]));
	printf("# injected failures (probability %d %%):%s\n", opt.inject, line);
	for (t = 0; t < OP_NTYPES; t++) {
		o = 0;
		for (e = 0; e < INJ_NERR; e++)
			if (atomic_load(&SH->inj_outcome[t][e]))
				o += snprintf(line + o, sizeof(line) - o, " %s=%ld",
					      inj_errno_names[e],
					      atomic_load(&SH->inj_outcome[t][e]));
		if (o)
			printf("# %s calls that met a failure returned:%s\n", op_names[t], line);
	}
	printf("# pages read back through the CPU and a device after those calls: %ld\n",
	       atomic_load(&SH->inj_pages_verified));
}
