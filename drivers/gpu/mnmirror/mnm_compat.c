// SPDX-License-Identifier: GPL-2.0
/*
 * mnmirror mock GPU: the ABI of upstream lib/test_hmm_uapi.h, so that the
 * kernel's own tools/testing/selftests/mm/hmm-tests runs unmodified against
 * the mock GPU (module parameters compat=1 compat_name=hmm_dmirror).
 *
 * A thin translation onto the native paths (mnm_ctx.c, mnm_copy.c): one
 * character device per mock device, each open file a device context exactly
 * like a render-node open.  The ABI header is taken from the installed kernel
 * source at build time (-I$(MNM_KSRC)), never copied.
 *
 * Where test_hmm's semantics differ from the native ABI, this file follows
 * test_hmm: faults count fault calls, MIGRATE_TO_DEV and EXCLUSIVE return the
 * data through the device without faulting (-ENOENT if a page did not move),
 * snapshots report pages of other devices as NONE, CHECK_EXCLUSIVE returns
 * -EPERM while a grant remains, RELEASE evicts the device's whole memory.
 * FLAGS (Linux 6.19) takes HMM_DMIRROR_FLAG_FAIL_ALLOC.
 *
 * Locking: none of its own; mnm_compat_init/exit run at module init/exit.
 */
#include <linux/cdev.h>
#include <linux/device.h>
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/uaccess.h>
#include <uapi/drm/mnmirror_drm.h>
#include <lib/test_hmm_uapi.h>

/*
 * Linux 6.19's test_hmm ABI, absent from older headers: per-file flags in
 * cmd.npages; FAIL_ALLOC makes the next device 2 MiB allocation fail once,
 * so that the migration falls back to single pages.
 */
#ifndef HMM_DMIRROR_FLAGS
#define HMM_DMIRROR_FLAGS		_IOWR('H', 0x08, struct hmm_dmirror_cmd)
#define HMM_DMIRROR_FLAG_FAIL_ALLOC	BIT_ULL(0)
#endif

#include "mnm_drv.h"

static dev_t mnm_compat_base;
static struct class *mnm_compat_class;
static struct cdev mnm_compat_cdev;
static struct mnm_device *mnm_compat_devices[MNM_MAX_DEVICES];
static unsigned int mnm_compat_count;

static int mnm_compat_open(struct inode *inode, struct file *filp)
{
	unsigned int minor = iminor(inode);
	struct mnm_ctx *ctx;

	if (minor >= mnm_compat_count)
		return -ENODEV;
	ctx = mnm_ctx_create(mnm_compat_devices[minor]);
	if (IS_ERR(ctx))
		return PTR_ERR(ctx);
	filp->private_data = ctx;
	return 0;
}

static int mnm_compat_release(struct inode *inode, struct file *filp)
{
	mnm_ctx_destroy(filp->private_data);
	return 0;
}

/* test_hmm returns what the device sees after MIGRATE_TO_DEV and EXCLUSIVE. */
static int mnm_compat_read_back(struct mnm_ctx *ctx, struct hmm_dmirror_cmd *cmd)
{
	struct drm_mnm_rw rw = {
		.addr = cmd->addr, .ptr = cmd->ptr, .npages = cmd->npages,
	};
	int ret = mnm_ctx_rw(ctx, &rw, false, true, NULL);

	cmd->cpages = rw.cpages;
	return ret;
}

static int mnm_compat_snapshot(struct mnm_ctx *ctx, struct hmm_dmirror_cmd *cmd)
{
	int ret = mnm_snapshot_user(ctx, cmd->addr, cmd->npages,
				    u64_to_user_ptr(cmd->ptr), true);

	if (!ret)
		cmd->cpages = cmd->npages;
	return ret;
}

static int mnm_compat_migrate(struct mnm_ctx *ctx, struct hmm_dmirror_cmd *cmd,
			      bool to_device)
{
	struct mm_struct *mm = hmm_mirror_mm(&ctx->mirror);
	unsigned long addr, end = cmd->addr + (cmd->npages << PAGE_SHIFT);
	struct hmm_mirror_migrate_result res;
	int ret = 0;

	/* test_hmm fails the whole call unless readable VMAs cover it. */
	mmap_read_lock(mm);
	for (addr = cmd->addr; addr < end && !ret; ) {
		struct vm_area_struct *vma = vma_lookup(mm, addr);

		if (!vma || !(vma->vm_flags & VM_READ))
			ret = -EINVAL;
		else
			addr = vma->vm_end;
	}
	mmap_read_unlock(mm);
	if (ret)
		return ret;
	/* Nor does it pull pages from other devices (-ENOENT below). */
	ret = mnm_ctx_migrate(ctx, cmd->addr, end,
			      to_device ? HMM_MIRROR_MIGRATE_TO_DEVICE : 0, &res);
	cmd->cpages = res.migrated;
	if (ret || !to_device)
		return ret;
	return mnm_compat_read_back(ctx, cmd);
}

static int mnm_compat_check_exclusive(struct mnm_ctx *ctx,
				      struct hmm_dmirror_cmd *cmd)
{
	return mnm_ctx_count_exclusive(ctx, cmd->addr, cmd->npages, true) ?
	       -EPERM : 0;
}

static long mnm_compat_ioctl(struct file *filp, unsigned int command,
			     unsigned long arg)
{
	struct mnm_ctx *ctx = filp->private_data;
	void __user *uarg = (void __user *)arg;
	struct hmm_dmirror_cmd cmd;
	struct drm_mnm_rw rw;
	unsigned long calls = 0;
	int ret;

	if (copy_from_user(&cmd, uarg, sizeof(cmd)))
		return -EFAULT;
	if (current->mm != hmm_mirror_mm(&ctx->mirror))
		return -EPERM;
	if (command == HMM_DMIRROR_FLAGS) {
		if (cmd.npages & ~HMM_DMIRROR_FLAG_FAIL_ALLOC)
			return -EINVAL;
		assign_bit(MNM_CTX_FAIL_LARGE, &ctx->flags,
			   cmd.npages & HMM_DMIRROR_FLAG_FAIL_ALLOC);
		return 0;
	}
	ret = mnm_check_range(cmd.addr, cmd.npages);
	if (ret)
		return ret;
	cmd.cpages = 0;
	cmd.faults = 0;

	switch (command) {
	case HMM_DMIRROR_READ:
	case HMM_DMIRROR_WRITE:
		rw = (struct drm_mnm_rw){
			.addr = cmd.addr, .ptr = cmd.ptr, .npages = cmd.npages,
		};
		ret = mnm_ctx_rw(ctx, &rw, command == HMM_DMIRROR_WRITE, false,
				 &calls);
		cmd.cpages = rw.cpages;
		cmd.faults = calls;
		break;
	case HMM_DMIRROR_MIGRATE_TO_DEV:
	case HMM_DMIRROR_MIGRATE_TO_SYS:
		if (!MNM_HAVE_DEVMEM)
			return -EOPNOTSUPP;
		ret = mnm_compat_migrate(ctx, &cmd,
					 command == HMM_DMIRROR_MIGRATE_TO_DEV);
		break;
	case HMM_DMIRROR_SNAPSHOT:
		ret = mnm_compat_snapshot(ctx, &cmd);
		break;
	case HMM_DMIRROR_EXCLUSIVE:
		if (!MNM_HAVE_DEVMEM)
			return -EOPNOTSUPP;
		ret = hmm_mirror_make_exclusive(&ctx->mirror, cmd.addr, cmd.addr +
						(cmd.npages << PAGE_SHIFT));
		if (!ret)
			ret = mnm_compat_read_back(ctx, &cmd);
		break;
	case HMM_DMIRROR_CHECK_EXCLUSIVE:
		ret = mnm_compat_check_exclusive(ctx, &cmd);
		break;
	case HMM_DMIRROR_RELEASE:
		mnm_devmem_evict_all(ctx->mdev);
		ret = 0;
		break;
	default:
		return -EINVAL;
	}
	if (ret)
		return ret;
	if (copy_to_user(uarg, &cmd, sizeof(cmd)))
		return -EFAULT;
	return 0;
}

static const struct file_operations mnm_compat_fops = {
	.owner = THIS_MODULE,
	.open = mnm_compat_open,
	.release = mnm_compat_release,
	.unlocked_ioctl = mnm_compat_ioctl,
	.mmap = mnm_mmap,
	.llseek = default_llseek,
};

/**
 * mnm_compat_init() - create /dev/<name>0 .. /dev/<name>(n-1)
 * @devices: the mock devices
 * @n: how many
 * @name: the node name prefix
 *
 * Return: 0 or a negative errno.
 */
int mnm_compat_init(struct mnm_device **devices, unsigned int n,
		    const char *name)
{
	unsigned int i;
	int ret;

	ret = alloc_chrdev_region(&mnm_compat_base, 0, n, name);
	if (ret)
		return ret;
	cdev_init(&mnm_compat_cdev, &mnm_compat_fops);
	mnm_compat_cdev.owner = THIS_MODULE;
	ret = cdev_add(&mnm_compat_cdev, mnm_compat_base, n);
	if (ret)
		goto err_region;
	mnm_compat_class = class_create("mnmirror_compat");
	if (IS_ERR(mnm_compat_class)) {
		ret = PTR_ERR(mnm_compat_class);
		goto err_cdev;
	}
	for (i = 0; i < n; i++) {
		struct device *dev;

		mnm_compat_devices[i] = devices[i];
		dev = device_create(mnm_compat_class, NULL, mnm_compat_base + i,
				    NULL, "%s%u", name, i);
		if (IS_ERR(dev)) {
			ret = PTR_ERR(dev);
			goto err_devices;
		}
	}
	mnm_compat_count = n;
	return 0;

err_devices:
	while (i--)
		device_destroy(mnm_compat_class, mnm_compat_base + i);
	class_destroy(mnm_compat_class);
err_cdev:
	cdev_del(&mnm_compat_cdev);
err_region:
	unregister_chrdev_region(mnm_compat_base, n);
	return ret;
}

/**
 * mnm_compat_exit() - remove the compat devices
 */
void mnm_compat_exit(void)
{
	unsigned int i;

	for (i = 0; i < mnm_compat_count; i++)
		device_destroy(mnm_compat_class, mnm_compat_base + i);
	class_destroy(mnm_compat_class);
	cdev_del(&mnm_compat_cdev);
	unregister_chrdev_region(mnm_compat_base, mnm_compat_count);
	mnm_compat_count = 0;
}
