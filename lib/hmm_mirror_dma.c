// SPDX-License-Identifier: GPL-2.0
/*
 * hmm_mirror: what the device was handed, per block: the DMA addresses of
 * its pages and which pages are mapped, and the cheap validity check a
 * driver makes at job submission.  Locking: see DOC: Locking in
 * hmm_mirror_main.c.
 */

/**
 * DOC: The DMA step and the validity check
 *
 * A real device reaches system memory through DMA addresses, not through
 * the kernel's mapping.  When a mirror has a dma_dev, each commit maps the
 * batch's system pages for it, under the update lock after the notifier
 * sequence proved them current (so no page can be freed meanwhile: its
 * invalidation waits for the lock), and hands the addresses to the driver.
 * They live in the interval of their block, one slot per page, and are
 * unmapped only after the device let go of the pages: after ->invalidate
 * returned true for them, when the block's interval is removed (after the
 * same zap), and after ->release.  A slot already mapped is reused: while
 * it is, no invalidation covered its page, so the CPU still maps the same
 * page there.  The device's own device-private pages need no mapping.
 *
 * The mapped and writable bits record what a commit handed the driver;
 * every invalidation clears them for its range.  hmm_mirror_range_valid()
 * reads them under the update lock: true means no fault is needed, and it
 * stays true while the lock is held.
 *
 * Slots and bits change only under the update lock.  Mapping and
 * unmapping do not sleep, so they may run in non-blockable invalidations.
 */
#include <linux/dma-mapping.h>
#include <linux/hmm.h>
#include <linux/memremap.h>
#include <linux/mm.h>

#include "hmm_mirror_internal.h"

static unsigned long hmm_mirror_iv_index(struct hmm_mirror_interval *iv,
					 unsigned long addr)
{
	return (addr - iv->start) >> PAGE_SHIFT;
}

/*
 * Mirrored memory is shared with the CPU while it is mapped, as SVM
 * requires: the device must be cache-coherent (hmm_mirror_register()
 * checks), so there is nothing to sync at map or unmap.  One page may be
 * mapped many times at once (several mirrors, several addresses), which the
 * DMA API's checker reports as overlapping mappings unless CPU syncs are
 * skipped; it still warns once when more than seven writable mappings of
 * one cache line coexist, which a process with that many mirrors of one
 * writable page can reach.
 */
#define HMM_MIRROR_DMA_ATTRS	DMA_ATTR_SKIP_CPU_SYNC

static void hmm_mirror_dma_unmap_slot(struct hmm_mirror *mirror,
				      struct hmm_mirror_interval *iv,
				      unsigned long i)
{
	dma_unmap_page_attrs(mirror->dma_dev, iv->dma[i], PAGE_SIZE,
			     __test_and_clear_bit(i, iv->dma_bidi) ?
			     DMA_BIDIRECTIONAL : DMA_TO_DEVICE,
			     HMM_MIRROR_DMA_ATTRS);
	iv->dma[i] = DMA_MAPPING_ERROR;
}

/* Under the update lock: the device no longer has [first, last) mapped. */
static void hmm_mirror_clear_bits(struct hmm_mirror_interval *iv,
				  unsigned long first, unsigned long last)
{
	bitmap_clear(iv->mapped, first, last - first);
	bitmap_clear(iv->writable, first, last - first);
}

/**
 * hmm_mirror_mark_unmapped() - the device's entries of [start, end) go
 * @iv: the interval, with its mirror's update lock held
 * @start: first address, inside @iv
 * @end: end address, inside @iv
 *
 * Called before the driver zaps, whatever it answers: a driver that
 * refuses a non-blockable invalidation may have cleared entries already.
 * The span is widened to PMD alignment (within the block): a device entry
 * as large as a CPU PMD mapping that the range covers only in part goes
 * whole, and its other pages must not be called valid.
 */
void hmm_mirror_mark_unmapped(struct hmm_mirror_interval *iv,
			      unsigned long start, unsigned long end)
{
	lockdep_assert_held(&iv->mirror->update_lock);
	start = max(ALIGN_DOWN(start, PMD_SIZE), iv->start);
	end = min(ALIGN(end, PMD_SIZE), iv->end);
	hmm_mirror_clear_bits(iv, hmm_mirror_iv_index(iv, start),
			      hmm_mirror_iv_index(iv, end));
}

/* The page of entry @i of a batch and whether the device may write it. */
static struct page *hmm_mirror_batch_page(const unsigned long *hmm_pfns,
					  struct page **pages, unsigned long i,
					  bool *write)
{
	*write = true;
	if (!hmm_pfns)
		return pages[i];
	if (!(hmm_pfns[i] & HMM_PFN_VALID) || (hmm_pfns[i] & HMM_PFN_ERROR))
		return NULL;
	*write = hmm_pfns[i] & HMM_PFN_WRITE;
	return hmm_pfn_to_page(hmm_pfns[i]);
}

/*
 * A page the device could only read (mapped DMA_TO_DEVICE) may become
 * writable without any invalidation (wp_page_reuse() notifies nobody).
 * Its old address must not go while the device may still use it: zap the
 * span of such pages in the device first (this batch maps them again),
 * then unmap their old addresses.
 */
static void hmm_mirror_dma_upgrade(struct hmm_mirror *mirror,
				   struct hmm_mirror_interval *iv,
				   unsigned long start,
				   const unsigned long *hmm_pfns,
				   struct page **pages, unsigned long npages)
{
	unsigned long i, first = ULONG_MAX, last = 0, base;
	unsigned long unmaps = 0;
	bool write;

	base = hmm_mirror_iv_index(iv, start);
	for (i = 0; i < npages; i++) {
		if (!hmm_mirror_batch_page(hmm_pfns, pages, i, &write) || !write ||
		    iv->dma[base + i] == DMA_MAPPING_ERROR ||
		    test_bit(base + i, iv->dma_bidi))
			continue;
		first = min(first, i);
		last = i + 1;
	}
	if (first == ULONG_MAX)
		return;
	hmm_mirror_mark_unmapped(iv, start + (first << PAGE_SHIFT),
				 start + (last << PAGE_SHIFT));
	WARN_ON_ONCE(!mirror->ops->invalidate(mirror, NULL,
					      start + (first << PAGE_SHIFT),
					      start + (last << PAGE_SHIFT)));
	for (i = first; i < last; i++) {
		if (!hmm_mirror_batch_page(hmm_pfns, pages, i, &write) || !write ||
		    iv->dma[base + i] == DMA_MAPPING_ERROR ||
		    test_bit(base + i, iv->dma_bidi))
			continue;
		hmm_mirror_dma_unmap_slot(mirror, iv, base + i);
		unmaps++;
	}
	hmm_mirror_count(mirror, HMM_MIRROR_EV_DMA_UNMAPS, unmaps);
}

/**
 * hmm_mirror_dma_map() - map a batch's system pages for the device
 * @mirror: the mirror, with the update lock held
 * @iv: the interval of the batch
 * @start: first address of the batch
 * @hmm_pfns: the batch's hmm_range_fault() entries, or NULL
 * @pages: without @hmm_pfns, the batch's pages (all present and writable:
 *	an exclusive grant)
 * @npages: pages in the batch
 *
 * A page the device may write is mapped DMA_BIDIRECTIONAL, one it may only
 * read DMA_TO_DEVICE (the zero page among them, which every mirror maps
 * again and again).  A slot that holds the page already is kept, or mapped
 * again (see hmm_mirror_dma_upgrade()) when the device may now write what
 * it could only read.
 *
 * Return: 0, or -ENOMEM when a page could not be mapped (what was mapped
 * stays in its slot, consistent, until the next invalidation).
 */
int hmm_mirror_dma_map(struct hmm_mirror *mirror,
		       struct hmm_mirror_interval *iv, unsigned long start,
		       const unsigned long *hmm_pfns, struct page **pages,
		       unsigned long npages)
{
	unsigned long i, base = hmm_mirror_iv_index(iv, start), maps = 0;
	int ret = 0;

	lockdep_assert_held(&mirror->update_lock);
	if (!iv->dma)
		return 0;
	hmm_mirror_dma_upgrade(mirror, iv, start, hmm_pfns, pages, npages);
	for (i = 0; i < npages; i++) {
		dma_addr_t *slot = &iv->dma[base + i];
		struct page *page;
		bool write;

		page = hmm_mirror_batch_page(hmm_pfns, pages, i, &write);
		if (!page || is_device_private_page(page) ||
		    *slot != DMA_MAPPING_ERROR)
			continue;
		*slot = dma_map_page_attrs(mirror->dma_dev, page, 0, PAGE_SIZE,
					   write ? DMA_BIDIRECTIONAL :
					   DMA_TO_DEVICE, HMM_MIRROR_DMA_ATTRS);
		if (dma_mapping_error(mirror->dma_dev, *slot)) {
			*slot = DMA_MAPPING_ERROR;
			ret = -ENOMEM;
			break;
		}
		if (write)
			__set_bit(base + i, iv->dma_bidi);
		maps++;
	}
	hmm_mirror_count(mirror, HMM_MIRROR_EV_DMA_MAPS, maps);
	return ret;
}

/**
 * hmm_mirror_dma_unmap() - the device let go of [start, end) of @iv
 * @mirror: the mirror, with the update lock held
 * @iv: the interval
 * @start: first address, inside @iv
 * @end: end address, inside @iv
 *
 * Unmaps the DMA addresses of the range.  The mapped bits are the
 * caller's (hmm_mirror_mark_unmapped(), before the driver zaps; a removed
 * interval or a dead mirror is never valid anyway).  Never sleeps.
 */
void hmm_mirror_dma_unmap(struct hmm_mirror *mirror,
			  struct hmm_mirror_interval *iv, unsigned long start,
			  unsigned long end)
{
	unsigned long i, first = hmm_mirror_iv_index(iv, start);
	unsigned long last = hmm_mirror_iv_index(iv, end), unmapped = 0;

	lockdep_assert_held(&mirror->update_lock);
	if (!iv->dma)
		return;
	for (i = first; i < last; i++) {
		if (iv->dma[i] == DMA_MAPPING_ERROR)
			continue;
		hmm_mirror_dma_unmap_slot(mirror, iv, i);
		unmapped++;
	}
	hmm_mirror_count(mirror, HMM_MIRROR_EV_DMA_UNMAPS, unmapped);
}

/**
 * hmm_mirror_dma_unmap_all() - after release: empty every linked interval
 * @mirror: a dead mirror (->invalidate ran over everything)
 *
 * Takes tree_lock, then each interval's update lock in turn (tree_lock is
 * never taken under the update lock).  Intervals unlinked meanwhile are
 * emptied by their removal.
 */
void hmm_mirror_dma_unmap_all(struct hmm_mirror *mirror)
{
	struct rb_node *node;

	WARN_ON_ONCE(!READ_ONCE(mirror->dead));
	mutex_lock(&mirror->tree_lock);
	for (node = rb_first(&mirror->intervals); node; node = rb_next(node)) {
		struct hmm_mirror_interval *iv =
			rb_entry(node, struct hmm_mirror_interval, node);

		hmm_mirror_update_lock_ungated(mirror);
		hmm_mirror_dma_unmap(mirror, iv, iv->start, iv->end);
		hmm_mirror_update_unlock(mirror, HMM_MIRROR_HOLD_REMOVE);
		cond_resched();
	}
	mutex_unlock(&mirror->tree_lock);
}

/**
 * hmm_mirror_mark_mapped() - record what a successful commit handed over
 * @iv: the interval, with its mirror's update lock held
 * @start: first address of the batch
 * @hmm_pfns: the batch's entries (valid ones are mapped), or NULL: every
 *	page is
 * @npages: pages in the batch
 * @all_writable: every mapped page is writable (an exclusive grant)
 */
void hmm_mirror_mark_mapped(struct hmm_mirror_interval *iv,
			    unsigned long start, const unsigned long *hmm_pfns,
			    unsigned long npages, bool all_writable)
{
	unsigned long i, first = hmm_mirror_iv_index(iv, start);

	lockdep_assert_held(&iv->mirror->update_lock);
	for (i = 0; i < npages; i++) {
		unsigned long pfn = hmm_pfns ? hmm_pfns[i] : HMM_PFN_VALID;

		if (!(pfn & HMM_PFN_VALID) || (pfn & HMM_PFN_ERROR))
			continue;
		__set_bit(first + i, iv->mapped);
		if (all_writable || (pfn & HMM_PFN_WRITE))
			__set_bit(first + i, iv->writable);
		else
			__clear_bit(first + i, iv->writable);
	}
}

/**
 * hmm_mirror_range_valid() - is [start, end) mapped in the device as is?
 * @mirror: a registered mirror, with its update lock held
 *	(hmm_mirror_lock())
 * @start: first address (page aligned)
 * @end: end address (page aligned, exclusive)
 * @flags: HMM_MIRROR_FAULT_WRITE: writable too
 *
 * The check a driver makes at job submission to skip a fault when nothing
 * changed (drm_gpusvm's pages-valid check): true when every page of the
 * range was handed to the driver by a commit (writable, if asked) and no
 * invalidation has covered it since.  The answer holds while the update
 * lock is held: an invalidation must take it first.  Lockless and cheap:
 * no allocation, no mmap_lock, no reference.  It reports what the layer
 * handed ->commit: a driver whose ->commit skips entries must check its
 * own table too, and one that zaps entries outside ->invalidate tells the
 * layer with hmm_mirror_zap().
 *
 * Context: the update lock held; never sleeps.
 * Return: true if no fault is needed.
 */
bool hmm_mirror_range_valid(struct hmm_mirror *mirror, unsigned long start,
			    unsigned long end, unsigned int flags)
{
	unsigned long addr, next;
	bool valid = true;

	hmm_mirror_assert_locked(mirror);
	if (mirror->dead || !PAGE_ALIGNED(start) || !PAGE_ALIGNED(end) ||
	    start >= end)
		return false;
	rcu_read_lock();
	for (addr = start; addr < end && valid; addr = next) {
		struct hmm_mirror_interval *iv;
		unsigned long first, last;

		next = hmm_mirror_block_end(mirror, addr, end);
		iv = hmm_mirror_interval_lookup(mirror, addr);
		if (!iv || iv->removed) {
			valid = false;
			break;
		}
		first = hmm_mirror_iv_index(iv, addr);
		last = hmm_mirror_iv_index(iv, next);
		valid = find_next_zero_bit(iv->mapped, last, first) == last &&
			(!(flags & HMM_MIRROR_FAULT_WRITE) ||
			 find_next_zero_bit(iv->writable, last, first) == last);
	}
	rcu_read_unlock();
	return valid;
}
EXPORT_SYMBOL_GPL(hmm_mirror_range_valid);
