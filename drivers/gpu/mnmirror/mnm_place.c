// SPDX-License-Identifier: GPL-2.0
/*
 * mnmirror mock GPU: placement, what a runtime asks of the device about
 * where memory lives.
 *  - PREFETCH (cudaMemPrefetchAsync(), Xe's prefetch): make a range resident
 *    and mapped before the work that uses it runs, with no data copied to
 *    userspace.  It migrates first when asked (mnm_ctx_migrate()), then maps
 *    the range VMA by VMA through hmm_mirror_fault(), and accounts for every
 *    page it could not map.
 *  - ADVISE (cudaMemAdvise(), Xe's madvise): a preferred location and
 *    read-mostly, kept as the mirror's range attributes
 *    (hmm_mirror_set_attr(), which drops them where the CPU unmaps);
 *    mnm_ctx_place() and device-memory eviction read them.
 *
 * Locking: the VMA walk holds mmap_lock (read) only to read one VMA's bounds
 * and flags, never across a fault; the counts are taken under the mirror's
 * update lock, one batch per hold.  The advice has the layer's locking.
 */
#include <linux/mm.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <uapi/drm/mnmirror_drm.h>

#include "mnm_drv.h"

/*
 * Pages of [start, end) the device maps now (writable ones, for @write):
 * a block the layer calls valid counts whole (its bits say every page was
 * committed as asked and not invalidated since, which our table follows:
 * mnm_copy.c checks that on every copy); others are looked up page by page.
 */
static unsigned long mnm_count_mapped(struct mnm_ctx *ctx, unsigned long start,
				      unsigned long end, bool write)
{
	unsigned int flags = write ? HMM_MIRROR_FAULT_WRITE : 0;
	u64 need = MNM_PTE_VALID | (write ? MNM_PTE_WRITE : 0);
	unsigned long addr = start, n = 0;

	while (addr < end) {
		unsigned long stop = min(end, ALIGN(addr + 1, ctx->mirror.granule));

		hmm_mirror_lock(&ctx->mirror);
		if (hmm_mirror_range_valid(&ctx->mirror, addr, stop, flags)) {
			n += (stop - addr) >> PAGE_SHIFT;
			addr = stop;
		}
		for (; addr < stop; addr += PAGE_SIZE)
			n += (mnm_pt_lookup(&ctx->pt, addr) & need) == need;
		hmm_mirror_unlock(&ctx->mirror);
		cond_resched();
	}
	return n;
}

/* May the device map this VMA's pages (writable, for @write)? */
static bool mnm_vma_allows(struct vm_area_struct *vma, bool write)
{
	/* hmm_range_fault() refuses VM_IO and VM_PFNMAP, too. */
	return (vma->vm_flags & VM_READ) &&
	       !(vma->vm_flags & (VM_IO | VM_PFNMAP)) &&
	       (!write || (vma->vm_flags & VM_WRITE));
}

/* Is @addr still in a VMA that allows the access? */
static bool mnm_still_allowed(struct mm_struct *mm, unsigned long addr,
			      bool write)
{
	struct vm_area_struct *vma;
	bool ok;

	mmap_read_lock(mm);
	vma = vma_lookup(mm, addr);
	ok = vma && mnm_vma_allows(vma, write);
	mmap_read_unlock(mm);
	return ok;
}

/*
 * The next part of [*addr, end) that a VMA covers: its end, and whether it
 * allows the access.  Pages before it have no VMA: *holes counts them and
 * *addr moves past them.  Returns 0 when no VMA is left (*addr is then end).
 */
static unsigned long mnm_next_vma(struct mm_struct *mm, unsigned long *addr,
				  unsigned long end, bool write, bool *allowed,
				  u64 *holes)
{
	struct vm_area_struct *vma;
	unsigned long seg_end = 0;

	mmap_read_lock(mm);
	vma = find_vma(mm, *addr);
	if (vma && vma->vm_start < end) {
		if (vma->vm_start > *addr) {
			*holes += (vma->vm_start - *addr) >> PAGE_SHIFT;
			*addr = vma->vm_start;
		}
		seg_end = min(vma->vm_end, end);
		*allowed = mnm_vma_allows(vma, write);
	} else {
		*holes += (end - *addr) >> PAGE_SHIFT;
		*addr = end;
	}
	mmap_read_unlock(mm);
	return seg_end;
}

/*
 * Map [start, end), which one VMA covered a moment ago, block by block;
 * blocks already mapped as asked are skipped without a fault.  A block whose
 * CPU fault fails is taken again page by page, so that only the failing
 * pages are lost; a page whose VMA went meanwhile (a racing munmap or
 * mprotect) is not a failed fault.  Returns the pages that failed, or a
 * negative errno.
 */
static long mnm_prefetch_map(struct mnm_ctx *ctx, unsigned long start,
			     unsigned long end, bool write)
{
	unsigned int flags = write ? HMM_MIRROR_FAULT_WRITE : 0;
	unsigned long granule = ctx->mirror.granule;
	unsigned long addr = start, failed = 0;
	int ret;

	while (addr < end) {
		unsigned long next = min(end, ALIGN(addr + 1, granule));
		bool valid;

		hmm_mirror_lock(&ctx->mirror);
		valid = hmm_mirror_range_valid(&ctx->mirror, addr, next, flags);
		hmm_mirror_unlock(&ctx->mirror);
		ret = valid ? 0 : hmm_mirror_fault(&ctx->mirror, addr, next,
						   flags, ctx);
		if (ret == -EFAULT || ret == -EPERM) {
			unsigned long a;

			for (a = addr; a < next; a += PAGE_SIZE) {
				ret = hmm_mirror_fault(&ctx->mirror, a,
						       a + PAGE_SIZE, flags, ctx);
				if (ret == -EFAULT || ret == -EPERM)
					failed += mnm_still_allowed(current->mm, a,
								    write);
				else if (ret < 0)
					return ret;
			}
		} else if (ret < 0) {
			return ret;
		}
		addr = next;
		if (fatal_signal_pending(current))
			return -EINTR;
	}
	return failed;
}

/**
 * mnm_ctx_prefetch() - PREFETCH for a file context
 * @ctx: the context; current's mm is the context's (checked by the caller)
 * @args: the validated request; its out fields are filled in
 *
 * Return: 0, or a negative errno with the counts of the part done.
 */
int mnm_ctx_prefetch(struct mnm_ctx *ctx, struct drm_mnm_prefetch *args)
{
	unsigned long start = args->addr;
	unsigned long end = start + (args->npages << PAGE_SHIFT);
	bool write = args->flags & MNM_PREFETCH_WRITE;
	struct mm_struct *mm = current->mm;
	unsigned long addr = start;
	int ret = 0;

	/* Output fields are ignored on input. */
	args->mapped = 0;
	args->skip_access = 0;
	args->skip_fault = 0;
	args->skip_raced = 0;
	args->migrated = 0;
	args->mskip_vma = 0;
	args->mskip_busy = 0;
	args->mskip_refused = 0;
	args->mskip_nomem = 0;
	args->mskip_other = 0;
	if (args->location) {
		struct hmm_mirror_migrate_result res = {};

		ret = mnm_ctx_migrate(ctx, start, end,
				      args->location == MNM_MIGRATE_TO_DEVICE ?
				      HMM_MIRROR_MIGRATE_TO_DEVICE |
				      HMM_MIRROR_MIGRATE_FROM_PEERS : 0, &res);
		args->migrated = res.migrated;
		args->mskip_vma = res.skip_vma;
		args->mskip_busy = res.skip_busy;
		args->mskip_refused = res.skip_refused;
		args->mskip_nomem = res.skip_nomem;
		args->mskip_other = res.skip_other;
		if (ret)
			return ret;
	}

	while (addr < end) {
		bool allowed = false;
		unsigned long seg_end, mapped, seg;
		long failed;

		seg_end = mnm_next_vma(mm, &addr, end, write, &allowed,
				       &args->skip_access);
		if (!seg_end)
			break;
		seg = (seg_end - addr) >> PAGE_SHIFT;
		if (!allowed) {
			args->skip_access += seg;
			addr = seg_end;
			continue;
		}
		failed = mnm_prefetch_map(ctx, addr, seg_end, write);
		if (failed < 0)
			return failed;
		/*
		 * What is mapped now; a page that is not, and whose fault did
		 * not fail, was invalidated again meanwhile (a racing munmap,
		 * madvise or migration).
		 */
		mapped = min(mnm_count_mapped(ctx, addr, seg_end, write),
			     seg - failed);
		args->mapped += mapped;
		args->skip_fault += failed;
		args->skip_raced += seg - failed - mapped;
		addr = seg_end;
	}
	return ret;
}

/* The layer's attribute value for an ADVISE request (0: no advice). */
static unsigned long mnm_advice_value(const struct drm_mnm_advise *args)
{
	return args->location |
	       ((args->attrs & MNM_ADVISE_READ_MOSTLY) ? MNM_ADV_READ_MOSTLY : 0);
}

/**
 * mnm_ctx_advise() - ADVISE for a file context
 * @ctx: the context; current's mm is the context's (checked by the caller)
 * @args: the validated request; filled in for MNM_ADVISE_QUERY
 *
 * Return: 0 or a negative errno (hmm_mirror_set_attr()'s).
 */
int mnm_ctx_advise(struct mnm_ctx *ctx, struct drm_mnm_advise *args)
{
	unsigned long start = args->addr;
	unsigned long end = start + (args->npages << PAGE_SHIFT);
	unsigned long value, stop;

	if (!(args->flags & MNM_ADVISE_QUERY))
		return hmm_mirror_set_attr(&ctx->mirror, start, end,
					   mnm_advice_value(args));
	value = hmm_mirror_get_attr(&ctx->mirror, start, &stop);
	args->location = value & MNM_ADV_LOCATION;
	args->attrs = (value & MNM_ADV_READ_MOSTLY) ? MNM_ADVISE_READ_MOSTLY : 0;
	args->npages = (min(stop, end) - start) >> PAGE_SHIFT;
	return 0;
}
