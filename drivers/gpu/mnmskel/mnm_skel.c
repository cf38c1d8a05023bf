// SPDX-License-Identifier: GPL-2.0
/*
 * mnmskel: the smallest driver that mirrors a process address space with
 * hmm_mirror, to copy when porting a driver (drivers/gpu/mnmirror is the
 * full mock).  A DRM render node on one platform device; each open file
 * mirrors the opener's mm into a device page table, an xarray of
 * xa_mk_value(dma_addr | SKEL_PTE_*) indexed by virtual page number.  The
 * device reaches memory only through the DMA addresses the layer mapped,
 * like a bus master without an IOMMU.  Ioctls: GET_INFO, READ, WRITE and
 * SNAPSHOT of include/uapi/drm/mnmirror_drm.h.
 *
 * Locking: the mirror's update lock protects the page table.  The layer
 * holds it around ->invalidate and ->commit; the device takes it
 * (hmm_mirror_lock()) to look entries up and use their pages, so a page
 * ->invalidate erased is out of reach.  Reclaim invalidates: nothing under
 * the lock allocates with reclaim (->prepare reserves slots with no lock
 * held, ->commit stores with GFP_NOWAIT; the xarray's spinlock orders the
 * two).  The OOM reaper only trylocks it: hold it for SKEL_SLICE pages of
 * copying or HMM_MIRROR_BATCH_PAGES lookups at most.
 */
#include <drm/drm_drv.h>
#include <drm/drm_file.h>
#include <drm/drm_ioctl.h>
#include <linux/dma-direct.h>
#include <linux/highmem.h>
#include <linux/hmm_mirror.h>
#include <linux/module.h>
#include <linux/platform_device.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/swiotlb.h>
#include <linux/xarray.h>
#include <uapi/drm/mnmirror_drm.h>

#define SKEL_PTE_VALID	BIT(0)	/* a device entry: dma_addr | SKEL_PTE_* */
#define SKEL_PTE_WRITE	BIT(1)
#define SKEL_PTE_ZERO	BIT(2)	/* the zero page, never writable */
#define SKEL_SLICE	32	/* pages copied per update-lock hold */
#define SKEL_ATTEMPTS	16	/* faults per slice before -EBUSY */

struct skel_ctx {
	struct hmm_mirror mirror;
	struct xarray pt;		/* the device page table */
	atomic64_t tlb_flushes;		/* the simulated TLB */
	bool released;			/* set under the update lock */
};

static struct skel_ctx *to_ctx(struct hmm_mirror *mirror)
{
	return container_of(mirror, struct skel_ctx, mirror);
}

static u64 skel_pte(struct skel_ctx *ctx, unsigned long addr)
{
	void *entry = xa_load(&ctx->pt, addr >> PAGE_SHIFT);

	return xa_is_value(entry) ? xa_to_value(entry) : 0;
}

static bool skel_invalidate(struct hmm_mirror *mirror,
			    const struct mmu_notifier_range *range,
			    unsigned long start, unsigned long end)
{
	struct skel_ctx *ctx = to_ctx(mirror);
	XA_STATE(xas, &ctx->pt, start >> PAGE_SHIFT);
	void *entry;

	hmm_mirror_assert_locked(mirror);
	xas_lock(&xas);		/* erase entries and reservations: no alloc */
	xas_for_each(&xas, entry, (end - 1) >> PAGE_SHIFT)
		xas_store(&xas, NULL);
	xas_unlock(&xas);
	/*
	 * A real GPU now flushes its TLB and waits for the flush's fence.  If
	 * (range && !mmu_notifier_range_blockable(range)), the OOM reaper, it
	 * must not sleep: it polls the fence and, while the flush runs,
	 * returns false (refused; the reaper calls again and the erase above
	 * is then a no-op).  Other calls wait and return true.
	 */
	atomic64_inc(&ctx->tlb_flushes);
	return true;
}

static void skel_release(struct hmm_mirror *mirror,
			 enum hmm_mirror_release_reason reason)
{
	struct skel_ctx *ctx = to_ctx(mirror);

	hmm_mirror_lock(mirror);
	xa_destroy(&ctx->pt);
	WRITE_ONCE(ctx->released, true);	/* memory ioctls: -ESRCH */
	hmm_mirror_unlock(mirror);
}

static int skel_prepare(struct hmm_mirror *mirror, unsigned long start,
			unsigned long end, void *arg)
{
	unsigned long idx;
	int ret;

	for (idx = start >> PAGE_SHIFT; idx < end >> PAGE_SHIFT; idx++) {
		ret = xa_reserve(&to_ctx(mirror)->pt, idx, GFP_KERNEL);
		if (ret)
			return ret;
	}
	return 0;
}

static int skel_commit(struct hmm_mirror *mirror,
		       const struct hmm_mirror_batch *batch)
{
	unsigned long i, n = (batch->end - batch->start) >> PAGE_SHIFT;
	void *old;

	hmm_mirror_assert_locked(mirror);
	for (i = 0; i < n; i++) {
		unsigned long pfn = batch->hmm_pfns[i];
		/* dma_addrs is there because we set a dma_dev. */
		u64 pte = batch->dma_addrs[i] | SKEL_PTE_VALID;

		if (!(pfn & HMM_PFN_VALID) || (pfn & HMM_PFN_ERROR) ||
		    batch->dma_addrs[i] == DMA_MAPPING_ERROR)
			continue;
		if (hmm_mirror_pfn_is_zero(pfn))
			pte |= SKEL_PTE_ZERO;
		else if (pfn & HMM_PFN_WRITE)
			pte |= SKEL_PTE_WRITE;
		old = xa_store(&to_ctx(mirror)->pt, (batch->start >> PAGE_SHIFT) + i,
			       xa_mk_value(pte), GFP_NOWAIT | __GFP_NOWARN);
		if (xa_is_err(old))	/* an invalidation took the reservation */
			return -EAGAIN;	/* the layer calls ->prepare again */
	}
	return 0;
}

static const struct hmm_mirror_ops skel_mirror_ops = {
	.invalidate = skel_invalidate,
	.release = skel_release,
	.prepare = skel_prepare,
	.commit = skel_commit,
};

/* The device at work: copy @n pages at @addr, false at a missing entry. */
static bool skel_copy_locked(struct skel_ctx *ctx, unsigned long addr,
			     unsigned long n, char *buf, bool write)
{
	for (; n--; addr += PAGE_SIZE, buf += PAGE_SIZE) {
		u64 pte = skel_pte(ctx, addr);
		struct page *page;
		void *vaddr;

		if (!(pte & SKEL_PTE_VALID) || (write && !(pte & SKEL_PTE_WRITE)))
			return false;
		/*
		 * The mock bus: DMA address -> physical address -> the page.
		 * A real device just uses the address; do not copy this.
		 */
		page = pfn_to_page(PHYS_PFN(dma_to_phys(ctx->mirror.dma_dev,
							pte & PAGE_MASK)));
		vaddr = kmap_local_page(page);
		if (write) {
			memcpy(vaddr, buf, PAGE_SIZE);
			/*
			 * As a CPU store would.  No folio lock needed: the
			 * page cannot be truncated while we hold the update
			 * lock, since its unmap must invalidate us first.
			 */
			folio_mark_dirty(page_folio(page));
		} else {
			memcpy(buf, vaddr, PAGE_SIZE);
		}
		kunmap_local(vaddr);
	}
	return true;
}

/* Submit a slice if its mirror is valid, else fault it in and retry. */
static int skel_rw_slice(struct skel_ctx *ctx, unsigned long addr,
			 unsigned long n, char *buf, bool write, __u64 *faults)
{
	unsigned long end = addr + (n << PAGE_SHIFT);
	unsigned int flags = write ? HMM_MIRROR_FAULT_WRITE : 0;
	int attempt, ret;
	bool done;

	for (attempt = 0; attempt < SKEL_ATTEMPTS; attempt++) {
		hmm_mirror_lock(&ctx->mirror);
		done = hmm_mirror_range_valid(&ctx->mirror, addr, end, flags) &&
		       skel_copy_locked(ctx, addr, n, buf, write);
		hmm_mirror_unlock(&ctx->mirror);
		if (done)
			return 0;
		ret = hmm_mirror_fault(&ctx->mirror, addr, end, flags, NULL);
		if (ret < 0)	/* -EFAULT, -EPERM, -ESRCH after release... */
			return ret;
		*faults += ret;
	}
	return -EBUSY;
}

/* The checks every memory ioctl starts with, in the uapi header's order. */
static int skel_check(struct drm_file *file, bool bad_args, u64 addr,
		      u64 npages)
{
	struct skel_ctx *ctx = file->driver_priv;
	u64 end = addr + (npages << PAGE_SHIFT);

	if (current->mm != hmm_mirror_mm(&ctx->mirror))
		return -EPERM;
	if (bad_args || !npages || npages > MNM_MAX_PAGES || !PAGE_ALIGNED(addr) ||
	    end < addr || end > BIT_ULL(MNM_VA_BITS) ||
	    !access_ok(u64_to_user_ptr(addr), end - addr))
		return -EINVAL;
	return READ_ONCE(ctx->released) ? -ESRCH : 0;
}

static int skel_rw(struct drm_file *file, struct drm_mnm_rw *args, bool write)
{
	char __user *uptr = u64_to_user_ptr(args->ptr);
	unsigned long done, n, off;
	char *buf;
	int ret = skel_check(file, args->size != sizeof(*args) || args->flags ||
			     memchr_inv(args->reserved, 0, sizeof(args->reserved)),
			     args->addr, args->npages);

	if (ret)
		return ret;
	if (!uptr || !access_ok(uptr, args->npages << PAGE_SHIFT))
		return -EFAULT;
	buf = kvmalloc(SKEL_SLICE << PAGE_SHIFT, GFP_KERNEL);	/* bounce */
	if (!buf)
		return -ENOMEM;
	args->cpages = 0;
	args->faults = 0;
	for (done = 0; done < args->npages && !ret; done += n) {
		n = min_t(u64, args->npages - done, SKEL_SLICE);
		off = done << PAGE_SHIFT;
		if (write && copy_from_user(buf, uptr + off, n << PAGE_SHIFT))
			ret = -EFAULT;
		if (!ret)
			ret = skel_rw_slice(file->driver_priv, args->addr + off,
					    n, buf, write, &args->faults);
		if (!ret && !write && copy_to_user(uptr + off, buf, n << PAGE_SHIFT))
			ret = -EFAULT;
		if (!ret && fatal_signal_pending(current))
			ret = -EINTR;
		if (!ret)
			args->cpages = done + n;
	}
	kvfree(buf);
	return ret;
}

static int skel_ioctl_read(struct drm_device *drm, void *data,
			   struct drm_file *file)
{
	return skel_rw(file, data, false);
}

static int skel_ioctl_write(struct drm_device *drm, void *data,
			    struct drm_file *file)
{
	return skel_rw(file, data, true);
}

static u8 skel_prot_of_hmm(unsigned long pfn)
{
	u8 prot = (pfn & HMM_PFN_WRITE) ? MNM_PROT_WRITE : MNM_PROT_READ;

	if (pfn & HMM_PFN_ERROR)
		return MNM_PROT_ERROR;
	if (!(pfn & HMM_PFN_VALID))
		return MNM_PROT_NONE;
	if (hmm_mirror_pfn_is_zero(pfn))
		prot |= MNM_PROT_ZERO;
	if (hmm_pfn_to_map_order(pfn) == PUD_SHIFT - PAGE_SHIFT)
		prot |= MNM_PROT_PUD;
	if (hmm_pfn_to_map_order(pfn) == PMD_SHIFT - PAGE_SHIFT)
		prot |= MNM_PROT_PMD;
	return prot;
}

static u8 skel_prot_of_pte(u64 pte)
{
	if (!(pte & SKEL_PTE_VALID))
		return MNM_PROT_NONE;
	return ((pte & SKEL_PTE_WRITE) ? MNM_PROT_WRITE : MNM_PROT_READ) |
	       ((pte & SKEL_PTE_ZERO) ? MNM_PROT_ZERO : 0);
}

/* The CPU's page table (nothing faulted in) or, with the flag, ours. */
static int skel_ioctl_snapshot(struct drm_device *drm, void *data,
			       struct drm_file *file)
{
	struct drm_mnm_snapshot *args = data;
	struct skel_ctx *ctx = file->driver_priv;
	u8 __user *uptr = u64_to_user_ptr(args->ptr);
	unsigned long *pfns, addr, done, i, n;
	u8 *prot;
	int ret = skel_check(file, args->size != sizeof(*args) ||
			     (args->flags & ~MNM_SNAPSHOT_DEVICE) ||
			     memchr_inv(args->reserved, 0, sizeof(args->reserved)),
			     args->addr, args->npages);

	if (ret)
		return ret;
	if (!uptr || !access_ok(uptr, args->npages))
		return -EFAULT;
	pfns = kvmalloc_array(HMM_MIRROR_BATCH_PAGES, sizeof(*pfns) + 1, GFP_KERNEL);
	if (!pfns)
		return -ENOMEM;
	prot = (u8 *)(pfns + HMM_MIRROR_BATCH_PAGES);
	for (done = 0; done < args->npages && !ret; done += n) {
		n = min_t(u64, args->npages - done, HMM_MIRROR_BATCH_PAGES);
		addr = args->addr + (done << PAGE_SHIFT);
		if (args->flags & MNM_SNAPSHOT_DEVICE) {
			hmm_mirror_lock(&ctx->mirror);
			for (i = 0; i < n; i++)
				prot[i] = skel_prot_of_pte(skel_pte(ctx, addr + (i << PAGE_SHIFT)));
			hmm_mirror_unlock(&ctx->mirror);
		} else {
			ret = hmm_mirror_snapshot(&ctx->mirror, addr,
						  addr + (n << PAGE_SHIFT), pfns);
			for (i = 0; i < n && !ret; i++)
				prot[i] = skel_prot_of_hmm(pfns[i]);
		}
		if (!ret && copy_to_user(uptr + done, prot, n))
			ret = -EFAULT;
	}
	kvfree(pfns);
	return ret;
}

static int skel_ioctl_get_info(struct drm_device *drm, void *data,
			       struct drm_file *file)
{
	struct drm_mnm_info *args = data;

	if (args->size != sizeof(*args) ||
	    memchr_inv(args->reserved, 0, sizeof(args->reserved)))
		return -EINVAL;
	*args = (struct drm_mnm_info){		/* device_index 0, no devmem */
		.size = sizeof(*args),
		.abi_version = MNM_ABI_VERSION,
		.caps = MNM_CAP_MIRROR,
		.page_size = PAGE_SIZE,
	};
	return 0;
}

/* Indexed by DRM_MNM_*; DRM fails the numbers left out with -EINVAL. */
static const struct drm_ioctl_desc skel_ioctls[] = {
	DRM_IOCTL_DEF_DRV(MNM_GET_INFO, skel_ioctl_get_info, DRM_RENDER_ALLOW),
	DRM_IOCTL_DEF_DRV(MNM_READ, skel_ioctl_read, DRM_RENDER_ALLOW),
	DRM_IOCTL_DEF_DRV(MNM_WRITE, skel_ioctl_write, DRM_RENDER_ALLOW),
	DRM_IOCTL_DEF_DRV(MNM_SNAPSHOT, skel_ioctl_snapshot, DRM_RENDER_ALLOW),
};

static int skel_open(struct drm_device *drm, struct drm_file *file)
{
	struct skel_ctx *ctx;
	int ret;

	if (!current->mm)
		return -EINVAL;
	ctx = kzalloc(sizeof(*ctx), GFP_KERNEL);
	if (!ctx)
		return -ENOMEM;
	xa_init(&ctx->pt);
	ctx->mirror.ops = &skel_mirror_ops;
	ctx->mirror.granule = SZ_64K;		/* the layer's default: 2 MiB */
	ctx->mirror.dma_dev = drm->dev;		/* &pdev->dev */
	ret = hmm_mirror_register(&ctx->mirror, current->mm);
	if (ret)
		goto err_free;
	file->driver_priv = ctx;
	return 0;

err_free:
	kfree(ctx);
	return ret;
}

static void skel_postclose(struct drm_device *drm, struct drm_file *file)
{
	struct skel_ctx *ctx = file->driver_priv;

	hmm_mirror_unregister(&ctx->mirror);	/* ->release, unless exit ran it */
	xa_destroy(&ctx->pt);	/* what a fault reserved after ->release */
	kfree(ctx);
}

static const struct file_operations skel_fops = {
	.owner = THIS_MODULE,
	.open = drm_open,
	.release = drm_release,
	.unlocked_ioctl = drm_ioctl,
	.compat_ioctl = drm_compat_ioctl,
	.poll = drm_poll,
	.read = drm_read,
	.llseek = noop_llseek,
	.fop_flags = FOP_UNSIGNED_OFFSET,
};

static const struct drm_driver skel_driver = {
	.driver_features = DRIVER_RENDER,
	.open = skel_open,
	.postclose = skel_postclose,
	.ioctls = skel_ioctls,
	.num_ioctls = ARRAY_SIZE(skel_ioctls),
	.fops = &skel_fops,
	.name = "mnmskel",
	.desc = "hmm_mirror skeleton driver",
	.major = 1,
};

static struct platform_device *skel_pdev;
static struct drm_device *skel_drm;

static int __init skel_init(void)
{
	struct device *dev;
	int ret;

	skel_pdev = platform_device_register_simple("mnmskel", -1, NULL, 0);
	if (IS_ERR(skel_pdev))
		return PTR_ERR(skel_pdev);
	dev = &skel_pdev->dev;
	/*
	 * Mirrored memory is written in place at the layer's DMA addresses:
	 * no bouncing (swiotlb), and this device turns them back into
	 * physical addresses, which rules out an IOMMU.
	 */
	ret = dma_set_mask_and_coherent(dev, DMA_BIT_MASK(64));
	if (!ret && (device_iommu_mapped(dev) || is_swiotlb_force_bounce(dev)))
		ret = dev_err_probe(dev, -ENODEV, "needs direct DMA\n");
	if (ret)
		goto err_pdev;
	skel_drm = drm_dev_alloc(&skel_driver, dev);
	if (IS_ERR(skel_drm)) {
		ret = PTR_ERR(skel_drm);
		goto err_pdev;
	}
	ret = drm_dev_register(skel_drm, 0);
	if (ret)
		goto err_drm;
	return 0;

err_drm:
	drm_dev_put(skel_drm);
err_pdev:
	platform_device_unregister(skel_pdev);
	return ret;
}

static void __exit skel_exit(void)
{
	drm_dev_unregister(skel_drm);
	drm_dev_put(skel_drm);
	platform_device_unregister(skel_pdev);
}

module_init(skel_init);
module_exit(skel_exit);

MODULE_DESCRIPTION("mnmskel: a skeleton device driver for hmm_mirror");
MODULE_LICENSE("GPL");
