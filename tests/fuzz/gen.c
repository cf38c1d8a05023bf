// SPDX-License-Identifier: GPL-2.0
/*
 * mnm-fuzz: generating operations from the PRNG and the model, their text
 * form (one line per op, for logs and --replay), executing them, and fork.
 */
#include "fuzz.h"	/* first: it defines _GNU_SOURCE */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mnm_util.h"

const char *op_names[OP_NTYPES] = {
	"mmap", "munmap", "mremap", "mprotect", "madvise",
	"cpu_write", "cpu_read",
	"dev_read", "dev_write", "migrate", "exclusive", "check_excl",
	"snapshot", "release", "prefetch", "reopen", "probe",
	"check", "fork", "wait", "conc",
};
static const char *adv_names[3] = { "dontneed", "free", "collapse" };
static const char *remap_names[3] = { "move", "dontunmap", "grow" };

/* ---- picking ranges ------------------------------------------------------ */

typedef bool (*page_pred)(unsigned long i);

static bool pred_mapped(unsigned long i) { return P->pg[i].mapped; }
static bool pred_cow(unsigned long i)
{
	return P->pg[i].mapped && P->pg[i].kind == K_ANON_PRIV && (P->pg[i].flags & PF_REAL);
}

static bool pred_anon(unsigned long i)
{
	return P->pg[i].mapped && P->pg[i].kind == K_ANON_PRIV;
}

/* A random maximal run of pages satisfying @pred. */
static bool pick_run(struct rng *r, page_pred pred, unsigned long *rs, unsigned long *rl)
{
	unsigned long start = rn(r, P->npages), k, i = 0, lo, hi;

	for (k = 0; k < P->npages; k++) {
		i = (start + k) % P->npages;
		if (pred(i))
			break;
	}
	if (k == P->npages)
		return false;
	for (lo = i; lo > 0 && pred(lo - 1); lo--)
		;
	for (hi = i; hi + 1 < P->npages && pred(hi + 1); hi++)
		;
	*rs = lo;
	*rl = hi - lo + 1;
	return true;
}

/* A range mostly inside a run of @pred pages, sometimes spilling over. */
static void pick_range(struct rng *r, page_pred pred, struct op *o, int spill)
{
	unsigned long rs, rl, s, len;

	/* While a forked child lives, favour the pages it shares copy-on-write. */
	if (P->children[0].pid | P->children[1].pid | P->children[2].pid | P->children[3].pid &&
	    pred != pred_mapped && chance(r, 30) && pick_run(r, pred_cow, &rs, &rl))
		pred = pred_cow;
	if (!pick_run(r, pred, &rs, &rl) || chance(r, 5)) {
		o->p = rn(r, P->npages);
		o->n = 1 + rn(r, 16);
	} else if (chance(r, 25)) {
		o->p = rs;
		o->n = rl < 512 ? rl : 512;
	} else {
		s = rs + rn(r, rl);
		len = rs + rl - s;
		o->p = s;
		o->n = 1 + rn(r, len < MAX_RANGE ? len : MAX_RANGE);
	}
	if (chance(r, spill)) {
		unsigned long back = rn(r, 3);

		o->p = o->p > back ? o->p - back : 0;
		o->n += back + rn(r, 4);
	}
	if (o->p + o->n > P->npages)
		o->n = P->npages - o->p;
	if (!o->n)
		o->n = 1;
}

/* An unmapped, @align-aligned span of @len pages, or false. */
static bool pick_free(struct rng *r, unsigned long len, unsigned long align,
		      unsigned long *out)
{
	unsigned long slots = P->npages / align, k, s, i;

	for (k = 0, s = rn(r, slots); k < slots; k++, s = (s + 1) % slots) {
		unsigned long p = s * align;

		if (p + len > P->npages)
			continue;
		for (i = p; i < p + len && !P->pg[i].mapped; i++)
			;
		if (i == p + len) {
			*out = p;
			return true;
		}
	}
	return false;
}

static int pick_slot(struct rng *r)
{
	int k, s = rn(r, MAX_FDS);

	for (k = 0; k < MAX_FDS; k++, s = (s + 1) % MAX_FDS)
		if (P->fds[s].fd >= 0)
			return s;
	return 0;
}

static unsigned long count_mapped(void)
{
	unsigned long i, c = 0;

	for (i = 0; i < P->npages; i++)
		c += P->pg[i].mapped;
	return c;
}

static int free_child_slot(void)
{
	int k;

	for (k = 0; k < MAX_CHILDREN; k++)
		if (!P->children[k].pid)
			return k;
	return -1;
}

/* ---- generation ------------------------------------------------------------ */

static void gen_mmap(struct rng *r, struct op *o)
{
	int kind, prot, huge, fixed, pct = rn(r, 100);
	unsigned long p, fp = FILE_BYTES / PS;

	kind = pct < 45 ? K_ANON_PRIV : pct < 60 ? K_ANON_SHARED :
	       pct < 80 ? K_FILE_SHARED : K_FILE_PRIV;
	huge = kind == K_ANON_PRIV && chance(r, 12);
	pct = rn(r, 100);
	prot = pct < 85 ? P_RW : pct < 95 ? P_R : P_NONE;
	o->type = OP_MMAP;
	o->a = kind;
	o->n = huge ? HP : 4 + rn(r, 61);
	fixed = chance(r, 25);
	if (!fixed && pick_free(r, o->n, huge ? HP : 1, &p)) {
		o->p = p;
	} else {
		unsigned long rs, rl;

		fixed = 1;
		if (huge)
			o->p = HP * rn(r, P->npages / HP);
		else if (pick_run(r, pred_mapped, &rs, &rl))
			o->p = rs + rn(r, rl) - (rs ? rn(r, 2) : 0);
		else
			o->p = rn(r, P->npages - o->n);
	}
	if (o->p + o->n > P->npages)
		o->p = P->npages - o->n;
	o->b = prot | ((fixed ? MM_FIXED : 0) | (huge ? MM_HUGE : 0)) << 4;
	o->fd = rn(r, NFILES);
	o->q = rn(r, fp - o->n + 1);
}

static void gen_mremap(struct rng *r, struct op *o)
{
	unsigned long rs, rl, s, len, q;
	int pct = rn(r, 100);

	o->type = OP_MREMAP;
	o->a = pct < 60 ? R_MOVE : pct < 80 ? R_DONTUNMAP : R_GROW;
	if (!pick_run(r, o->a == R_MOVE ? pred_mapped : pred_anon, &rs, &rl)) {
		o->type = OP_CPU_READ;
		o->p = 0;
		o->n = 1;
		return;
	}
	len = 1 + rn(r, rl < MAX_RANGE ? rl : MAX_RANGE);
	if (chance(r, 20) && rl <= 512)
		len = rl;
	s = o->a == R_GROW ? rs + rl - len : rs + rn(r, rl - len + 1);
	o->p = s;
	o->n = len;
	o->nn = len;
	if (o->a == R_GROW) {
		o->nn = len + 1 + rn(r, 16);
		o->q = s;
		return;
	}
	if (o->a == R_MOVE && chance(r, 20))
		o->nn = len + 1 + rn(r, 8);
	else if (o->a == R_MOVE && chance(r, 10) && len > 1)
		o->nn = len - 1 - rn(r, len - 1);
	if (pick_free(r, o->nn, len >= HP ? HP : 1, &q) && chance(r, 80))
		o->q = q;
	else
		o->q = rn(r, P->npages - o->nn);
}

void gen_op(struct rng *r, struct op *o, int allow_fork_conc)
{
	static unsigned long mapped, tick;
	int w = rn(r, 1000);

	memset(o, 0, sizeof(*o));
	if (tick++ % 16 == 0)
		mapped = count_mapped();
	o->fd = pick_slot(r);
	if (mapped < 64 || w < 60)
		return gen_mmap(r, o);
	if (w < 90 || (mapped > 2500 && w < 150)) {
		unsigned long rs, rl;

		o->type = OP_MUNMAP;
		if (pick_run(r, pred_mapped, &rs, &rl) && chance(r, 40)) {
			o->p = rs;
			o->n = rl;
		} else {
			pick_range(r, pred_mapped, o, 10);
		}
		return;
	}
	if (w < 180)
		return gen_mremap(r, o);
	if (w < 230) {
		int pct = rn(r, 100);

		o->type = OP_MPROTECT;
		pick_range(r, pred_mapped, o, 10);
		o->a = pct < 40 ? P_R : pct < 60 ? P_NONE : P_RW;
		return;
	}
	if (w < 280) {
		int pct = rn(r, 100);

		o->type = OP_MADVISE;
		o->a = pct < 45 ? A_DONTNEED : pct < 80 ? A_FREE : A_COLLAPSE;
		pick_range(r, o->a == A_FREE ? pred_anon : pred_mapped, o, o->a == A_FREE ? 0 : 10);
		if (o->a == A_COLLAPSE && chance(r, 50)) {
			o->p = o->p / HP * HP;
			o->n = HP;
		}
		return;
	}
	if (w < 380) {
		o->type = OP_CPU_WRITE;
		pick_range(r, writable, o, 0);
		o->x = P->tagctr;
		P->tagctr += o->n;
		return;
	}
	if (w < 440) {
		o->type = OP_CPU_READ;
		pick_range(r, readable, o, 0);
		return;
	}
	if (w < 590) {
		o->type = OP_DEV_READ;
		pick_range(r, readable, o, 12);
		return;
	}
	if (w < 710) {
		o->type = OP_DEV_WRITE;
		pick_range(r, writable, o, 15);
		o->x = P->tagctr;
		P->tagctr += o->n;
		return;
	}
	if (w < 810) {
		o->type = OP_MIGRATE;
		o->a = chance(r, 60) ? 0 : 1;
		pick_range(r, o->a ? readable : pred_mapped, o, 8);
		o->x = rn(r, 4);
		return;
	}
	if (w < 840) {
		o->type = OP_EXCL;
		pick_range(r, chance(r, 70) ? pred_anon : writable, o, 8);
		return;
	}
	if (w < 860) {
		o->type = OP_CHECK_EXCL;
		pick_range(r, pred_mapped, o, 5);
		return;
	}
	if (w < 900) {
		o->type = OP_SNAP;
		pick_range(r, pred_mapped, o, 20);
		o->b = chance(r, 60);
		return;
	}
	if (w < 925) {
		o->type = OP_RELEASE;
		pick_range(r, pred_mapped, o, 10);
		if (P->fds[o->fd].abi == ABI_COMPAT && chance(r, 70))
			o->fd = rn(r, 3);
		return;
	}
	if (w < 935) {
		o->type = OP_REOPEN;
		return;
	}
	if (w < 955) {
		o->type = OP_PREFETCH;
		pick_range(r, chance(r, 70) ? readable : pred_mapped, o, 10);
		o->b = chance(r, 40);	/* writable */
		/* test_hmm's ABI has no PREFETCH: a native file (slots 0-2). */
		if (P->fds[o->fd].abi == ABI_COMPAT)
			o->fd = rn(r, 3);
		return;
	}
	if (w < 992 || !allow_fork_conc) {
		o->type = OP_PROBE;
		pick_range(r, writable, o, 0);
		o->x = P->tagctr;
		P->tagctr += o->n;
		return;
	}
	if (w < 998 && free_child_slot() >= 0) {
		o->type = OP_FORK;
		o->x = rnd(r);
		o->n = 20 + rn(r, 60);
		return;
	}
	if (!P->no_concurrent) {
		o->type = OP_CONC;
		o->x = rnd(r);
		o->n = 100 + rn(r, 200);
		o->q = P->tagctr;
		P->tagctr += 1 << 20;
		return;
	}
	o->type = OP_CHECK;
}

/* ---- text form ---------------------------------------------------------------- */

int op_format(const struct op *o, char *buf, size_t len)
{
	const char *nm = op_names[o->type];

	switch (o->type) {
	case OP_MMAP:
		return snprintf(buf, len, "%s p=%u n=%u kind=%s prot=%s fixed=%d huge=%d file=%u off=%u",
				nm, o->p, o->n, kind_names[o->a % K_NKINDS],
				prot_names[(o->b & 3) % 3], !!((o->b >> 4) & MM_FIXED),
				!!((o->b >> 4) & MM_HUGE), o->fd, o->q);
	case OP_MUNMAP:
	case OP_CPU_READ:
		return snprintf(buf, len, "%s p=%u n=%u", nm, o->p, o->n);
	case OP_MREMAP:
		return snprintf(buf, len, "%s p=%u n=%u to=%u nn=%u mode=%s", nm, o->p, o->n,
				o->q, o->nn, remap_names[o->a % 3]);
	case OP_MPROTECT:
		return snprintf(buf, len, "%s p=%u n=%u prot=%s", nm, o->p, o->n,
				prot_names[o->a % 3]);
	case OP_MADVISE:
		return snprintf(buf, len, "%s p=%u n=%u adv=%s", nm, o->p, o->n,
				adv_names[o->a % 3]);
	case OP_CPU_WRITE:
	case OP_PROBE:
		return snprintf(buf, len, "%s p=%u n=%u ctr=%llu", nm, o->p, o->n,
				(unsigned long long)o->x);
	case OP_DEV_WRITE:
		return snprintf(buf, len, "%s fd=%u p=%u n=%u ctr=%llu", nm, o->fd, o->p, o->n,
				(unsigned long long)o->x);
	case OP_MIGRATE:
		return snprintf(buf, len, "%s fd=%u p=%u n=%u dir=%s verify=%llu", nm, o->fd,
				o->p, o->n, o->a ? "sys" : "dev", (unsigned long long)o->x);
	case OP_SNAP:
		return snprintf(buf, len, "%s fd=%u p=%u n=%u view=%s", nm, o->fd, o->p, o->n,
				o->b ? "device" : "cpu");
	case OP_PREFETCH:
		return snprintf(buf, len, "%s fd=%u p=%u n=%u write=%u", nm, o->fd, o->p,
				o->n, o->b);
	case OP_DEV_READ:
	case OP_EXCL:
	case OP_CHECK_EXCL:
	case OP_RELEASE:
		return snprintf(buf, len, "%s fd=%u p=%u n=%u", nm, o->fd, o->p, o->n);
	case OP_REOPEN:
		return snprintf(buf, len, "%s fd=%u", nm, o->fd);
	case OP_FORK:
		return snprintf(buf, len, "%s seed=%llu ops=%u", nm, (unsigned long long)o->x, o->n);
	case OP_CONC:
		return snprintf(buf, len, "%s seed=%llu ops=%u ctr=%u", nm,
				(unsigned long long)o->x, o->n, o->q);
	default:
		return snprintf(buf, len, "%s", nm);
	}
}

static int lookup(const char *v, const char *const *names, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (!strcmp(v, names[i]))
			return i;
	return -1;
}

int op_parse(const char *line, struct op *o)
{
	char copy[400], *save, *tok;
	int t;

	memset(o, 0, sizeof(*o));
	snprintf(copy, sizeof(copy), "%s", line);
	tok = strtok_r(copy, " \t\r\n", &save);
	if (!tok || (t = lookup(tok, op_names, OP_NTYPES)) < 0)
		return -1;
	o->type = t;
	while ((tok = strtok_r(NULL, " \t\r\n", &save))) {
		char *v = strchr(tok, '=');
		unsigned long long x;

		if (!v)
			return -1;
		*v++ = 0;
		x = strtoull(v, NULL, 0);
		if (!strcmp(tok, "p"))
			o->p = x;
		else if (!strcmp(tok, "n"))
			o->n = x;
		else if (!strcmp(tok, "to"))
			o->q = x;
		else if (!strcmp(tok, "off"))
			o->q = x;
		else if (!strcmp(tok, "nn"))
			o->nn = x;
		else if (!strcmp(tok, "fd") || !strcmp(tok, "file"))
			o->fd = x;
		else if (!strcmp(tok, "ctr") && o->type == OP_CONC)
			o->q = x;
		else if (!strcmp(tok, "ctr") || !strcmp(tok, "seed") || !strcmp(tok, "verify"))
			o->x = x;
		else if (!strcmp(tok, "ops"))
			o->n = x;
		else if (!strcmp(tok, "kind"))
			o->a = lookup(v, kind_names, K_NKINDS);
		else if (!strcmp(tok, "prot") && o->type == OP_MMAP)
			o->b = (o->b & ~3) | lookup(v, prot_names, 3);
		else if (!strcmp(tok, "prot"))
			o->a = lookup(v, prot_names, 3);
		else if (!strcmp(tok, "fixed"))
			o->b |= x ? MM_FIXED << 4 : 0;
		else if (!strcmp(tok, "huge"))
			o->b |= x ? MM_HUGE << 4 : 0;
		else if (!strcmp(tok, "mode"))
			o->a = lookup(v, remap_names, 3);
		else if (!strcmp(tok, "adv"))
			o->a = lookup(v, adv_names, 3);
		else if (!strcmp(tok, "dir"))
			o->a = !strcmp(v, "sys");
		else if (!strcmp(tok, "view"))
			o->b = !strcmp(v, "device");
		else if (!strcmp(tok, "write"))
			o->b = x;
		else
			return -1;
	}
	return 0;
}

/* ---- execution -------------------------------------------------------------- */

void exec_op(const struct op *o)
{
	struct timespec t0, t1;
	uint64_t end = 0;
	long us;

	P->cur = o;
	op_format(o, P->curtext, sizeof(P->curtext));
	if (P->verbose)
		printf("# %s%ld: %s\n", P->is_child ? "child op " : "op ", P->opi, P->curtext);
	count_op(o);
	atomic_fetch_add(&SH->heartbeat, 1);
	if (o->type == OP_CPU_WRITE || o->type == OP_DEV_WRITE || o->type == OP_PROBE)
		end = o->x + o->n;
	else if (o->type == OP_CONC)
		end = o->q + (1 << 20);
	if (end > P->tagctr)
		P->tagctr = end;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	switch (o->type) {
	case OP_MMAP: do_mmap(o); break;
	case OP_MUNMAP: do_munmap(o); break;
	case OP_MREMAP: do_mremap(o); break;
	case OP_MPROTECT: do_mprotect(o); break;
	case OP_MADVISE: do_madvise(o); break;
	case OP_CPU_WRITE: do_cpu_write(o); break;
	case OP_CPU_READ: do_cpu_read(o); break;
	case OP_DEV_READ: do_dev_read(o); break;
	case OP_DEV_WRITE: do_dev_write(o); break;
	case OP_MIGRATE: do_migrate(o); break;
	case OP_EXCL: do_excl(o); break;
	case OP_CHECK_EXCL: do_check_excl(o); break;
	case OP_SNAP: do_snap(o); break;
	case OP_RELEASE: do_release(o); break;
	case OP_PREFETCH: do_prefetch(o); break;
	case OP_REOPEN: do_reopen(o); break;
	case OP_PROBE: do_probe(o); break;
	case OP_CHECK: full_check(); break;
	case OP_FORK: do_fork(o); break;
	case OP_WAIT: do_wait(o); break;
	case OP_CONC: do_conc(o); break;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	us = (t1.tv_sec - t0.tv_sec) * 1000000 + (t1.tv_nsec - t0.tv_nsec) / 1000;
	if (!P->replaying)
		atomic_fetch_add(&SH->optime_us[o->type], us);
	if (P->verbose && us > 20000)
		printf("#   (%ld ms: %s%ld: %s)\n", us / 1000, P->is_child ? "child op " : "op ",
		       P->opi, P->curtext);
	fflush(stdout);
}

