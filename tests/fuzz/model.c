// SPDX-License-Identifier: GPL-2.0
/*
 * mnm-fuzz: the page model, page contents, reporting and the checks that
 * compare device and CPU views with the model.
 */
#include "fuzz.h"	/* first: it defines _GNU_SOURCE */

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mnm_util.h"

const char *class_names[F_NCLASSES] = {
	"stale_read", "read_of_unmapped_ok", "write_to_ro_or_unmapped_ok",
	"lost_write", "unexpected_errno", "snapshot_stale_entry",
	"cross_process", "migrate_changed_data", "model_error", "process_killed",
};
const char *kind_names[K_NKINDS] = { "anon_priv", "anon_shared", "file_shared", "file_priv" };
const char *prot_names[3] = { "none", "r", "rw" };

#define PAT_K	0x9E3779B97F4A7C15ULL

/* ---- page contents ---------------------------------------------------- */

/* Word @i of a page filled with @tag (a zero tag fills zeros). */
uint64_t fill_word(uint64_t tag, unsigned long i)
{
	return !tag || !i ? tag : tag ^ (i * PAT_K);
}

void fill_page(void *dst, uint64_t tag)
{
	uint64_t *w = dst;
	unsigned long i;

	for (i = 0; i < PS / 8; i++)
		w[i] = fill_word(tag, i);
}

int decode_page(const void *src, uint64_t *tag)
{
	const volatile uint64_t *w = src;
	unsigned long i;
	uint64_t t = w[0];

	*tag = t;
	for (i = 1; i < PS / 8; i++)
		if (w[i] != fill_word(t, i))
			return -1;
	return 0;
}

static uint64_t poison_tag(void)
{
	return mktag(TAG_POISON_PROC, 0, 0, 0, 0x5a5a5a);
}

void poison_buf(void *buf, unsigned long npages)
{
	unsigned long i;

	for (i = 0; i < npages; i++)
		fill_page((char *)buf + i * PS, poison_tag());
}

bool is_poison(const void *page)
{
	uint64_t t;

	return decode_page(page, &t) == 0 && t == poison_tag();
}

char *tagstr(uint64_t t, char *buf, size_t len)
{
	if (!t)
		snprintf(buf, len, "zero");
	else if (tag_proc(t) == TAG_POISON_PROC)
		snprintf(buf, len, "0x%016llx (the checker's poison: a buffer page the device did not write, or a freed page the checker reused)",
			 (unsigned long long)t);
	else if (tag_dev(t))
		snprintf(buf, len, "0x%016llx (proc %d, device write #%llu via fd slot %d for page %u)",
			 (unsigned long long)t, tag_proc(t),
			 (unsigned long long)tag_ctr(t), tag_fd(t), tag_page(t));
	else
		snprintf(buf, len, "0x%016llx (proc %d, CPU write #%llu for page %u)",
			 (unsigned long long)t, tag_proc(t),
			 (unsigned long long)tag_ctr(t), tag_page(t));
	return buf;
}

/* ---- value sets ------------------------------------------------------ */

void vset_one(struct vset *s, uint64_t v)
{
	s->n = 1;
	s->v[0] = v;
}

bool vset_has(const struct vset *s, uint64_t v)
{
	int i;

	for (i = 0; i < s->n; i++)
		if (s->v[i] == v)
			return true;
	return false;
}

void vset_add(struct vset *s, uint64_t v)
{
	if (vset_has(s, v))
		return;
	if (s->n < VSET_MAX) {
		s->v[s->n++] = v;
		return;
	}
	/* Full: the oldest non-zero value goes (callers keep sets small). */
	memmove(&s->v[0], &s->v[1], (VSET_MAX - 1) * sizeof(s->v[0]));
	s->v[VSET_MAX - 1] = v;
	note("model: value set of a page overflowed");
}

char *vset_str(const struct vset *s, char *buf, size_t len)
{
	size_t o = 0;
	char t[96];
	int i;

	o += snprintf(buf + o, len - o, "{");
	for (i = 0; i < s->n && o < len; i++)
		o += snprintf(buf + o, len - o, "%s%s", i ? ", " : "",
			      tagstr(s->v[i], t, sizeof(t)));
	if (o < len)
		snprintf(buf + o, len - o, "}");
	return buf;
}

/* ---- objects --------------------------------------------------------- */

int model_init(struct proc *p)
{
	int i;

	if (!p->pg)
		p->pg = calloc(p->npages, sizeof(*p->pg));
	if (!p->pg)
		return -ENOMEM;
	for (i = 0; i < NFILES; i++) {
		struct obj *o = &p->objs[i];
		uint32_t k;

		o->fd = memfd_create("mnm-fuzz", MFD_CLOEXEC);
		if (o->fd < 0 || ftruncate(o->fd, FILE_BYTES))
			return -errno;
		o->used = 1;
		o->is_file = 1;
		o->npages = FILE_BYTES / PS;
		o->pages = calloc(o->npages, sizeof(*o->pages));
		if (!o->pages)
			return -ENOMEM;
		for (k = 0; k < o->npages; k++)
			vset_one(&o->pages[k], 0);
	}
	return 0;
}

void model_free_objs(struct proc *p)
{
	int i;

	for (i = 0; i < MAX_OBJS; i++) {
		if (p->objs[i].is_file && p->objs[i].fd >= 0)
			close(p->objs[i].fd);
		free(p->objs[i].pages);
		memset(&p->objs[i], 0, sizeof(p->objs[i]));
	}
}

void objs_gc(void)
{
	char used[MAX_OBJS] = { 0 };
	unsigned long i;
	int k;

	for (i = 0; i < P->npages; i++)
		if (P->pg[i].mapped && P->pg[i].kind != K_ANON_PRIV)
			used[P->pg[i].obj] = 1;
	for (k = NFILES; k < MAX_OBJS; k++) {
		if (P->objs[k].used && !used[k]) {
			free(P->objs[k].pages);
			memset(&P->objs[k], 0, sizeof(P->objs[k]));
		}
	}
}

int obj_new_anon(uint32_t npages)
{
	int k, pass;
	uint32_t i;

	for (pass = 0; pass < 2; pass++) {
		for (k = NFILES; k < MAX_OBJS; k++) {
			struct obj *o = &P->objs[k];

			if (o->used)
				continue;
			o->pages = calloc(npages, sizeof(*o->pages));
			if (!o->pages)
				return -1;
			o->used = 1;
			o->npages = npages;
			o->fd = -1;
			for (i = 0; i < npages; i++)
				vset_one(&o->pages[i], 0);
			return k;
		}
		objs_gc();
	}
	return -1;
}

/* ---- page state ------------------------------------------------------ */

bool readable(unsigned long i)
{
	return P->pg[i].mapped && P->pg[i].prot != P_NONE;
}

bool writable(unsigned long i)
{
	return P->pg[i].mapped && P->pg[i].prot == P_RW;
}

/* Where the page's current value lives (for cowed 2: the private copy). */
struct vset *content_of(unsigned long i)
{
	struct mpage *m = &P->pg[i];

	switch (m->kind) {
	case K_ANON_PRIV:
		return &m->priv;
	case K_FILE_PRIV:
		if (m->cowed)
			return &m->priv;
		/* fall through */
	default:
		return &P->objs[m->obj].pages[m->off];
	}
}

void allowed_of(unsigned long i, struct vset *out)
{
	struct mpage *m = &P->pg[i];
	int k;

	*out = *content_of(i);
	if (m->kind == K_FILE_PRIV && m->cowed == 2) {
		const struct vset *f = &P->objs[m->obj].pages[m->off];

		for (k = 0; k < f->n; k++)
			vset_add(out, f->v[k]);
	}
}

/* The CPU or the device saw @got, which the model allowed: narrow to it. */
void pin_page(unsigned long i, uint64_t got)
{
	struct mpage *m = &P->pg[i];

	if (m->kind == K_FILE_PRIV && m->cowed == 2) {
		bool in_copy = vset_has(&m->priv, got);
		bool in_file = vset_has(&P->objs[m->obj].pages[m->off], got);

		if (in_copy && !in_file) {
			m->cowed = 1;
		} else if (in_file && !in_copy) {
			m->cowed = 0;
			vset_one(&P->objs[m->obj].pages[m->off], got);
			return;
		} else if (!in_copy) {	/* resync after a mismatch */
			m->cowed = 1;
		} else {
			vset_one(&P->objs[m->obj].pages[m->off], got);
			vset_one(&m->priv, got);
			return;
		}
	}
	if ((m->flags & PF_LAZY) && got) {
		/* A lazily freed page may still be reclaimed: keep zero. */
		vset_one(content_of(i), got);
		vset_add(content_of(i), 0);
		return;
	}
	if (!got)
		m->flags &= ~PF_LAZY;
	vset_one(content_of(i), got);
}

void set_written(unsigned long i, uint64_t tag, int by_device)
{
	struct mpage *m = &P->pg[i];

	if (m->kind == K_FILE_PRIV)
		m->cowed = 1;
	vset_one(content_of(i), tag);
	m->flags &= ~(PF_LAZY | PF_MIG | PF_DEVW);
	if (m->kind == K_ANON_PRIV || m->kind == K_FILE_PRIV)
		m->flags |= PF_REAL;
	if (by_device)
		m->flags |= PF_DEVW;
}

void reset_page(unsigned long i, int kind, int prot, int obj, uint32_t off)
{
	struct mpage *m = &P->pg[i];

	memset(m, 0, sizeof(*m));
	m->mapped = 1;
	m->kind = kind;
	m->prot = prot;
	m->obj = obj;
	m->off = off;
	vset_one(&m->priv, 0);
}

/* ---- reporting -------------------------------------------------------- */

void note(const char *fmt, ...)
{
	va_list ap;
	char msg[600];

	if (P->replaying && !P->verbose)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	printf("# seed=%llu%s op=#%ld: note: %s\n", (unsigned long long)P->seed,
	       P->is_child ? " (child)" : "", P->opi, msg);
}

void report(int cls, const char *fmt, ...)
{
	va_list ap;
	char msg[1500];

	pthread_mutex_lock(&P->report_lock);
	P->nfail++;
	if (!P->fail_mask) {
		P->first_fail_op = P->opi;
		P->first_fail_class = cls;
	}
	P->fail_mask |= 1u << cls;
	if (P->child_mask)
		__atomic_fetch_or(P->child_mask, 1u << cls, __ATOMIC_SEQ_CST);
	if (!P->replaying)
		atomic_fetch_add(&SH->failcount[cls], 1);
	if ((!P->replaying || P->verbose) && P->nfail <= P->max_reports) {
		va_start(ap, fmt);
		vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
		if (P->is_child)
			printf("# FAIL seed=%llu child(proc %d) op=#%ld [%s] %s: %s\n",
			       (unsigned long long)P->seed, P->procid, P->opi,
			       P->curtext, class_names[cls], msg);
		else
			printf("# FAIL seed=%llu op=#%ld [%s] %s: %s\n",
			       (unsigned long long)P->seed, P->opi, P->curtext,
			       class_names[cls], msg);
		if (P->nfail == P->max_reports)
			printf("# seed=%llu: further failures are only counted\n",
			       (unsigned long long)P->seed);
	}
	pthread_mutex_unlock(&P->report_lock);
}

static char *page_desc(unsigned long i, char *buf, size_t len)
{
	struct mpage *m = &P->pg[i];

	if (!m->mapped)
		snprintf(buf, len, "page %lu (0x%lx): unmapped", i, pg_addr(i));
	else
		snprintf(buf, len, "page %lu (0x%lx): %s %s%s%s%s%s excl=0x%x",
			 i, pg_addr(i), kind_names[m->kind], prot_names[m->prot],
			 m->kind == K_FILE_PRIV ? (m->cowed == 1 ? " cowed" :
						   m->cowed == 2 ? " maybe-cowed" : " uncowed") : "",
			 m->flags & PF_REAL ? " real" : "",
			 m->flags & PF_MIG ? " migrated" : "",
			 m->flags & PF_LAZY ? " lazyfree" : "", m->excl);
	return buf;
}

/* Is @t a value no process of this lineage could have written here? */
static bool foreign_tag(uint64_t t)
{
	int pr = tag_proc(t);

	if (!t || pr == P->procid || pr == TAG_POISON_PROC)
		return false;
	if (P->is_child && pr == P->parent_procid && tag_ctr(t) < P->parent_ctr)
		return false;
	return true;
}

void classify_mismatch(unsigned long i, uint64_t got, int torn, int from_device,
		       int slot, const char *what)
{
	struct mpage *m = &P->pg[i];
	struct vset s;
	char es[800], gs[96], cs[128], pd[200];
	uint64_t cpu = 0;
	int cpu_r = -2, cls;
	bool cpu_ok;

	allowed_of(i, &s);
	if (from_device && readable(i) && !P->conc_active) {
		cpu_r = cpu_read_page(i, &cpu);
		m->excl = 0;
	}
	cpu_ok = cpu_r == 0 && vset_has(&s, cpu);
	if (cpu_r == -2)
		snprintf(cs, sizeof(cs), "%s", from_device ? "not readable by the CPU" : "");
	else if (cpu_r == -1)
		snprintf(cs, sizeof(cs), "CPU read faults");
	else
		snprintf(cs, sizeof(cs), "CPU reads %s%s", cpu_r ? "torn " : "",
			 tagstr(cpu, gs, sizeof(gs)));

	if (!torn && foreign_tag(got)) {
		cls = F_CROSS_PROCESS;
	} else if (from_device) {
		if (cpu_ok || cpu_r < 0)
			cls = F_STALE_READ;
		else if (cpu_r == 0 && cpu == got && !torn)
			cls = m->flags & PF_MIG ? F_MIGRATE_CHANGED :
			      m->flags & PF_DEVW ? F_LOST_WRITE : F_MODEL_ERROR;
		else
			cls = m->flags & PF_MIG ? F_MIGRATE_CHANGED : F_STALE_READ;
	} else {
		if (m->flags & PF_MIG)
			cls = F_MIGRATE_CHANGED;
		else if (m->flags & PF_DEVW)
			cls = F_LOST_WRITE;
		else if (!torn && tag_dev(got) && tag_proc(got) == P->procid &&
			 tag_page(got) != (i & 0xffff))
			cls = F_WRITE_RO_OK;
		else
			cls = F_MODEL_ERROR;
	}
	report(cls, "%s%s%s: %s: expected %s, got %s%s%s%s", what,
	       slot >= 0 ? " via " : "", slot >= 0 ? P->fds[slot].name : "",
	       page_desc(i, pd, sizeof(pd)), vset_str(&s, es, sizeof(es)),
	       torn ? "torn page starting " : "", tagstr(got, gs, sizeof(gs)),
	       cs[0] ? "; " : "", cs);
	/* Carry on from what the CPU holds. */
	if (!P->conc_active) {
		if (cpu_r == 0)
			pin_page(i, cpu);
		else if (!from_device && !torn)
			pin_page(i, got);
		m->flags &= ~(PF_MIG | PF_DEVW);
	}
}

/* ---- CPU access -------------------------------------------------------- */

static sigjmp_buf segv_jmp;
static volatile sig_atomic_t segv_armed;

static void segv_handler(int sig)
{
	if (segv_armed) {
		segv_armed = 0;
		siglongjmp(segv_jmp, 1);
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

static void segv_install(void)
{
	static int done;
	struct sigaction sa;

	if (done)
		return;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = segv_handler;
	sa.sa_flags = SA_NODEFER;
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
	done = 1;
}

/* 0: decoded into *got; 1: torn page (first word in *got); -1: fault. */
int cpu_read_page(unsigned long i, uint64_t *got)
{
	int r;

	segv_install();
	if (sigsetjmp(segv_jmp, 1))
		return -1;
	segv_armed = 1;
	r = decode_page((void *)pg_addr(i), got);
	segv_armed = 0;
	return r ? 1 : 0;
}

int cpu_write_page(unsigned long i, uint64_t tag)
{
	segv_install();
	if (sigsetjmp(segv_jmp, 1))
		return -1;
	segv_armed = 1;
	fill_page((void *)pg_addr(i), tag);
	segv_armed = 0;
	return 0;
}

/* Read page @i with the CPU and compare; 0 when it matched. */
int cpu_check_page(unsigned long i, const char *what)
{
	struct mpage *m = &P->pg[i];
	char pd[200];
	struct vset s;
	uint64_t got;
	int r;

	if (!readable(i))
		return 0;
	r = cpu_read_page(i, &got);
	if (r < 0) {
		report(F_MODEL_ERROR, "%s: CPU read faulted at %s", what,
		       page_desc(i, pd, sizeof(pd)));
		return -1;
	}
	m->excl = 0;	/* any CPU access revokes exclusive grants */
	allowed_of(i, &s);
	if (r == 0 && vset_has(&s, got)) {
		pin_page(i, got);
		m->flags &= ~(PF_MIG | PF_DEVW);
		return 0;
	}
	classify_mismatch(i, got, r, 0, -1, what);
	return -1;
}

void cpu_check_range(unsigned long p, unsigned long n, const char *what)
{
	unsigned long i;

	for (i = p; i < p + n && i < P->npages; i++)
		cpu_check_page(i, what);
}

/* ---- device page-table and CPU snapshots ------------------------------- */

static void release_slot_pages(int slot, unsigned long p, unsigned long n)
{
	if (P->fds[slot].abi == ABI_NATIVE)
		dev_release_raw(slot, pg_addr(p), n);
}

/*
 * The device's own page table (native fds only: the test_hmm ABI has no
 * such view).  @strict_none: the op just made the range fresh, so no entry
 * may exist at all.
 */
void check_dev_snapshot(int slot, unsigned long p, unsigned long n, int strict_none,
			const char *why)
{
	unsigned long i, bad = 0, first = 0;
	char det[900], pd[200];
	size_t o = 0;
	uint8_t *s;
	int r;

	if (P->fds[slot].fd < 0 || P->fds[slot].abi != ABI_NATIVE || !n)
		return;
	if (p + n > P->npages)
		n = P->npages - p;
	/* While device threads run, faults may refill a fresh range at once. */
	if (P->conc_active)
		strict_none = 0;
	s = malloc(n);
	r = dev_snap_raw(slot, pg_addr(p), n, s, 1);
	if (r) {
		report(F_UNEXPECTED_ERRNO, "device snapshot via %s failed: %s",
		       P->fds[slot].name, strerror(-r));
		free(s);
		return;
	}
	det[0] = 0;
	for (i = 0; i < n; i++) {
		struct mpage *m = &P->pg[p + i];
		uint8_t b = s[i];
		const char *what = NULL;

		if (b == MNM_PROT_NONE)
			continue;
		if (strict_none)
			what = "entry where the mapping was just replaced/removed";
		else if (!m->mapped)
			what = "entry for an unmapped page";
		else if (m->prot == P_NONE)
			what = "entry for a PROT_NONE page";
		else if ((b & MNM_PROT_WRITE) && m->prot != P_RW)
			what = "writable entry for a read-only page";
		else if ((b & MNM_PROT_WRITE) && m->kind == K_FILE_PRIV && m->cowed == 0)
			what = "writable entry for a private file page never copied";
		else if ((b & MNM_PROT_EXCLUSIVE) && !(m->excl & (1u << slot)) &&
			 !P->conc_active)
			what = "exclusive entry after the CPU revoked the grant";
		if (!what)
			continue;
		if (!bad++)
			first = p + i;
		if (bad <= 4 && o < sizeof(det))
			o += snprintf(det + o, sizeof(det) - o, "%s[0x%02x] %s; ",
				      what, b, page_desc(p + i, pd, sizeof(pd)));
	}
	free(s);
	if (bad) {
		report(F_SNAP_STALE, "%s: device page table of %s: %lu bad entr%s in pages %lu..%lu: %s",
		       why, P->fds[slot].name, bad, bad == 1 ? "y" : "ies", p, p + n - 1, det);
		(void)first;
		release_slot_pages(slot, p, n);
	}
}

void check_dev_snapshots(unsigned long p, unsigned long n, int strict_none,
			 const char *why)
{
	int k;

	for (k = 0; k < MAX_FDS; k++)
		check_dev_snapshot(k, p, n, strict_none, why);
}

/* The CPU view: ERROR exactly where the model has no readable mapping. */
void check_cpu_snapshot(int slot, unsigned long p, unsigned long n)
{
	unsigned long i;
	char pd[200];
	uint8_t *s;
	int r, reported = 0;

	if (P->fds[slot].fd < 0 || !n)
		return;
	if (p + n > P->npages)
		n = P->npages - p;
	s = malloc(n);
	r = dev_snap_raw(slot, pg_addr(p), n, s, 0);
	if (r) {
		report(F_UNEXPECTED_ERRNO, "CPU snapshot via %s failed: %s",
		       P->fds[slot].name, strerror(-r));
		free(s);
		return;
	}
	for (i = 0; i < n && reported < 3; i++) {
		struct mpage *m = &P->pg[p + i];
		uint8_t b = s[i];
		int from_dev = P->fds[slot].abi == ABI_NATIVE && (b & MNM_PROT_EXCLUSIVE);

		page_desc(p + i, pd, sizeof(pd));
		if (readable(p + i) != (b != MNM_PROT_ERROR)) {
			report(F_MODEL_ERROR, "CPU snapshot via %s: byte 0x%02x for %s",
			       P->fds[slot].name, b, pd);
			reported++;
		} else if (b != MNM_PROT_ERROR && (b & MNM_PROT_WRITE) &&
			   (m->prot != P_RW || (m->kind == K_FILE_PRIV && !m->cowed))) {
			report(from_dev ? F_SNAP_STALE : F_MODEL_ERROR,
			       "CPU snapshot via %s: writable (0x%02x) for %s",
			       P->fds[slot].name, b, pd);
			reported++;
		} else if (b != MNM_PROT_ERROR && from_dev && !(m->excl & (1u << slot))) {
			report(F_SNAP_STALE, "CPU snapshot via %s: exclusive grant (0x%02x) the CPU revoked, %s",
			       P->fds[slot].name, b, pd);
			reported++;
		}
	}
	free(s);
}

/* Every readable run of the window, through every device file, then the CPU. */
void full_check(void)
{
	static unsigned int checks;
	unsigned long i, j;
	int k;

	check_dev_snapshots(0, P->npages, 0, "full check");
	for (k = 0; k < MAX_FDS; k++)
		check_cpu_snapshot(k, 0, P->npages);
	/* Data through two of the files each time, in turn (probe ops use all). */
	checks++;
	for (k = 0; k < MAX_FDS; k++) {
		if (P->fds[k].fd < 0 || (k != checks % MAX_FDS && k != (checks + 2) % MAX_FDS))
			continue;
		for (i = 0; i < P->npages; i = j) {
			if (!readable(i)) {
				j = i + 1;
				continue;
			}
			for (j = i; j < P->npages && readable(j) && j - i < 512; j++)
				;
			dev_verify_range(k, i, j - i);
		}
	}
	for (i = 0; i < P->npages; i++)
		cpu_check_page(i, "full check: CPU read");
}

/*
 * Right after fork: fork write-protected every private mapping that has
 * anonymous pages, through an invalidation of the whole VMA, so no device
 * entry may remain for a page the model knows to be a private anonymous one.
 */
void after_fork_check(void)
{
	unsigned long i, bad;
	char pd[200];
	uint8_t *s = malloc(P->npages);
	int k;

	for (k = 0; k < MAX_FDS; k++) {
		if (P->fds[k].fd < 0 || P->fds[k].abi != ABI_NATIVE)
			continue;
		if (dev_snap_raw(k, P->win, P->npages, s, 1))
			continue;
		bad = 0;
		for (i = 0; i < P->npages; i++) {
			struct mpage *m = &P->pg[i];
			bool priv = m->mapped && ((m->kind == K_ANON_PRIV && (m->flags & PF_REAL)) ||
						  (m->kind == K_FILE_PRIV && m->cowed == 1));

			if (!priv || s[i] == MNM_PROT_NONE)
				continue;
			if (!bad++)
				report(F_SNAP_STALE, "after fork: %s still maps (0x%02x) %s, which fork write-protected",
				       P->fds[k].name, s[i], page_desc(i, pd, sizeof(pd)));
		}
		if (bad)
			release_slot_pages(k, 0, P->npages);
	}
	free(s);
	check_dev_snapshots(0, P->npages, 0, "after fork");
}
