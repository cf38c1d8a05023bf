// SPDX-License-Identifier: GPL-2.0
/*
 * mnm-fuzz: device files and device operations, on the native ABI
 * (include/uapi/drm/mnmirror_drm.h) and on the test_hmm ABI (lib/test_hmm_uapi.h),
 * each checked against the model.
 */
#include "fuzz.h"	/* first: it defines _GNU_SOURCE */

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "mnm_util.h"
#include <lib/test_hmm_uapi.h>

#define CPAGES_UNKNOWN	(~0UL)

static const char *slot_names[MAX_FDS] = {
	"fd0 (native, device 0)", "fd1 (native, device 0, second file)",
	"fd2 (native, device 1)", "fd3 (test_hmm ABI, device 0)",
	"fd4 (test_hmm ABI, device 1)",
};
static const int slot_abi[MAX_FDS] = { ABI_NATIVE, ABI_NATIVE, ABI_NATIVE, ABI_COMPAT, ABI_COMPAT };
static const int slot_dev[MAX_FDS] = { 0, 0, 1, 0, 1 };

int fd_open_slot(struct proc *p, int slot)
{
	struct fdslot *f = &p->fds[slot];
	char path[96];

	f->abi = slot_abi[slot];
	f->dev = slot_dev[slot];
	f->name = slot_names[slot];
	if (f->abi == ABI_NATIVE) {
		f->fd = mnm_open_device(f->dev);
	} else {
		snprintf(path, sizeof(path), "/dev/%s%d", compat_prefix, f->dev);
		f->fd = open(path, O_RDWR | O_CLOEXEC);
		if (f->fd < 0)
			f->fd = -errno;
	}
	if (f->fd < 0) {
		int e = f->fd;

		f->fd = -1;
		return e;
	}
	return 0;
}

int fds_open(struct proc *p)
{
	struct drm_mnm_info info = { .size = sizeof(info) };
	int k;

	for (k = 0; k < MAX_FDS; k++)
		p->fds[k].fd = -1;
	if (p->cpu_only)
		return 0;
	for (k = 0; k < MAX_FDS; k++)
		fd_open_slot(p, k);
	if (p->fds[0].fd < 0)
		return -ENODEV;
	if (mnm_ioctl(p->fds[0].fd, DRM_IOCTL_MNM_GET_INFO, &info))
		return -EIO;
	p->have_migrate = !!(info.caps & MNM_CAP_MIGRATE);
	p->have_excl = !!(info.caps & MNM_CAP_EXCLUSIVE);
	return 0;
}

void fds_close(struct proc *p)
{
	int k;

	for (k = 0; k < MAX_FDS; k++) {
		if (p->fds[k].fd >= 0)
			close(p->fds[k].fd);
		p->fds[k].fd = -1;
	}
}

/* ---- raw ioctls (thread safe) ------------------------------------------ */

static int compat_cmd(int fd, unsigned long req, unsigned long addr, void *buf,
		      unsigned long n, unsigned long *cpages)
{
	struct hmm_dmirror_cmd cmd = {
		.addr = addr, .ptr = (unsigned long)buf, .npages = n,
	};
	int ret = ioctl(fd, req, &cmd) ? -errno : 0;

	if (cpages)
		*cpages = ret ? CPAGES_UNKNOWN : cmd.cpages;
	return ret;
}

int dev_rw_raw(int slot, int write, unsigned long addr, void *buf,
	       unsigned long n, unsigned long *cpages)
{
	struct fdslot *f = &P->fds[slot];
	struct drm_mnm_rw rw;
	int ret;

	if (f->abi == ABI_COMPAT)
		return compat_cmd(f->fd, write ? HMM_DMIRROR_WRITE : HMM_DMIRROR_READ,
				  addr, buf, n, cpages);
	ret = mnm_rw(f->fd, write, (void *)addr, buf, n, &rw);
	if (cpages)
		*cpages = rw.cpages;
	return ret;
}

static int native_migrate(int fd, unsigned long addr, unsigned long n, int to_dev,
			  struct drm_mnm_migrate *m)
{
	memset(m, 0, sizeof(*m));
	m->size = sizeof(*m);
	m->addr = addr;
	m->npages = n;
	m->direction = to_dev ? MNM_MIGRATE_TO_DEVICE : MNM_MIGRATE_TO_SYSTEM;
	return mnm_ioctl(fd, DRM_IOCTL_MNM_MIGRATE, m);
}

int dev_migrate_raw(int slot, unsigned long addr, unsigned long n, int to_dev,
		    void *buf, unsigned long *cpages)
{
	struct fdslot *f = &P->fds[slot];
	struct drm_mnm_migrate m;
	int ret;

	if (f->abi == ABI_COMPAT)
		return compat_cmd(f->fd, to_dev ? HMM_DMIRROR_MIGRATE_TO_DEV :
				  HMM_DMIRROR_MIGRATE_TO_SYS, addr, buf, n, cpages);
	ret = native_migrate(f->fd, addr, n, to_dev, &m);
	if (cpages)
		*cpages = m.migrated;
	return ret;
}

int dev_excl_raw(int slot, unsigned long addr, unsigned long n, void *buf)
{
	struct fdslot *f = &P->fds[slot];
	struct drm_mnm_exclusive e = { .size = sizeof(e), .addr = addr, .npages = n };

	if (f->abi == ABI_COMPAT)
		return compat_cmd(f->fd, HMM_DMIRROR_EXCLUSIVE, addr, buf, n, NULL);
	return mnm_ioctl(f->fd, DRM_IOCTL_MNM_EXCLUSIVE, &e);
}

int dev_snap_raw(int slot, unsigned long addr, unsigned long n, uint8_t *out,
		 int device_view)
{
	struct fdslot *f = &P->fds[slot];

	if (f->abi == ABI_COMPAT)
		return device_view ? -EOPNOTSUPP :
			compat_cmd(f->fd, HMM_DMIRROR_SNAPSHOT, addr, out, n, NULL);
	return mnm_snapshot(f->fd, (void *)addr, n, out,
			    device_view ? MNM_SNAPSHOT_DEVICE : 0);
}

int dev_release_raw(int slot, unsigned long addr, unsigned long n)
{
	struct fdslot *f = &P->fds[slot];

	if (f->abi == ABI_COMPAT)
		return compat_cmd(f->fd, HMM_DMIRROR_RELEASE, addr, NULL, n, NULL);
	return mnm_release(f->fd, (void *)addr, n);
}

/* ---- helpers ------------------------------------------------------------ */

static void *bufalloc(unsigned long n)
{
	void *b = aligned_alloc(PS, n * PS);

	if (!b) {
		perror("aligned_alloc");
		exit(2);
	}
	poison_buf(b, n);
	return b;
}

static bool slot_ok(const struct op *o)
{
	return o->fd < MAX_FDS && P->fds[o->fd].fd >= 0;
}

static bool clip_range(unsigned long *p, unsigned long *n)
{
	if (*p >= P->npages || !*n)
		return false;
	if (*p + *n > P->npages)
		*n = P->npages - *p;
	return true;
}

static unsigned long first_unreadable(unsigned long p, unsigned long n)
{
	unsigned long i;

	for (i = 0; i < n && readable(p + i); i++)
		;
	return i;
}

static unsigned long first_unwritable(unsigned long p, unsigned long n)
{
	unsigned long i;

	for (i = 0; i < n && writable(p + i); i++)
		;
	return i;
}

static const char *state_of(unsigned long i)
{
	struct mpage *m = &P->pg[i];

	return !m->mapped ? "unmapped" : m->prot == P_NONE ? "PROT_NONE" :
	       m->prot == P_R ? "read-only" : "writable";
}

/* A page the device returned for page @i of the window. */
static void check_dev_data(unsigned long i, const void *data, int slot, const char *what)
{
	struct vset s;
	uint64_t got;
	int torn = decode_page(data, &got);

	allowed_of(i, &s);
	if (!torn && vset_has(&s, got)) {
		pin_page(i, got);
		P->pg[i].flags &= ~(PF_MIG | PF_DEVW);
		return;
	}
	classify_mismatch(i, got, !!torn, 1, slot, what);
}

/* Check the data of a finished device read (or read-back) of [p, p + n). */
static void check_read_result(int slot, unsigned long p, unsigned long n, const void *buf,
			      int ret, unsigned long cpages, const char *what)
{
	unsigned long i;

	for (i = 0; i < n; i++) {
		const char *page = (const char *)buf + i * PS;

		if (ret && is_poison(page))
			continue;	/* not copied */
		if (!readable(p + i)) {
			if (!ret)
				continue;	/* reported by the caller */
			report(F_READ_UNMAPPED_OK, "%s via %s: data copied for %s page %lu",
			       what, P->fds[slot].name, state_of(p + i), p + i);
			continue;
		}
		check_dev_data(p + i, page, slot, what);
	}
	(void)cpages;
}

/*
 * Why a device call gave up with EBUSY: the layer's fault retries ran out
 * of time (its timeouts counter, in debugfs, across all files of the
 * device), or, when that counter is 0, the copy kept losing its entries.
 */
static const char *busy_context(int slot, char *buf, size_t len)
{
	char path[96], line[128];
	FILE *f;

	buf[0] = 0;
	snprintf(path, sizeof(path), "/sys/kernel/debug/mnmirror/dev%d/stats", P->fds[slot].dev);
	f = fopen(path, "r");
	if (!f)
		return buf;
	while (fgets(line, sizeof(line), f)) {
		long v;

		if (sscanf(line, "timeouts %ld", &v) == 1)
			snprintf(buf, len, " (device %d: %ld layer fault timeouts so far%s)",
				 P->fds[slot].dev, v, v ? "" : ": the copy kept losing its entries");
	}
	fclose(f);
	return buf;
}

/*
 * Device READ of [p, p + n) through @slot, checked; with --inject, @inj
 * lets the READ itself meet injected failures.
 */
static void dev_read_check(int slot, unsigned long p, unsigned long n, const char *what,
			   bool inj)
{
	unsigned long cpages, b = first_unreadable(p, n);
	void *buf = bufalloc(n);
	long hits;
	int ret;

	if (inj)
		inject_begin();
	ret = dev_rw_raw(slot, 0, pg_addr(p), buf, n, &cpages);
	hits = inj ? inject_end(OP_DEV_READ, ret) : 0;
	count_outcome(OP_DEV_READ, ret);

	if (hits && ret && inject_errno_ok(ret)) {
		/* What was copied must still be right; then nothing is lost. */
		check_read_result(slot, p, n, buf, ret, cpages, what);
		free(buf);
		inject_verify(slot, p, n);
		return;
	}
	if (!ret) {
		if (b < n)
			report(F_READ_UNMAPPED_OK, "%s via %s of pages %lu..%lu succeeded although page %lu is %s",
			       what, P->fds[slot].name, p, p + n - 1, p + b, state_of(p + b));
		else if (cpages != n)
			report(F_UNEXPECTED_ERRNO, "%s via %s: success with cpages %lu of %lu",
			       what, P->fds[slot].name, cpages, n);
	} else if (ret != -EFAULT || b == n) {
		char why[160] = "";

		if (ret == -EBUSY)
			busy_context(slot, why, sizeof(why));
		report(F_UNEXPECTED_ERRNO, "%s via %s of pages %lu..%lu failed with %s; the model expected %s%s",
		       what, P->fds[slot].name, p, p + n - 1, strerror(-ret),
		       b == n ? "success" : "EFAULT", why);
	} else if (cpages != CPAGES_UNKNOWN && cpages > b) {
		report(F_READ_UNMAPPED_OK, "%s via %s: cpages %lu passes page %lu, which is %s",
		       what, P->fds[slot].name, cpages, p + b, state_of(p + b));
	}
	check_read_result(slot, p, n, buf, ret, cpages, what);
	free(buf);
}

void dev_verify_range(int slot, unsigned long p, unsigned long n)
{
	if (P->fds[slot].fd >= 0 && n)
		dev_read_check(slot, p, n, "device READ (verify)", false);
}

/* Device READ through @slot of every readable run of [p, p + n). */
void dev_verify_runs(int slot, unsigned long p, unsigned long n)
{
	unsigned long i, j;

	for (i = p; i < p + n; i = j) {
		for (j = i; j < p + n && readable(j); j++)
			;
		if (j > i)
			dev_verify_range(slot, i, j - i);
		else
			j = i + 1;
	}
}

/* ---- operations ----------------------------------------------------------- */

void do_dev_read(const struct op *o)
{
	unsigned long p = o->p, n = o->n;

	if (slot_ok(o) && clip_range(&p, &n))
		dev_read_check(o->fd, p, n, "device READ", true);
}

/* Page @i was not writable: a device WRITE of @tag must not have reached it. */
static void check_untouched(int slot, unsigned long i, uint64_t tag)
{
	struct vset s;
	uint64_t got;

	if (!readable(i))
		return;
	allowed_of(i, &s);
	if (cpu_read_page(i, &got) == 0 && got == tag && !vset_has(&s, got)) {
		report(F_WRITE_RO_OK, "device WRITE via %s changed %s page %lu",
		       P->fds[slot].name, state_of(i), i);
		pin_page(i, got);
		return;
	}
	cpu_check_page(i, "CPU read after device WRITE");
}

void do_dev_write(const struct op *o)
{
	unsigned long p = o->p, n = o->n, i, b, cpages;
	int slot = o->fd, ret;
	bool tolerated, exact;
	uint64_t *tags;
	void *buf;

	if (!slot_ok(o) || !clip_range(&p, &n))
		return;
	buf = bufalloc(n);
	tags = malloc(n * sizeof(*tags));
	for (i = 0; i < n; i++) {
		tags[i] = mktag(P->procid, 1, slot, p + i, o->x + i);
		fill_page((char *)buf + i * PS, tags[i]);
	}
	b = first_unwritable(p, n);
	inject_begin();
	ret = dev_rw_raw(slot, 1, pg_addr(p), buf, n, &cpages);
	tolerated = inject_end(OP_DEV_WRITE, ret) && inject_errno_ok(ret);
	count_outcome(OP_DEV_WRITE, ret);
	if (!ret) {
		if (b < n)
			report(F_WRITE_RO_OK, "device WRITE via %s of pages %lu..%lu succeeded although page %lu is %s",
			       P->fds[slot].name, p, p + n - 1, p + b, state_of(p + b));
		for (i = b; i < n; i++)
			if (!writable(p + i))
				check_untouched(slot, p + i, tags[i]);
		for (i = 0; i < n; i++)
			if (writable(p + i))
				set_written(p + i, tags[i], 1);
		if (o->x & 1)
			cpu_check_range(p, n, "CPU read after device WRITE");
		goto out;
	}
	if (tolerated) {
		/* An injected failure: checked by what cpages says, below. */
	} else if (b == n) {
		report(F_UNEXPECTED_ERRNO, "device WRITE via %s of writable pages %lu..%lu failed with %s",
		       P->fds[slot].name, p, p + n - 1, strerror(-ret));
	} else {
		struct mpage *m = &P->pg[p + b];
		bool unmapped = !m->mapped || m->prot == P_NONE;

		if (ret != -EFAULT && (unmapped || ret != -EPERM))
			report(F_UNEXPECTED_ERRNO, "device WRITE via %s failed with %s at %s page %lu; expected %s",
			       P->fds[slot].name, strerror(-ret), state_of(p + b), p + b,
			       unmapped ? "EFAULT" : "EPERM or EFAULT");
	}
	if (b < n && cpages != CPAGES_UNKNOWN && cpages > b)
		report(F_WRITE_RO_OK, "device WRITE via %s: cpages %lu passes page %lu, which is %s",
		       P->fds[slot].name, cpages, p + b, state_of(p + b));
	/*
	 * The native ABI says how far the device wrote: exactly the first
	 * cpages pages hold the new data, the others the old.  The test_hmm
	 * ABI does not say: each page before the failing one holds the old
	 * or the new data.  A private file page the write faults reached may
	 * have been copied, or not.  The CPU reads below tell.
	 */
	exact = cpages != CPAGES_UNKNOWN && cpages <= b;
	for (i = 0; i < b; i++) {
		struct mpage *m = &P->pg[p + i];

		if (exact && i < cpages) {
			set_written(p + i, tags[i], 1);
			continue;
		}
		if (m->kind == K_FILE_PRIV && m->cowed == 0) {
			m->priv = P->objs[m->obj].pages[m->off];
			m->cowed = 2;
		}
		if (!exact)
			vset_add(content_of(p + i), tags[i]);
	}
	cpu_check_range(p, b, "CPU read after failed device WRITE");
	for (i = b; i < n; i++)
		check_untouched(slot, p + i, tags[i]);
	if (tolerated)
		inject_verify(slot, p, n);
out:
	free(tags);
	free(buf);
}

bool migrate_to_sys_safe(unsigned long p, unsigned long n)
{
	unsigned long i;

	for (i = p; i < p + n && i < P->npages; i++) {
		struct mpage *m = &P->pg[i];

		if (m->mapped && m->kind == K_ANON_PRIV && !(m->flags & PF_REAL))
			return false;
	}
	return true;
}

static void mark_mig(unsigned long p, unsigned long n)
{
	unsigned long i;

	for (i = p; i < p + n; i++)
		if (P->pg[i].mapped)
			P->pg[i].flags |= PF_MIG;
}

void do_migrate(const struct op *o)
{
	unsigned long p = o->p, n = o->n, cpages, b;
	int slot = o->fd, to_dev = !o->a, ret;
	bool tolerated;
	struct fdslot *f;
	long hits;
	void *buf;

	if (!slot_ok(o) || !clip_range(&p, &n) || !P->have_migrate)
		return;
	f = &P->fds[slot];
	if (!to_dev && !P->allow_crash && !migrate_to_sys_safe(p, n)) {
		if (P->verbose)
			printf("#   (skipped: never-touched anonymous pages; --allow-crash-ops)\n");
		return;
	}
	b = first_unreadable(p, n);
	mark_mig(p, n);
	if (f->abi == ABI_NATIVE) {
		struct drm_mnm_migrate m;
		unsigned long sum;

		inject_begin();
		ret = native_migrate(f->fd, pg_addr(p), n, to_dev, &m);
		hits = inject_end(OP_MIGRATE, ret);
		tolerated = hits && inject_errno_ok(ret);
		count_outcome(OP_MIGRATE, ret);
		sum = m.migrated + m.skip_vma + m.skip_busy + m.skip_refused +
		      m.skip_nomem + m.skip_other;
		if (tolerated)
			;	/* checked below, by inject_verify() */
		else if (ret)
			report(F_UNEXPECTED_ERRNO, "MIGRATE via %s failed with %s",
			       f->name, strerror(-ret));
		else if (sum != n)
			report(F_UNEXPECTED_ERRNO, "MIGRATE via %s accounts for %lu of %lu pages (migrated %llu vma %llu busy %llu refused %llu nomem %llu other %llu)",
			       f->name, sum, n, (unsigned long long)m.migrated,
			       (unsigned long long)m.skip_vma, (unsigned long long)m.skip_busy,
			       (unsigned long long)m.skip_refused, (unsigned long long)m.skip_nomem,
			       (unsigned long long)m.skip_other);
	} else {
		buf = bufalloc(n);
		inject_begin();
		ret = dev_migrate_raw(slot, pg_addr(p), n, to_dev, buf, &cpages);
		hits = inject_end(OP_MIGRATE, ret);
		tolerated = hits && inject_errno_ok(ret);
		count_outcome(OP_MIGRATE, ret);
		if (tolerated) {
			if (to_dev)
				check_read_result(slot, p, n, buf, ret, cpages,
						  "MIGRATE_TO_DEV read-back");
		} else if (b < n && ret != -EINVAL)
			report(to_dev && !ret ? F_READ_UNMAPPED_OK : F_UNEXPECTED_ERRNO,
			       "MIGRATE_TO_%s via %s returned %s although page %lu is %s (expected EINVAL)",
			       to_dev ? "DEV" : "SYS", f->name, ret ? strerror(-ret) : "success",
			       p + b, state_of(p + b));
		else if (b == n && ret && !(to_dev && ret == -ENOENT))
			report(F_UNEXPECTED_ERRNO, "MIGRATE_TO_%s via %s of readable pages failed with %s",
			       to_dev ? "DEV" : "SYS", f->name, strerror(-ret));
		if (to_dev && b == n && (!ret || ret == -ENOENT))
			check_read_result(slot, p, n, buf, ret, cpages, "MIGRATE_TO_DEV read-back");
		free(buf);
	}
	check_dev_snapshots(p, n, 0, "after MIGRATE");
	if (hits)
		inject_verify(slot, p, n);	/* a migration that failed halfway */
	if (o->x & 1)
		dev_verify_runs(slot, p, n);
	if (o->x & 2)
		cpu_check_range(p, n, "CPU read after MIGRATE");
}

void do_excl(const struct op *o)
{
	unsigned long p = o->p, n = o->n, i, b;
	int slot = o->fd, ret;
	void *buf = NULL;
	long hits;

	if (!slot_ok(o) || !clip_range(&p, &n) || !P->have_excl)
		return;
	b = first_unwritable(p, n);
	if (P->fds[slot].abi == ABI_COMPAT)
		buf = bufalloc(n);
	inject_begin();
	ret = dev_excl_raw(slot, pg_addr(p), n, buf);
	hits = inject_end(OP_EXCL, ret);
	count_outcome(OP_EXCL, ret);
	if (ret && ret != -EBUSY && ret != -EFAULT && ret != -ENOMEM &&
	    !(ret == -ENOENT && buf) && !(hits && inject_errno_ok(ret)))
		report(F_UNEXPECTED_ERRNO, "EXCLUSIVE via %s failed with %s",
		       P->fds[slot].name, strerror(-ret));
	if ((!ret || ret == -ENOENT) && b < n)
		report(F_WRITE_RO_OK, "EXCLUSIVE via %s granted pages %lu..%lu although page %lu is %s",
		       P->fds[slot].name, p, p + n - 1, p + b, state_of(p + b));
	if (buf && (!ret || ret == -ENOENT))
		check_read_result(slot, p, n, buf, ret, 0, "EXCLUSIVE read-back");
	free(buf);
	/* The grant's write faults copied private file pages, or some of them. */
	for (i = p; i < p + b; i++) {
		struct mpage *m = &P->pg[i];

		m->excl |= 1u << slot;
		m->flags |= PF_MIG;
		if (m->kind == K_FILE_PRIV && m->cowed == 0) {
			m->priv = P->objs[m->obj].pages[m->off];
			m->cowed = ret ? 2 : 1;
		}
		if (!ret && m->kind == K_ANON_PRIV)
			m->flags |= PF_REAL;
	}
	check_dev_snapshots(p, n, 0, "after EXCLUSIVE");
}

void do_check_excl(const struct op *o)
{
	unsigned long p = o->p, n = o->n, i, bound = 0;
	int slot = o->fd, ret;

	if (!slot_ok(o) || !clip_range(&p, &n) || !P->have_excl)
		return;
	for (i = p; i < p + n; i++)
		bound += !!(P->pg[i].excl & (1u << slot));
	if (P->fds[slot].abi == ABI_NATIVE) {
		struct drm_mnm_exclusive e = {
			.size = sizeof(e), .addr = pg_addr(p), .npages = n,
		};

		ret = mnm_ioctl(P->fds[slot].fd, DRM_IOCTL_MNM_CHECK_EXCLUSIVE, &e);
		if (ret)
			report(F_UNEXPECTED_ERRNO, "CHECK_EXCLUSIVE via %s failed with %s",
			       P->fds[slot].name, strerror(-ret));
		else if (e.exclusive > bound)
			report(F_SNAP_STALE, "CHECK_EXCLUSIVE via %s: %llu pages of %lu..%lu exclusive, the model allows at most %lu",
			       P->fds[slot].name, (unsigned long long)e.exclusive, p,
			       p + n - 1, bound);
		return;
	}
	ret = compat_cmd(P->fds[slot].fd, HMM_DMIRROR_CHECK_EXCLUSIVE, pg_addr(p), NULL, n, NULL);
	if (ret && ret != -EPERM)
		report(F_UNEXPECTED_ERRNO, "CHECK_EXCLUSIVE via %s failed with %s",
		       P->fds[slot].name, strerror(-ret));
	else if (ret == -EPERM && !bound)
		report(F_SNAP_STALE, "CHECK_EXCLUSIVE via %s: a grant remains in pages %lu..%lu, which the CPU revoked",
		       P->fds[slot].name, p, p + n - 1);
}

void do_snap(const struct op *o)
{
	unsigned long p = o->p, n = o->n;

	if (!slot_ok(o) || !clip_range(&p, &n))
		return;
	if (opt.inject) {
		/* The snapshot itself may fail; the checked one below may not. */
		uint8_t *s = malloc(n);
		int ret;

		inject_begin();
		ret = dev_snap_raw(o->fd, pg_addr(p), n, s, o->b);
		if (inject_end(OP_SNAP, ret) && ret && !inject_errno_ok(ret) &&
		    ret != -EOPNOTSUPP)
			report(F_UNEXPECTED_ERRNO, "SNAPSHOT via %s met an injected failure and returned %s",
			       P->fds[o->fd].name, strerror(-ret));
		free(s);
	}
	if (o->b && P->fds[o->fd].abi == ABI_NATIVE)
		check_dev_snapshot(o->fd, p, n, 0, "SNAPSHOT (device view)");
	else
		check_cpu_snapshot(o->fd, p, n);
}

void do_release(const struct op *o)
{
	unsigned long p = o->p, n = o->n, i;
	int slot = o->fd, ret;

	if (!slot_ok(o) || !clip_range(&p, &n))
		return;
	inject_begin();
	ret = dev_release_raw(slot, pg_addr(p), n);
	if (inject_end(OP_RELEASE, ret) && ret && inject_errno_ok(ret))
		return;		/* entries may remain: nothing to check */
	if (ret)
		report(F_UNEXPECTED_ERRNO, "RELEASE via %s failed with %s",
		       P->fds[slot].name, strerror(-ret));
	if (P->fds[slot].abi == ABI_COMPAT) {
		/* test_hmm's RELEASE evicts the device's memory: data stays. */
		mark_mig(0, P->npages);
		return;
	}
	for (i = p; i < p + n; i++)
		P->pg[i].excl &= ~(1u << slot);
	check_dev_snapshot(slot, p, n, 1, "after RELEASE");
}

/*
 * PREFETCH (native files; location 0): every page is accounted for, and in
 * a sequential phase exactly as the model says: no access where the model
 * has no readable (writable, for a write) mapping, no failed fault (the
 * model maps no file past its end), nothing raced.  The device then maps
 * exactly the pages counted, within what the model allows (fewer only by
 * pages that were in device memory, which other processes may evict), and
 * reads what the model holds.  A write prefetch of a private file page
 * the CPU has not written would break its COW, which the model does not
 * follow: such ranges are prefetched for reading.
 */
void do_prefetch(const struct op *o)
{
	unsigned long p = o->p, n = o->n, i, want_access = 0, dev_mapped = 0;
	int slot = o->fd, write = o->b, ret;
	struct drm_mnm_prefetch pf;
	uint8_t *s, *pre;

	if (!slot_ok(o) || !clip_range(&p, &n) || P->fds[slot].abi != ABI_NATIVE)
		return;
	for (i = p; i < p + n && write; i++)
		if (P->pg[i].mapped && P->pg[i].kind == K_FILE_PRIV && !P->pg[i].cowed)
			write = 0;
	for (i = p; i < p + n; i++)
		want_access += write ? !writable(i) : !readable(i);
	pf = (struct drm_mnm_prefetch){
		.size = sizeof(pf), .flags = write ? MNM_PREFETCH_WRITE : 0,
		.addr = pg_addr(p), .npages = n,
	};
	/* Where the pages are before the call (CPU view): see below. */
	pre = malloc(n);
	if (pre && dev_snap_raw(slot, pg_addr(p), n, pre, 0)) {
		free(pre);
		pre = NULL;
	}
	inject_begin();
	ret = mnm_ioctl(P->fds[slot].fd, DRM_IOCTL_MNM_PREFETCH, &pf);
	if (inject_end(OP_PREFETCH, ret) && ret && inject_errno_ok(ret)) {
		free(pre);
		return;
	}
	if (ret) {
		report(F_UNEXPECTED_ERRNO, "PREFETCH via %s failed with %s",
		       P->fds[slot].name, strerror(-ret));
		free(pre);
		return;
	}
	if (pf.mapped + pf.skip_access + pf.skip_fault + pf.skip_raced != n ||
	    pf.skip_access != want_access || pf.skip_fault || pf.skip_raced)
		report(F_MODEL_ERROR, "PREFETCH%s via %s of %lu pages: mapped %llu, no access %llu (model: %lu), fault %llu, raced %llu",
		       write ? " (write)" : "", P->fds[slot].name, n,
		       (unsigned long long)pf.mapped, (unsigned long long)pf.skip_access,
		       want_access, (unsigned long long)pf.skip_fault,
		       (unsigned long long)pf.skip_raced);
	check_dev_snapshot(slot, p, n, 0, "after PREFETCH");
	s = malloc(n);
	if (s && !dev_snap_raw(slot, pg_addr(p), n, s, 1)) {
		unsigned long evictable = 0;

		for (i = 0; i < n; i++) {
			int on = write ? !!(s[i] & MNM_PROT_WRITE) :
					 !!(s[i] & (MNM_PROT_READ | MNM_PROT_WRITE));

			dev_mapped += on;
			/*
			 * A page in device memory before the call may have been
			 * evicted since by another process (its migration into
			 * a full device, test_hmm's RELEASE): its device entry
			 * then goes, rightly, after PREFETCH counted it.
			 */
			evictable += !on && pre && pre[i] != MNM_PROT_ERROR &&
				     (pre[i] & MNM_PROT_DEV_PRIVATE_LOCAL);
		}
		if (dev_mapped > pf.mapped || dev_mapped + evictable < pf.mapped)
			report(F_MODEL_ERROR, "PREFETCH via %s said %llu pages mapped; the device maps %lu (%lu more were in device memory, which other processes may evict)",
			       P->fds[slot].name, (unsigned long long)pf.mapped, dev_mapped,
			       evictable);
	}
	free(s);
	free(pre);
	dev_verify_runs(slot, p, n);
}

void do_reopen(const struct op *o)
{
	unsigned long i;
	int slot = o->fd % MAX_FDS, ret;

	if (P->fds[slot].fd < 0)
		return;
	close(P->fds[slot].fd);
	for (i = 0; i < P->npages; i++)
		P->pg[i].excl &= ~(1u << slot);
	inject_begin();
	ret = fd_open_slot(P, slot);
	/* An open that met a failure may fail (the native ABI's scan of the
	 * render nodes then says ENODEV); the file must open again at once. */
	if (inject_end(OP_REOPEN, ret) && ret)
		ret = fd_open_slot(P, slot);
	if (ret) {
		report(F_UNEXPECTED_ERRNO, "reopening %s failed: %s", slot_names[slot],
		       strerror(-ret));
		return;
	}
	check_dev_snapshot(slot, 0, P->npages, 1, "fresh file");
}

/* CPU-write fresh data, then read it through every device file. */
void do_probe(const struct op *o)
{
	struct op w = *o;
	int k;

	w.type = OP_CPU_WRITE;
	do_cpu_write(&w);
	for (k = 0; k < MAX_FDS; k++)
		if (P->fds[k].fd >= 0 && o->p < P->npages)
			dev_verify_runs(k, o->p, o->p + o->n > P->npages ? P->npages - o->p : o->n);
}
