// SPDX-License-Identifier: GPL-2.0
/*
 * mnm-fuzz: replaying op sequences in fresh processes, shrinking a failing
 * sequence (tails first, then ddmin, bounded in time), and the op files of
 * --replay and of runs in progress.
 */
#include "fuzz.h"	/* first: it defines _GNU_SOURCE */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- replaying and shrinking -------------------------------------------------- */

/* Run @ops in a fresh process; the failure classes it saw (F_CRASH_BIT: died). */
static double replay_deadline;	/* give up on a stuck replay after this */

static unsigned int replay_once(const struct op *ops, long n, uint64_t seed, int procid,
				unsigned int stop_on)
{
	unsigned int mask = 0;
	int pfd[2], st;
	pid_t pid;
	long i;

	if (pipe(pfd))
		return 0;
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		struct proc rp;
		struct op ck = { .type = OP_CHECK };

		close(pfd[0]);
		alarm(120);
		if (proc_setup(&rp, seed, procid))
			_exit(3);
		rp.replaying = 1;
		for (i = 0; i < n && !(rp.fail_mask & stop_on); i++) {
			rp.opi = i;
			exec_op(&ops[i]);
		}
		if (!(rp.fail_mask & stop_on)) {
			rp.opi = i;
			wait_all_children();
			exec_op(&ck);
		}
		mask = rp.fail_mask;
		if (write(pfd[1], &mask, sizeof(mask)) != sizeof(mask))
			_exit(3);
		_exit(0);
	}
	close(pfd[1]);
	{
		struct pollfd pf = { .fd = pfd[0], .events = POLLIN };

		/* A replay stuck in the kernel counts like one that died. */
		double left = replay_deadline - now();

		if (pid < 0 || poll(&pf, 1, (int)((left > 10 ? left : 10) * 1000)) != 1 ||
		    read(pfd[0], &mask, sizeof(mask)) != sizeof(mask)) {
			mask = F_CRASH_BIT | 1u << F_KILLED;
			if (pid > 0)
				kill(pid, SIGKILL);
		}
	}
	close(pfd[0]);
	if (pid > 0 && !(mask & F_CRASH_BIT))
		waitpid(pid, &st, 0);
	else if (pid > 0)
		waitpid(pid, &st, WNOHANG);
	return mask;
}

static void print_sequence(const struct op *ops, long n, uint64_t seed, int procid,
			   unsigned int cls)
{
	char line[256];
	long i;

	printf("# replay seed=%llu proc=%d ops=%ld class=%s\n", (unsigned long long)seed,
	       procid, n, class_names[cls]);
	for (i = 0; i < n; i++) {
		op_format(&ops[i], line, sizeof(line));
		printf("# replay: %s\n", line);
	}
	printf("# reproduce: put the '# replay' lines above in FILE, then run mnm-fuzz --replay FILE"
	       " (in a guest: scripts/vm --kernel debug --param mnmirror.compat=1 -- build/tests/mnm-fuzz --replay FILE)\n");
}

void shrink(const struct op *log, long nlog, uint64_t seed, int procid,
		   unsigned int cls)
{
	unsigned int target = 1u << cls | (cls == F_KILLED ? F_CRASH_BIT : 0);
	double t0 = now(), deadline = t0 + opt.shrink_time;
	long n = nlog, chunks = 2, replays = 0, start, sz, i, k;
	struct op *cur, *cand;
	int ok = 0;

	printf("# seed=%llu: shrinking the first failure (%s at op #%ld; at most %ld s)\n",
	       (unsigned long long)seed, class_names[cls], nlog - 1, opt.shrink_time);
	replay_deadline = deadline + 30;
	cur = malloc(nlog * sizeof(*cur));
	cand = malloc(nlog * sizeof(*cand));
	memcpy(cur, log, nlog * sizeof(*cur));
	for (k = 0; k < 2 && !ok && now() < deadline; k++, replays++) {
		unsigned int got = replay_once(cur, n, seed, procid, target);

		ok = !!(got & target);
		if (!ok && (got & F_CRASH_BIT)) {
			/* A kernel oops or hang instead: a reproducer worth more. */
			printf("# seed=%llu: the replay died or hung instead (see the kernel lines at the end): shrinking that\n",
			       (unsigned long long)seed);
			cls = F_KILLED;
			target = 1u << F_KILLED | F_CRASH_BIT;
			ok = 1;
		}
	}
	if (!ok) {
		printf("# seed=%llu: the failure did not reproduce in a fresh process (%ld tries); the full log up to it:\n",
		       (unsigned long long)seed, replays);
		if (nlog <= 400)
			print_sequence(cur, n, seed, procid, cls);
		else
			printf("# seed=%llu: (%ld ops: too long to print; rerun with --seed %llu --seeds 1 --ops %ld)\n",
			       (unsigned long long)seed, nlog, (unsigned long long)seed, nlog);
		goto out;
	}
	/* Most failures need only the last few ops: try tails first. */
	for (k = 1; k < n && now() < deadline; k *= 2) {
		replays++;
		if (replay_once(cur + n - k, k, seed, procid, target) & target) {
			memmove(cur, cur + n - k, k * sizeof(*cur));
			n = k;
			break;
		}
	}
	while (n >= 2 && now() < deadline) {
		int reduced = 0;

		sz = (n + chunks - 1) / chunks;
		for (start = 0; start < n && now() < deadline; start += sz) {
			long m = 0;

			for (i = 0; i < n; i++)
				if (i < start || i >= start + sz)
					cand[m++] = cur[i];
			if (!m)
				continue;
			replays++;
			if (replay_once(cand, m, seed, procid, target) & target) {
				memcpy(cur, cand, m * sizeof(*cur));
				n = m;
				chunks = chunks > 2 ? chunks - 1 : 2;
				reduced = 1;
				break;
			}
		}
		if (!reduced) {
			if (chunks >= n)
				break;
			chunks = chunks * 2 < n ? chunks * 2 : n;
		}
	}
	printf("# seed=%llu: shortest failing sequence: %ld ops (from %ld; %ld replays in %.1f s%s)\n",
	       (unsigned long long)seed, n, nlog, replays, now() - t0,
	       now() >= deadline ? ", time limit reached" : "");
	if (n <= 400)
		print_sequence(cur, n, seed, procid, cls);
	else
		printf("# seed=%llu: (too long to print; rerun with --seed %llu --seeds 1 --ops %ld --shrink-time 600)\n",
		       (unsigned long long)seed, (unsigned long long)seed, nlog);
out:
	free(cur);
	free(cand);
}

/* Where a run logs its ops as it goes, so that a run the kernel kills leaves them. */
void oplog_path(char *buf, size_t len, pid_t main_pid, uint64_t seed)
{
	const char *dir = getenv("TMPDIR");

	snprintf(buf, len, "%s/mnm-fuzz.%d.seed%llu.ops", dir && *dir ? dir : "/tmp",
		 (int)main_pid, (unsigned long long)seed);
}

/* ---- --replay FILE -------------------------------------------------------------- */

/*
 * The ops of FILE: lines "# replay: OP" or bare "OP"; "# replay seed=S proc=N"
 * starts a block (with several blocks, the one of --seed, else the first).
 */
int load_replay(const char *path, struct op **ops, long *n, uint64_t *seed, int *procid)
{
	FILE *f = fopen(path, "r");
	int headers = 0, selected = 1;
	long cap = 0, lineno = 0;
	char line[512];

	if (!f)
		return -errno;
	*n = 0;
	*ops = NULL;
	*seed = opt.seed;
	*procid = procid_of(opt.seed);
	while (fgets(line, sizeof(line), f)) {
		unsigned long long s;
		const char *t = line;
		struct op o;
		int pid;

		lineno++;
		if (sscanf(line, "# replay seed=%llu proc=%d", &s, &pid) == 2) {
			if (headers++ && *n && selected)
				break;
			selected = !opt.seed_given || s == opt.seed;
			if (selected) {
				*seed = s;
				*procid = pid;
			}
			continue;
		}
		if (!strncmp(line, "# replay: ", 10))
			t = line + 10;
		else if (line[0] == '#' || line[0] == '\n')
			continue;
		if (!selected)
			continue;
		if (op_parse(t, &o)) {
			fprintf(stderr, "mnm-fuzz: %s:%ld: cannot parse: %s", path, lineno, line);
			fclose(f);
			return -EINVAL;
		}
		if (*n == cap)
			*ops = realloc(*ops, (cap = cap ? cap * 2 : 256) * sizeof(**ops));
		(*ops)[(*n)++] = o;
	}
	fclose(f);
	return *n ? 0 : -ENOENT;
}

