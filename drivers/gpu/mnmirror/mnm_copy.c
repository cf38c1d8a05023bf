// SPDX-License-Identifier: GPL-2.0
/*
 * mnmirror mock GPU: what the device does with its page table.  It copies
 * between mirrored memory and a user buffer (READ, WRITE and test_hmm's
 * ABI), faulting in through the mirror what it misses, and it describes
 * pages (snapshots of the CPU's view and of its own page table), forgets
 * them (RELEASE) and counts its exclusive grants.
 *
 * Locking: the device reads its page table and copies only under the
 * mirror's update lock, copy_slice pages per hold, so an invalidation that
 * returned has made it forget the pages and one waiting for the lock waits
 * for one slice.
 */
#include <linux/dma-direct.h>
#include <linux/highmem.h>
#include <linux/module.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <uapi/drm/mnmirror_drm.h>

#include "mnm_drv.h"
#include "mnm_trace.h"

/* Passes over the same pages before a device access gives up. */
#define MNM_COPY_ATTEMPTS	16
/* Pages a device fault maps ahead within one request (32 MiB). */
#define MNM_FAULT_AHEAD		8192

/* Validate a user range; -EINVAL for anything a correct caller never sends. */
int mnm_check_range(u64 addr, u64 npages)
{
	if (!npages || npages > MNM_MAX_PAGES || !PAGE_ALIGNED(addr))
		return -EINVAL;
	/*
	 * The device page table translates MNM_VA_BITS bits: an address above
	 * would alias a lower one (5-level paging gives processes more).
	 */
	if (addr + (npages << PAGE_SHIFT) < addr ||
	    addr + (npages << PAGE_SHIFT) > MNM_VA_END ||
	    !access_ok(u64_to_user_ptr(addr), npages << PAGE_SHIFT))
		return -EINVAL;
	return 0;
}

/*
 * Pages copied per update-lock hold: 32 (128 KiB) keeps a hold short enough
 * for the OOM reaper's trylock; 512 copies a whole batch in one hold, as
 * before slicing (for measuring what slicing bought).
 */
static unsigned int copy_slice = 32;
module_param(copy_slice, uint, 0644);
MODULE_PARM_DESC(copy_slice, "Pages the device copies per update-lock hold (1-512, default 32)");

static unsigned long mnm_copy_slice(void)
{
	return clamp_t(unsigned int, READ_ONCE(copy_slice), 1, MNM_COPY_PAGES);
}

/*
 * The page a device entry reaches.  System pages go over the bus: the
 * entry holds the DMA address the layer mapped for this device, which the
 * mock's "bus" turns back into a physical address as a device without an
 * IOMMU would (mnm_main.c refuses a device behind one).  Device-private
 * pages are at their own address.
 */
static struct page *mnm_page_of_pte(struct mnm_ctx *ctx, u64 pte)
{
	phys_addr_t phys = pte & MNM_PTE_ADDR;

	if (!(pte & MNM_PTE_DEVICE))
		phys = dma_to_phys(ctx->mdev->drm.dev, phys);
	return pfn_to_page(PHYS_PFN(phys));
}

/*
 * The user buffer of a chunk: its pinned pages, and where in the first one
 * it starts (a buffer need not be page aligned: then device page i spans
 * the end of pages[i] and the start of pages[i + 1]).
 */
struct mnm_ubuf {
	struct page **pages;
	unsigned int off;
};

/* Copy one page between device memory at @dev and page @i of the buffer. */
static void mnm_copy_user_page(void *dev, const struct mnm_ubuf *ub,
			       unsigned long i, bool to_user)
{
	unsigned int head = PAGE_SIZE - ub->off;
	char *u0 = kmap_local_page(ub->pages[i]);

	/* The buffer is the range itself and the page did not move. */
	if (u0 + ub->off == dev) {
		kunmap_local(u0);
		return;
	}
	if (to_user)
		memcpy(u0 + ub->off, dev, head);
	else
		memcpy(dev, u0 + ub->off, head);
	if (ub->off) {
		char *u1 = kmap_local_page(ub->pages[i + 1]);

		if (to_user)
			memcpy(u1, dev + head, ub->off);
		else
			memcpy(dev + head, u1, ub->off);
		kunmap_local(u1);
	}
	kunmap_local(u0);
}

/*
 * Copy between the user buffer @ub (page 0 of the chunk first) and pages
 * [first, n) of addr through the device page table.  Returns the index of
 * the first page the device cannot access (n when all could).  Called with
 * the update lock held.
 */
static unsigned long mnm_copy_locked(struct mnm_ctx *ctx, unsigned long addr,
				     unsigned long first, unsigned long n,
				     const struct mnm_ubuf *ub, bool write)
{
	unsigned long i;

	hmm_mirror_assert_locked(&ctx->mirror);
	for (i = first; i < n; i++) {
		u64 pte = mnm_pt_lookup(&ctx->pt, addr + (i << PAGE_SHIFT));
		struct page *page;
		void *vaddr;

		if (!(pte & MNM_PTE_VALID) || (write && !(pte & MNM_PTE_WRITE)))
			return i;
		page = mnm_page_of_pte(ctx, pte);
		if (pte & MNM_PTE_DEVICE) {
			/* Device memory: the data lives in the device. */
			vaddr = mnm_devmem_data(page);
			mnm_devmem_touch(ctx->mdev, page);
		} else {
			vaddr = kmap_local_page(page);
		}
		mnm_copy_user_page(vaddr, ub, i, !write);
		if (write) {
			/*
			 * Like a CPU store: reclaim must not drop the page as
			 * clean (MADV_FREE, swap cache).  The entry's notifier
			 * keeps the folio from being truncated meanwhile.
			 */
			if (!(pte & MNM_PTE_DEVICE))
				folio_mark_dirty(page_folio(page));
		}
		if (!(pte & MNM_PTE_DEVICE))
			kunmap_local(vaddr);
	}
	return n;
}

/*
 * A killed process's device access stops, but a GPU may first have to drain
 * work already queued, which keeps using its page table (and keeps the
 * process from exiting).  debug_drain_ms simulates that: keep copying the
 * chunk through the device page table, a slice per update-lock hold, for
 * that long, never faulting.  The OOM tests use it to keep a victim alive
 * with its device busy while the OOM reaper unmaps its memory.
 */
static void mnm_drain(struct mnm_ctx *ctx, unsigned long addr, unsigned long n,
		      const struct mnm_ubuf *ub, bool write)
{
	unsigned long end = jiffies + msecs_to_jiffies(mnm_debug_drain_ms());
	unsigned long first = 0;

	while (time_before(jiffies, end)) {
		unsigned long slice_end = min(n, first + mnm_copy_slice());

		hmm_mirror_lock(&ctx->mirror);
		mnm_copy_locked(ctx, addr, first, slice_end, ub, write);
		hmm_mirror_unlock(&ctx->mirror);
		first = slice_end == n ? 0 : slice_end;
		cond_resched();
	}
}

/*
 * Copy one chunk (at most MNM_COPY_PAGES pages, all pinned) between the
 * device's view of addr and the user pages, faulting what the device
 * misses.  *copied says how far it got.  Returns 0, the number of device
 * faults taken (positive), or a negative errno.
 */
static long mnm_copy_chunk(struct mnm_ctx *ctx, unsigned long addr,
			   unsigned long n, unsigned long fault_end,
			   const struct mnm_ubuf *ub, bool write, bool nofault,
			   unsigned long *copied, unsigned long *calls)
{
	bool placed = false;
	long faults = 0;
	int attempts = 0;
	int ret;

	*copied = 0;
	for (;;) {
		/*
		 * At most copy_slice pages per hold, so that an invalidation
		 * waiting on the lock waits for one slice, not a whole batch.
		 * (The OOM reaper's trylock is let in by the layer's gate, not
		 * by the short window between slices.)
		 */
		unsigned long slice_end = min(n, *copied + mnm_copy_slice());
		bool valid;

		hmm_mirror_lock(&ctx->mirror);
		/*
		 * The layer's cheap check at "job submission", checked against
		 * our own table: what it calls valid, the device must map
		 * (writable, for a write).
		 */
		valid = hmm_mirror_range_valid(&ctx->mirror,
					       addr + (*copied << PAGE_SHIFT),
					       addr + (slice_end << PAGE_SHIFT),
					       write ? HMM_MIRROR_FAULT_WRITE : 0);
		*copied = mnm_copy_locked(ctx, addr, *copied, slice_end, ub,
					  write);
		WARN_ON_ONCE(valid && *copied != slice_end);
		hmm_mirror_unlock(&ctx->mirror);
		if (fatal_signal_pending(current))
			goto killed;
		if (*copied == n)
			return faults;
		if (*copied == slice_end) {
			cond_resched();
			continue;
		}
		if (nofault)
			return -ENOENT;
		if (++attempts > MNM_COPY_ATTEMPTS)
			return -EBUSY;
		/* Advised to live in device memory: moved there first, once. */
		if (!placed) {
			placed = true;
			if (mnm_ctx_place(ctx, addr + (*copied << PAGE_SHIFT),
					  fault_end))
				continue;
		}
		/*
		 * The device faults what it misses, and what follows up to
		 * fault_end in the same call, so later chunks find their
		 * entries.
		 */
		ret = hmm_mirror_fault(&ctx->mirror, addr + (*copied << PAGE_SHIFT),
				       fault_end, write ? HMM_MIRROR_FAULT_WRITE : 0,
				       ctx);
		/*
		 * Killed while faulting, whatever the fault said (a dying
		 * task's fault may also fail for want of memory): drain like
		 * the copy loop.
		 */
		if (ret < 0 && fatal_signal_pending(current))
			goto killed;
		if (ret < 0)
			return ret;
		faults += ret;
		if (calls)
			(*calls)++;
	}
killed:
	mnm_drain(ctx, addr, n, ub, write);
	return -EINTR;
}

/**
 * mnm_ctx_rw() - the device copies between a mirrored range and a user buffer
 * @ctx: the file context (its mm is current's, checked by the caller)
 * @args: the request; cpages and faults are filled in
 * @write: user buffer -> memory instead of memory -> user buffer
 * @nofault: fail with -ENOENT at the first page the device does not map
 *	instead of faulting it in (what test_hmm's ABI reports after
 *	migrations and exclusive grants)
 * @calls: out, optional: hmm_mirror_fault() calls made
 *
 * Copies once: each chunk of the user buffer is pinned (pin_user_pages_fast(),
 * writable for a read) and the device copies page to page between it and
 * what its page table maps, under the update lock, copy_slice pages per
 * hold.  The buffer may be the mirrored range itself, but must not overlap
 * it otherwise (-EINVAL): the copy would depend on its order.
 *
 * Return: 0 or a negative errno (-EINTR when the process was killed);
 * @args->cpages tells how far it got: after a failed write, the device wrote
 * exactly the first cpages pages (the copy goes in address order and stops
 * at the first page it does not map), except when a killed process's
 * drain wrote on.  A failed read counts whole chunks only (the buffer past
 * them may have been written).
 */
int mnm_ctx_rw(struct mnm_ctx *ctx, struct drm_mnm_rw *args, bool write,
	       bool nofault, unsigned long *calls)
{
	unsigned long len, done = 0, copied = 0;
	struct mnm_ubuf ub;
	long ret = 0;

	ret = mnm_check_range(args->addr, args->npages);
	if (ret)
		return ret;
	len = args->npages << PAGE_SHIFT;
	if (!args->ptr || !access_ok(u64_to_user_ptr(args->ptr), len))
		return -EFAULT;
	/* The buffer may be the range itself (each page onto itself). */
	if (args->ptr != args->addr &&
	    args->ptr < args->addr + len && args->addr < args->ptr + len)
		return -EINVAL;
	args->cpages = 0;
	args->faults = 0;

	/*
	 * Not charged to the memory cgroup: it lives for this call only, and
	 * a process at its limit must still be able to drain its device work
	 * when it is killed.  One more page for an unaligned buffer.
	 */
	ub.off = offset_in_page(args->ptr);
	ub.pages = kvmalloc_array(MNM_COPY_PAGES + 1, sizeof(*ub.pages),
				  GFP_KERNEL);
	if (!ub.pages)
		return -ENOMEM;

	while (done < args->npages) {
		unsigned long n = min_t(u64, args->npages - done, MNM_COPY_PAGES);
		unsigned long addr = args->addr + (done << PAGE_SHIFT);
		unsigned long fault_end = args->addr +
			(min_t(u64, args->npages, done + max_t(u64, n, MNM_FAULT_AHEAD))
			 << PAGE_SHIFT);
		unsigned int extra = ub.off ? 1 : 0;
		int pinned;

		/*
		 * A short pin copies what it covers; the next round fails at
		 * the page it could not pin.
		 */
		pinned = pin_user_pages_fast(args->ptr + (done << PAGE_SHIFT),
					     n + extra, write ? 0 : FOLL_WRITE,
					     ub.pages);
		if (pinned <= (int)extra) {
			if (pinned > 0)
				unpin_user_pages(ub.pages, pinned);
			ret = pinned < 0 ? pinned : -EFAULT;
			copied = 0;
			break;
		}
		n = min_t(unsigned long, n, pinned - extra);
		ret = mnm_copy_chunk(ctx, addr, n, fault_end, &ub, write,
				     nofault, &copied, calls);
		unpin_user_pages_dirty_lock(ub.pages, pinned, !write);
		trace_mnm_copy(ctx->mdev->index,
			       write ? MNM_COPY_WRITE : MNM_COPY_READ, addr,
			       ret < 0 ? copied : n, ret < 0 ? 0 : ret,
			       ret < 0 ? ret : 0);
		if (ret < 0)
			break;
		args->faults += ret;
		done += n;
		copied = 0;
		args->cpages = done;
	}
	if (ret == -ENOENT || (ret < 0 && write))
		args->cpages = done + copied;
	kvfree(ub.pages);
	return ret < 0 ? ret : 0;
}

u8 mnm_prot_of_hmm(struct mnm_ctx *ctx, unsigned long hmm_pfn)
{
	struct page *page;
	unsigned int order;
	u8 prot;

	if (hmm_pfn & HMM_PFN_ERROR)
		return MNM_PROT_ERROR;
	if (!(hmm_pfn & HMM_PFN_VALID))
		return MNM_PROT_NONE;
	page = hmm_pfn_to_page(hmm_pfn);
	prot = (hmm_pfn & HMM_PFN_WRITE) ? MNM_PROT_WRITE : MNM_PROT_READ;
	if (hmm_mirror_pfn_is_zero(hmm_pfn))
		prot |= MNM_PROT_ZERO;
	else if (is_device_private_page(page))
		prot |= page->pgmap->owner == ctx->mdev ?
			MNM_PROT_DEV_PRIVATE_LOCAL : MNM_PROT_DEV_PRIVATE_REMOTE;
	order = hmm_pfn_to_map_order(hmm_pfn);
	if (order == PUD_SHIFT - PAGE_SHIFT)
		prot |= MNM_PROT_PUD;
	else if (order == PMD_SHIFT - PAGE_SHIFT)
		prot |= MNM_PROT_PMD;
	return prot;
}

static u8 mnm_prot_of_pte(u64 pte)
{
	u8 prot;

	if (!(pte & MNM_PTE_VALID))
		return MNM_PROT_NONE;
	prot = (pte & MNM_PTE_WRITE) ? MNM_PROT_WRITE : MNM_PROT_READ;
	if (pte & MNM_PTE_HUGE)
		prot |= MNM_PROT_PMD;
	if (pte & MNM_PTE_ZERO)
		prot |= MNM_PROT_ZERO;
	if (pte & MNM_PTE_DEVICE)
		prot |= MNM_PROT_DEV_PRIVATE_LOCAL;
	if (pte & MNM_PTE_EXCLUSIVE)
		prot |= MNM_PROT_EXCLUSIVE;
	return prot;
}

static bool mnm_prot_is_local(u8 prot)
{
	return prot != MNM_PROT_ERROR &&
	       (prot & MNM_PROT_DEV_PRIVATE_REMOTE) == MNM_PROT_DEV_PRIVATE_LOCAL;
}

struct mnm_snap {
	struct mnm_ctx *ctx;
	u8 __user *uptr;
	unsigned long start;
	bool compat;
	u8 prot[HMM_MIRROR_BATCH_PAGES];
	unsigned long peer[HMM_MIRROR_BATCH_PAGES];
};

/*
 * One batch of a CPU snapshot.  hmm_range_fault() shows device-private
 * pages only to their owner and device-exclusive entries to no one, so the
 * native ABI asks again about empty entries: of each peer device, and of our
 * own page table (exclusive grants).  test_hmm's ABI (compat) does not.
 */
static int mnm_snap_batch(void *arg, unsigned long addr,
			  const unsigned long *pfns, unsigned long n)
{
	struct mnm_snap *sn = arg;
	struct mnm_ctx *ctx = sn->ctx;
	unsigned long end = addr + (n << PAGE_SHIFT), i;
	bool holes = false, local = false;
	unsigned int d;
	int ret;

	for (i = 0; i < n; i++) {
		sn->prot[i] = mnm_prot_of_hmm(ctx, pfns[i]);
		holes |= sn->prot[i] == MNM_PROT_NONE;
		local |= mnm_prot_is_local(sn->prot[i]);
	}
	for (d = 0; d < MNM_MAX_DEVICES; d++) {
		struct mnm_device *peer = mnm_devices[d];

		if (!holes || sn->compat || !MNM_HAVE_DEVMEM)
			break;
		if (!peer || peer == ctx->mdev)
			continue;
		ret = hmm_mirror_snapshot_owner(&ctx->mirror, addr, end,
						sn->peer, peer);
		if (ret < 0)
			return ret;
		for (i = 0; i < n; i++)
			if (sn->prot[i] == MNM_PROT_NONE &&
			    (sn->peer[i] & HMM_PFN_VALID))
				sn->prot[i] = mnm_prot_of_hmm(ctx, sn->peer[i]);
	}
	/*
	 * Our own page table tells the rest: exclusive grants (native ABI;
	 * the device view shows them anyway) and, for test_hmm's ABI, which
	 * has no device view, which of our device pages form a device 2 MiB
	 * page (reported as PMD, as newer test_hmm does; the CPU maps them
	 * with PTEs on this kernel, and the native CPU view says so).
	 */
	if ((holes && !sn->compat) || (local && sn->compat)) {
		hmm_mirror_lock(&ctx->mirror);
		for (i = 0; i < n; i++) {
			u64 pte = mnm_pt_lookup(&ctx->pt, addr + (i << PAGE_SHIFT));

			if (sn->prot[i] == MNM_PROT_NONE && !sn->compat &&
			    (pte & MNM_PTE_EXCLUSIVE))
				sn->prot[i] = MNM_PROT_EXCLUSIVE | MNM_PROT_WRITE;
			else if (sn->compat && mnm_prot_is_local(sn->prot[i]) &&
				 (pte & (MNM_PTE_HUGE | MNM_PTE_DEVICE)) ==
				 (MNM_PTE_HUGE | MNM_PTE_DEVICE))
				sn->prot[i] |= MNM_PROT_PMD;
		}
		hmm_mirror_unlock(&ctx->mirror);
	}
	if (copy_to_user(sn->uptr + ((addr - sn->start) >> PAGE_SHIFT),
			 sn->prot, n))
		return -EFAULT;
	return 0;
}

/**
 * mnm_snapshot_user() - CPU snapshot of a range into a user byte array
 * @ctx: the file context
 * @addr: first address
 * @npages: pages
 * @uptr: one MNM_PROT_* byte per page
 * @compat: with test_hmm's semantics (no peer or exclusive lookups)
 *
 * Return: 0 or a negative errno.
 */
int mnm_snapshot_user(struct mnm_ctx *ctx, unsigned long addr,
		      unsigned long npages, u8 __user *uptr, bool compat)
{
	struct mnm_snap *sn = kvzalloc(sizeof(*sn), GFP_KERNEL);
	int ret;

	if (!sn)
		return -ENOMEM;
	sn->ctx = ctx;
	sn->uptr = uptr;
	sn->start = addr;
	sn->compat = compat;
	ret = hmm_mirror_snapshot_range(&ctx->mirror, addr,
					addr + (npages << PAGE_SHIFT),
					ctx->mirror.owner, mnm_snap_batch, sn);
	kvfree(sn);
	return ret;
}

/**
 * mnm_snapshot_device() - the device's own page table into a user byte array
 * @ctx: the file context
 * @start: first address
 * @npages: pages
 * @uptr: one MNM_PROT_* byte per page
 *
 * Return: 0 or a negative errno.
 */
int mnm_snapshot_device(struct mnm_ctx *ctx, unsigned long start,
			unsigned long npages, u8 __user *uptr)
{
	unsigned long done, i;
	u8 *prot = kmalloc(MNM_COPY_PAGES, GFP_KERNEL);
	int ret = 0;

	if (!prot)
		return -ENOMEM;
	for (done = 0; done < npages && !ret; done += MNM_COPY_PAGES) {
		unsigned long n = min(npages - done, (unsigned long)MNM_COPY_PAGES);
		unsigned long addr = start + (done << PAGE_SHIFT);

		hmm_mirror_lock(&ctx->mirror);
		for (i = 0; i < n; i++) {
			u64 pte = mnm_pt_lookup(&ctx->pt, addr + (i << PAGE_SHIFT));

			prot[i] = mnm_prot_of_pte(pte);
		}
		hmm_mirror_unlock(&ctx->mirror);
		if (copy_to_user(uptr + done, prot, n))
			ret = -EFAULT;
	}
	kfree(prot);
	return ret;
}

/**
 * mnm_ctx_zap() - the device forgets [start, end) (RELEASE)
 * @ctx: the file context
 * @start: first address
 * @end: end address (exclusive)
 *
 * Up to 4 GiB: one mirrored block per update-lock hold.
 */
void mnm_ctx_zap(struct mnm_ctx *ctx, unsigned long start, unsigned long end)
{
	/* Through the layer: our ->invalidate zaps, and the DMA goes too. */
	hmm_mirror_zap(&ctx->mirror, start, end);
}

/**
 * mnm_ctx_count_exclusive() - pages of a range the device holds exclusively
 * @ctx: the file context
 * @addr: first address
 * @npages: pages
 * @first_only: stop at the first such page (the answer is then 0 or 1)
 *
 * Looks up one batch per update-lock hold.
 * Return: how many pages have an exclusive (atomic) grant.
 */
unsigned long mnm_ctx_count_exclusive(struct mnm_ctx *ctx, unsigned long addr,
				      unsigned long npages, bool first_only)
{
	unsigned long i = 0, n = 0;

	while (i < npages && !(first_only && n)) {
		unsigned long end = min(npages, i + MNM_COPY_PAGES);

		hmm_mirror_lock(&ctx->mirror);
		for (; i < end && !(first_only && n); i++)
			n += !!(mnm_pt_lookup(&ctx->pt, addr + (i << PAGE_SHIFT)) &
				MNM_PTE_EXCLUSIVE);
		hmm_mirror_unlock(&ctx->mirror);
		cond_resched();
	}
	return n;
}
