// SPDX-License-Identifier: GPL-2.0
/*
 * hmm_mirror: migration to and from device-private memory, and exclusive
 * (atomic) device access.  Locking: see DOC: Locking in hmm_mirror_main.c;
 * mmap_lock is held around migrate_vma_*() and ->migrate_alloc_copy, and
 * intervals are taken before it.
 */

/**
 * DOC: Migration and exclusive access
 *
 * Neither path writes device entries on its own authority.  A migration
 * moves pages with migrate_vma_*(); its MMU_NOTIFY_MIGRATE events zap every
 * mirror that maps the range (this one included), and afterwards the pages
 * are mapped, on request, through the ordinary fault protocol (notifier
 * sequence checked under the update lock), so an munmap or MADV_DONTNEED
 * racing the migration cannot leave the device mapping a page that
 * migrate_vma_finalize() frees.  An exclusive grant is committed under the
 * update lock only if the interval's sequence did not move since before
 * make_device_exclusive_range(): zap_pte_range() drops device-exclusive
 * entries without the folio lock, so the page can go away meanwhile.
 */
#include <linux/hmm.h>
#include <linux/jiffies.h>
#include <linux/migrate.h>
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/rmap.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>

#include "hmm_mirror_internal.h"
#include <trace/events/hmm_mirror.h>

#define HMM_MIRROR_MIGRATE_FLAGS	(HMM_MIRROR_MIGRATE_TO_DEVICE | \
					 HMM_MIRROR_MIGRATE_FROM_PEERS | \
					 HMM_MIRROR_MIGRATE_MAP)

/*
 * Fault [start, end) in on the CPU side, best effort, under mmap_lock (read):
 *  - before migrating to the device, for reading, as @owner (the mirror's
 *    own): pages in another device's memory come back to system memory
 *    (their owner's migrate_to_ram), swap entries are read in, holes get the
 *    zero page; our own device pages stay;
 *  - before an exclusive grant, for writing, with no owner: even our own
 *    device pages come back, device-exclusive entries left by an earlier
 *    grant are restored and copy-on-write is broken, so that the grant's own
 *    GUP causes no event that moves the sequence after read_begin (every
 *    attempt would fail otherwise).
 */
static void hmm_mirror_prefault(struct hmm_mirror_interval *iv,
				unsigned long start, unsigned long end,
				unsigned long *pfns, unsigned long flags,
				void *owner)
{
	struct hmm_range range = {
		.notifier = &iv->notifier,
		.start = start,
		.end = end,
		.hmm_pfns = pfns,
		.default_flags = flags,
		.dev_private_owner = owner,
	};
	int tries = 8;

	do {
		range.notifier_seq = mmu_interval_read_begin(&iv->notifier);
	} while (hmm_range_fault(&range) == -EBUSY && --tries);
}

/* A migrate_vma for [start, end) of @vma with @src (and dst after it) zeroed. */
static void hmm_mirror_migrate_args(struct migrate_vma *args,
				    struct hmm_mirror *mirror,
				    struct vm_area_struct *vma,
				    unsigned long start, unsigned long end,
				    unsigned long *src, unsigned long flags)
{
	memset(src, 0, 2 * HMM_MIRROR_BATCH_PAGES * sizeof(*src));
	*args = (struct migrate_vma) {
		.vma = vma,
		.start = start,
		.end = end,
		.src = src,
		.dst = src + HMM_MIRROR_BATCH_PAGES,
		.pgmap_owner = mirror->owner,
		.flags = flags,
	};
}

static void hmm_mirror_migrate_batch(struct hmm_mirror *mirror,
				     struct hmm_mirror_migrate *m,
				     struct hmm_mirror_migrate_result *res)
{
	struct migrate_vma *args = &m->args;
	unsigned long i, npages = (args->end - args->start) >> PAGE_SHIFT;
	unsigned long selected = 0, migrated = res->migrated;
	int ret;

	ret = migrate_vma_setup(args);
	if (ret) {
		res->skip_vma += npages;
		trace_hmm_mirror_migrate_batch(mirror, args->start, args->end,
					       m->to_device, 0, 0, ret);
		return;
	}
	for (i = 0; i < npages; i++) {
		if (!args->src[i]) {
			res->skip_other++;
		} else if (!(args->src[i] & MIGRATE_PFN_MIGRATE)) {
			res->skip_busy++;
		} else if (m->to_device && migrate_pfn_to_page(args->src[i]) &&
			   !PageAnon(migrate_pfn_to_page(args->src[i]))) {
			/*
			 * Only anonymous memory becomes device-private, and
			 * migrate_vma_pages() would refuse the rest after the
			 * copy.  Skip it before: no copy out of page cache or
			 * secret memory (no kernel mapping).
			 */
			args->src[i] &= ~MIGRATE_PFN_MIGRATE;
			res->skip_refused++;
		} else if (!m->to_device && !migrate_pfn_to_page(args->src[i])) {
			/*
			 * migrate_vma_setup() selects empty PTEs of anonymous
			 * VMAs in both directions.  Nothing of ours is there:
			 * the driver sees only device pages when moving out.
			 */
			args->src[i] &= ~MIGRATE_PFN_MIGRATE;
			res->skip_other++;
		} else {
			selected++;
		}
	}
	/*
	 * migrate_vma_setup()'s MMU_NOTIFY_MIGRATE event has zapped every
	 * mirror mapping the batch; device faults now wait on the migration
	 * entries, so nothing writes a source page after it is copied.
	 */
	if (!selected || READ_ONCE(mirror->dead))
		goto out_finalize;

	mirror->ops->migrate_alloc_copy(mirror, m);
	for (i = 0; i < npages; i++)
		if ((args->src[i] & MIGRATE_PFN_MIGRATE) && !args->dst[i])
			res->skip_nomem++;

	migrate_vma_pages(args);
	for (i = 0; i < npages; i++) {
		if (!args->dst[i])
			continue;
		if (args->src[i] & MIGRATE_PFN_MIGRATE)
			res->migrated++;
		else
			res->skip_refused++;
	}
	/* The window in which an munmap or MADV_DONTNEED drops new pages. */
	hmm_mirror_debug_delay();
out_finalize:
	migrate_vma_finalize(args);
	trace_hmm_mirror_migrate_batch(mirror, args->start, args->end,
				       m->to_device, selected,
				       res->migrated - migrated, 0);
}

/* Map what the CPU maps in [start, end) now, through the fault protocol. */
static void hmm_mirror_map_present(struct hmm_mirror *mirror,
				   struct hmm_mirror_interval *iv,
				   unsigned long start, unsigned long end,
				   void *arg, unsigned long *pfns)
{
	unsigned long deadline = hmm_mirror_deadline(mirror);

	/* Best effort: what is not mapped here the device faults later. */
	if (hmm_mirror_fault_batch(mirror, iv, start, end,
				   HMM_MIRROR_FAULT_PRESENT, arg, pfns,
				   deadline) != HMM_MIRROR_STALE_INTERVAL)
		return;
	iv = hmm_mirror_interval_get(mirror, start);
	if (IS_ERR(iv))
		return;
	hmm_mirror_fault_batch(mirror, iv, start, end, HMM_MIRROR_FAULT_PRESENT,
			       arg, pfns, deadline);
	hmm_mirror_interval_put(iv);
}

/**
 * hmm_mirror_migrate() - move a range to or from the device's memory
 * @mirror: a registered mirror with ->migrate_alloc_copy and an @owner
 * @start: first address (page aligned)
 * @end: end address (page aligned, exclusive)
 * @flags: HMM_MIRROR_MIGRATE_TO_DEVICE: system memory -> device memory,
 *	else this device's memory -> system memory;
 *	HMM_MIRROR_MIGRATE_FROM_PEERS: first fault pages that sit in another
 *	device's memory (and swapped-out pages) back to system memory, so
 *	they move too (device to device through system memory);
 *	HMM_MIRROR_MIGRATE_MAP: after moving to the device, map what the CPU
 *	maps in the range (the new device pages among it) through ->commit,
 *	with the usual notifier-sequence check
 * @arg: cookie for the driver callbacks
 * @res: out: where every page went
 *
 * Works in batches of at most one granule inside one VMA around
 * migrate_vma_setup(), ->migrate_alloc_copy, migrate_vma_pages() and
 * migrate_vma_finalize().  A THP source is split by migrate_vma_setup() as
 * 6.12 requires.  Every page is accounted for in @res.
 *
 * ->migrate_alloc_copy sees, for every @src entry with MIGRATE_PFN_MIGRATE:
 * moving to the device, an anonymous system page or no page at all (an empty
 * anonymous PTE or the zero page: zero-fill the destination); moving to system memory,
 * always a device-private page of @owner (empty PTEs are skipped here).
 *
 * Context: process context; may sleep; takes mmap_lock for read.
 * Return: 0, or -EINVAL, -EOPNOTSUPP (no migration callbacks or owner),
 * -ESRCH (the mm is gone), -ENOMEM, -EINTR.
 */
int hmm_mirror_migrate(struct hmm_mirror *mirror, unsigned long start,
		       unsigned long end, unsigned int flags, void *arg,
		       struct hmm_mirror_migrate_result *res)
{
	bool to_device = flags & HMM_MIRROR_MIGRATE_TO_DEVICE;
	bool need_iv = to_device && (flags & (HMM_MIRROR_MIGRATE_FROM_PEERS |
					      HMM_MIRROR_MIGRATE_MAP));
	struct mm_struct *mm = mirror->mm;
	struct hmm_mirror_migrate m = {
		.to_device = to_device,
		.arg = arg,
	};
	unsigned long addr, cend, *src;
	int ret = 0;

	memset(res, 0, sizeof(*res));
	if (!mirror->ops->migrate_alloc_copy || !mirror->owner)
		return -EOPNOTSUPP;
	if (!PAGE_ALIGNED(start) || !PAGE_ALIGNED(end) || start >= end ||
	    (flags & ~HMM_MIRROR_MIGRATE_FLAGS))
		return -EINVAL;
	/* Pulling from peers and mapping make sense only towards the device. */
	if (!to_device && (flags & ~HMM_MIRROR_MIGRATE_TO_DEVICE))
		return -EINVAL;
	src = kvmalloc_array(2 * HMM_MIRROR_BATCH_PAGES, sizeof(*src),
			     GFP_KERNEL);
	if (!src)
		return -ENOMEM;
	if (!mmget_not_zero(mm)) {
		ret = -ESRCH;
		goto out_free;
	}

	for (addr = start; addr < end && !ret; addr = cend) {
		unsigned long a, next, no_vma = res->skip_vma;
		struct hmm_mirror_interval *iv = NULL;

		cend = hmm_mirror_block_end(mirror, addr, end);
		/* Interval inserts may not nest in mmap_lock: take it first. */
		if (need_iv) {
			iv = hmm_mirror_interval_get(mirror, addr);
			if (IS_ERR(iv)) {
				ret = PTR_ERR(iv);
				break;
			}
		}
		mmap_read_lock(mm);
		for (a = addr; a < cend; a = next) {
			struct vm_area_struct *vma = find_vma(mm, a);

			if (!vma || vma->vm_start > a) {
				next = vma ? min(cend, vma->vm_start) : cend;
				res->skip_vma += (next - a) >> PAGE_SHIFT;
				continue;
			}
			next = min(cend, vma->vm_end);
			if (flags & HMM_MIRROR_MIGRATE_FROM_PEERS)
				hmm_mirror_prefault(iv, a, next, src,
						    HMM_PFN_REQ_FAULT, mirror->owner);
			hmm_mirror_migrate_args(&m.args, mirror, vma, a, next, src,
						to_device ? MIGRATE_VMA_SELECT_SYSTEM :
						MIGRATE_VMA_SELECT_DEVICE_PRIVATE);
			hmm_mirror_migrate_batch(mirror, &m, res);
		}
		mmap_read_unlock(mm);
		if (iv) {
			/*
			 * Even when nothing moved: migrate_vma_setup()'s event
			 * zapped what was already in device memory too.
			 */
			if (flags & HMM_MIRROR_MIGRATE_MAP)
				hmm_mirror_map_present(mirror, iv, addr, cend, arg,
						       src);
			if (res->skip_vma != no_vma)
				hmm_mirror_interval_gc_mark(iv);
			hmm_mirror_interval_put(iv);
		}
		if (fatal_signal_pending(current))
			ret = -EINTR;
		cond_resched();
	}
	mmput_async(mm);
out_free:
	kvfree(src);
	return ret;
}
EXPORT_SYMBOL_GPL(hmm_mirror_migrate);

#if IS_ENABLED(CONFIG_DEVICE_PRIVATE)
/*
 * Split PMD-mapped THPs in [start, end): migrate_vma_setup() splits them
 * while collecting, and finalizing without destinations restores every
 * page in place.  make_device_exclusive_range() cannot take a large folio.
 */
static void hmm_mirror_split_thp(struct hmm_mirror *mirror,
				 struct vm_area_struct *vma,
				 unsigned long start, unsigned long end,
				 unsigned long *src)
{
	struct migrate_vma args;

	hmm_mirror_migrate_args(&args, mirror, vma, start, end, src,
				MIGRATE_VMA_SELECT_SYSTEM);
	if (!migrate_vma_setup(&args))
		migrate_vma_finalize(&args);
}

/*
 * One attempt at [start, end) inside @iv: 0, -EAGAIN (the CPU side changed
 * meanwhile: try again), HMM_MIRROR_STALE_INTERVAL, -EBUSY (not every page
 * could be made exclusive) or another negative errno.
 */
static long hmm_mirror_exclusive_batch(struct hmm_mirror *mirror,
				       struct hmm_mirror_interval *iv,
				       unsigned long start, unsigned long end,
				       struct page **pages)
{
	long i, n, npages = (end - start) >> PAGE_SHIFT, granted = 0;
	unsigned long seq;

	if (mirror->ops->prepare) {
		n = mirror->ops->prepare(mirror, start, end, NULL);
		if (n)
			return n;
	}
	memset(pages, 0, npages * sizeof(*pages));
	/* Not asleep at the gate with the pages below locked: wait now. */
	hmm_mirror_gate_wait(mirror);
	seq = mmu_interval_read_begin(&iv->notifier);
	mmap_read_lock(mirror->mm);
	/* The mirror as owner: its interval callback knows its own grant. */
	n = make_device_exclusive_range(mirror->mm, start, end, pages, mirror);
	mmap_read_unlock(mirror->mm);
	if (n < 0)
		return n;
	for (i = 0; i < n; i++)
		granted += !!pages[i];
	if (granted == npages) {
		hmm_mirror_debug_delay();
		hmm_mirror_update_lock_ungated(mirror);
		if (mirror->dead)
			n = -ESRCH;
		else if (iv->removed)
			n = HMM_MIRROR_STALE_INTERVAL;
		else if (mmu_interval_read_retry(&iv->notifier, seq))
			n = -EAGAIN;
		else
			n = hmm_mirror_dma_map(mirror, iv, start, NULL, pages,
					       npages);
		if (!n) {
			n = mirror->ops->exclusive_commit(mirror, start, pages,
							  hmm_mirror_iv_dma(iv, start),
							  npages);
			if (!n)
				hmm_mirror_mark_mapped(iv, start, NULL, npages, true);
		}
		hmm_mirror_update_unlock(mirror, HMM_MIRROR_HOLD_COMMIT);
	} else {
		n = -EBUSY;
	}
	for (i = 0; i < npages; i++) {
		if (pages[i]) {
			unlock_page(pages[i]);
			put_page(pages[i]);
		}
	}
	return n;
}

/* Grant [addr, min(end, VMA end, interval end)); *next says how far. */
static long hmm_mirror_exclusive_block(struct hmm_mirror *mirror,
				       unsigned long addr, unsigned long end,
				       unsigned long *next, struct page **pages,
				       unsigned long *src)
{
	unsigned long deadline = hmm_mirror_deadline(mirror);
	struct hmm_mirror_interval *iv;
	struct vm_area_struct *vma;
	int busy = 0;
	long ret;

	for (;;) {
		/* The grant must be covered by a notifier that can revoke it. */
		iv = hmm_mirror_interval_get(mirror, addr);
		if (IS_ERR(iv))
			return PTR_ERR(iv);
		mmap_read_lock(mirror->mm);
		vma = vma_lookup(mirror->mm, addr);
		if (!vma) {
			mmap_read_unlock(mirror->mm);
			/* Maybe nothing in the block: let the collector see. */
			hmm_mirror_interval_gc_mark(iv);
			hmm_mirror_interval_put(iv);
			return -EFAULT;
		}
		*next = min3(end, vma->vm_end, iv->end);
		hmm_mirror_prefault(iv, addr, *next, src,
				    HMM_PFN_REQ_FAULT | HMM_PFN_REQ_WRITE, NULL);
		/*
		 * Split THPs before every attempt: the grant's FOLL_SPLIT_PMD
		 * would leave a PTE-mapped large folio whose tail pages it
		 * refuses, and that nothing splits any more.
		 */
		if (vma_is_anonymous(vma))
			hmm_mirror_split_thp(mirror, vma, addr, *next, src);
		mmap_read_unlock(mirror->mm);

		ret = hmm_mirror_exclusive_batch(mirror, iv, addr, *next, pages);
		hmm_mirror_interval_put(iv);
		if (ret == -EBUSY && ++busy < 3)
			continue;
		if (ret != -EAGAIN && ret != HMM_MIRROR_STALE_INTERVAL)
			return ret;
		hmm_mirror_count(mirror, HMM_MIRROR_EV_RETRIES, 1);
		if (time_after(jiffies, deadline)) {
			hmm_mirror_count(mirror, HMM_MIRROR_EV_TIMEOUTS, 1);
			return -EBUSY;
		}
		if (fatal_signal_pending(current))
			return -EINTR;
		cond_resched();
	}
}

/**
 * hmm_mirror_make_exclusive() - give the device exclusive (atomic) access
 * @mirror: a registered mirror with ->exclusive_commit and an @owner
 * @start: first address (page aligned)
 * @end: end address (page aligned, exclusive)
 *
 * Replaces the CPU mappings of [start, end) with device-exclusive entries
 * (make_device_exclusive_range()) and lets the driver map the pages through
 * ->exclusive_commit, under the update lock, once the interval's notifier
 * sequence shows that nothing changed since the grant began; otherwise it
 * tries again.  The first CPU access to a page revokes the grant through an
 * invalidation.  THP-backed ranges are split first (upstream test_hmm gets
 * -EBUSY there).  ->prepare runs before each attempt with no lock held.
 *
 * Context: process context; may sleep; takes mmap_lock for read.
 * Return: 0, or -EBUSY (some page could not be made exclusive, or the CPU
 * side kept changing for fault_timeout_ms), -EFAULT, -EOPNOTSUPP, -ESRCH,
 * -ENOMEM, -EINVAL, -EINTR.
 */
int hmm_mirror_make_exclusive(struct hmm_mirror *mirror, unsigned long start,
			      unsigned long end)
{
	unsigned long addr, next, *src;
	struct page **pages;
	long ret = 0;

	if (!mirror->ops->exclusive_commit || !mirror->owner)
		return -EOPNOTSUPP;
	if (!PAGE_ALIGNED(start) || !PAGE_ALIGNED(end) || start >= end)
		return -EINVAL;
	pages = kvmalloc_array(HMM_MIRROR_BATCH_PAGES, sizeof(*pages), GFP_KERNEL);
	src = kvmalloc_array(2 * HMM_MIRROR_BATCH_PAGES, sizeof(*src), GFP_KERNEL);
	if (!pages || !src) {
		ret = -ENOMEM;
		goto out_free;
	}
	if (!mmget_not_zero(mirror->mm)) {
		ret = -ESRCH;
		goto out_free;
	}
	for (addr = start; addr < end && !ret; addr = next)
		ret = hmm_mirror_exclusive_block(mirror, addr, end, &next, pages,
						 src);
	mmput_async(mirror->mm);
out_free:
	kvfree(src);
	kvfree(pages);
	return ret < 0 ? ret : 0;
}
#else
int hmm_mirror_make_exclusive(struct hmm_mirror *mirror, unsigned long start,
			      unsigned long end)
{
	return -EOPNOTSUPP;
}
#endif
EXPORT_SYMBOL_GPL(hmm_mirror_make_exclusive);
