// SPDX-License-Identifier: GPL-2.0
/*
 * mnmirror mock GPU: the native ioctls (include/uapi/drm/mnmirror_drm.h).  Each
 * validates its argument struct (size, flags, reserved fields, the range)
 * and the caller's mm before it touches anything, then calls the context's
 * copy, snapshot and migration code.
 *
 * Locking: none of its own; see mnm_ctx.c and mnm_copy.c.
 */
#include <drm/drm_drv.h>
#include <drm/drm_file.h>
#include <drm/drm_ioctl.h>
#include <linux/sched.h>
#include <linux/uaccess.h>
#include <uapi/drm/mnmirror_drm.h>

#include "mnm_drv.h"

/* ---- ioctls --------------------------------------------------------- */

static bool mnm_zero(const __u64 *reserved, size_t n)
{
	while (n--)
		if (reserved[n])
			return false;
	return true;
}

static_assert(PAGE_SHIFT + MNM_PT_LEVELS * MNM_PT_BITS == MNM_VA_BITS);
static_assert(offsetof(struct drm_mnm_stats, file_layer) == MNM_STATS_SIZE_V1);

/* The calling process must be the one whose mm the file mirrors. */
static struct mnm_ctx *mnm_ctx_check(struct drm_file *file)
{
	struct mnm_ctx *ctx = file->driver_priv;

	if (current->mm != hmm_mirror_mm(&ctx->mirror))
		return ERR_PTR(-EPERM);
	return ctx;
}

/*
 * The checks every range ioctl starts with, in this order: the caller's mm
 * (-EPERM); the struct size, unknown flags, nonzero reserved fields and the
 * range itself (-EINVAL).
 */
static struct mnm_ctx *mnm_range_args(struct drm_file *file, u32 size,
				      size_t want, u32 flags, u32 allowed,
				      const __u64 *reserved, size_t nres,
				      u64 addr, u64 npages)
{
	struct mnm_ctx *ctx = mnm_ctx_check(file);

	if (IS_ERR(ctx))
		return ctx;
	if (size != want || (flags & ~allowed) || !mnm_zero(reserved, nres) ||
	    mnm_check_range(addr, npages))
		return ERR_PTR(-EINVAL);
	return ctx;
}

static int mnm_ioctl_get_info(struct drm_device *drm, void *data,
			      struct drm_file *file)
{
	struct mnm_device *mdev = container_of(drm, struct mnm_device, drm);
	struct mnm_ctx *ctx = file->driver_priv;
	struct drm_mnm_info *args = data;

	if (args->size != sizeof(*args) ||
	    !mnm_zero(args->reserved, ARRAY_SIZE(args->reserved)))
		return -EINVAL;
	args->abi_version = MNM_ABI_VERSION;
	args->caps = MNM_CAP_MIRROR;
	/* A 2 MiB device entry needs a 2 MiB fault batch. */
	if (ctx->mirror.granule >= PMD_SIZE)
		args->caps |= MNM_CAP_HUGE_PTE;
	if (MNM_HAVE_DEVMEM)
		args->caps |= MNM_CAP_MIGRATE | MNM_CAP_EXCLUSIVE;
	args->caps |= MNM_CAP_PREFETCH | MNM_CAP_ADVISE;
	args->page_size = PAGE_SIZE;
	args->device_index = mdev->index;
	args->devmem_size = MNM_HAVE_DEVMEM ? (u64)mdev->devmem.max_chunks *
				mdev->devmem.chunk_pages << PAGE_SHIFT : 0;
	return 0;
}

static int mnm_rw(struct drm_file *file, struct drm_mnm_rw *args, bool write)
{
	struct mnm_ctx *ctx =
		mnm_range_args(file, args->size, sizeof(*args), args->flags,
			       0, args->reserved,
			       ARRAY_SIZE(args->reserved), args->addr,
			       args->npages);

	if (IS_ERR(ctx))
		return PTR_ERR(ctx);
	return mnm_ctx_rw(ctx, args, write, false, NULL);
}

static int mnm_ioctl_read(struct drm_device *drm, void *data,
			  struct drm_file *file)
{
	return mnm_rw(file, data, false);
}

static int mnm_ioctl_write(struct drm_device *drm, void *data,
			   struct drm_file *file)
{
	return mnm_rw(file, data, true);
}

static int mnm_ioctl_snapshot(struct drm_device *drm, void *data,
			      struct drm_file *file)
{
	struct drm_mnm_snapshot *args = data;
	struct mnm_ctx *ctx =
		mnm_range_args(file, args->size, sizeof(*args), args->flags,
			       MNM_SNAPSHOT_DEVICE, args->reserved,
			       ARRAY_SIZE(args->reserved), args->addr,
			       args->npages);
	u8 __user *uptr = u64_to_user_ptr(args->ptr);

	if (IS_ERR(ctx))
		return PTR_ERR(ctx);
	if (!uptr || !access_ok(uptr, args->npages))
		return -EFAULT;
	if (args->flags & MNM_SNAPSHOT_DEVICE)
		return mnm_snapshot_device(ctx, args->addr, args->npages, uptr);
	return mnm_snapshot_user(ctx, args->addr, args->npages, uptr, false);
}

static int mnm_ioctl_release(struct drm_device *drm, void *data,
			     struct drm_file *file)
{
	struct drm_mnm_release *args = data;
	struct mnm_ctx *ctx =
		mnm_range_args(file, args->size, sizeof(*args), args->flags,
			       0, args->reserved,
			       ARRAY_SIZE(args->reserved), args->addr,
			       args->npages);
	unsigned long start, end;

	if (IS_ERR(ctx))
		return PTR_ERR(ctx);
	start = args->addr;
	end = start + (args->npages << PAGE_SHIFT);
	mnm_ctx_zap(ctx, start, end);
	hmm_mirror_forget(&ctx->mirror, start, end);
	return 0;
}

static void mnm_counters_fill(struct drm_mnm_counters *out,
			      const struct hmm_mirror_counters *c,
			      atomic64_t *pt_pages, atomic64_t *mapped_pages)
{
	memset(out, 0, sizeof(*out));
	out->faults = hmm_mirror_counter(c, HMM_MIRROR_EV_FAULTS);
	out->pages_faulted = hmm_mirror_counter(c, HMM_MIRROR_EV_PAGES_FAULTED);
	out->retries = hmm_mirror_counter(c, HMM_MIRROR_EV_RETRIES);
	out->timeouts = hmm_mirror_counter(c, HMM_MIRROR_EV_TIMEOUTS);
	out->invalidations = hmm_mirror_counter(c, HMM_MIRROR_EV_INVALIDATIONS);
	out->invalidations_nonblock = hmm_mirror_counter(c, HMM_MIRROR_EV_INVALIDATIONS_NONBLOCK);
	out->nonblock_refusals = hmm_mirror_counter(c, HMM_MIRROR_EV_NONBLOCK_REFUSALS);
	out->snapshots = hmm_mirror_counter(c, HMM_MIRROR_EV_SNAPSHOTS);
	out->pt_pages = atomic64_read(pt_pages);
	out->mapped_pages = atomic64_read(mapped_pages);
	out->self_invalidations = hmm_mirror_counter(c, HMM_MIRROR_EV_SELF_INVALIDATIONS);
}

static void mnm_layer_fill(struct drm_mnm_layer_stats *out,
			   const struct hmm_mirror_counters *c)
{
	memset(out, 0, sizeof(*out));
	out->intervals = hmm_mirror_counter(c, HMM_MIRROR_EV_INTERVALS_CREATED) -
			 hmm_mirror_counter(c, HMM_MIRROR_EV_INTERVALS_REMOVED);
	out->intervals_removed = hmm_mirror_counter(c, HMM_MIRROR_EV_INTERVALS_REMOVED);
	out->hold_max_invalidate_ns =
		atomic64_read(&c->hold_max_ns[HMM_MIRROR_HOLD_INVALIDATE]);
	out->hold_max_commit_ns =
		atomic64_read(&c->hold_max_ns[HMM_MIRROR_HOLD_COMMIT]);
	out->hold_max_remove_ns =
		atomic64_read(&c->hold_max_ns[HMM_MIRROR_HOLD_REMOVE]);
	out->hold_max_device_ns =
		atomic64_read(&c->hold_max_ns[HMM_MIRROR_HOLD_DRIVER]);
	out->gate_waits = hmm_mirror_counter(c, HMM_MIRROR_EV_GATE_WAITS);
	out->dma_mapped = hmm_mirror_counter(c, HMM_MIRROR_EV_DMA_MAPS) -
			  hmm_mirror_counter(c, HMM_MIRROR_EV_DMA_UNMAPS);
}

static int mnm_ioctl_stats(struct drm_device *drm, void *data,
			   struct drm_file *file)
{
	struct mnm_device *mdev = container_of(drm, struct mnm_device, drm);
	struct mnm_ctx *ctx = file->driver_priv;
	struct drm_mnm_stats *args = data;

	if ((args->size != sizeof(*args) && args->size != MNM_STATS_SIZE_V1) ||
	    args->flags)
		return -EINVAL;
	mnm_counters_fill(&args->file, &ctx->mirror.stats, &ctx->pt.pt_pages,
			  &ctx->pt.mapped_pages);
	mnm_layer_fill(&args->file_layer, &ctx->mirror.stats);
	mnm_layer_fill(&args->device_layer, &mdev->counters);
	mnm_counters_fill(&args->device, &mdev->counters, &mdev->pt_pages,
			  &mdev->mapped_pages);
	args->file.migrated_to_device = atomic64_read(&ctx->migrated_to_device);
	args->file.migrated_to_system = atomic64_read(&ctx->migrated_to_system);
	if (MNM_HAVE_DEVMEM) {
		struct mnm_devmem *dm = &mdev->devmem;

		args->device.migrated_to_device = atomic64_read(&dm->migrated_to_device);
		args->device.migrated_to_system = atomic64_read(&dm->migrated_to_system);
		args->device.evictions = atomic64_read(&dm->evictions);
		args->device.cpu_faults = atomic64_read(&dm->cpu_faults);
		spin_lock(&dm->lock);
		args->device.devmem_free = dm->limit > dm->nused ?
					   dm->limit - dm->nused : 0;
		spin_unlock(&dm->lock);
	}
	return 0;
}

static int mnm_ioctl_migrate(struct drm_device *drm, void *data,
			     struct drm_file *file)
{
	struct drm_mnm_migrate *args = data;
	struct mnm_ctx *ctx =
		mnm_range_args(file, args->size, sizeof(*args), args->flags,
			       0, args->reserved,
			       ARRAY_SIZE(args->reserved), args->addr,
			       args->npages);
	struct hmm_mirror_migrate_result res;
	unsigned long start;
	int ret;

	if (IS_ERR(ctx))
		return PTR_ERR(ctx);
	if (args->pad || (args->direction != MNM_MIGRATE_TO_DEVICE &&
			  args->direction != MNM_MIGRATE_TO_SYSTEM))
		return -EINVAL;
	if (!MNM_HAVE_DEVMEM)
		return -EOPNOTSUPP;
	start = args->addr;
	ret = mnm_ctx_migrate(ctx, start, start + (args->npages << PAGE_SHIFT),
			      args->direction == MNM_MIGRATE_TO_DEVICE ?
			      HMM_MIRROR_MIGRATE_TO_DEVICE |
			      HMM_MIRROR_MIGRATE_FROM_PEERS : 0, &res);
	args->migrated = res.migrated;
	args->skip_vma = res.skip_vma;
	args->skip_busy = res.skip_busy;
	args->skip_refused = res.skip_refused;
	args->skip_nomem = res.skip_nomem;
	args->skip_other = res.skip_other;
	return ret;
}

static int mnm_exclusive_args(struct drm_file *file, struct drm_mnm_exclusive *args,
			      struct mnm_ctx **ctxp)
{
	struct mnm_ctx *ctx =
		mnm_range_args(file, args->size, sizeof(*args), args->flags,
			       0, args->reserved,
			       ARRAY_SIZE(args->reserved), args->addr,
			       args->npages);

	if (IS_ERR(ctx))
		return PTR_ERR(ctx);
	*ctxp = ctx;
	return MNM_HAVE_DEVMEM ? 0 : -EOPNOTSUPP;
}

static int mnm_ioctl_exclusive(struct drm_device *drm, void *data,
			       struct drm_file *file)
{
	struct drm_mnm_exclusive *args = data;
	struct mnm_ctx *ctx;
	int ret = mnm_exclusive_args(file, args, &ctx);

	if (ret)
		return ret;
	return hmm_mirror_make_exclusive(&ctx->mirror, args->addr,
					 args->addr + (args->npages << PAGE_SHIFT));
}

static int mnm_ioctl_check_exclusive(struct drm_device *drm, void *data,
				     struct drm_file *file)
{
	struct drm_mnm_exclusive *args = data;
	struct mnm_ctx *ctx;
	int ret = mnm_exclusive_args(file, args, &ctx);

	if (ret)
		return ret;
	args->exclusive = mnm_ctx_count_exclusive(ctx, args->addr, args->npages,
						  false);
	return 0;
}

static int mnm_ioctl_prefetch(struct drm_device *drm, void *data,
			      struct drm_file *file)
{
	struct drm_mnm_prefetch *args = data;
	struct mnm_ctx *ctx =
		mnm_range_args(file, args->size, sizeof(*args), args->flags,
			       MNM_PREFETCH_WRITE, args->reserved,
			       ARRAY_SIZE(args->reserved), args->addr,
			       args->npages);

	if (IS_ERR(ctx))
		return PTR_ERR(ctx);
	if (args->pad || (args->location &&
			  args->location != MNM_MIGRATE_TO_DEVICE &&
			  args->location != MNM_MIGRATE_TO_SYSTEM))
		return -EINVAL;
	if (args->location && !MNM_HAVE_DEVMEM)
		return -EOPNOTSUPP;
	return mnm_ctx_prefetch(ctx, args);
}

static int mnm_ioctl_advise(struct drm_device *drm, void *data,
			    struct drm_file *file)
{
	struct drm_mnm_advise *args = data;
	struct mnm_ctx *ctx =
		mnm_range_args(file, args->size, sizeof(*args), args->flags,
			       MNM_ADVISE_QUERY, args->reserved,
			       ARRAY_SIZE(args->reserved), args->addr,
			       args->npages);

	if (IS_ERR(ctx))
		return PTR_ERR(ctx);
	if ((args->location && args->location != MNM_MIGRATE_TO_DEVICE &&
	     args->location != MNM_MIGRATE_TO_SYSTEM) ||
	    (args->attrs & ~MNM_ADVISE_READ_MOSTLY))
		return -EINVAL;
	if ((args->flags & MNM_ADVISE_QUERY) && (args->location || args->attrs))
		return -EINVAL;
	if (args->location == MNM_MIGRATE_TO_DEVICE && !MNM_HAVE_DEVMEM)
		return -EOPNOTSUPP;
	return mnm_ctx_advise(ctx, args);
}

const struct drm_ioctl_desc mnm_ioctls[] = {
	DRM_IOCTL_DEF_DRV(MNM_GET_INFO, mnm_ioctl_get_info, DRM_RENDER_ALLOW),
	DRM_IOCTL_DEF_DRV(MNM_READ, mnm_ioctl_read, DRM_RENDER_ALLOW),
	DRM_IOCTL_DEF_DRV(MNM_WRITE, mnm_ioctl_write, DRM_RENDER_ALLOW),
	DRM_IOCTL_DEF_DRV(MNM_SNAPSHOT, mnm_ioctl_snapshot, DRM_RENDER_ALLOW),
	DRM_IOCTL_DEF_DRV(MNM_RELEASE, mnm_ioctl_release, DRM_RENDER_ALLOW),
	DRM_IOCTL_DEF_DRV(MNM_STATS, mnm_ioctl_stats, DRM_RENDER_ALLOW),
	DRM_IOCTL_DEF_DRV(MNM_MIGRATE, mnm_ioctl_migrate, DRM_RENDER_ALLOW),
	DRM_IOCTL_DEF_DRV(MNM_EXCLUSIVE, mnm_ioctl_exclusive, DRM_RENDER_ALLOW),
	DRM_IOCTL_DEF_DRV(MNM_CHECK_EXCLUSIVE, mnm_ioctl_check_exclusive,
			  DRM_RENDER_ALLOW),
	DRM_IOCTL_DEF_DRV(MNM_PREFETCH, mnm_ioctl_prefetch, DRM_RENDER_ALLOW),
	DRM_IOCTL_DEF_DRV(MNM_ADVISE, mnm_ioctl_advise, DRM_RENDER_ALLOW),
};
