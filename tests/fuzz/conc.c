// SPDX-License-Identifier: GPL-2.0
/*
 * mnm-fuzz: fork (the child runs its own operations on its own copy) and the
 * concurrent phase (device threads against one thread remapping the same
 * regions).
 */
#include "fuzz.h"	/* first: it defines _GNU_SOURCE */

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mnm_util.h"

/* ---- fork ------------------------------------------------------------------ */

/* In the child: memory ioctls on the parent's files must fail with EPERM. */
static void child_check_inherited(void)
{
	void *buf = aligned_alloc(PS, PS);
	uint8_t snap[4];
	int k, r;

	for (k = 0; k < MAX_FDS; k++) {
		if (P->fds[k].fd < 0)
			continue;
		poison_buf(buf, 1);
		r = dev_rw_raw(k, 0, P->win, buf, 1, NULL);
		if (!r)
			report(F_CROSS_PROCESS, "a READ on the parent's %s succeeded in the child (it reads the parent's memory)",
			       P->fds[k].name);
		else if (r != -EPERM)
			report(F_UNEXPECTED_ERRNO, "a READ on the parent's %s in the child failed with %s, not EPERM",
			       P->fds[k].name, strerror(-r));
		r = dev_snap_raw(k, P->win, 4, snap, 0);
		if (r != -EPERM)
			report(F_UNEXPECTED_ERRNO, "a SNAPSHOT on the parent's %s in the child returned %s, not EPERM",
			       P->fds[k].name, r ? strerror(-r) : "success");
		if (P->fds[k].abi == ABI_NATIVE) {
			struct drm_mnm_info info = { .size = sizeof(info) };

			r = dev_release_raw(k, P->win, 1);
			if (r != -EPERM)
				report(F_UNEXPECTED_ERRNO, "a RELEASE on the parent's %s in the child returned %s, not EPERM",
				       P->fds[k].name, r ? strerror(-r) : "success");
			r = mnm_ioctl(P->fds[k].fd, DRM_IOCTL_MNM_GET_INFO, &info);
			if (r)
				report(F_UNEXPECTED_ERRNO, "GET_INFO on the parent's %s in the child failed with %s",
				       P->fds[k].name, strerror(-r));
		}
	}
	free(buf);
}

static void __attribute__((noreturn)) child_main(const struct op *o, int no)
{
	struct op c = { .type = OP_CHECK };
	unsigned long i, j;
	struct rng r;
	long k;

	P->is_child = 1;
	P->parent_procid = P->procid;
	P->parent_ctr = P->tagctr;
	P->procid = P->procid + 1 + no % 7;
	P->tagctr = 0;
	P->max_reports = 10;
	P->nfail = 0;
	P->fail_mask = 0;
	P->budget_extra = 0;
	memset(P->children, 0, sizeof(P->children));
	P->opi = 0;
	snprintf(P->curtext, sizeof(P->curtext), "child start");
	child_check_inherited();
	/* Keep only private anonymous memory: shared objects would mix models. */
	for (i = 0; i < P->npages; i = j) {
		for (j = i; j < P->npages && P->pg[j].mapped && P->pg[j].kind != K_ANON_PRIV; j++)
			;
		if (j > i)
			sys_munmap_pages(i, j - i);
		else
			j = i + 1;
	}
	for (i = 0; i < P->npages; i++)
		P->pg[i].excl = 0;
	fds_close(P);
	model_free_objs(P);
	if (model_init(P) || fds_open(P)) {
		report(F_MODEL_ERROR, "child setup failed: %s", strerror(errno));
		fflush(stdout);
		_exit(2);
	}
	rng_seed(&r, o->x);
	for (k = 0; k < (long)o->n; k++) {
		struct op g;

		P->opi = k;
		gen_op(&r, &g, 0);
		exec_op(&g);
		if (k % 50 == 49)
			exec_op(&c);
	}
	P->opi = k;
	exec_op(&c);
	fflush(stdout);
	_exit(P->fail_mask ? 1 : 0);
}

void do_fork(const struct op *o)
{
	int slot, go[2];
	pid_t pid;
	char ch = 'g';

	for (slot = 0; slot < MAX_CHILDREN && P->children[slot].pid; slot++)
		;
	if (slot == MAX_CHILDREN || pipe(go))
		return;
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		close(go[1]);
		if (read(go[0], &ch, 1) != 1)
			_exit(2);
		close(go[0]);
		child_main(o, (int)(P->opi & 0xffff));
	}
	close(go[0]);
	if (pid < 0) {
		report(F_MODEL_ERROR, "fork failed: %s", strerror(errno));
		close(go[1]);
		return;
	}
	/* The child waits until the parent looked at its device page tables. */
	after_fork_check();
	if (write(go[1], &ch, 1) != 1)
		report(F_MODEL_ERROR, "cannot start the child");
	close(go[1]);
	P->children[slot].pid = pid;
	P->children[slot].no = (int)(P->opi & 0xffff);
	P->budget_extra += o->n;
}

void wait_all_children(void)
{
	unsigned int cm, newbits;
	int k, st;

	for (k = 0; k < MAX_CHILDREN; k++) {
		if (!P->children[k].pid)
			continue;
		if (waitpid(P->children[k].pid, &st, 0) < 0)
			st = 0;
		if (WIFSIGNALED(st))
			report(F_KILLED, "forked child (op #%d) died of signal %d (a kernel oops kills the process in its ioctl: see the kernel log)",
			       P->children[k].no, WTERMSIG(st));
		P->children[k].pid = 0;
	}
	if (!P->child_mask)
		return;
	cm = __atomic_load_n(P->child_mask, __ATOMIC_SEQ_CST);
	newbits = cm & ~P->fail_mask;
	if (newbits) {
		if (!P->fail_mask) {
			P->first_fail_op = P->opi;
			P->first_fail_class = __builtin_ctz(newbits);
		}
		P->fail_mask |= newbits;
		if (!P->replaying)
			printf("# seed=%llu op=#%ld: a forked child failed (see its lines above)\n",
			       (unsigned long long)P->seed, P->opi);
	}
}

void do_wait(const struct op *o)
{
	(void)o;
	wait_all_children();
}

/* ---- the concurrent phase -------------------------------------------------- */

struct cset {
	atomic_int n;
	uint64_t v[VSET_MAX];
};

struct region {
	unsigned long p, n;
};

static struct {
	struct region reg[3];
	int nreg, nthreads;
	long dev_ops;
	uint64_t seed;
	struct cset *cs;	/* per window page */
	atomic_ulong ctr;
	atomic_uint excl_slots;
} C;

static bool cset_has(struct cset *c, uint64_t v)
{
	int i, n = atomic_load_explicit(&c->n, memory_order_acquire);

	for (i = 0; i < n; i++)
		if (c->v[i] == v)
			return true;
	return false;
}

static void cset_str(struct cset *c, char *buf, size_t len)
{
	struct vset s;
	int i;

	s.n = atomic_load(&c->n);
	for (i = 0; i < s.n; i++)
		s.v[i] = c->v[i];
	vset_str(&s, buf, len);
}

static void conc_count(int type, int slot)
{
	struct op o = { .type = type, .fd = slot };

	count_op(&o);
}

/*
 * A page torn between values it held: every word belongs to one of them.  A
 * device READ racing a device WRITE through another mirror (another file or
 * device: no lock in common, like two CPUs) may return that.
 */
static bool cset_torn_ok(struct cset *c, const void *page)
{
	const volatile uint64_t *w = page;
	int n = atomic_load_explicit(&c->n, memory_order_acquire), k;
	unsigned long i;

	for (i = 0; i < PS / 8; i++) {
		for (k = 0; k < n; k++) {
			if (w[i] == fill_word(c->v[k], i))
				break;
		}
		if (k == n)
			return false;
	}
	return true;
}

/* Pages the device returned during the phase: any value the page held. */
static void conc_check_data(int t, int slot, unsigned long p, unsigned long n,
			    const void *buf, int ret, const char *what)
{
	unsigned long i;
	char gs[96], es[800];
	uint64_t got;

	for (i = 0; i < n; i++) {
		const char *page = (const char *)buf + i * PS;
		int torn;

		if (ret && is_poison(page))
			continue;
		torn = decode_page(page, &got);
		if (!torn && cset_has(&C.cs[p + i], got))
			continue;
		if (torn && cset_torn_ok(&C.cs[p + i], page)) {
			atomic_fetch_add(&SH->torn_pages, 1);
			continue;
		}
		cset_str(&C.cs[p + i], es, sizeof(es));
		report(!torn && tag_proc(got) != P->procid && got &&
		       tag_proc(got) != TAG_POISON_PROC && tag_proc(got) != P->parent_procid ?
		       F_CROSS_PROCESS : F_STALE_READ,
		       "concurrent thread %d: %s via %s: page %lu holds none of %s during the phase, device returned %s%s%s",
		       t, what, P->fds[slot].name, p + i, es, torn ? "torn page starting " : "",
		       tagstr(got, gs, sizeof(gs)),
		       !torn && tag_dev(got) && tag_proc(got) == P->procid && tag_page(got) != ((p + i) & 0xffff) ?
		       " (data a device wrote for another page: a device entry for this address points at memory"
		       " mapped elsewhere now, or a write through a stale entry landed here)" : "");
	}
}

static void conc_errno(int t, int slot, const char *what, int ret, int ok1, int ok2, int ok3)
{
	if (ret && ret != ok1 && ret != ok2 && ret != ok3)
		report(F_UNEXPECTED_ERRNO, "concurrent thread %d: %s via %s failed with %s",
		       t, what, P->fds[slot].name, strerror(-ret));
}

static void *conc_thread(void *arg)
{
	int t = (int)(long)arg, T = C.nthreads;
	void *buf = aligned_alloc(PS, 16 * PS);
	struct rng r;
	long k;

	rng_seed(&r, C.seed ^ (0x5151ULL * (t + 1)));
	for (k = 0; k < C.dev_ops; k++) {
		struct region *g = &C.reg[rn(&r, C.nreg)];
		unsigned long p = g->p + rn(&r, g->n), n, i, cp;
		int slot = rn(&r, MAX_FDS), w = rn(&r, 100), ret;
		bool compat;

		if (P->fds[0].fd < 0)
			break;
		atomic_fetch_add(&SH->heartbeat, 1);
		while (P->fds[slot].fd < 0)
			slot = (slot + 1) % MAX_FDS;
		compat = P->fds[slot].abi == ABI_COMPAT;
		n = g->p + g->n - p;
		n = 1 + rn(&r, n < 16 ? n : 16);
		if (w >= 35 && w < 60) {
			/* WRITE into this thread's own 8-page blocks only. */
			unsigned long blk = p / 8, own = blk + ((t - blk % T) + T) % T;

			if (own * 8 < g->p || own * 8 >= g->p + g->n) {
				w = 0;	/* not ours: read instead */
			} else {
				p = own * 8;
				n = g->p + g->n - p;
				n = 1 + rn(&r, n < 8 ? n : 8);
				for (i = 0; i < n; i++)
					if (atomic_load(&C.cs[p + i].n) >= VSET_MAX)
						break;
				if (i < n) {
					w = 0;
				} else {
					for (i = 0; i < n; i++) {
						struct cset *c = &C.cs[p + i];
						uint64_t tag = mktag(P->procid, 1, slot, p + i,
								     atomic_fetch_add(&C.ctr, 1));
						int idx = atomic_load(&c->n);

						fill_page((char *)buf + i * PS, tag);
						c->v[idx] = tag;
						atomic_store_explicit(&c->n, idx + 1, memory_order_release);
					}
					ret = dev_rw_raw(slot, 1, pg_addr(p), buf, n, NULL);
					conc_errno(t, slot, "WRITE", ret, -EFAULT, -EPERM, -EBUSY);
					conc_count(OP_DEV_WRITE, slot);
					continue;
				}
			}
		}
		/*
		 * Poison what the device may return, for the final range: a
		 * WRITE that fell back to a READ above moved it.
		 */
		poison_buf(buf, n);
		if (w < 8 && !compat) {
			/*
			 * PREFETCH (for reading: a write one would break the COW
			 * of private file pages, which this model does not
			 * follow) racing everything else: every page accounted
			 * for, whatever moved meanwhile.
			 */
			struct drm_mnm_prefetch pf = {
				.size = sizeof(pf), .addr = pg_addr(p), .npages = n,
			};

			ret = mnm_ioctl(P->fds[slot].fd, DRM_IOCTL_MNM_PREFETCH, &pf);
			conc_errno(t, slot, "PREFETCH", ret, -EBUSY, -ENOMEM, -EINTR);
			if (!ret && pf.mapped + pf.skip_access + pf.skip_fault +
				    pf.skip_raced != n)
				report(F_MODEL_ERROR, "concurrent thread %d: PREFETCH via %s of %lu pages counted %llu",
				       t, P->fds[slot].name, n,
				       (unsigned long long)(pf.mapped + pf.skip_access +
							    pf.skip_fault + pf.skip_raced));
			conc_count(OP_PREFETCH, slot);
		} else if (w < 60) {
			ret = dev_rw_raw(slot, 0, pg_addr(p), buf, n, NULL);
			conc_errno(t, slot, "READ", ret, -EFAULT, -EBUSY, -ENOMEM);
			conc_check_data(t, slot, p, n, buf, ret, "READ");
			conc_count(OP_DEV_READ, slot);
		} else if (w < 75) {
			int to_dev = !(P->allow_crash && chance(&r, 30));

			if (!P->have_migrate)
				continue;
			ret = dev_migrate_raw(slot, pg_addr(p), n, to_dev, buf, &cp);
			conc_errno(t, slot, "MIGRATE", ret, compat ? -EINVAL : -ENOMEM,
				   compat ? -ENOENT : -ENOMEM, -ENOMEM);
			if (compat && to_dev && (!ret || ret == -ENOENT))
				conc_check_data(t, slot, p, n, buf, ret, "MIGRATE_TO_DEV read-back");
			conc_count(OP_MIGRATE, slot);
		} else if (w < 85) {
			if (!P->have_excl)
				continue;
			ret = dev_excl_raw(slot, pg_addr(p), n, compat ? buf : NULL);
			atomic_fetch_or(&C.excl_slots, 1u << slot);
			if (ret != -ENOENT || !compat)
				conc_errno(t, slot, "EXCLUSIVE", ret, -EBUSY, -EFAULT, -ENOMEM);
			if (compat && (!ret || ret == -ENOENT))
				conc_check_data(t, slot, p, n, buf, ret, "EXCLUSIVE read-back");
			conc_count(OP_EXCL, slot);
		} else if (w < 92) {
			uint8_t snap[16];
			int dv = !compat && chance(&r, 50);

			ret = dev_snap_raw(slot, pg_addr(p), n, snap, dv);
			conc_errno(t, slot, "SNAPSHOT", ret, 0, 0, 0);
			conc_count(OP_SNAP, slot);
		} else if (w < 97 && !compat) {
			ret = dev_release_raw(slot, pg_addr(p), n);
			conc_errno(t, slot, "RELEASE", ret, 0, 0, 0);
			conc_count(OP_RELEASE, slot);
		} else if (P->have_excl && !compat) {
			struct drm_mnm_exclusive e = {
				.size = sizeof(e), .addr = pg_addr(p), .npages = n,
			};

			ret = mnm_ioctl(P->fds[slot].fd, DRM_IOCTL_MNM_CHECK_EXCLUSIVE, &e);
			conc_errno(t, slot, "CHECK_EXCLUSIVE", ret, 0, 0, 0);
			conc_count(OP_CHECK_EXCL, slot);
		}
	}
	free(buf);
	return NULL;
}

/* A free span of @len pages aligned to @align, or false. */
static bool conc_free_span(struct rng *r, unsigned long len, unsigned long align,
			   unsigned long *out)
{
	unsigned long slots = P->npages / align, k, s, i, p;

	for (k = 0, s = rn(r, slots); k < slots; k++, s = (s + 1) % slots) {
		p = s * align;
		if (p + len > P->npages)
			continue;
		for (i = p; i < p + len && !P->pg[i].mapped; i++)
			;
		/* Keep a guard page free on both sides. */
		if (i == p + len && (!p || !P->pg[p - 1].mapped) &&
		    (p + len == P->npages || !P->pg[p + len].mapped)) {
			*out = p;
			return true;
		}
	}
	return false;
}

void do_conc(const struct op *o)
{
	pthread_t th[8];
	struct rng r;
	unsigned long i, k, remaps;
	int t, g, nthreads = P->nthreads > 8 ? 8 : P->nthreads < 1 ? 1 : P->nthreads;

	rng_seed(&r, o->x);
	memset(&C.reg, 0, sizeof(C.reg));
	C.nreg = 0;
	for (g = 0; g < 3; g++) {
		bool huge = g == 2;
		unsigned long len = huge ? HP : 16 + rn(&r, 49), p;
		struct op m = { .type = OP_MMAP, .a = K_ANON_PRIV, .b = P_RW | (huge ? MM_HUGE << 4 : 0) };

		if (g == 2 && !chance(&r, 30))
			break;
		if (!conc_free_span(&r, len, huge ? HP : 1, &p))
			continue;
		m.p = p;
		m.n = len;
		do_mmap(&m);
		C.reg[C.nreg].p = p;
		C.reg[C.nreg++].n = len;
	}
	if (!C.nreg) {
		note("concurrent phase skipped: no free space");
		return;
	}
	C.ctr = o->q;
	for (g = 0; g < C.nreg; g++) {
		struct op w = { .type = OP_CPU_WRITE, .p = C.reg[g].p, .n = C.reg[g].n / 2 };

		w.x = atomic_fetch_add(&C.ctr, w.n);
		do_cpu_write(&w);
	}
	C.cs = calloc(P->npages, sizeof(*C.cs));
	for (g = 0; g < C.nreg; g++) {
		for (i = C.reg[g].p; i < C.reg[g].p + C.reg[g].n; i++) {
			struct vset *v = content_of(i);
			int j;

			for (j = 0; j < v->n && j < 2; j++)
				C.cs[i].v[j] = v->v[j];
			C.cs[i].v[j++] = 0;
			atomic_store(&C.cs[i].n, j);
		}
	}
	C.nthreads = nthreads;
	remaps = o->n / 4;
	C.dev_ops = (o->n - remaps) / nthreads;
	C.seed = o->x;
	C.excl_slots = 0;
	P->conc_active = 1;
	fflush(stdout);
	for (t = 0; t < nthreads; t++)
		pthread_create(&th[t], NULL, conc_thread, (void *)(long)t);
	/* This thread remaps the same regions meanwhile. */
	for (k = 0; k < remaps; k++) {
		struct region *gr = &C.reg[rn(&r, C.nreg)];
		struct op m = { 0 };
		int w = rn(&r, 100);

		m.p = gr->p + rn(&r, gr->n);
		m.n = gr->p + gr->n - m.p;
		m.n = 1 + rn(&r, m.n < 16 ? m.n : 16);
		if (w < 30) {
			m.type = OP_MUNMAP;
			do_munmap(&m);
		} else if (w < 60) {
			m.type = OP_MMAP;
			m.a = K_ANON_PRIV;
			m.b = P_RW | MM_FIXED << 4;
			do_mmap(&m);
		} else if (w < 80) {
			m.type = OP_MPROTECT;
			m.a = rn(&r, 3);
			do_mprotect(&m);
		} else {
			m.type = OP_MADVISE;
			m.a = A_DONTNEED;
			do_madvise(&m);
		}
		count_op(&m);
		if (chance(&r, 30))
			sched_yield();
	}
	for (t = 0; t < nthreads; t++)
		pthread_join(th[t], NULL);
	P->conc_active = 0;

	/* Quiescent: each page holds one of the values it held. */
	for (g = 0; g < C.nreg; g++) {
		for (i = C.reg[g].p; i < C.reg[g].p + C.reg[g].n; i++) {
			struct mpage *m = &P->pg[i];
			int j;

			if (!m->mapped)
				continue;
			m->priv.n = 0;
			for (j = 0; j < atomic_load(&C.cs[i].n); j++)
				vset_add(&m->priv, C.cs[i].v[j]);
			m->flags = PF_MIG;
			m->excl |= atomic_load(&C.excl_slots);
		}
	}
	free(C.cs);
	C.cs = NULL;
	P->budget_extra += o->n;
	check_dev_snapshots(0, P->npages, 0, "after the concurrent phase");
	for (t = 0; t < MAX_FDS; t++)
		for (g = 0; g < C.nreg; g++)
			check_cpu_snapshot(t, C.reg[g].p, C.reg[g].n);
	for (g = 0; g < C.nreg; g++)
		cpu_check_range(C.reg[g].p, C.reg[g].n, "CPU read after the concurrent phase");
	for (t = 0; t < MAX_FDS; t++) {
		if (P->fds[t].fd < 0)
			continue;
		for (g = 0; g < C.nreg; g++) {
			unsigned long a, b;

			for (a = C.reg[g].p; a < C.reg[g].p + C.reg[g].n; a = b) {
				for (b = a; b < C.reg[g].p + C.reg[g].n && readable(b); b++)
					;
				if (b > a)
					dev_verify_range(t, a, b - a);
				else
					b = a + 1;
			}
		}
	}
}
