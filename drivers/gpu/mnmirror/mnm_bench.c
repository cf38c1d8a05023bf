// SPDX-License-Identifier: GPL-2.0
/*
 * mnmirror mock GPU: the limit a mirror's fault path is measured against
 * (`make bench` only; built with MNM_BENCH=y).  Writing "ADDR NPAGES" to
 * debugfs mnmirror/bench_range_fault runs bare hmm_range_fault() over that
 * range of the writer's mm, in batches of HMM_MIRROR_BATCH_PAGES under one
 * temporary interval notifier, as a mirror's fault would but with nothing
 * else: no intervals per block, no DMA mapping, no device page table.
 * "ADDR NPAGES dma" also DMA-maps every page for device 0 (and unmaps them
 * after the clock stops): how much of a mirror's cost that step is.
 * Reading the file gives the last run's "NS PAGES".
 *
 * Locking: mmap_lock (read) around each hmm_range_fault(); the result is
 * under mnm_bench_lock.
 */
#include <linux/debugfs.h>
#include <linux/dma-mapping.h>
#include <linux/hmm.h>
#include <linux/mm.h>
#include <linux/mmu_notifier.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "mnm_drv.h"

static DEFINE_MUTEX(mnm_bench_lock);
static u64 mnm_bench_ns, mnm_bench_pages;

static bool mnm_bench_invalidate(struct mmu_interval_notifier *mni,
				 const struct mmu_notifier_range *range,
				 unsigned long cur_seq)
{
	mmu_interval_set_seq(mni, cur_seq);
	return true;
}

static const struct mmu_interval_notifier_ops mnm_bench_ops = {
	.invalidate = mnm_bench_invalidate,
};

/* DMA-map the batch's pages for @dev into @dma. */
static void mnm_bench_dma(struct device *dev, const unsigned long *pfns,
			  unsigned long n, dma_addr_t *dma)
{
	unsigned long i;

	for (i = 0; i < n; i++)
		dma[i] = (pfns[i] & HMM_PFN_VALID) ?
			dma_map_page_attrs(dev, hmm_pfn_to_page(pfns[i]), 0,
					   PAGE_SIZE, DMA_BIDIRECTIONAL,
					   DMA_ATTR_SKIP_CPU_SYNC) :
			DMA_MAPPING_ERROR;
}

static int mnm_bench_run(unsigned long start, unsigned long npages, bool dma)
{
	struct device *dev = mnm_devices[0] ? mnm_devices[0]->drm.dev : NULL;
	struct mmu_interval_notifier mni;
	struct mm_struct *mm = current->mm;
	unsigned long *pfns, addr, end = start + (npages << PAGE_SHIFT), i;
	dma_addr_t *dmas = NULL;
	u64 t0;
	int ret;

	if (!mm || !npages || !PAGE_ALIGNED(start) || end <= start ||
	    npages > MNM_MAX_PAGES || (dma && !dev))
		return -EINVAL;
	pfns = kvmalloc_array(HMM_MIRROR_BATCH_PAGES, sizeof(*pfns), GFP_KERNEL);
	if (dma)
		dmas = kvmalloc_array(npages, sizeof(*dmas), GFP_KERNEL);
	if (!pfns || (dma && !dmas)) {
		ret = -ENOMEM;
		goto out_free;
	}
	ret = mmu_interval_notifier_insert(&mni, mm, start, end - start,
					   &mnm_bench_ops);
	if (ret)
		goto out_free;
	t0 = ktime_get_ns();
	for (addr = start; addr < end && !ret; ) {
		struct hmm_range range = {
			.notifier = &mni,
			.start = addr,
			.end = min(end, addr + (HMM_MIRROR_BATCH_PAGES << PAGE_SHIFT)),
			.hmm_pfns = pfns,
			.default_flags = HMM_PFN_REQ_FAULT,
		};

		range.notifier_seq = mmu_interval_read_begin(&mni);
		mmap_read_lock(mm);
		ret = hmm_range_fault(&range);
		mmap_read_unlock(mm);
		if (!ret && mmu_interval_read_retry(&mni, range.notifier_seq))
			ret = -EBUSY;
		if (ret == -EBUSY) {
			ret = fatal_signal_pending(current) ? -EINTR : 0;
			continue;
		}
		if (!ret && dma)
			mnm_bench_dma(dev, pfns, (range.end - addr) >> PAGE_SHIFT,
				      dmas + ((addr - start) >> PAGE_SHIFT));
		addr = range.end;
	}
	mutex_lock(&mnm_bench_lock);
	mnm_bench_ns = ktime_get_ns() - t0;
	mnm_bench_pages = npages;
	mutex_unlock(&mnm_bench_lock);
	mmu_interval_notifier_remove(&mni);
	for (i = 0; dma && i < ((addr - start) >> PAGE_SHIFT); i++)
		if (dmas[i] != DMA_MAPPING_ERROR)
			dma_unmap_page_attrs(dev, dmas[i], PAGE_SIZE,
					     DMA_BIDIRECTIONAL,
					     DMA_ATTR_SKIP_CPU_SYNC);
out_free:
	kvfree(dmas);
	kvfree(pfns);
	return ret;
}

static ssize_t mnm_bench_write(struct file *file, const char __user *ubuf,
			       size_t len, loff_t *ppos)
{
	unsigned long addr, npages;
	char buf[64], mode[8] = "";
	int ret, n;

	if (len >= sizeof(buf))
		return -EINVAL;
	if (copy_from_user(buf, ubuf, len))
		return -EFAULT;
	buf[len] = 0;
	n = sscanf(buf, "%lx %lu %7s", &addr, &npages, mode);
	if (n < 2 || (n == 3 && strcmp(mode, "dma")))
		return -EINVAL;
	ret = mnm_bench_run(addr, npages, n == 3);
	return ret ? ret : len;
}

static ssize_t mnm_bench_read(struct file *file, char __user *ubuf,
			      size_t len, loff_t *ppos)
{
	char buf[64];
	int n;

	mutex_lock(&mnm_bench_lock);
	n = scnprintf(buf, sizeof(buf), "%llu %llu\n", mnm_bench_ns,
		      mnm_bench_pages);
	mutex_unlock(&mnm_bench_lock);
	return simple_read_from_buffer(ubuf, len, ppos, buf, n);
}

static const struct file_operations mnm_bench_fops = {
	.owner = THIS_MODULE,
	.write = mnm_bench_write,
	.read = mnm_bench_read,
	.llseek = default_llseek,
};

/**
 * mnm_bench_init() - the bench_range_fault file in the driver's debugfs
 * @root: mnmirror's debugfs directory
 */
void mnm_bench_init(struct dentry *root)
{
	debugfs_create_file("bench_range_fault", 0600, root, NULL,
			    &mnm_bench_fops);
}
