// SPDX-License-Identifier: GPL-2.0
/*
 * mnmirror mock GPU: the per-file context.  A context is bound to the
 * opener's mm for its whole life; it owns a device page table (mnm_pt.c)
 * and a mirror of the mm, whose callbacks below keep the one in step with
 * the other.  Also here: migration on the context's behalf and mmap of the
 * device file.
 *
 * Locking:
 *  - ctx->mirror's update lock protects ctx->pt (see mnm_pt.c); every
 *    callback that changes it runs under that lock, so an invalidation that
 *    returned has made the device forget the pages.
 *  - mdev->ctx_lock protects mdev->ctxs.
 *  DRM guarantees no ioctl runs on a file once ->postclose is called.
 */
#include <linux/debugfs.h>
#include <linux/error-injection.h>
#include <linux/mm.h>
#include <linux/moduleparam.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>

#include "mnm_drv.h"

/* Largest mmap of the device file. */
#define MNM_MMAP_MAX		SZ_64M

static atomic_t mnm_ctx_ids = ATOMIC_INIT(0);

/*
 * The block size each file's mirror tracks and faults; the layer checks it
 * (a power of two from 64 to 2048).  2 MiB device entries need 2048.
 */
static unsigned int mnm_granule_kb = 2048;
module_param_named(granule_kb, mnm_granule_kb, uint, 0444);
MODULE_PARM_DESC(granule_kb, "Mirror granule of every file in KiB (64-2048, default 2048)");

/* ---- mirror callbacks ----------------------------------------------- */

static struct mnm_ctx *mnm_ctx_of(struct hmm_mirror *mirror)
{
	return container_of(mirror, struct mnm_ctx, mirror);
}

static bool mnm_mirror_invalidate(struct hmm_mirror *mirror,
				  const struct mmu_notifier_range *range,
				  unsigned long start, unsigned long end)
{
	struct mnm_ctx *ctx = mnm_ctx_of(mirror);

	hmm_mirror_assert_locked(mirror);
	/* The layer promises no callback after ->release. */
	WARN_ON_ONCE(ctx->released);
	/*
	 * The mock's TLB is flushed at once.  A test hook plays a device
	 * whose flush is still pending when the range is non-blockable.
	 */
	if (range && !mmu_notifier_range_blockable(range) &&
	    mnm_should_refuse_invalidate())
		return false;
	mnm_pt_zap(&ctx->pt, start, end);
	return true;
}

static void mnm_mirror_release(struct hmm_mirror *mirror,
			       enum hmm_mirror_release_reason reason)
{
	struct mnm_ctx *ctx = mnm_ctx_of(mirror);

	/* A test hook plays a GPU that waits for idle here. */
	mnm_debug_release_hold();
	hmm_mirror_lock(mirror);
	WARN_ON_ONCE(ctx->released);
	ctx->released = true;
	mnm_pt_zap(&ctx->pt, 0, TASK_SIZE_MAX);
	hmm_mirror_unlock(mirror);
	mnm_debug_ctx_released(ctx, reason == HMM_MIRROR_RELEASE_EXIT);
}

static int mnm_mirror_prepare(struct hmm_mirror *mirror, unsigned long start,
			      unsigned long end, void *arg)
{
	return mnm_pt_reserve(&mnm_ctx_of(mirror)->pt, MNM_PT_BATCH_TABLES);
}

/*
 * The device entry for one page: system pages through the DMA address the
 * layer mapped for our device (as a real GPU's would), our own
 * device-private pages by their address in device memory.
 */
static u64 mnm_pte_of(unsigned long hmm_pfn, dma_addr_t dma)
{
	struct page *page = hmm_pfn_to_page(hmm_pfn);
	u64 pte = MNM_PTE_VALID;

	if (hmm_pfn & HMM_PFN_WRITE)
		pte |= MNM_PTE_WRITE;
	/* hmm_range_fault() returns only our own device-private pages. */
	if (is_device_private_page(page))
		return pte | MNM_PTE_DEVICE | PFN_PHYS(page_to_pfn(page));
	if (hmm_mirror_pfn_is_zero(hmm_pfn))
		pte |= MNM_PTE_ZERO;
	return pte | dma;
}

/*
 * 512 entries that one 2 MiB device entry can map: with the same
 * permissions, and contiguous and aligned where the device reaches them.
 * That is a CPU PMD mapping of system memory (contiguous on the device's
 * bus too), or a device 2 MiB page of our own memory, which the CPU maps
 * with 512 device-private PTEs on this kernel.
 */
static bool mnm_pfns_huge(const unsigned long *pfns, const dma_addr_t *dma)
{
	unsigned long first = pfns[0];
	struct page *page = hmm_pfn_to_page(first);
	bool device = is_device_private_page(page);
	int i;

	if (!IS_ALIGNED(page_to_pfn(page), MNM_PT_ENTRIES))
		return false;
	if (!device && (hmm_pfn_to_map_order(first) != PMD_SHIFT - PAGE_SHIFT ||
			!IS_ALIGNED(dma[0], PMD_SIZE)))
		return false;
	for (i = 1; i < MNM_PT_ENTRIES; i++)
		if (pfns[i] != first + i ||
		    (!device && dma[i] != dma[0] + i * PAGE_SIZE))
			return false;
	/* Our device pages: the layer hands over only its owner's. */
	return !device ||
	       is_device_private_page(hmm_pfn_to_page(pfns[MNM_PT_ENTRIES - 1]));
}

static noinline int mnm_mirror_commit(struct hmm_mirror *mirror,
				      const struct hmm_mirror_batch *batch)
{
	struct mnm_ctx *ctx = mnm_ctx_of(mirror);
	unsigned long n = (batch->end - batch->start) >> PAGE_SHIFT;
	unsigned long i = 0;
	int ret;

	hmm_mirror_assert_locked(mirror);
	WARN_ON_ONCE(ctx->released);
	if (mnm_should_fail_commit())
		return -ENOMEM;
	while (i < n) {
		unsigned long addr = batch->start + (i << PAGE_SHIFT);
		unsigned long pfn = batch->hmm_pfns[i];
		dma_addr_t dma = batch->dma_addrs[i];

		if (!(pfn & HMM_PFN_VALID) || (pfn & HMM_PFN_ERROR) ||
		    (dma == DMA_MAPPING_ERROR &&
		     !is_device_private_page(hmm_pfn_to_page(pfn)))) {
			i++;
			continue;
		}
		if (IS_ALIGNED(addr, PMD_SIZE) && n - i >= MNM_PT_ENTRIES &&
		    mnm_pfns_huge(&batch->hmm_pfns[i], &batch->dma_addrs[i])) {
			ret = mnm_pt_map_huge(&ctx->pt, addr, mnm_pte_of(pfn, dma));
			i += MNM_PT_ENTRIES;
		} else {
			ret = mnm_pt_map(&ctx->pt, addr, mnm_pte_of(pfn, dma));
			i++;
		}
		if (ret)
			return ret;
	}
	return 0;
}

/* For BPF and fail_function: a commit that fails (-ENOMEM, -EAGAIN). */
ALLOW_ERROR_INJECTION(mnm_mirror_commit, ERRNO);

static int mnm_exclusive_commit(struct hmm_mirror *mirror, unsigned long start,
				struct page **pages, const dma_addr_t *dma,
				unsigned long npages)
{
	struct mnm_ctx *ctx = mnm_ctx_of(mirror);
	unsigned long i;
	int ret;

	hmm_mirror_assert_locked(mirror);
	WARN_ON_ONCE(ctx->released);
	for (i = 0; i < npages; i++) {
		ret = mnm_pt_map(&ctx->pt, start + (i << PAGE_SHIFT),
				 dma[i] | MNM_PTE_VALID | MNM_PTE_WRITE |
				 MNM_PTE_EXCLUSIVE);
		if (ret)
			return ret;
	}
	return 0;
}

static const struct hmm_mirror_ops mnm_mirror_ops = {
	.invalidate = mnm_mirror_invalidate,
	.release = mnm_mirror_release,
	.prepare = mnm_mirror_prepare,
	.commit = mnm_mirror_commit,
	.migrate_alloc_copy = mnm_devmem_alloc_copy,
	.exclusive_commit = mnm_exclusive_commit,
};

/**
 * mnm_ctx_migrate() - migrate a range for a file context and count it
 * @ctx: the file context
 * @start: first address
 * @end: end address (exclusive)
 * @flags: HMM_MIRROR_MIGRATE_* flags; moving to the device also maps the
 *	range (HMM_MIRROR_MIGRATE_MAP), as a GPU that prefetches would
 * @res: out: where every page went
 *
 * Return: hmm_mirror_migrate()'s.
 */
int mnm_ctx_migrate(struct mnm_ctx *ctx, unsigned long start,
		    unsigned long end, unsigned int flags,
		    struct hmm_mirror_migrate_result *res)
{
	struct mnm_devmem *dm = &ctx->mdev->devmem;
	unsigned long reserved = 0;
	int ret;

	if (flags & HMM_MIRROR_MIGRATE_TO_DEVICE) {
		flags |= HMM_MIRROR_MIGRATE_MAP;
		reserved = mnm_devmem_reserve(ctx->mdev,
					      (end - start) >> PAGE_SHIFT);
	}
	ret = hmm_mirror_migrate(&ctx->mirror, start, end, flags, ctx, res);
	mnm_devmem_unreserve(ctx->mdev, reserved);
	if (flags & HMM_MIRROR_MIGRATE_TO_DEVICE) {
		atomic64_add(res->migrated, &ctx->migrated_to_device);
		atomic64_add(res->migrated, &dm->migrated_to_device);
	} else {
		atomic64_add(res->migrated, &ctx->migrated_to_system);
		atomic64_add(res->migrated, &dm->migrated_to_system);
	}
	return ret;
}

/**
 * mnm_ctx_place() - honour placement advice before a device fault
 * @ctx: the file context
 * @start: the first address the device misses
 * @end: the end of what it is about to fault
 *
 * Where the advice at @start prefers the device (and the range is not
 * read-mostly), migrate the advised part of [start, end) into device memory
 * and map it, instead of mapping system memory.
 *
 * Return: true if it moved any page (the caller copies again before it
 * faults what is left).
 */
bool mnm_ctx_place(struct mnm_ctx *ctx, unsigned long start, unsigned long end)
{
	struct hmm_mirror_migrate_result res;
	unsigned long advice, stop;

	if (!MNM_HAVE_DEVMEM)
		return false;
	advice = hmm_mirror_get_attr(&ctx->mirror, start, &stop);
	if ((advice & MNM_ADV_LOCATION) != MNM_MIGRATE_TO_DEVICE ||
	    (advice & MNM_ADV_READ_MOSTLY))
		return false;
	if (mnm_ctx_migrate(ctx, start, min(end, stop),
			    HMM_MIRROR_MIGRATE_TO_DEVICE |
			    HMM_MIRROR_MIGRATE_FROM_PEERS, &res))
		return false;
	return res.migrated;
}

/* ---- open / close --------------------------------------------------- */

/**
 * mnm_ctx_create() - a device context bound to current's mm
 * @mdev: the device
 *
 * Return: the context or an ERR_PTR.
 */
struct mnm_ctx *mnm_ctx_create(struct mnm_device *mdev)
{
	struct mnm_ctx *ctx;
	char name[32];
	int ret;

	if (!current->mm)
		return ERR_PTR(-EINVAL);
	ctx = kzalloc(sizeof(*ctx), GFP_KERNEL);
	if (!ctx)
		return ERR_PTR(-ENOMEM);
	ctx->mdev = mdev;
	ctx->id = atomic_inc_return(&mnm_ctx_ids);
	ret = mnm_pt_init(&ctx->pt, &mdev->pt_pages, &mdev->mapped_pages);
	if (ret)
		goto err_free;
	ctx->mirror.ops = &mnm_mirror_ops;
	ctx->mirror.owner = mdev;
	ctx->mirror.dma_dev = mdev->drm.dev;
	ctx->mirror.granule = (unsigned long)mnm_granule_kb * SZ_1K;
	ctx->mirror.parent = &mdev->counters;
	ret = hmm_mirror_register(&ctx->mirror, current->mm);
	if (ret)
		goto err_pt;
	ret = mnm_debug_ctx_open(ctx);
	if (ret)
		goto err_unregister;
	snprintf(name, sizeof(name), "ctx%u", ctx->id);
	hmm_mirror_debugfs_create(&ctx->mirror, mdev->debugfs, name);
	mutex_lock(&mdev->ctx_lock);
	list_add_tail(&ctx->link, &mdev->ctxs);
	mutex_unlock(&mdev->ctx_lock);
	return ctx;

err_unregister:
	hmm_mirror_unregister(&ctx->mirror);
err_pt:
	mnm_pt_fini(&ctx->pt);
err_free:
	kfree(ctx);
	return ERR_PTR(ret);
}

/**
 * mnm_ctx_destroy() - unregister and free a context
 * @ctx: the context; no ioctl may run on it any more
 */
void mnm_ctx_destroy(struct mnm_ctx *ctx)
{
	mutex_lock(&ctx->mdev->ctx_lock);
	list_del(&ctx->link);
	mutex_unlock(&ctx->mdev->ctx_lock);
	mnm_debug_ctx_close(ctx);
	hmm_mirror_unregister(&ctx->mirror);
	mnm_pt_fini(&ctx->pt);
	mnm_debug_ctx_closed(ctx);
	kfree(ctx);
}

/*
 * mmap of the device file: zeroed kernel pages inserted one by one
 * (VM_MIXEDMAP), the kind of mapping upstream test_hmm offers so that mirrors
 * of driver-inserted pages can be tested.  The mapping owns the pages.
 */
int mnm_mmap(struct file *filp, struct vm_area_struct *vma)
{
	unsigned long addr;
	int ret;

	if (vma->vm_end - vma->vm_start > MNM_MMAP_MAX)
		return -EINVAL;
	for (addr = vma->vm_start; addr < vma->vm_end; addr += PAGE_SIZE) {
		/* Charged to the mapping task's memory cgroup. */
		struct page *page;

		if (fatal_signal_pending(current))
			return -EINTR;
		page = alloc_page(GFP_KERNEL_ACCOUNT | __GFP_ZERO);
		if (!page)
			return -ENOMEM;
		ret = vm_insert_page(vma, addr, page);
		put_page(page);
		if (ret)
			return ret;
	}
	return 0;
}
