// SPDX-License-Identifier: GPL-2.0
/*
 * mnm-fuzz: a seeded, reproducible differential checker of the mnmirror
 * mock GPU (see fuzz.h).  Usage: mnm-fuzz --help.
 *
 * Each seed runs in a process of its own (at most --procs at once): it
 * generates operations from its PRNG and the model, logs them and executes
 * them, checking every device result.  When a seed fails, the log up to the
 * first failure is replayed in fresh processes and shrunk (ddmin, bounded
 * in time), and the shortest sequence that still fails is printed as
 * "# replay:" lines, which --replay FILE runs again.
 */
#include "fuzz.h"	/* first: it defines _GNU_SOURCE */

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mnm_util.h"

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

struct proc *P;
struct shared *SH;
unsigned long PS, HP;
char compat_prefix[64] = "mnm_dmirror";

struct options opt = {
	.seed = 1, .ops = 20000, .seeds = 0, .procs = 2, .threads = 3,
	.check_every = 250, .shrink_time = 60, .stall_time = 300,
};

double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

void count_op(const struct op *o)
{
	int abi = 0;

	if (P->replaying)
		return;
	if (o->type >= OP_DEV_READ && o->type <= OP_PREFETCH && o->fd < MAX_FDS)
		abi = P->fds[o->fd].abi == ABI_COMPAT;
	atomic_fetch_add(&SH->ops_total, 1);
	atomic_fetch_add(&SH->opcount[o->type][abi], 1);
}

void count_outcome(int type, int ret)
{
	static const int errs[] = { 0, EFAULT, EPERM, EBUSY, ENOENT, EINVAL, ENOMEM };
	int k;

	if (P->replaying)
		return;
	for (k = 0; k < 7 && errs[k] != -ret; k++)
		;
	atomic_fetch_add(&SH->outcome[type][k], 1);
}

int procid_of(uint64_t seed)
{
	return 1 + (int)(seed % 31) * 8;
}

int proc_setup(struct proc *p, uint64_t seed, int procid)
{
	static const unsigned long bases[] = {
		0x200000000000UL, 0x280000000000UL, 0x100000000000UL, 0x40000000000UL,
	};
	unsigned int i;
	void *r;
	int ret;

	memset(p, 0, sizeof(*p));
	P = p;
	p->seed = seed;
	p->procid = procid;
	p->npages = WIN_BYTES / PS;
	p->verbose = opt.verbose;
	p->allow_crash = opt.allow_crash;
	p->no_concurrent = opt.no_concurrent;
	p->nthreads = opt.threads;
	p->max_reports = 20;
	p->first_fail_op = -1;
	pthread_mutex_init(&p->report_lock, NULL);
	for (i = 0; i < MAX_FDS; i++)
		p->fds[i].fd = -1;
	for (i = 0; i < sizeof(bases) / sizeof(bases[0]); i++) {
		r = mmap((void *)bases[i], WIN_BYTES, PROT_NONE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE | MAP_NORESERVE, -1, 0);
		if (r == (void *)bases[i]) {
			munmap(r, WIN_BYTES);
			p->win = bases[i];
			break;
		}
		if (r != MAP_FAILED)
			munmap(r, WIN_BYTES);
	}
	if (!p->win) {
		fprintf(stderr, "mnm-fuzz: no free window in the address space\n");
		return -ENOMEM;
	}
	p->child_mask = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p->child_mask == MAP_FAILED)
		return -ENOMEM;
	*p->child_mask = 0;
	ret = model_init(p);
	if (ret)
		return ret;
	p->cpu_only = opt.cpu_only;
	return fds_open(p);
}

void proc_teardown(struct proc *p)
{
	wait_all_children();
	fds_close(p);
	munmap((void *)p->win, WIN_BYTES);
	model_free_objs(p);
	free(p->pg);
	p->pg = NULL;
	munmap(p->child_mask, 4096);
	p->child_mask = NULL;
}

/* ---- one seed ------------------------------------------------------------------ */

static int run_seed(uint64_t seed, long budget, const struct op *preset, long npreset,
		    int procid)
{
	struct proc p;
	struct op *log = NULL, o;
	long cap = 0, i = 0, wait_in = -1;
	struct rng r;
	int ret, k, oplog = -1;

	ret = proc_setup(&p, seed, procid);
	if (ret) {
		printf("# seed=%llu: setup failed: %s\n", (unsigned long long)seed, strerror(-ret));
		return ret == -ENODEV ? 4 : 2;
	}
	rng_seed(&r, seed);
	if (!preset) {
		char path[300];

		oplog_path(path, sizeof(path), getppid(), seed);
		oplog = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		dprintf(oplog, "# replay seed=%llu proc=%d\n", (unsigned long long)seed, procid);
	}
	for (;;) {
		if (preset) {
			if (i >= npreset)
				break;
			o = preset[i];
		} else {
			if (i + P->budget_extra >= budget)
				break;
			if (i % opt.check_every == opt.check_every - 1) {
				memset(&o, 0, sizeof(o));
				o.type = OP_CHECK;
			} else if (wait_in == 0) {
				memset(&o, 0, sizeof(o));
				o.type = OP_WAIT;
			} else {
				gen_op(&r, &o, !opt.inject);
			}
			if (o.type == OP_FORK)
				wait_in = 5 + rn(&r, 30);
			else if (o.type == OP_WAIT)
				wait_in = -1;
			else if (wait_in > 0)
				wait_in--;
		}
		if (i == cap) {
			cap = cap ? cap * 2 : 4096;
			log = realloc(log, cap * sizeof(*log));
		}
		log[i] = o;
		if (oplog >= 0) {
			char line[300];
			int len = op_format(&o, line, sizeof(line) - 1);

			line[len++] = '\n';
			if (write(oplog, line, len) != len)
				oplog = -1;
		}
		P->opi = i;
		exec_op(&log[i]);
		i++;
		if (P->nfail > 1000)
			break;
	}
	/* The end, logged like any op so that replays do it too. */
	log = realloc(log, (i + 2) * sizeof(*log));
	for (k = 0; k < 2; k++, i++) {
		memset(&log[i], 0, sizeof(log[i]));
		log[i].type = k ? OP_CHECK : OP_WAIT;
		P->opi = i;
		exec_op(&log[i]);
	}
	proc_teardown(&p);
	if (oplog >= 0) {
		char path[300];

		close(oplog);
		oplog_path(path, sizeof(path), getppid(), seed);
		unlink(path);
	}
	printf("# seed=%llu: %ld ops (+%ld in forked children and concurrent phases), %ld failure%s\n",
	       (unsigned long long)seed, i, p.budget_extra, p.nfail, p.nfail == 1 ? "" : "s");
	if (p.fail_mask)
		shrink(log, p.first_fail_op + 1 > i ? i : p.first_fail_op + 1, seed, procid,
		       p.first_fail_class);
	free(log);
	fflush(stdout);
	return p.fail_mask ? 1 : 0;
}

/* ---- the kernel log (/dev/kmsg) ------------------------------------------------ */

static int kmsg_fd = -1;

static void kmsg_open(void)
{
	kmsg_fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (kmsg_fd >= 0)
		lseek(kmsg_fd, 0, SEEK_END);
}

/* Print the kernel's splat lines logged since the last call. */
static int kmsg_scan(void)
{
	static const char *pat[] = {
		"Oops", "BUG:", "WARNING:", "KASAN", "general protection", "blocked for more than",
		"soft lockup", "rcu_sched detected", "RIP:", "kernel BUG", "UBSAN", "lockdep",
		"possible circular", "possible recursive",
	};
	static int in_alloc_report;
	char rec[2048];
	int found = 0, shown = 0;
	unsigned int k;
	ssize_t r;

	if (kmsg_fd < 0)
		return 0;
	for (;;) {
		char *msg;

		r = read(kmsg_fd, rec, sizeof(rec) - 1);
		if (r < 0 && errno == EPIPE)
			continue;	/* overwritten records */
		if (r <= 0)
			break;
		rec[r] = 0;
		msg = strchr(rec, ';');
		msg = msg ? msg + 1 : rec;
		msg[strcspn(msg, "\n")] = 0;
		/* --inject: allocation-failure reports are expected (scripts/vm) */
		if (opt.inject && (strstr(msg, ": page allocation failure: ") ||
				   strstr(msg, ": vmalloc error: "))) {
			in_alloc_report = 1;
			continue;
		}
		if (in_alloc_report) {
			in_alloc_report = !strstr(msg, "</TASK>");
			continue;
		}
		for (k = 0; k < sizeof(pat) / sizeof(pat[0]); k++) {
			if (!strstr(msg, pat[k]))
				continue;
			found++;
			if (shown++ < 12)
				printf("# kernel: %s\n", msg);
			break;
		}
	}
	return found;
}

/* ---- main ----------------------------------------------------------------------- */

/* A run died (a kernel oops kills the process in its ioctl): shrink its log. */
static void crash_shrink(uint64_t seed, int sig)
{
	char path[300];
	struct op *ops = NULL;
	uint64_t s;
	long n = 0, i;
	int procid, given = opt.seed_given;
	uint64_t keep = opt.seed;

	oplog_path(path, sizeof(path), getpid(), seed);
	opt.seed = seed;
	opt.seed_given = 1;
	if (load_replay(path, &ops, &n, &s, &procid) || !n) {
		printf("# seed=%llu died of signal %d; no op log at %s\n",
		       (unsigned long long)seed, sig, path);
		goto out;
	}
	printf("# seed=%llu: the run died of signal %d during op #%ld; the last ops:\n",
	       (unsigned long long)seed, sig, n - 1);
	for (i = n > 8 ? n - 8 : 0; i < n; i++) {
		char line[300];

		op_format(&ops[i], line, sizeof(line));
		printf("#   op %ld: %s\n", i, line);
	}
	shrink(ops, n, s, procid, F_KILLED);
	unlink(path);
out:
	free(ops);
	opt.seed = keep;
	opt.seed_given = given;
}

/*
 * wait() for a child, but give up (-2) when no op finished anywhere for
 * --stall-time seconds: a process stuck in the kernel never returns.
 */
static pid_t wait_watched(int *st)
{
	long last = atomic_load(&SH->heartbeat), cur;
	double since = now();
	pid_t pid;

	for (;;) {
		pid = waitpid(-1, st, WNOHANG);
		if (pid)
			return pid;
		usleep(200000);
		cur = atomic_load(&SH->heartbeat);
		if (cur != last) {
			last = cur;
			since = now();
		} else if (now() - since > opt.stall_time) {
			printf("# no op finished for %ld s: a process is stuck (kernel hang or deadlock?)\n",
			       opt.stall_time);
			fflush(stdout);
			system("for p in /proc/[0-9]*; do c=$(cat $p/comm 2>/dev/null); "
			       "[ \"$c\" = mnm-fuzz ] || continue; "
			       "echo \"# stuck? pid ${p#/proc/} state $(awk '{print $3}' $p/stat) wchan $(cat $p/wchan 2>/dev/null)\"; "
			       "sed 's/^/#   /' $p/stack 2>/dev/null | head -n 12; done");
			kmsg_scan();
			return -2;
		}
	}
}

static void usage(void)
{
	printf("usage: mnm-fuzz [--seed S] [--ops N] [--seeds K] [--procs P] [--threads T]\n"
	       "                [--no-concurrent] [--allow-crash-ops] [--check-every N]\n"
	       "                [--shrink-time SEC] [--compat-name PREFIX] [-v] [--replay FILE]\n"
	       "  --seed S          first seed (default 1)\n"
	       "  --ops N           total operation budget, split over the seeds (default 20000)\n"
	       "  --seeds K         run seeds S..S+K-1 (default: --procs)\n"
	       "  --procs P         seeds running in parallel, one process each (default 2)\n"
	       "  --threads T       device threads of the concurrent phases (default 3)\n"
	       "  --no-concurrent   no concurrent phases\n"
	       "  --allow-crash-ops also MIGRATE to system pages never touched (known kernel crash)\n"
	       "  --check-every N   full check every N ops (default 250)\n"
	       "  --shrink-time SEC time limit for shrinking a failure (default 60)\n"
	       "  --stall-time SEC  give up when no op finished for SEC seconds (default 300)\n"
	       "  --compat-name P   test_hmm-ABI device prefix (default mnm_dmirror: /dev/mnm_dmirror0)\n"
	       "  --replay FILE     run the ops of FILE ('# replay:' lines of a failure report)\n"
	       "  --cpu-only        no device files: only CPU ops (a self-test of the model)\n"
	       "  --inject PCT      fail kernel allocations, the layer's interval allocation\n"
	       "                    and the mock's commit with probability PCT %% inside\n"
	       "                    device ioctls (debugfs fault injection, task-filtered);\n"
	       "                    one seed at a time, no fork or concurrent phases\n"
	       "  -v                print every op\n");
}

static void print_stats(double secs)
{
	long total = atomic_load(&SH->ops_total), k;
	char line[1024];
	size_t o = 0;
	int t;

	printf("# ops: %ld in %.1f s (%.0f ops/s)\n", total, secs, secs > 0 ? total / secs : 0.0);
	for (t = 0; t < OP_NTYPES; t++) {
		long nat = atomic_load(&SH->opcount[t][0]), cmp = atomic_load(&SH->opcount[t][1]);

		if (cmp)
			o += snprintf(line + o, sizeof(line) - o, " %s=%ld+%ld(test_hmm)",
				      op_names[t], nat, cmp);
		else
			o += snprintf(line + o, sizeof(line) - o, " %s=%ld", op_names[t], nat);
		if (o > 90 || t == OP_NTYPES - 1) {
			printf("# op counts:%s\n", line);
			o = 0;
		}
	}
	o = 0;
	for (t = 0; t < OP_NTYPES; t++) {
		o += snprintf(line + o, sizeof(line) - o, " %s=%.1fs", op_names[t],
			      atomic_load(&SH->optime_us[t]) / 1e6);
		if (o > 90 || t == OP_NTYPES - 1) {
			printf("# time in op:%s\n", line);
			o = 0;
		}
	}
	for (t = 0; t < OP_NTYPES; t++) {
		static const char *en[8] = { "ok", "EFAULT", "EPERM", "EBUSY", "ENOENT",
					     "EINVAL", "ENOMEM", "other" };
		int e;

		o = 0;
		for (e = 0; e < 8; e++)
			if (atomic_load(&SH->outcome[t][e]))
				o += snprintf(line + o, sizeof(line) - o, " %s=%ld", en[e],
					      atomic_load(&SH->outcome[t][e]));
		if (o)
			printf("# outcomes of %s:%s\n", op_names[t], line);
	}
	o = 0;
	for (k = 0; k < F_NCLASSES; k++)
		o += snprintf(line + o, sizeof(line) - o, " %s=%ld", class_names[k],
			      atomic_load(&SH->failcount[k]));
	printf("# failures:%s\n", line);
	printf("# concurrent READs torn between values the page held (racing writes): %ld pages\n",
	       atomic_load(&SH->torn_pages));
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "seed", required_argument, NULL, 's' },
		{ "ops", required_argument, NULL, 'o' },
		{ "seeds", required_argument, NULL, 'k' },
		{ "procs", required_argument, NULL, 'p' },
		{ "threads", required_argument, NULL, 't' },
		{ "no-concurrent", no_argument, NULL, 'C' },
		{ "allow-crash-ops", no_argument, NULL, 'X' },
		{ "check-every", required_argument, NULL, 'e' },
		{ "shrink-time", required_argument, NULL, 'T' },
		{ "compat-name", required_argument, NULL, 'n' },
		{ "replay", required_argument, NULL, 'r' },
		{ "cpu-only", no_argument, NULL, 'U' },
		{ "stall-time", required_argument, NULL, 'S' },
		{ "inject", required_argument, NULL, 'I' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	long pass = 0, fail = 0, skip = 0, next = 0, running = 0, done = 0, per;
	struct { pid_t pid; uint64_t seed; } slots[64];
	char path[128];
	double t0;
	int c, fd, i;

	while ((c = getopt_long(argc, argv, "vh", lo, NULL)) != -1) {
		switch (c) {
		case 's': opt.seed = strtoull(optarg, NULL, 0); opt.seed_given = 1; break;
		case 'o': opt.ops = atol(optarg); break;
		case 'k': opt.seeds = atol(optarg); break;
		case 'p': opt.procs = atol(optarg); break;
		case 't': opt.threads = atol(optarg); break;
		case 'C': opt.no_concurrent = 1; break;
		case 'X': opt.allow_crash = 1; break;
		case 'e': opt.check_every = atol(optarg); break;
		case 'T': opt.shrink_time = atol(optarg); break;
		case 'n': snprintf(compat_prefix, sizeof(compat_prefix), "%s", optarg); break;
		case 'r': opt.replay = optarg; break;
		case 'v': opt.verbose = 1; break;
		case 'U': opt.cpu_only = 1; break;
		case 'S': opt.stall_time = atol(optarg); break;
		case 'I': opt.inject = atoi(optarg); break;
		default: usage(); return c == 'h' ? 0 : 2;
		}
	}
	if (opt.procs < 1)
		opt.procs = 1;
	if (opt.procs > 64)
		opt.procs = 64;
	if (opt.seeds < 1)
		opt.seeds = opt.procs;
	if (opt.check_every < 2)
		opt.check_every = 2;
	if (opt.inject < 0 || opt.inject > 100) {
		fprintf(stderr, "mnm-fuzz: --inject takes a percentage, 1 to 100\n");
		return 2;
	}
	if (opt.inject)
		opt.procs = 1;	/* one tested task: the counts say which op met a failure */
	PS = sysconf(_SC_PAGESIZE);
	HP = HUGE_BYTES / PS;
	setvbuf(stdout, NULL, _IOLBF, 0);
	SH = mmap(NULL, sizeof(*SH), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (SH == MAP_FAILED)
		return 2;
	memset(SH, 0, sizeof(*SH));

	printf("TAP version 13\n");
	fd = opt.cpu_only ? -1 : mnm_open_device(0);
	if (opt.cpu_only) {
		printf("# --cpu-only: no device files, a self-test of the model's CPU side\n");
	} else if (fd < 0) {
		printf("1..0 # SKIP no mnmirror device (is mnmirror.ko loaded?)\n");
		printf("# Totals: pass:0 fail:0 xfail:0 xpass:0 skip:1 error:0\n");
		return 4;
	}
	if (fd >= 0) {
		struct drm_mnm_info info = { .size = sizeof(info) };

		mnm_ioctl(fd, DRM_IOCTL_MNM_GET_INFO, &info);
		printf("# mnmirror: page size %u, caps 0x%llx%s%s, device memory %llu MiB\n",
		       info.page_size, (unsigned long long)info.caps,
		       info.caps & MNM_CAP_MIGRATE ? "" : " (no MIGRATE: migrate ops skipped)",
		       info.caps & MNM_CAP_EXCLUSIVE ? "" : " (no EXCLUSIVE: exclusive ops skipped)",
		       (unsigned long long)(info.devmem_size >> 20));
		close(fd);
	}
	fd = opt.cpu_only ? 0 : mnm_open_device(1);
	if (fd < 0)
		printf("# only one mnmirror device: ops on device 1 skipped\n");
	else if (!opt.cpu_only)
		close(fd);
	snprintf(path, sizeof(path), "/dev/%s0", compat_prefix);
	if (!opt.cpu_only && access(path, F_OK))
		printf("# %s missing (load mnmirror with compat=1): test_hmm-ABI ops skipped\n", path);

	kmsg_open();
	t0 = now();
	if (opt.replay) {
		struct op *ops = NULL;
		long n = 0;
		uint64_t seed = opt.seed;
		int procid = 1, r, st;
		pid_t pid;

		r = load_replay(opt.replay, &ops, &n, &seed, &procid);
		if (r) {
			fprintf(stderr, "mnm-fuzz: cannot load %s: %s\n", opt.replay, strerror(-r));
			return 2;
		}
		printf("1..1\n# replaying %ld ops of seed %llu from %s\n", n,
		       (unsigned long long)seed, opt.replay);
		fflush(stdout);
		pid = fork();
		if (pid == 0)
			_exit(run_seed(seed, 0, ops, n, procid));
		if (wait_watched(&st) == -2) {
			r = 1;
		} else if (WIFSIGNALED(st)) {
			atomic_fetch_add(&SH->failcount[F_KILLED], 1);
			kmsg_scan();
			printf("# the replay died of signal %d\n", WTERMSIG(st));
			shrink(ops, n, seed, procid, F_KILLED);
			r = 1;
		} else {
			r = WEXITSTATUS(st);
		}
		kmsg_scan();
		printf("%s 1 replay %s\n", r == 0 ? "ok" : r == 4 ? "ok" : "not ok", opt.replay);
		print_stats(now() - t0);
		printf("# Totals: pass:%d fail:%d xfail:0 xpass:0 skip:%d error:0\n",
		       r == 0, r != 0 && r != 4, r == 4);
		return r == 0 ? 0 : r == 4 ? 4 : 1;
	}

	per = opt.ops / opt.seeds;
	if (per < 1)
		per = 1;
	if (opt.inject && inject_setup(opt.inject) == 0) {
		printf("1..0 # SKIP --inject: no fault attribute could be armed (FAULT_INJECTION_DEBUG_FS, FAILSLAB, FAIL_PAGE_ALLOC off?)\n");
		return 4;
	}
	printf("1..%ld\n", opt.seeds);
	printf("# seeds %llu..%llu, %ld ops each, %ld in parallel, %ld device threads in concurrent phases%s%s\n",
	       (unsigned long long)opt.seed, (unsigned long long)(opt.seed + opt.seeds - 1), per,
	       opt.procs, opt.threads, opt.no_concurrent ? " (off)" : "",
	       opt.allow_crash ? ", crash ops allowed" : "");
	memset(slots, 0, sizeof(slots));
	while (next < opt.seeds || running) {
		int st;
		pid_t pid;

		while (running < opt.procs && next < opt.seeds) {
			uint64_t seed = opt.seed + next++;

			fflush(stdout);
			pid = fork();
			if (pid == 0)
				_exit(run_seed(seed, per, NULL, 0, procid_of(seed)));
			for (i = 0; i < 64 && slots[i].pid; i++)
				;
			slots[i].pid = pid;
			slots[i].seed = seed;
			running++;
		}
		pid = wait_watched(&st);
		if (pid == -2) {
			/* Stuck: report the seeds still running and give up. */
			for (i = 0; i < 64; i++) {
				if (!slots[i].pid)
					continue;
				fail++;
				printf("not ok %ld seed %llu # stuck: no op finished for %ld s\n", ++done,
				       (unsigned long long)slots[i].seed, opt.stall_time);
			}
			print_stats(now() - t0);
			inject_teardown();
			printf("# Totals: pass:%ld fail:%ld xfail:0 xpass:0 skip:%ld error:0\n",
			       pass, fail, skip);
			fflush(stdout);
			_exit(1);
		}
		if (pid < 0)
			break;
		for (i = 0; i < 64 && slots[i].pid != pid; i++)
			;
		if (i == 64)
			continue;
		running--;
		done++;
		if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
			pass++;
			printf("ok %ld seed %llu\n", done, (unsigned long long)slots[i].seed);
		} else if (WIFEXITED(st) && WEXITSTATUS(st) == 4) {
			skip++;
			printf("ok %ld seed %llu # SKIP setup\n", done, (unsigned long long)slots[i].seed);
		} else {
			fail++;
			if (WIFSIGNALED(st)) {
				atomic_fetch_add(&SH->failcount[F_KILLED], 1);
				kmsg_scan();
				crash_shrink(slots[i].seed, WTERMSIG(st));
				printf("not ok %ld seed %llu # the run died of signal %d\n", done,
				       (unsigned long long)slots[i].seed, WTERMSIG(st));
			} else {
				printf("not ok %ld seed %llu\n", done, (unsigned long long)slots[i].seed);
			}
		}
		slots[i].pid = 0;
	}
	if (kmsg_scan())
		printf("# the kernel log has splats since the start (lines above)\n");
	print_stats(now() - t0);
	inject_print_stats();
	inject_teardown();
	printf("# Totals: pass:%ld fail:%ld xfail:0 xpass:0 skip:%ld error:0\n", pass, fail, skip);
	return fail ? 1 : 0;
}
