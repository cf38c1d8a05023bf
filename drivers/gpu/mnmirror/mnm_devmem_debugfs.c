// SPDX-License-Identifier: GPL-2.0
/*
 * mnmirror mock GPU: device memory in debugfs, per device: "devmem" (the
 * pool and its counters), "devmem_limit" (pages; eviction starts above it),
 * "fail_alloc" (fail that many allocations) and "evict" (move everything
 * back to system memory).
 *
 * Locking: devmem->lock for the pool's fields, as in mnm_devmem.c.
 */
#include <linux/debugfs.h>
#include <linux/seq_file.h>

#include "mnm_drv.h"

#if MNM_HAVE_DEVMEM

static int mnm_devmem_show(struct seq_file *m, void *unused)
{
	struct mnm_device *mdev = m->private;
	struct mnm_devmem *dm = &mdev->devmem;

	spin_lock(&dm->lock);
	seq_printf(m, "chunks %u/%u of %lu pages\n", dm->nchunks, dm->max_chunks,
		   dm->chunk_pages);
	seq_printf(m, "free %lu\nused %lu\nlimit %lu\n", dm->nfree, dm->nused,
		   dm->limit);
	spin_unlock(&dm->lock);
	seq_printf(m, "migrated_to_device %lld\nmigrated_to_system %lld\n",
		   atomic64_read(&dm->migrated_to_device),
		   atomic64_read(&dm->migrated_to_system));
	seq_printf(m, "evictions %lld\ncpu_faults %lld\n",
		   atomic64_read(&dm->evictions), atomic64_read(&dm->cpu_faults));
	seq_printf(m, "large_allocs %lld\nlarge_fallbacks %lld\n",
		   atomic64_read(&dm->large_allocs),
		   atomic64_read(&dm->large_fallbacks));
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(mnm_devmem);

static int mnm_limit_get(void *data, u64 *val)
{
	*val = READ_ONCE(((struct mnm_devmem *)data)->limit);
	return 0;
}

static int mnm_limit_set(void *data, u64 val)
{
	struct mnm_devmem *dm = data;
	u64 max = (u64)dm->max_chunks * dm->chunk_pages;

	if (!val || val > max)
		return -EINVAL;
	spin_lock(&dm->lock);
	WRITE_ONCE(dm->limit, val);
	spin_unlock(&dm->lock);
	return 0;
}
DEFINE_DEBUGFS_ATTRIBUTE(mnm_limit_fops, mnm_limit_get, mnm_limit_set, "%llu\n");

static int mnm_fail_get(void *data, u64 *val)
{
	*val = READ_ONCE(((struct mnm_devmem *)data)->fail_alloc);
	return 0;
}

static int mnm_fail_set(void *data, u64 val)
{
	struct mnm_devmem *dm = data;

	spin_lock(&dm->lock);
	WRITE_ONCE(dm->fail_alloc, min_t(u64, val, UINT_MAX));
	spin_unlock(&dm->lock);
	return 0;
}
DEFINE_DEBUGFS_ATTRIBUTE(mnm_fail_fops, mnm_fail_get, mnm_fail_set, "%llu\n");

static int mnm_evict_set(void *data, u64 val)
{
	mnm_devmem_evict_all(data);
	return 0;
}
DEFINE_DEBUGFS_ATTRIBUTE(mnm_evict_fops, NULL, mnm_evict_set, "%llu\n");

/**
 * mnm_devmem_debugfs() - devmem, devmem_limit, fail_alloc and evict in debugfs
 * @mdev: the device
 */
void mnm_devmem_debugfs(struct mnm_device *mdev)
{
	debugfs_create_file("devmem", 0444, mdev->debugfs, mdev, &mnm_devmem_fops);
	debugfs_create_file_unsafe("devmem_limit", 0644, mdev->debugfs,
				   &mdev->devmem, &mnm_limit_fops);
	debugfs_create_file_unsafe("fail_alloc", 0644, mdev->debugfs,
				   &mdev->devmem, &mnm_fail_fops);
	debugfs_create_file_unsafe("evict", 0200, mdev->debugfs, mdev,
				   &mnm_evict_fops);
}

#else /* !MNM_HAVE_DEVMEM */

void mnm_devmem_debugfs(struct mnm_device *mdev)
{
}

#endif
