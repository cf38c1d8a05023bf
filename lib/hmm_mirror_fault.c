// SPDX-License-Identifier: GPL-2.0
/*
 * hmm_mirror: faults and snapshots.  Locking: see DOC: Locking in
 * hmm_mirror_main.c.
 */

/**
 * DOC: The fault loop
 *
 * hmm_mirror_fault() walks the request one block (granule) at a time.  Per
 * block it takes the block's interval (lockless lookup, created if
 * missing), then loops: ->prepare (may sleep and allocate, no lock), a
 * fresh mmu_interval_read_begin(), hmm_range_fault() of the batch under
 * mmap_lock (read), the update lock, mmu_interval_read_retry().  A moved
 * sequence or -EBUSY retries with a fresh sequence (never a stale one)
 * until the mirror's fault_timeout_ms; a removed interval retries on a new
 * one.  Otherwise the layer DMA-maps the batch (with a @dma_dev) and calls
 * ->commit, still under the lock; ->commit may return -EAGAIN to get
 * another ->prepare.
 *
 * So a device entry is written only by a commit that holds the update lock
 * and has just checked that the interval's sequence did not move since the
 * CPU state was read and that the interval was not removed.  Invalidations
 * take the same lock: once one returns, the device has forgotten the range
 * and cannot learn it again from CPU state read before it.
 *
 * hmm_range_fault() reports every failed CPU fault as -EFAULT; the layer
 * faults the failing span again page by page to tell -ENOMEM from -EFAULT.
 * Secret memory (memfd_secret()) is refused: it has no kernel mapping.
 */
#include <linux/hmm.h>
#include <linux/fs.h>
#include <linux/jiffies.h>
#include <linux/magic.h>
#include <linux/mm.h>
#include <linux/rcupdate.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>

#include "hmm_mirror_internal.h"
#include <trace/events/hmm_mirror.h>

/* ---- faults ---------------------------------------------------------- */

/*
 * memfd_secret() memory is gone from the kernel's direct map: GUP refuses
 * it, and so does the layer (a driver copying through the kernel mapping
 * would oops).  vma_is_secretmem() is not exported; the file system's magic
 * says the same.
 */
static bool hmm_mirror_vma_is_secret(struct vm_area_struct *vma)
{
	return vma->vm_file &&
	       file_inode(vma->vm_file)->i_sb->s_magic == SECRETMEM_MAGIC;
}

/*
 * Called with mmap_lock held, around hmm_range_fault().  Before it (@after
 * false): -EFAULT when the batch must fault a page of secret memory.  After
 * it: clear the entries of secret memory, which the device must not map.
 */
static int hmm_mirror_refuse_secret(struct mm_struct *mm,
				    struct hmm_range *range, bool after)
{
	VMA_ITERATOR(vmi, mm, range->start);
	struct vm_area_struct *vma;

	for_each_vma_range(vmi, vma, range->end) {
		unsigned long s, e;

		if (!hmm_mirror_vma_is_secret(vma))
			continue;
		if (!after)
			return range->default_flags & HMM_PFN_REQ_FAULT ?
			       -EFAULT : 0;
		s = max(vma->vm_start, range->start);
		e = min(vma->vm_end, range->end);
		memset(&range->hmm_pfns[(s - range->start) >> PAGE_SHIFT], 0,
		       ((e - s) >> PAGE_SHIFT) * sizeof(*range->hmm_pfns));
	}
	return 0;
}

/*
 * hmm_range_fault() for a batch, with a truer errno: the core reports every
 * CPU fault that failed as -EFAULT, "no memory for the page" included, so a
 * device would call a mapped address bad when the kernel merely ran short.
 *
 * The entries start zeroed.  hmm_range_fault() fills them in address order;
 * when it must fault, it faults every page from the first that needs it to
 * the end of the span it is walking (never past the VMA or the batch) and
 * fails at the first error without saying where.  So after -EFAULT the
 * first entry without HMM_PFN_VALID opens the span that failed.  Fault that
 * span again page by page as get_user_pages() would, and return the first
 * error: -ENOMEM, or -EFAULT (no VMA, no access, SIGBUS, poison).  When the
 * whole span faults in now (a passing shortage), walk again, as long as the
 * failing span moves up (if it moves back, -EBUSY lets the caller's retry
 * loop and its deadline decide).  A page that faults in but that
 * hmm_range_fault() still refuses (a special PTE) is -EFAULT, as are
 * mappings hmm_range_fault() never faults: VM_IO, VM_PFNMAP, no VM_READ.
 * Called with mmap_lock held, which fixup_user_fault() keeps held.
 */
static int hmm_mirror_range_fault(struct mm_struct *mm, struct hmm_range *range)
{
	unsigned long npages = (range->end - range->start) >> PAGE_SHIFT;
	unsigned int fault_flags = FAULT_FLAG_REMOTE;
	struct vm_area_struct *vma;
	unsigned long addr, end, i;
	long last = -1;
	int ret;

	if (range->default_flags & HMM_PFN_REQ_WRITE)
		fault_flags |= FAULT_FLAG_WRITE;
	for (;;) {
		memset(range->hmm_pfns, 0, npages * sizeof(*range->hmm_pfns));
		ret = hmm_range_fault(range);
		if (ret != -EFAULT || !(range->default_flags & HMM_PFN_REQ_FAULT))
			return ret;
		for (i = 0; i < npages && (range->hmm_pfns[i] & HMM_PFN_VALID); i++)
			;
		if (i == npages || (long)i == last)
			return -EFAULT;
		if ((long)i < last)
			return -EBUSY;
		addr = range->start + (i << PAGE_SHIFT);
		vma = vma_lookup(mm, addr);
		if (!vma || (vma->vm_flags & (VM_IO | VM_PFNMAP)) ||
		    !(vma->vm_flags & VM_READ))
			return -EFAULT;
		end = min(vma->vm_end, range->end);
		for (; addr < end; addr += PAGE_SIZE) {
			if (fatal_signal_pending(current))
				return -EINTR;
			ret = fixup_user_fault(mm, addr, fault_flags, NULL);
			if (ret)
				return ret == -ENOMEM ? -ENOMEM : -EFAULT;
		}
		last = i;
	}
}

/*
 * hmm_range_fault() reports the mirror's own device-private pages without
 * faulting them, read-only ones too (fork makes them copy-on-write in both
 * processes), and ignores HMM_PFN_REQ_WRITE for them.  A device write needs
 * what a CPU write would get: fault each such page back to a private system
 * page, as a stranger to it (no owner).  Called with mmap_lock held.
 */
static int hmm_mirror_fault_own_readonly(struct mm_struct *mm,
					 struct hmm_range *range)
{
	unsigned long i, npages = (range->end - range->start) >> PAGE_SHIFT;
	struct hmm_range one = *range;
	int ret;

	one.dev_private_owner = NULL;
	for (i = 0; i < npages; i++) {
		unsigned long pfn = range->hmm_pfns[i];

		if (!(pfn & HMM_PFN_VALID) || (pfn & HMM_PFN_WRITE) ||
		    !is_device_private_page(hmm_pfn_to_page(pfn)))
			continue;
		one.start = range->start + (i << PAGE_SHIFT);
		one.end = one.start + PAGE_SIZE;
		one.hmm_pfns = &range->hmm_pfns[i];
		ret = hmm_mirror_range_fault(mm, &one);
		if (ret)
			return ret;
	}
	return 0;
}

/**
 * hmm_mirror_fault_batch() - fault and commit one batch within one interval
 * @mirror: the mirror
 * @iv: the referenced interval containing [start, end)
 * @start: first address
 * @end: end (at most HMM_MIRROR_BATCH_PAGES pages, inside @iv)
 * @flags: HMM_MIRROR_FAULT_* flags, or HMM_MIRROR_FAULT_PRESENT
 * @arg: the driver cookie
 * @pfns: room for HMM_MIRROR_BATCH_PAGES entries
 * @deadline: jiffies after which retrying stops (-EBUSY)
 *
 * Return: 0, HMM_MIRROR_STALE_INTERVAL when @iv was removed meanwhile (take
 * a new one and call again), or a negative errno.
 */
int hmm_mirror_fault_batch(struct hmm_mirror *mirror,
			   struct hmm_mirror_interval *iv,
			   unsigned long start, unsigned long end,
			   unsigned int flags, void *arg, unsigned long *pfns,
			   unsigned long deadline)
{
	struct hmm_range range = {
		.notifier = &iv->notifier,
		.start = start,
		.end = end,
		.hmm_pfns = pfns,
		.dev_private_owner = mirror->owner,
	};
	struct hmm_mirror_batch batch = {
		.start = start, .end = end, .hmm_pfns = pfns,
		.flags = flags & HMM_MIRROR_FAULT_WRITE, .arg = arg,
	};
	unsigned long batch_pages = (end - start) >> PAGE_SHIFT;
	struct mm_struct *mm = mirror->mm;
	unsigned int retries = 0;
	int ret;

	if (!(flags & HMM_MIRROR_FAULT_PRESENT))
		range.default_flags = HMM_PFN_REQ_FAULT |
			((flags & HMM_MIRROR_FAULT_WRITE) ? HMM_PFN_REQ_WRITE : 0);

	for (;;) {
		if (fatal_signal_pending(current)) {
			ret = -EINTR;
			break;
		}
		if (mirror->ops->prepare) {
			ret = mirror->ops->prepare(mirror, start, end, arg);
			if (ret)
				break;
		}
		/* A fresh sequence on every attempt, never a stale one. */
		range.notifier_seq = mmu_interval_read_begin(&iv->notifier);
		mmap_read_lock(mm);
		ret = hmm_mirror_refuse_secret(mm, &range, false);
		if (!ret)
			ret = hmm_mirror_range_fault(mm, &range);
		if (!ret && (flags & HMM_MIRROR_FAULT_WRITE) &&
		    !(flags & HMM_MIRROR_FAULT_PRESENT))
			ret = hmm_mirror_fault_own_readonly(mm, &range);
		/*
		 * A batch that faulted was checked before (mmap_lock held
		 * throughout); only a present-only one drops entries after.
		 */
		if (!ret && !(range.default_flags & HMM_PFN_REQ_FAULT))
			hmm_mirror_refuse_secret(mm, &range, true);
		mmap_read_unlock(mm);
		if (ret == -EBUSY)
			goto retry;
		if (ret)
			break;
		hmm_mirror_debug_delay();

		hmm_mirror_update_lock(mirror);
		if (mirror->dead) {
			ret = -ESRCH;
		} else if (iv->removed) {
			ret = HMM_MIRROR_STALE_INTERVAL;
		} else if (mmu_interval_read_retry(&iv->notifier,
						   range.notifier_seq)) {
			hmm_mirror_update_unlock(mirror, HMM_MIRROR_HOLD_COMMIT);
			goto retry;
		} else {
			ret = hmm_mirror_dma_map(mirror, iv, start, pfns, NULL,
						 batch_pages);
			if (!ret) {
				batch.dma_addrs = hmm_mirror_iv_dma(iv, start);
				ret = mirror->ops->commit(mirror, &batch);
			}
			if (!ret)
				hmm_mirror_mark_mapped(iv, start, pfns, batch_pages,
						       false);
		}
		hmm_mirror_update_unlock(mirror, HMM_MIRROR_HOLD_COMMIT);
		/*
		 * The driver ran out of what ->prepare set aside (a racing
		 * fault of the same mirror used it): prepare and try again.
		 */
		if (ret == -EAGAIN)
			goto retry;
		if (!ret) {
			hmm_mirror_count(mirror, HMM_MIRROR_EV_FAULTS, 1);
			hmm_mirror_count(mirror, HMM_MIRROR_EV_PAGES_FAULTED,
					 batch_pages);
		}
		break;
retry:
		hmm_mirror_count(mirror, HMM_MIRROR_EV_RETRIES, 1);
		retries++;
		if (time_after(jiffies, deadline)) {
			hmm_mirror_count(mirror, HMM_MIRROR_EV_TIMEOUTS, 1);
			ret = -EBUSY;
			break;
		}
		cond_resched();
	}
	trace_hmm_mirror_fault_batch(mirror, start, end,
				     flags & HMM_MIRROR_FAULT_WRITE,
				     flags & HMM_MIRROR_FAULT_PRESENT, retries,
				     ret);
	return ret;
}

static int hmm_mirror_walk(struct hmm_mirror *mirror, unsigned long start,
			   unsigned long end, unsigned int flags, void *arg)
{
	unsigned long *pfns, addr;
	int batches = 0;
	int ret = 0;

	if (!PAGE_ALIGNED(start) || !PAGE_ALIGNED(end) || start >= end)
		return -EINVAL;
	if (!mmget_not_zero(mirror->mm))
		return -ESRCH;
	pfns = kvmalloc_array(HMM_MIRROR_BATCH_PAGES, sizeof(*pfns), GFP_KERNEL);
	if (!pfns) {
		ret = -ENOMEM;
		goto out_mmput;
	}

	for (addr = start; addr < end; ) {
		unsigned long next = hmm_mirror_block_end(mirror, addr, end);
		unsigned long deadline = hmm_mirror_deadline(mirror);
		struct hmm_mirror_interval *iv;

		do {
			iv = hmm_mirror_interval_get(mirror, addr);
			if (IS_ERR(iv)) {
				ret = PTR_ERR(iv);
				break;
			}
			ret = hmm_mirror_fault_batch(mirror, iv, addr, next, flags,
						     arg, pfns, deadline);
			/*
			 * Nothing mapped there (or no memory to say): maybe
			 * nothing in the block (the collector checks for VMAs).
			 */
			if (ret == -EFAULT || ret == -ENOMEM)
				hmm_mirror_interval_gc_mark(iv);
			hmm_mirror_interval_put(iv);
			if (ret == HMM_MIRROR_STALE_INTERVAL &&
			    time_after(jiffies, deadline)) {
				hmm_mirror_count(mirror, HMM_MIRROR_EV_TIMEOUTS, 1);
				ret = -EBUSY;
			}
		} while (ret == HMM_MIRROR_STALE_INTERVAL);
		if (ret)
			break;
		batches++;
		addr = next;
	}

	kvfree(pfns);
out_mmput:
	mmput_async(mirror->mm);
	return ret ? ret : batches;
}

/**
 * hmm_mirror_fault() - map a range into the device
 * @mirror: a registered mirror
 * @start: first address (page aligned)
 * @end: end address (page aligned, exclusive)
 * @flags: HMM_MIRROR_FAULT_* flags
 * @arg: cookie handed to ->prepare and ->commit
 *
 * Faults the range in on the CPU side (hmm_range_fault() under mmap_lock,
 * one batch of up to HMM_MIRROR_BATCH_PAGES pages per aligned interval), then
 * calls ->commit under the update lock once the interval's notifier sequence
 * proves the result is still current.  A batch whose sequence moved is
 * retried with a fresh sequence for up to the mirror's fault_timeout_ms.
 *
 * Context: process context; may sleep; takes mmap_lock for read.
 * Return: the number of batches committed, or -EFAULT (range not mapped, or
 * memfd_secret() memory, which no device may map), -EPERM (write to a
 * read-only mapping), -EBUSY (timed out), -ESRCH (the mm is gone or the
 * mirror was released), -EINTR, -ENOMEM or ->commit's error.
 */
int hmm_mirror_fault(struct hmm_mirror *mirror, unsigned long start,
		     unsigned long end, unsigned int flags, void *arg)
{
	if (flags & ~HMM_MIRROR_FAULT_WRITE)
		return -EINVAL;
	return hmm_mirror_walk(mirror, start, end, flags, arg);
}
EXPORT_SYMBOL_GPL(hmm_mirror_fault);

/* ---- snapshots ------------------------------------------------------- */

/*
 * A snapshot changes nothing, so it needs no persistent interval: one
 * temporary notifier over the whole request only tells hmm_range_fault()
 * that a batch raced an invalidation.  No lock: nothing is committed.
 */
static bool hmm_mirror_snap_invalidate(struct mmu_interval_notifier *mni,
				       const struct mmu_notifier_range *range,
				       unsigned long cur_seq)
{
	mmu_interval_set_seq(mni, cur_seq);
	return true;
}

static const struct mmu_interval_notifier_ops hmm_mirror_snap_ops = {
	.invalidate = hmm_mirror_snap_invalidate,
};

/**
 * hmm_mirror_snapshot_range() - report CPU page-table state, batch by batch
 * @mirror: a registered mirror
 * @start: first address (page aligned)
 * @end: end address (page aligned, exclusive)
 * @owner: device-private pages of this owner are reported as valid
 *	(hmm_range_fault() shows them only to their owner; others see
 *	nothing there), usually @mirror->owner
 * @fn: called with no lock held for each batch of up to
 *	HMM_MIRROR_BATCH_PAGES entries; a nonzero return stops the walk
 * @arg: cookie for @fn
 *
 * Nothing is faulted in.  Entries are 0 where nothing is mapped,
 * HMM_PFN_ERROR where access would fail, else HMM_PFN_VALID with
 * HMM_PFN_WRITE and the mapping order.  A batch that races an invalidation
 * is taken again, for up to the mirror's fault_timeout_ms per batch.
 *
 * Context: process context; may sleep; takes mmap_lock for read.
 * Return: 0, @fn's nonzero return, or -EINVAL, -ESRCH, -ENOMEM, -EBUSY.
 */
int hmm_mirror_snapshot_range(struct hmm_mirror *mirror, unsigned long start,
			      unsigned long end, void *owner,
			      int (*fn)(void *arg, unsigned long addr,
					const unsigned long *pfns,
					unsigned long npages),
			      void *arg)
{
	struct mmu_interval_notifier *mni;
	struct hmm_range range = {
		.dev_private_owner = owner,
	};
	unsigned long addr, deadline, *pfns;
	int ret;

	if (!PAGE_ALIGNED(start) || !PAGE_ALIGNED(end) || start >= end || !fn)
		return -EINVAL;
	if (!mmget_not_zero(mirror->mm))
		return -ESRCH;
	mni = kzalloc(sizeof(*mni), GFP_KERNEL);
	pfns = kvmalloc_array(HMM_MIRROR_BATCH_PAGES, sizeof(*pfns), GFP_KERNEL);
	if (!mni || !pfns) {
		ret = -ENOMEM;
		goto out_free;
	}
	ret = mmu_interval_notifier_insert(mni, mirror->mm, start, end - start,
					   &hmm_mirror_snap_ops);
	if (ret)
		goto out_free;

	range.notifier = mni;
	range.hmm_pfns = pfns;
	deadline = hmm_mirror_deadline(mirror);
	for (addr = start; addr < end && !ret; ) {
		unsigned long next = min(end, addr +
					 (HMM_MIRROR_BATCH_PAGES << PAGE_SHIFT));

		range.start = addr;
		range.end = next;
		range.notifier_seq = mmu_interval_read_begin(mni);
		mmap_read_lock(mirror->mm);
		ret = hmm_range_fault(&range);
		mmap_read_unlock(mirror->mm);
		if (ret == -EBUSY && !time_after(jiffies, deadline)) {
			hmm_mirror_count(mirror, HMM_MIRROR_EV_RETRIES, 1);
			ret = 0;
			cond_resched();
			continue;
		}
		if (ret)
			break;
		hmm_mirror_count(mirror, HMM_MIRROR_EV_SNAPSHOTS, 1);
		ret = fn(arg, addr, pfns, (next - addr) >> PAGE_SHIFT);
		addr = next;
		deadline = hmm_mirror_deadline(mirror);
	}
	mmu_interval_notifier_remove(mni);
out_free:
	kvfree(pfns);
	kfree(mni);
	mmput_async(mirror->mm);
	return ret;
}
EXPORT_SYMBOL_GPL(hmm_mirror_snapshot_range);

struct hmm_mirror_snap_copy {
	unsigned long start;
	unsigned long *out;
};

static int hmm_mirror_snap_copy(void *arg, unsigned long addr,
				const unsigned long *pfns, unsigned long npages)
{
	struct hmm_mirror_snap_copy *c = arg;

	memcpy(c->out + ((addr - c->start) >> PAGE_SHIFT), pfns,
	       npages * sizeof(*pfns));
	return 0;
}

/**
 * hmm_mirror_snapshot_owner() - snapshot as seen by another pagemap owner
 * @mirror: a registered mirror
 * @start: first address (page aligned)
 * @end: end address (page aligned, exclusive)
 * @hmm_pfns: output, one hmm_range_fault() entry per page
 * @owner: device-private pages of this owner are reported as valid
 *
 * A driver with several devices asks once per peer owner to tell "in
 * another device's memory" from "not populated".
 *
 * Context: process context; may sleep; takes mmap_lock for read.
 * Return: 0 or a negative errno.
 */
int hmm_mirror_snapshot_owner(struct hmm_mirror *mirror, unsigned long start,
			      unsigned long end, unsigned long *hmm_pfns,
			      void *owner)
{
	struct hmm_mirror_snap_copy c = { .start = start, .out = hmm_pfns };

	if (!hmm_pfns)
		return -EINVAL;
	return hmm_mirror_snapshot_range(mirror, start, end, owner,
					 hmm_mirror_snap_copy, &c);
}
EXPORT_SYMBOL_GPL(hmm_mirror_snapshot_owner);

/**
 * hmm_mirror_snapshot() - report CPU page-table state into an array
 * @mirror: a registered mirror
 * @start: first address (page aligned)
 * @end: end address (page aligned, exclusive)
 * @hmm_pfns: output, one hmm_range_fault() entry per page
 *
 * hmm_mirror_snapshot_range() with the mirror's own owner, into an array.
 *
 * Context: process context; may sleep; takes mmap_lock for read.
 * Return: 0 or a negative errno.
 */
int hmm_mirror_snapshot(struct hmm_mirror *mirror, unsigned long start,
			unsigned long end, unsigned long *hmm_pfns)
{
	return hmm_mirror_snapshot_owner(mirror, start, end, hmm_pfns,
					 mirror->owner);
}
EXPORT_SYMBOL_GPL(hmm_mirror_snapshot);

/**
 * hmm_mirror_pfn_is_zero() - does an hmm_range_fault() entry map a zero page?
 * @hmm_pfn: a valid entry of a current hmm_pfns array
 *
 * True for the shared 4 KiB zero page and for the huge zero folio.  The
 * latter is not exported on 6.12, so it is recognised as a PMD-sized folio
 * that is neither anonymous nor in a page cache (no mapping).
 *
 * Return: true if the device would read zeros that it must never write.
 */
bool hmm_mirror_pfn_is_zero(unsigned long hmm_pfn)
{
	struct page *page = hmm_pfn_to_page(hmm_pfn);
	struct folio *folio;

	if (is_zero_pfn(page_to_pfn(page)))
		return true;
	if (hmm_pfn_to_map_order(hmm_pfn) != PMD_SHIFT - PAGE_SHIFT)
		return false;
	folio = page_folio(page);
	return folio_order(folio) == PMD_SHIFT - PAGE_SHIFT &&
	       !folio_test_anon(folio) && !READ_ONCE(folio->mapping) &&
	       !is_zone_device_page(page);
}
EXPORT_SYMBOL_GPL(hmm_mirror_pfn_is_zero);
