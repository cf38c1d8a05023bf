// SPDX-License-Identifier: GPL-2.0
/*
 * mnmirror selftests of the trace events: each test enables the layer's
 * (hmm_mirror) and the mock's (mnmirror) events in a tracefs instance of
 * its own, makes the kernel do one thing, and checks that the events of
 * exactly that appear with the right fields: the addresses, page counts,
 * the invalidation event and whether it was blockable or refused, the
 * release reason, the teardown chain's order.  Where a counter of the
 * device says the same thing, the events must add up to it.
 * The tracefs helpers are in mnm_trace_util.h.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "mnm_util.h"
#include "mnm_pages.h"
#include "mnm_devmem.h"
#include "mnm_oom.h"
#include "mnm_trace_util.h"

#define DEBUGFS		"/sys/kernel/debug/mnmirror"
#define TEARDOWN_PARAM	"/sys/module/mnmirror/parameters/test_teardown"
#define CG		"/sys/fs/cgroup"
#define OOM_CG		CG "/mnm-trace-oom"
#define DRAIN_PARAM	"/sys/module/mnmirror/parameters/debug_drain_ms"
#define FAIL_TRYLOCK	"/sys/kernel/debug/hmm_mirror/fail_nonblock_trylock"
#define REFUSE_INVAL	DEBUGFS "/refuse_nonblock_invalidate"

/* A 2 MiB-aligned block of our own (one interval), never a huge page. */
static char *map_block(void)
{
	char *p = map_aligned(HPS);

	if (p && madvise(p, HPS, MADV_NOHUGEPAGE)) {
		munmap(p, HPS);
		return NULL;
	}
	return p;
}

static const char *const all_events[] = { "hmm_mirror", "mnmirror", NULL };

FIXTURE(tr) {
	int fd;
	struct trace t;
	char dev[32];		/* the layer's dev= of device 0 */
	bool oom;		/* the OOM test set hooks and a cgroup up */
};

/* What the OOM test sets up, undone even when it failed half way. */
static void oom_disarm(void)
{
	mnm_write_str(DRAIN_PARAM, "0");
	mnm_write_str(FAIL_TRYLOCK "/probability", "0");
	mnm_write_str(REFUSE_INVAL "/probability", "0");
	rmdir(OOM_CG);
}

FIXTURE_SETUP(tr)
{
	int ret;

	self->fd = -1;
	self->t.dir[0] = 0;
	self->oom = false;
	if (!mnm_driver_is_mock())
		SKIP(return, "the trace events are the mock's and its layer's");
	if (tracefs_ready())
		SKIP(return, "no tracefs instances (a kernel without CONFIG_TRACING)");
	if (access(TRACEFS "/events/hmm_mirror", F_OK))
		SKIP(return, "no hmm_mirror events (a kernel without CONFIG_EVENT_TRACING)");
	self->fd = mnm_open_device(0);
	ASSERT_GE(self->fd, 0);
	snprintf(self->dev, sizeof(self->dev), "mnmirror.0");
	ret = trace_start(&self->t, all_events);
	ASSERT_EQ(ret, 0);
}

FIXTURE_TEARDOWN(tr)
{
	if (self->oom)
		oom_disarm();
	if (self->t.dir[0])
		trace_stop(&self->t);
	if (self->fd >= 0)
		close(self->fd);
}


/*
 * A device READ of pages it does not map: this task's fault batches cover
 * exactly the pages read (read faults, committed), all name the device,
 * and one device copy of the chunk says how many pages it copied and that
 * it faulted.  The WRITE that follows is a copy of its own.
 */
TEST_F(tr, fault_batch_and_copy)
{
	const unsigned long n = 16;
	char *mem = map_block(), *buf = malloc(n * PS), t1[64], t2[64];
	struct drm_mnm_stats st;
	unsigned long pages;
	const char *tr;
	int copies;

	ASSERT_NE(mem, NULL);
	ASSERT_NE(buf, NULL);
	fill(mem, n, 1);
	ASSERT_EQ(mnm_read(self->fd, mem, buf, n), 0);
	ASSERT_EQ(check(buf, n, 1), -1);
	fill(buf, n, 2);
	ASSERT_EQ(mnm_write(self->fd, mem, buf, n), 0);
	ASSERT_EQ(check(mem, n, 2), -1);

	tr = trace_read(&self->t);
	ASSERT_EQ(covered(tr, "hmm_mirror_fault_batch", getpid(),
			  W("ret=0", "present_only=0", "write=0"),
			  (unsigned long)mem, n, NULL, NULL, NULL), n);
	/* Every batch of this task is of device 0 and succeeded. */
	snprintf(t1, sizeof(t1), "dev=%s", self->dev);
	ASSERT_GT(ev_each(tr, "hmm_mirror_fault_batch", getpid(), NULL, NULL, NULL), 0);
	ASSERT_EQ(ev_each(tr, "hmm_mirror_fault_batch", getpid(), W(t1, "ret=0"), NULL, NULL),
		  ev_each(tr, "hmm_mirror_fault_batch", getpid(), NULL, NULL, NULL));
	/* One chunk each way, exactly the range. */
	kx(t1, "addr", (unsigned long)mem);
	kd(t2, "npages", n);
	ASSERT_EQ(ev_each(tr, "mnm_copy", getpid(), W("dev=0", "op=read", t1, t2),
			  NULL, NULL), 1);
	ASSERT_EQ(ev_each(tr, "mnm_copy", getpid(), W("dev=0", "op=write", t1, t2),
			  NULL, NULL), 1);
	/* The read chunk faulted (the device mapped nothing before). */
	ASSERT_EQ(ev_each(tr, "mnm_copy", getpid(), W("op=read", t1, t2, "faults=0"),
			  NULL, NULL), 0);
	copies = ev_each(tr, "mnm_copy", getpid(), NULL, NULL, NULL);
	ASSERT_EQ(copies, 2);
	ASSERT_EQ(ev_each(tr, "mnm_copy", getpid(), W("ret=0"), NULL, NULL), 2);
	/* The file's counters say what its batches say. */
	ASSERT_EQ(mnm_stats(self->fd, &st), 0);
	covered(tr, "hmm_mirror_fault_batch", getpid(), W("ret=0"), 0, 0,
		"npages", &pages, NULL);
	ASSERT_EQ(ev_each(tr, "hmm_mirror_fault_batch", getpid(), W("ret=0"), NULL, NULL),
		  (int)st.file.faults);
	ASSERT_EQ(pages, st.file.pages_faulted);
	munmap(mem, HPS);
	free(buf);
}

/*
 * Invalidations the device must see, each with its event, exactly the
 * range the CPU changed, blockable and not refused: MADV_DONTNEED (clear),
 * mprotect (protection_vma), munmap (unmap).  A range of another block
 * the device never used sends none.
 */
TEST_F(tr, invalidate_event_and_range)
{
	const unsigned long n = 16;
	char *mem = map_block(), *other = map_block(), *buf = malloc(n * PS);
	char s1[64], s2[64];
	const char *tr;

	ASSERT_NE(mem, NULL);
	ASSERT_NE(other, NULL);
	ASSERT_NE(buf, NULL);
	fill(mem, n, 1);
	fill(other, n, 1);
	ASSERT_EQ(mnm_read(self->fd, mem, buf, n), 0);
	ASSERT_EQ(madvise(mem, 4 * PS, MADV_DONTNEED), 0);
	ASSERT_EQ(mprotect(mem + 4 * PS, 4 * PS, PROT_READ), 0);
	ASSERT_EQ(munmap(mem + 8 * PS, 8 * PS), 0);
	ASSERT_EQ(munmap(other, HPS), 0);

	tr = trace_read(&self->t);
	ASSERT_EQ(ev_each(tr, "hmm_mirror_invalidate", getpid(),
			  W(kx(s1, "start", (unsigned long)mem),
			    kx(s2, "end", (unsigned long)mem + 4 * PS),
			    "event=clear", "blockable=1", "refused=0", "outcome=done"),
			  NULL, NULL), 1);
	ASSERT_EQ(ev_each(tr, "hmm_mirror_invalidate", getpid(),
			  W(kx(s1, "start", (unsigned long)mem + 4 * PS),
			    kx(s2, "end", (unsigned long)mem + 8 * PS),
			    "event=protection_vma", "blockable=1", "refused=0",
			    "outcome=done"), NULL, NULL), 1);
	ASSERT_EQ(ev_each(tr, "hmm_mirror_invalidate", getpid(),
			  W(kx(s1, "start", (unsigned long)mem + 8 * PS),
			    kx(s2, "end", (unsigned long)mem + 16 * PS),
			    "event=unmap", "blockable=1", "refused=0", "outcome=done"),
			  NULL, NULL), 1);
	/* Nothing for the block the device never used, nothing refused. */
	ASSERT_EQ(covered(tr, "hmm_mirror_invalidate", -1, NULL,
			  (unsigned long)other, HPS / PS, NULL, NULL, NULL), 0);
	ASSERT_EQ(ev_each(tr, "hmm_mirror_invalidate", -1, W("refused=1"), NULL, NULL), 0);
	/* The device reads what the CPU still maps (and faults it back). */
	ASSERT_EQ(mnm_read(self->fd, mem, buf, 8), 0);
	munmap(mem, 8 * PS);
	free(buf);
}

/*
 * Migration both ways: the batches cover the range and say every page
 * moved, the device copies add up to the pages moved, our own mirror sees
 * the migration as an invalidation (event migrate), and a CPU touch of a
 * device page is one page copied back by that task.
 */
TEST_F(tr, migrate_batches_and_copies)
{
	const unsigned long n = 32;
	char *mem = map_block(), s1[64];
	struct drm_mnm_migrate m;
	unsigned long sum, copied;
	const char *tr;

	NEED_MIGRATE(self->fd);
	ASSERT_NE(mem, NULL);
	fill(mem, n, 3);
	ASSERT_EQ(mnm_migrate(self->fd, mem, n, MNM_MIGRATE_TO_DEVICE, &m), 0);
	ASSERT_EQ(m.migrated, n);
	ASSERT_EQ(mnm_migrate(self->fd, mem, n, MNM_MIGRATE_TO_SYSTEM, &m), 0);
	ASSERT_EQ(m.migrated, n);
	ASSERT_EQ(mnm_migrate(self->fd, mem, n, MNM_MIGRATE_TO_DEVICE, &m), 0);
	ASSERT_EQ(m.migrated, n);
	ASSERT_EQ(check(mem, 1, 3), -1);	/* a CPU fault on page 0 */

	tr = trace_read(&self->t);
	ASSERT_EQ(covered(tr, "hmm_mirror_migrate_batch", getpid(), W("to=device", "ret=0"),
			  (unsigned long)mem, n, "migrated", &sum, NULL), n);
	ASSERT_EQ(sum, 2 * n);
	covered(tr, "hmm_mirror_migrate_batch", getpid(), W("to=device"),
		(unsigned long)mem, n, "selected", &sum, NULL);
	ASSERT_EQ(sum, 2 * n);
	/* The device maps what moved in, through present-only batches. */
	ASSERT_EQ(covered(tr, "hmm_mirror_fault_batch", getpid(),
			  W("present_only=1", "ret=0"), (unsigned long)mem, n,
			  NULL, NULL, NULL), n);
	ASSERT_EQ(covered(tr, "hmm_mirror_migrate_batch", getpid(), W("to=system"),
			  (unsigned long)mem, n, "migrated", &sum, NULL), n);
	ASSERT_EQ(sum, n);
	covered(tr, "mnm_copy", getpid(), W("dev=0", "op=to_device"),
		(unsigned long)mem, n, "npages", &copied, NULL);
	ASSERT_EQ(copied, 2 * n);
	covered(tr, "mnm_copy", getpid(), W("dev=0", "op=to_system"),
		(unsigned long)mem, n, "npages", &copied, NULL);
	ASSERT_EQ(copied, n + 1);
	ASSERT_EQ(ev_each(tr, "mnm_copy", getpid(),
			  W("op=to_system", kx(s1, "addr", (unsigned long)mem), "npages=1"),
			  NULL, NULL), 1);
	ASSERT_GT(ev_each(tr, "hmm_mirror_invalidate", getpid(),
			  W("event=migrate", "blockable=1", "outcome=done"), NULL, NULL), 0);
	ASSERT_EQ(mnm_migrate(self->fd, mem, n, MNM_MIGRATE_TO_SYSTEM, NULL), 0);
	munmap(mem, HPS);
}

static void sum_moved(const struct ev *e, void *arg)
{
	*(unsigned long *)arg += ev_ul(e, "moved");
}

static void sum_picked(const struct ev *e, void *arg)
{
	*(unsigned long *)arg += ev_ul(e, "picked");
}

/*
 * Device memory full: a second range evicts the first.  The eviction
 * events of device 0 add up to its evictions counter, take the normal
 * class only (no advice), and the first range is back in system memory.
 */
TEST_F(tr, evict_adds_up)
{
	const unsigned long n = 128;
	char *a = map_block(), *b = map_block();
	unsigned long used, old = devmem_limit(), ev0, moved = 0, picked = 0;
	struct drm_mnm_migrate m;
	const char *tr;

	NEED_MIGRATE(self->fd);
	used = devmem_stat("used");
	ev0 = devmem_stat("evictions");
	if (used == ~0UL || ev0 == ~0UL || !old)
		SKIP(return, "no devmem debugfs files");
	ASSERT_NE(a, NULL);
	ASSERT_NE(b, NULL);
	fill(a, n, 4);
	fill(b, n, 5);
	ASSERT_EQ(debugfs_write(0, "devmem_limit", used + n), 0);
	ASSERT_EQ(mnm_migrate(self->fd, a, n, MNM_MIGRATE_TO_DEVICE, &m), 0);
	ASSERT_EQ(m.migrated, n);
	ASSERT_EQ(mnm_migrate(self->fd, b, n, MNM_MIGRATE_TO_DEVICE, &m), 0);
	ASSERT_EQ(debugfs_write(0, "devmem_limit", old), 0);
	ASSERT_EQ(m.migrated, n);

	tr = trace_read(&self->t);
	ASSERT_GT(ev_each(tr, "mnm_evict", getpid(), W("dev=0"), sum_moved, &moved), 0);
	TH_LOG("second range: %llu migrated; evicted %lu (counter +%lu)",
	       m.migrated, moved, devmem_stat("evictions") - ev0);
	ASSERT_EQ(moved, devmem_stat("evictions") - ev0);
	ASSERT_GE(moved, n);	/* room was made for all of b */
	/*
	 * Unadvised pages are of class 1 (MNM_EVICT_NORMAL) only: every pass
	 * that picked pages says so, and picked what it moved.
	 */
	ASSERT_EQ(ev_each(tr, "mnm_evict", getpid(), W("classes=0x2"), NULL, NULL) +
		  ev_each(tr, "mnm_evict", getpid(), W("picked=0"), NULL, NULL),
		  ev_each(tr, "mnm_evict", getpid(), NULL, NULL, NULL));
	ASSERT_EQ(ev_each(tr, "mnm_evict", getpid(), NULL, sum_picked, &picked), 
		  ev_each(tr, "mnm_evict", getpid(), NULL, NULL, NULL));
	ASSERT_EQ(picked, moved);
	ASSERT_EQ(check(a, n, 4), -1);
	ASSERT_EQ(check(b, n, 5), -1);
	mnm_migrate(self->fd, b, n, MNM_MIGRATE_TO_SYSTEM, NULL);
	munmap(a, HPS);
	munmap(b, HPS);
}

/* A child that opens device 0, reads, and exits with or without closing. */
static pid_t child_reads(bool close_first)
{
	pid_t pid = fork();

	if (pid == 0) {
		int fd = mnm_open_device(0);
		char *m = map_anon(16 * PS, PROT_READ | PROT_WRITE);
		char buf[PS];

		if (fd < 0 || !m)
			_exit(1);
		memset(m, 7, 16 * PS);
		if (mnm_read(fd, m, buf, 1))
			_exit(1);
		if (close_first)
			close(fd);
		_exit(0);
	}
	return pid;
}

struct chain {
	int n, index[8], prio[8];
	char fn[8][64];
};

static void chain_fn(const struct ev *e, void *arg)
{
	struct chain *c = arg;

	if (c->n < 8) {
		c->index[c->n] = ev_ul(e, "index");
		c->prio[c->n] = ev_ul(e, "priority");
		ev_get(e, "fn", c->fn[c->n], sizeof(c->fn[0]));
	}
	c->n++;
}

/*
 * The layer's promise at release: no ->invalidate after ->release.  Walk
 * the trace in order: invalidations of @tok (an mm) that come after its
 * release event, done ones in *@done (must be none), the rest (dead: the
 * mirror maps nothing any more) in *@dead.
 */
static void after_release(const char *buf, const char *tok, int *done, int *dead)
{
	const char *line = buf;
	bool released = false;
	struct ev e;

	*done = *dead = 0;
	while (line && *line) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);

		if (ev_parse(line, len, &e) && ev_has(&e, W(tok))) {
			if (!strcmp(e.name, "hmm_mirror_release"))
				released = true;
			else if (released && !strcmp(e.name, "hmm_mirror_invalidate")) {
				if (ev_has(&e, W("outcome=done")))
					(*done)++;
				else
					(*dead)++;
			}
		}
		line = nl ? nl + 1 : NULL;
	}
}

/*
 * Empty the trace, run child_reads(), and find the child's mm as its own
 * fault batches name it ("mm=..." in @tok).  The buffer is emptied first
 * because a new mm may get the hashed pointer of one freed before.
 */
static int child_mm(struct trace *t, bool close_first, char *tok, size_t size,
		    pid_t *pid)
{
	char mm[64] = "";
	int st;

	if (trace_clear(t))
		return -1;
	*pid = child_reads(close_first);
	if (*pid < 0 || waitpid(*pid, &st, 0) != *pid || st)
		return -1;
	covered(trace_read(t), "hmm_mirror_fault_batch", *pid, NULL, 0, 0,
		NULL, NULL, mm);
	if (!mm[0])
		return -1;
	snprintf(tok, size, "mm=%s", mm);
	return 0;
}

/*
 * Release, exactly once per mirror and with its reason: a child exiting
 * with the file open is released by exit, one that closed first by
 * unregister, in its own close.  Matched by the child's mm: an exit may end
 * in another task, whichever drops the mm's last reference.
 */
TEST_F(tr, release_once_with_reason)
{
	int done, dead;
	char tok[80];
	pid_t pid;

	ASSERT_EQ(child_mm(&self->t, false, tok, sizeof(tok), &pid), 0);
	ASSERT_EQ(ev_wait(&self->t, "hmm_mirror_release", W(tok), 1), 1);
	usleep(200 * 1000);	/* a second release would show by now */
	ASSERT_EQ(ev_wait(&self->t, "hmm_mirror_release", W(tok, "reason=exit"), 1), 1);
	ASSERT_EQ(ev_wait(&self->t, "hmm_mirror_release", W(tok), 1), 1);
	/*
	 * exit_mmap unmaps after the release, while the file (and so the
	 * intervals) still exist: those invalidations find the mirror dead
	 * and never reach the driver.
	 */
	after_release(trace_read(&self->t), tok, &done, &dead);
	TH_LOG("after the exit release: %d invalidations done, %d of a dead mirror", done, dead);
	ASSERT_EQ(done, 0);
	ASSERT_GT(dead, 0);

	ASSERT_EQ(child_mm(&self->t, true, tok, sizeof(tok), &pid), 0);
	ASSERT_EQ(ev_each(trace_read(&self->t), "hmm_mirror_release", pid,
			  W(tok, "reason=unregister"), NULL, NULL), 1);
	usleep(200 * 1000);
	ASSERT_EQ(ev_wait(&self->t, "hmm_mirror_release", W(tok), 1), 1);
}

/*
 * The teardown chain (mnmirror.test_teardown=1: every file adds three
 * entries, priorities 30, 10, 20 in that order): a child exiting with the
 * file open runs them under its mm in priority order, indexed 0, 1, 2;
 * one that closed first removed its entries, and its exit runs none.
 */
TEST_F(tr, teardown_chain_in_order)
{
	struct chain c = { 0 };
	bool chain = false;
	char tok[80];
	pid_t pid;
	int i;
	FILE *f;

	f = fopen(TEARDOWN_PARAM, "r");
	if (f) {
		chain = fgetc(f) == 'Y';
		fclose(f);
	}
	if (!chain)
		SKIP(return, "load mnmirror with test_teardown=1 to have teardown-chain entries");
	ASSERT_EQ(child_mm(&self->t, false, tok, sizeof(tok), &pid), 0);
	ASSERT_EQ(ev_wait(&self->t, "hmm_mirror_teardown", W(tok), 3), 3);
	usleep(200 * 1000);
	ev_each(trace_read(&self->t), "hmm_mirror_teardown", -1, W(tok), chain_fn, &c);
	TH_LOG("teardown chain of the exiting child: %d entries", c.n);
	ASSERT_EQ(c.n, 3);
	for (i = 0; i < c.n; i++) {
		ASSERT_EQ(c.index[i], i);
		ASSERT_EQ(c.prio[i], 10 * (i + 1));
		ASSERT_EQ(strcmp(c.fn[i], "mnm_teardown_fn"), 0);
	}
	/* Closed first: its entries went with the file; its exit runs none. */
	ASSERT_EQ(child_mm(&self->t, true, tok, sizeof(tok), &pid), 0);
	ASSERT_EQ(ev_wait(&self->t, "hmm_mirror_release", W(tok), 1), 1);
	usleep(300 * 1000);
	ASSERT_EQ(ev_each(trace_read(&self->t), "hmm_mirror_teardown", -1, W(tok),
			  NULL, NULL), 0);
}

/*
 * Exclusive access: the grant's own invalidation is the mirror's (outcome
 * self, event exclusive, the range granted); a CPU read of one page then
 * revokes it, an invalidation of exactly that page that the device must
 * act on (outcome done).
 */
TEST_F(tr, exclusive_self_then_revoked)
{
	struct drm_mnm_info info = { .size = sizeof(info) };
	struct drm_mnm_exclusive x = { .size = sizeof(x) };
	char *mem = map_block(), s1[64], s2[64];
	const char *tr;

	ASSERT_EQ(mnm_ioctl(self->fd, DRM_IOCTL_MNM_GET_INFO, &info), 0);
	if (!(info.caps & MNM_CAP_EXCLUSIVE))
		SKIP(return, "no exclusive access: the kernel lacks DEVICE_PRIVATE");
	ASSERT_NE(mem, NULL);
	fill(mem, 4, 6);
	x.addr = (unsigned long)mem;
	x.npages = 4;
	ASSERT_EQ(mnm_ioctl(self->fd, DRM_IOCTL_MNM_EXCLUSIVE, &x), 0);
	ASSERT_EQ(trace_clear(&self->t), 0);
	ASSERT_EQ(check(mem, 1, 6), -1);	/* the CPU takes page 0 back */
	tr = trace_read(&self->t);
	ASSERT_EQ(ev_each(tr, "hmm_mirror_invalidate", getpid(),
			  W(kx(s1, "start", (unsigned long)mem),
			    kx(s2, "end", (unsigned long)mem + PS),
			    "event=exclusive", "blockable=1", "outcome=done"),
			  NULL, NULL), 1);
	ASSERT_EQ(ev_each(tr, "hmm_mirror_invalidate", getpid(), W("outcome=self"),
			  NULL, NULL), 0);
	munmap(mem, HPS);

	/* The grant itself, in a fresh trace of a fresh block. */
	mem = map_block();
	ASSERT_NE(mem, NULL);
	fill(mem, 4, 7);
	x.addr = (unsigned long)mem;
	ASSERT_EQ(mnm_ioctl(self->fd, DRM_IOCTL_MNM_EXCLUSIVE, &x), 0);
	tr = trace_read(&self->t);
	ASSERT_EQ(covered(tr, "hmm_mirror_invalidate", getpid(),
			  W("event=exclusive", "outcome=self", "refused=0"),
			  (unsigned long)mem, 4, NULL, NULL, NULL), 4);
	munmap(mem, HPS);
}

/* ---- non-blockable invalidations: the OOM reaper ------------------------ */


/*
 * The victim: reads its region through the device once itself (so that its
 * own fault batches name its mm), keeps three device threads busy on it,
 * then allocates until the memory cgroup kills it.
 */
static void __attribute__((noreturn)) oom_victim(void)
{
	pthread_t t[3];
	char *buf = malloc(HPS);
	int fd, i;

	if (mnm_write_str(OOM_CG "/cgroup.procs", "0"))
		_exit(2);
	fd = mnm_open_device(0);
	oom_mem = mmap(NULL, OOM_REGION, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (fd < 0 || oom_mem == MAP_FAILED || !buf)
		_exit(2);
	memset(oom_mem, 1, OOM_REGION);
	if (mnm_read(fd, oom_mem, buf, HPS / PS))
		_exit(2);
	for (i = 0; i < 3; i++)
		pthread_create(&t[i], NULL, oom_device_thread,
			       (void *)(long)(fd << 1 | (i == 2)));
	usleep(100 * 1000);
	for (;;) {
		char *p = mmap(NULL, 4UL << 20, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p == MAP_FAILED)
			_exit(3);
		memset(p, 2, 4UL << 20);
	}
}

static int arm(const char *attr)
{
	char path[160];

	snprintf(path, sizeof(path), "%s/verbose", attr);
	if (mnm_write_str(path, "0"))
		return -1;
	snprintf(path, sizeof(path), "%s/times", attr);
	if (mnm_write_str(path, "1"))
		return -1;
	snprintf(path, sizeof(path), "%s/probability", attr);
	return mnm_write_str(path, "100");
}

/*
 * Three OOM-killed mirrored processes, their devices busy through the kill
 * (debug_drain_ms 3 s outlasts the reaper's 2 s wait, so the reaper, not
 * the exit, unmaps their memory): the first with the layer's first
 * non-blockable trylock failing, the second with the device refusing its
 * first non-blockable invalidation, the third as it comes.  For each
 * victim, with the trace emptied before it (a new mm may get a freed one's
 * hashed pointer): its non-blockable invalidations carry blockable=0 and
 * its mm, the injected refusal shows with its outcome and refused=1, the
 * third gets at least one done, and the victim is released once; and the
 * events of device 0 add up to its counters of non-blockable invalidations
 * done, refused busy and refused by the device.  Only the layer's events
 * are on (the device threads' copies would flood the buffer), and none may
 * be lost.
 */
TEST_F_TIMEOUT(tr, nonblockable_refused_and_done, 300)
{
	static const char *const what[] = { "busy", "driver", "nothing" };
	static const char *const only_layer[] = { "hmm_mirror", NULL };
	char mm[64], tok[80], d[64];
	int run, st, i;
	pid_t pid;

	if (access(CG "/cgroup.controllers", F_OK)) {
		mkdir(CG, 0755);
		mount("none", CG, "cgroup2", 0, NULL);
	}
	if (mnm_write_str(CG "/cgroup.subtree_control", "+memory"))
		SKIP(return, "no cgroup v2 memory controller (CONFIG_MEMCG)");
	if (access(DRAIN_PARAM, F_OK) || dev_counter("invalidations_nonblock") < 0)
		SKIP(return, "mnmirror without its test hooks (MNM_TEST_HOOKS)");
	if (access(REFUSE_INVAL, F_OK) || access(FAIL_TRYLOCK, F_OK))
		SKIP(return, "no fault-injection attributes (CONFIG_FAULT_INJECTION_DEBUG_FS)");
	trace_stop(&self->t);
	ASSERT_EQ(trace_start(&self->t, only_layer), 0);
	self->oom = true;
	mkdir(OOM_CG, 0755);
	ASSERT_EQ(mnm_write_str(OOM_CG "/memory.max", "50331648"), 0);	/* 48 MiB */
	mnm_write_str(OOM_CG "/memory.swap.max", "0");
	ASSERT_EQ(mnm_write_str(DRAIN_PARAM, "3000"), 0);
	snprintf(d, sizeof(d), "dev=%s", self->dev);

	for (run = 0; run < 3; run++) {
		long nb0 = dev_counter("invalidations_nonblock");
		long busy0 = dev_counter("nonblock_refusals");
		long drv0 = dev_counter("driver_refusals");
		int n_done = -1, n_busy = -1, n_drv = -1;
		long c_done = 0, c_busy = 0, c_drv = 0;
		const char *tr;

		ASSERT_EQ(trace_clear(&self->t), 0);
		if (run == 0)
			ASSERT_EQ(arm(FAIL_TRYLOCK), 0);
		if (run == 1)
			ASSERT_EQ(arm(REFUSE_INVAL), 0);
		pid = fork();
		ASSERT_GE(pid, 0);
		if (pid == 0)
			oom_victim();
		ASSERT_EQ(waitpid(pid, &st, 0), pid);
		ASSERT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);

		mm[0] = 0;
		covered(trace_read(&self->t), "hmm_mirror_fault_batch", pid, NULL, 0, 0,
			NULL, NULL, mm);
		ASSERT_NE(mm[0], 0);
		snprintf(tok, sizeof(tok), "mm=%s", mm);
		/* Released once, by exit or, if the last reference was a worker's, its unregister. */
		ASSERT_EQ(ev_wait(&self->t, "hmm_mirror_release", W(tok), 1), 1);
		/*
		 * The events and the counters settle together: read both
		 * until they agree (a reaper pass may still be running).
		 */
		for (i = 0; i < 50; i++) {
			c_done = dev_counter("invalidations_nonblock") - nb0;
			c_busy = dev_counter("nonblock_refusals") - busy0;
			c_drv = dev_counter("driver_refusals") - drv0;
			tr = trace_read(&self->t);
			n_done = ev_each(tr, "hmm_mirror_invalidate", -1,
					 W(d, "blockable=0", "outcome=done", "refused=0"),
					 NULL, NULL);
			n_busy = ev_each(tr, "hmm_mirror_invalidate", -1,
					 W(d, "blockable=0", "outcome=busy", "refused=1"),
					 NULL, NULL);
			n_drv = ev_each(tr, "hmm_mirror_invalidate", -1,
					W(d, "blockable=0", "outcome=driver", "refused=1"),
					NULL, NULL);
			if (n_done == c_done && n_busy == c_busy && n_drv == c_drv)
				break;
			usleep(100 * 1000);
		}
		TH_LOG("victim %d (injected: %s): non-blockable invalidations done %d, refused busy %d, refused by the device %d (counters %ld, %ld, %ld)",
		       run, what[run], n_done, n_busy, n_drv, c_done, c_busy, c_drv);
		ASSERT_EQ(n_done, c_done);
		ASSERT_EQ(n_busy, c_busy);
		ASSERT_EQ(n_drv, c_drv);
		/* This victim's own, by its mm. */
		ASSERT_GT(ev_each(tr, "hmm_mirror_invalidate", -1, W(tok, "blockable=0"),
				  NULL, NULL), 0);
		if (run < 2) {
			ASSERT_GT(ev_each(tr, "hmm_mirror_invalidate", -1,
					  W(tok, "blockable=0", "refused=1",
					    run == 0 ? "outcome=busy" : "outcome=driver"),
					  NULL, NULL), 0);
		} else {
			ASSERT_GT(ev_each(tr, "hmm_mirror_invalidate", -1,
					  W(tok, "blockable=0", "outcome=done",
					    "refused=0"), NULL, NULL), 0);
		}
		ASSERT_EQ(trace_overrun(&self->t), 0);
	}
}

TEST_HARNESS_MAIN
