// SPDX-License-Identifier: GPL-2.0
/*
 * mnmirror mock GPU: a DRM render-node driver whose device page table mirrors
 * the address space of the process that opened it, through hmm_mirror.
 *
 * The module's top: its parameters, the mock devices (one platform device
 * and DRM device each, with device memory and debugfs), the DRM driver and
 * the file operations.  Below it: mnm_ioctl.c (the native ioctls),
 * mnm_compat.c (test_hmm's ABI), mnm_ctx.c (one context per open file),
 * mnm_copy.c (what the device does with its page table), mnm_pt.c (the
 * page table), mnm_devmem.c (device memory) and mnm_debug.c (test hooks).
 *
 * Locking: mnm_devices[] is written only at module init and exit; the rest
 * is in the files named above.
 */
#include <drm/drm_drv.h>
#include <drm/drm_file.h>
#include <drm/drm_ioctl.h>
#include <drm/drm_print.h>
#include <linux/debugfs.h>
#include <linux/dma-mapping.h>
#include <linux/module.h>
#include <linux/platform_device.h>
#include <linux/swiotlb.h>
#include <linux/seq_file.h>

#include "mnm_drv.h"

#define CREATE_TRACE_POINTS
#include "mnm_trace.h"

static unsigned int num_devices = 2;
module_param(num_devices, uint, 0444);
MODULE_PARM_DESC(num_devices, "Number of mock devices (1-8, default 2)");

static unsigned int devmem_mb = 256;
module_param(devmem_mb, uint, 0444);
MODULE_PARM_DESC(devmem_mb, "Device-private memory per device in MiB (default 256; needs DEVICE_PRIVATE)");

static bool compat;
module_param(compat, bool, 0444);
MODULE_PARM_DESC(compat, "Also expose test_hmm-ABI character devices (see compat_name)");

static char *compat_name = "mnm_dmirror";
module_param(compat_name, charp, 0444);
MODULE_PARM_DESC(compat_name,
		 "Name prefix of the compat devices: /dev/<name>N (default mnm_dmirror; hmm_dmirror for upstream hmm-tests)");

struct mnm_device *mnm_devices[MNM_MAX_DEVICES];
static struct dentry *mnm_debugfs_root;

static int mnm_open(struct drm_device *drm, struct drm_file *file)
{
	struct mnm_ctx *ctx;

	ctx = mnm_ctx_create(container_of(drm, struct mnm_device, drm));
	if (IS_ERR(ctx))
		return PTR_ERR(ctx);
	file->driver_priv = ctx;
	return 0;
}

static void mnm_postclose(struct drm_device *drm, struct drm_file *file)
{
	mnm_ctx_destroy(file->driver_priv);
}

static const struct file_operations mnm_fops = {
	.owner = THIS_MODULE,
	.open = drm_open,
	.release = drm_release,
	.unlocked_ioctl = drm_ioctl,
	.compat_ioctl = drm_compat_ioctl,
	.poll = drm_poll,
	.read = drm_read,
	.llseek = noop_llseek,
	.mmap = mnm_mmap,
	.show_fdinfo = drm_show_fdinfo,
	.fop_flags = FOP_UNSIGNED_OFFSET,
};

/*
 * /proc/PID/fdinfo of a render-node file, after DRM's own drm-driver and
 * drm-client-id lines: this file's mirror, for top-style tools that do not
 * open the device (keys in the driver's own "mnmirror-" namespace).
 */
static void mnm_show_fdinfo(struct drm_printer *p, struct drm_file *file)
{
	struct mnm_ctx *ctx = file->driver_priv;
	const struct hmm_mirror_counters *c = &ctx->mirror.stats;

	drm_printf(p, "mnmirror-faults:\t%lld\n",
		   hmm_mirror_counter(c, HMM_MIRROR_EV_FAULTS));
	drm_printf(p, "mnmirror-pages-faulted:\t%lld\n",
		   hmm_mirror_counter(c, HMM_MIRROR_EV_PAGES_FAULTED));
	drm_printf(p, "mnmirror-invalidations:\t%lld\n",
		   hmm_mirror_counter(c, HMM_MIRROR_EV_INVALIDATIONS) +
		   hmm_mirror_counter(c, HMM_MIRROR_EV_INVALIDATIONS_NONBLOCK));
	drm_printf(p, "mnmirror-mapped-pages:\t%lld\n",
		   atomic64_read(&ctx->pt.mapped_pages));
	drm_printf(p, "mnmirror-dma-mapped-pages:\t%lld\n",
		   hmm_mirror_counter(c, HMM_MIRROR_EV_DMA_MAPS) -
		   hmm_mirror_counter(c, HMM_MIRROR_EV_DMA_UNMAPS));
	drm_printf(p, "mnmirror-migrated-to-device:\t%lld\n",
		   atomic64_read(&ctx->migrated_to_device));
	drm_printf(p, "mnmirror-migrated-to-system:\t%lld\n",
		   atomic64_read(&ctx->migrated_to_system));
}

static const struct drm_driver mnm_driver = {
	.driver_features = DRIVER_RENDER,
	.open = mnm_open,
	.postclose = mnm_postclose,
	.ioctls = mnm_ioctls,
	.num_ioctls = ARRAY_SIZE(mnm_ioctls),
	.show_fdinfo = mnm_show_fdinfo,
	.fops = &mnm_fops,
	.name = "mnmirror",
	.desc = "mnmirror mock GPU (HMM mirror)",
	.date = "20261121",
	.major = 1,
	.minor = 0,
};

/* ---- devices -------------------------------------------------------- */

static int mnm_stats_show(struct seq_file *m, void *unused)
{
	struct mnm_device *mdev = m->private;

	hmm_mirror_counters_show(m, &mdev->counters);
	seq_printf(m, "pt_pages %lld\n", atomic64_read(&mdev->pt_pages));
	seq_printf(m, "mapped_pages %lld\n", atomic64_read(&mdev->mapped_pages));
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(mnm_stats);

static void mnm_device_destroy(struct mnm_device *mdev)
{
	struct platform_device *pdev = mdev->pdev;

	drm_dev_unregister(&mdev->drm);
	mnm_devmem_fini(mdev);
	debugfs_remove_recursive(mdev->debugfs);
	devres_release_group(&pdev->dev, NULL);
	platform_device_unregister(pdev);
}

static struct mnm_device *mnm_device_create(unsigned int index)
{
	struct platform_device *pdev;
	struct mnm_device *mdev;
	char name[16];
	int ret;

	pdev = platform_device_register_simple("mnmirror", index, NULL, 0);
	if (IS_ERR(pdev))
		return ERR_CAST(pdev);
	if (!devres_open_group(&pdev->dev, NULL, GFP_KERNEL)) {
		ret = -ENOMEM;
		goto err_unregister;
	}
	/*
	 * Mirrored memory is written in place, so the device must reach all
	 * of it without bouncing; and the mock's bus (mnm_copy.c) turns DMA
	 * addresses back into physical ones, which it cannot do through an
	 * IOMMU.
	 */
	ret = dma_coerce_mask_and_coherent(&pdev->dev, DMA_BIT_MASK(64));
	if (!ret && (device_iommu_mapped(&pdev->dev) ||
		     is_swiotlb_force_bounce(&pdev->dev)))
		ret = -ENODEV;
	if (ret)
		goto err_devres;
	mdev = devm_drm_dev_alloc(&pdev->dev, &mnm_driver, struct mnm_device,
				  drm);
	if (IS_ERR(mdev)) {
		ret = PTR_ERR(mdev);
		goto err_devres;
	}
	mdev->pdev = pdev;
	mdev->index = index;
	mutex_init(&mdev->ctx_lock);
	INIT_LIST_HEAD(&mdev->ctxs);
	mnm_devmem_init(mdev, (unsigned long)devmem_mb << 20);
	snprintf(name, sizeof(name), "dev%u", index);
	mdev->debugfs = debugfs_create_dir(name, mnm_debugfs_root);
	debugfs_create_file("stats", 0444, mdev->debugfs, mdev, &mnm_stats_fops);
	mnm_devmem_debugfs(mdev);
	ret = drm_dev_register(&mdev->drm, 0);
	if (ret)
		goto err_debugfs;
	return mdev;

err_debugfs:
	mnm_devmem_fini(mdev);
	debugfs_remove_recursive(mdev->debugfs);
err_devres:
	devres_release_group(&pdev->dev, NULL);
err_unregister:
	platform_device_unregister(pdev);
	return ERR_PTR(ret);
}

static void mnm_exit_devices(void)
{
	unsigned int i;

	for (i = 0; i < MNM_MAX_DEVICES; i++) {
		if (mnm_devices[i])
			mnm_device_destroy(mnm_devices[i]);
		mnm_devices[i] = NULL;
	}
}

static int __init mnm_init(void)
{
	unsigned int i;
	int ret;

	if (!num_devices || num_devices > MNM_MAX_DEVICES)
		return -EINVAL;
	mnm_debugfs_root = debugfs_create_dir("mnmirror", NULL);
	mnm_bench_init(mnm_debugfs_root);
	ret = mnm_debug_init(mnm_debugfs_root);
	if (ret)
		goto err;
	for (i = 0; i < num_devices; i++) {
		struct mnm_device *mdev = mnm_device_create(i);

		if (IS_ERR(mdev)) {
			ret = PTR_ERR(mdev);
			goto err;
		}
		mnm_devices[i] = mdev;
	}
	if (compat) {
		ret = mnm_compat_init(mnm_devices, num_devices, compat_name);
		if (ret)
			goto err;
	}
	return 0;

err:
	mnm_exit_devices();
	debugfs_remove_recursive(mnm_debugfs_root);
	mnm_debug_exit();
	return ret;
}

static void __exit mnm_exit(void)
{
	if (compat)
		mnm_compat_exit();
	mnm_exit_devices();
	debugfs_remove_recursive(mnm_debugfs_root);
	mnm_debug_exit();
}

module_init(mnm_init);
module_exit(mnm_exit);

MODULE_DESCRIPTION("mnmirror mock GPU: device page tables mirrored with hmm_mirror");
MODULE_LICENSE("GPL");

