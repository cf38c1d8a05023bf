// SPDX-License-Identifier: GPL-2.0
/*
 * mnm-fuzz: CPU-side operations (mmap, munmap, mremap, mprotect, madvise,
 * CPU reads and writes) and their effect on the model, following Linux
 * semantics.  After each change of the CPU mapping the device page tables of
 * every file are checked against the model.
 */
#include "fuzz.h"	/* first: it defines _GNU_SOURCE */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>


#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif
#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif
#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

static int mprot_of(int prot)
{
	return prot == P_RW ? PROT_READ | PROT_WRITE : prot == P_R ? PROT_READ : PROT_NONE;
}

/* Clip [p, p + n) to the window; false when nothing is left. */
static bool clip(unsigned long *p, unsigned long *n)
{
	if (*p >= P->npages || !*n)
		return false;
	if (*p + *n > P->npages)
		*n = P->npages - *p;
	return true;
}

static void unmap_page(unsigned long i)
{
	memset(&P->pg[i], 0, sizeof(P->pg[i]));
}

static void skipped(const char *why)
{
	if (P->verbose)
		printf("#   (skipped: %s)\n", why);
}

void do_mmap(const struct op *o)
{
	unsigned long p = o->p, n = o->n, i, q = 0;
	int kind = o->a % K_NKINDS, prot = (o->b & 3) % 3, fl = o->b >> 4;
	int flags, fd = -1, obj = 0, any = 0;
	void *want, *r;

	if (!clip(&p, &n))
		return;
	for (i = p; i < p + n; i++)
		any |= P->pg[i].mapped;
	want = (void *)pg_addr(p);
	flags = (kind == K_ANON_PRIV || kind == K_FILE_PRIV) ? MAP_PRIVATE : MAP_SHARED;
	if (kind == K_ANON_PRIV || kind == K_ANON_SHARED) {
		flags |= MAP_ANONYMOUS;
	} else {
		obj = o->fd % NFILES;
		fd = P->objs[obj].fd;
		if (n > P->objs[obj].npages)
			return skipped("longer than the file");
		q = o->q;
		if (q + n > P->objs[obj].npages)
			q = P->objs[obj].npages - n;
	}
	if (kind == K_ANON_SHARED) {
		obj = obj_new_anon(n);
		if (obj < 0)
			return skipped("no free object slot");
	}
	flags |= (fl & MM_FIXED) ? MAP_FIXED : MAP_FIXED_NOREPLACE;
	r = mmap(want, n * PS, mprot_of(prot), flags, fd, q * PS);
	if (!(fl & MM_FIXED) && any) {
		if (r != MAP_FAILED || errno != EEXIST)
			report(F_MODEL_ERROR, "mmap(MAP_FIXED_NOREPLACE) over mapped pages: %s",
			       r == MAP_FAILED ? strerror(errno) : "succeeded");
		if (r != MAP_FAILED && r != want)
			munmap(r, n * PS);
		if (r != want)
			return;
	} else if (r != want) {
		report(F_MODEL_ERROR, "mmap at page %lu failed: %s", p,
		       r == MAP_FAILED ? strerror(errno) : "placed elsewhere");
		if (r != MAP_FAILED)
			munmap(r, n * PS);
		return;
	}
	if ((fl & MM_HUGE) && kind == K_ANON_PRIV)
		madvise(want, n * PS, MADV_HUGEPAGE);
	for (i = 0; i < n; i++)
		reset_page(p + i, kind, prot, obj,
			   kind == K_ANON_SHARED ? i : kind == K_ANON_PRIV ? 0 : q + i);
	check_dev_snapshots(p, n, 1, "after mmap");
}

int sys_munmap_pages(unsigned long p, unsigned long n)
{
	unsigned long i;

	if (!clip(&p, &n))
		return 0;
	if (munmap((void *)pg_addr(p), n * PS)) {
		report(F_MODEL_ERROR, "munmap of pages %lu..%lu failed: %s", p, p + n - 1,
		       strerror(errno));
		return -1;
	}
	for (i = p; i < p + n; i++)
		unmap_page(i);
	return 0;
}

void do_munmap(const struct op *o)
{
	unsigned long p = o->p, n = o->n;

	if (!clip(&p, &n))
		return;
	if (!sys_munmap_pages(p, n))
		check_dev_snapshots(p, n, 1, "after munmap");
}

/* The VMA around @addr, from /proc/self/maps. */
static int vma_bounds(unsigned long addr, unsigned long *start, unsigned long *end)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	int ret = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		unsigned long s, e;

		if (sscanf(line, "%lx-%lx", &s, &e) == 2 && addr >= s && addr < e) {
			*start = s;
			*end = e;
			ret = 0;
			break;
		}
	}
	fclose(f);
	return ret;
}

void do_mremap(const struct op *o)
{
	unsigned long p = o->p, n = o->n, q = o->q, nn = o->nn, i, m, vs, ve;
	int mode = o->a % 3, flags;
	struct mpage m0, *tmp;
	void *r, *want;

	if (!clip(&p, &n) || n != o->n || !nn)
		return skipped("range leaves the window");
	if (mode == R_GROW) {
		if (nn <= n || p + nn > P->npages)
			return skipped("bad growth");
	} else if (q + nn > P->npages) {
		return skipped("destination leaves the window");
	}
	m0 = P->pg[p];
	for (i = p; i < p + n; i++) {
		struct mpage *x = &P->pg[i];

		if (!x->mapped || x->kind != m0.kind || x->prot != m0.prot ||
		    (m0.kind != K_ANON_PRIV &&
		     (x->obj != m0.obj || x->off != m0.off + (i - p))))
			return skipped("source is not one uniform mapping");
	}
	if (vma_bounds(pg_addr(p), &vs, &ve) || ve < pg_addr(p + n))
		return skipped("source spans several VMAs");
	if ((mode != R_MOVE || nn > n) && m0.kind != K_ANON_PRIV)
		return skipped("only private anonymous memory grows or stays behind");
	if (mode == R_DONTUNMAP)
		nn = n;
	if (mode != R_GROW && q < p + n && p < q + nn)
		return skipped("source and destination overlap");
	if (mode == R_GROW) {
		if (ve != pg_addr(p + n))
			return skipped("source does not end its VMA");
		for (i = p + n; i < p + nn; i++)
			if (P->pg[i].mapped)
				return skipped("no room to grow in place");
	}
	flags = mode == R_GROW ? 0 : MREMAP_MAYMOVE | MREMAP_FIXED |
		(mode == R_DONTUNMAP ? MREMAP_DONTUNMAP : 0);
	want = (void *)pg_addr(mode == R_GROW ? p : q);
	r = mremap((void *)pg_addr(p), n * PS, nn * PS, flags, want);
	if (r != want) {
		report(F_MODEL_ERROR, "mremap(%lu pages at %lu -> %lu pages, flags 0x%x) failed: %s",
		       n, p, nn, flags, r == MAP_FAILED ? strerror(errno) : "moved elsewhere");
		return;
	}
	if (mode == R_GROW) {
		for (i = p + n; i < p + nn; i++)
			reset_page(i, K_ANON_PRIV, m0.prot, 0, 0);
		check_dev_snapshots(p, nn, 0, "after mremap (grow)");
		return;
	}
	m = n < nn ? n : nn;
	tmp = malloc(m * sizeof(*tmp));
	memcpy(tmp, &P->pg[p], m * sizeof(*tmp));
	for (i = p; i < p + n; i++)
		unmap_page(i);
	for (i = q; i < q + nn; i++)
		unmap_page(i);
	for (i = 0; i < m; i++) {
		P->pg[q + i] = tmp[i];
		P->pg[q + i].excl = 0;
	}
	for (i = m; i < nn; i++)
		reset_page(q + i, K_ANON_PRIV, m0.prot, 0, 0);
	if (mode == R_DONTUNMAP)
		for (i = p; i < p + n; i++)
			reset_page(i, K_ANON_PRIV, m0.prot, 0, 0);
	free(tmp);
	check_dev_snapshots(p, n, 1, "after mremap: old range");
	check_dev_snapshots(q, nn, 1, "after mremap: new range");
}

void do_mprotect(const struct op *o)
{
	unsigned long p = o->p, n = o->n, i, last;
	int prot = o->a % 3, r, err;

	if (!clip(&p, &n))
		return;
	for (last = p; last < p + n && P->pg[last].mapped; last++)
		;
	r = mprotect((void *)pg_addr(p), n * PS, mprot_of(prot));
	err = r ? errno : 0;
	if (err != (last < p + n ? ENOMEM : 0))
		report(F_MODEL_ERROR, "mprotect returned %s, the model expected %s",
		       err ? strerror(err) : "success",
		       last < p + n ? "ENOMEM" : "success");
	for (i = p; i < last; i++) {
		if (P->pg[i].prot != prot) {
			P->pg[i].prot = prot;
			P->pg[i].excl = 0;
		}
	}
	check_dev_snapshots(p, n, 0, "after mprotect");
}

void do_madvise(const struct op *o)
{
	unsigned long p = o->p, n = o->n, i;
	int adv = o->a % 3, r, err, hole = 0;

	if (!clip(&p, &n))
		return;
	for (i = p; i < p + n; i++)
		hole |= !P->pg[i].mapped;
	if (adv == A_FREE) {
		for (i = p; i < p + n; i++)
			if (!P->pg[i].mapped || P->pg[i].kind != K_ANON_PRIV)
				return skipped("MADV_FREE outside private anonymous memory");
	}
	r = madvise((void *)pg_addr(p), n * PS,
		    adv == A_DONTNEED ? MADV_DONTNEED : adv == A_FREE ? MADV_FREE : MADV_COLLAPSE);
	err = r ? errno : 0;
	if (adv == A_COLLAPSE) {
		/* Best effort: nothing changes the data, any outcome will do. */
		check_dev_snapshots(p, n, 0, "after MADV_COLLAPSE");
		return;
	}
	if (err != (hole ? ENOMEM : 0))
		report(F_MODEL_ERROR, "madvise returned %s, the model expected %s",
		       err ? strerror(err) : "success", hole ? "ENOMEM" : "success");
	for (i = p; i < p + n; i++) {
		struct mpage *m = &P->pg[i];

		if (!m->mapped)
			continue;
		m->excl = 0;
		if (adv == A_FREE) {
			/* Until written, the old value or zero (once reclaimed). */
			vset_add(&m->priv, 0);
			m->flags = (m->flags | PF_LAZY) & ~PF_REAL;
		} else if (m->kind == K_ANON_PRIV) {
			vset_one(&m->priv, 0);
			m->flags = 0;
		} else if (m->kind == K_FILE_PRIV) {
			m->cowed = 0;	/* back to the file's page */
			m->flags = 0;
		}
	}
	check_dev_snapshots(p, n, 1, adv == A_FREE ? "after MADV_FREE" : "after MADV_DONTNEED");
}

void do_cpu_write(const struct op *o)
{
	unsigned long p = o->p, n = o->n, i;

	if (!clip(&p, &n))
		return;
	for (i = p; i < p + n; i++) {
		uint64_t tag = mktag(P->procid, 0, 0, i, o->x + (i - p));

		if (!writable(i))
			continue;
		if (cpu_write_page(i, tag)) {
			report(F_MODEL_ERROR, "CPU write faulted at page %lu", i);
			continue;
		}
		set_written(i, tag, 0);
		P->pg[i].excl = 0;
	}
}

void do_cpu_read(const struct op *o)
{
	unsigned long p = o->p, n = o->n;

	if (clip(&p, &n))
		cpu_check_range(p, n, "CPU read");
}
