// SPDX-License-Identifier: GPL-2.0
/*
 * mnmirror mock GPU: a DRM render-node driver whose device page table mirrors
 * the address space of the process that opened it, through hmm_mirror.
 *
 * Objects: one struct mnm_device per mock device (module parameter
 * num_devices), one struct mnm_ctx per open file.  A context is bound to the
 * opener's mm for its whole life; memory ioctls from any other mm fail with
 * -EPERM.
 *
 * Locking:
 *  - ctx->mirror's update lock protects ctx->pt (see mnm_pt.c); the device
 *    copies data only under it, so an invalidation that returned has made the
 *    device forget the pages.
 *  - mnm_devices[] is written only at module init and exit.
 *  - The teardown test log (test_teardown parameter) has its own spinlock.
 *  DRM guarantees no ioctl runs on a file once ->postclose is called.
 */
#include <drm/drm_drv.h>
#include <drm/drm_file.h>
#include <drm/drm_ioctl.h>
#include <linux/debugfs.h>
#include <linux/dma-mapping.h>
#include <linux/error-injection.h>
#include <linux/fault-inject.h>
#include <linux/highmem.h>
#include <linux/module.h>
#include <linux/platform_device.h>
#include <linux/sched/mm.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>
#include <uapi/mnmirror.h>

#include "mnm_drv.h"

/* Pages the device copies per pass (one bounce buffer). */
#define MNM_COPY_PAGES		HMM_MIRROR_BATCH_PAGES
/* Passes over the same pages before a device access gives up. */
#define MNM_COPY_ATTEMPTS	16
/* Pages a device fault maps ahead within one request (32 MiB). */
#define MNM_FAULT_AHEAD		8192
/* Largest mmap of the device file. */
#define MNM_MMAP_MAX		SZ_64M

static unsigned int num_devices = 2;
module_param(num_devices, uint, 0444);
MODULE_PARM_DESC(num_devices, "Number of mock devices (1-8, default 2)");

static unsigned int devmem_mb = 256;
module_param(devmem_mb, uint, 0444);
MODULE_PARM_DESC(devmem_mb, "Device-private memory per device in MiB (default 256; needs DEVICE_PRIVATE)");

static bool test_teardown;
module_param(test_teardown, bool, 0444);
MODULE_PARM_DESC(test_teardown,
		 "Test hook: every open file adds teardown-chain entries and logs releases to debugfs mnmirror/teardown_log");

static bool compat;
module_param(compat, bool, 0444);
MODULE_PARM_DESC(compat, "Also expose test_hmm-ABI character devices (see compat_name)");

static char *compat_name = "mnm_dmirror";
module_param(compat_name, charp, 0444);
MODULE_PARM_DESC(compat_name,
		 "Name prefix of the compat devices: /dev/<name>N (default mnm_dmirror; hmm_dmirror for upstream hmm-tests)");

#ifdef CONFIG_FAULT_INJECTION_DEBUG_FS
/* debugfs mnmirror/fail_commit: a device commit that fails (-ENOMEM). */
static DECLARE_FAULT_ATTR(mnm_fail_commit);

static bool mnm_should_fail_commit(void)
{
	return should_fail(&mnm_fail_commit, 1);
}
#else
static bool mnm_should_fail_commit(void)
{
	return false;
}
#endif

static unsigned int debug_drain_ms;
module_param(debug_drain_ms, uint, 0644);
MODULE_PARM_DESC(debug_drain_ms, "Test hook: a device access of a killed process keeps copying this long (ms) before it returns -EINTR, as a GPU draining queued work would");

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

static bool debug_warn;
module_param(debug_warn, bool, 0444);
MODULE_PARM_DESC(debug_warn, "Test hook: WARN once at load (proves that test runs catch kernel splats)");

static struct mnm_device *mnm_devices[MNM_MAX_DEVICES];
static struct dentry *mnm_debugfs_root;
static atomic_t mnm_ctx_ids = ATOMIC_INIT(0);

/* ---- teardown test log ---------------------------------------------- */

#define MNM_LOG_SIZE		(1024 * 1024)
static DEFINE_SPINLOCK(mnm_log_lock);
static char *mnm_log;
static size_t mnm_log_len;

static __printf(1, 2) void mnm_log_add(const char *fmt, ...)
{
	va_list ap;

	if (!mnm_log)
		return;
	spin_lock(&mnm_log_lock);
	va_start(ap, fmt);
	if (mnm_log_len < MNM_LOG_SIZE)
		mnm_log_len += vscnprintf(mnm_log + mnm_log_len,
					  MNM_LOG_SIZE - mnm_log_len, fmt, ap);
	va_end(ap);
	spin_unlock(&mnm_log_lock);
}

static int mnm_log_show(struct seq_file *m, void *unused)
{
	char *copy = kvmalloc(MNM_LOG_SIZE, GFP_KERNEL);
	size_t len;

	if (!copy)
		return -ENOMEM;
	spin_lock(&mnm_log_lock);
	len = mnm_log_len;
	memcpy(copy, mnm_log, len);
	spin_unlock(&mnm_log_lock);
	seq_write(m, copy, len);
	kvfree(copy);
	return 0;
}

static int mnm_log_open(struct inode *inode, struct file *file)
{
	return single_open(file, mnm_log_show, NULL);
}

static ssize_t mnm_log_write(struct file *file, const char __user *buf,
			     size_t len, loff_t *ppos)
{
	/* Any write clears the log. */
	spin_lock(&mnm_log_lock);
	mnm_log_len = 0;
	spin_unlock(&mnm_log_lock);
	return len;
}

static const struct file_operations mnm_log_fops = {
	.owner = THIS_MODULE,
	.open = mnm_log_open,
	.read = seq_read,
	.write = mnm_log_write,
	.llseek = seq_lseek,
	.release = single_release,
};

static void mnm_teardown_fn(struct hmm_mirror_teardown *td,
			    struct mm_struct *mm)
{
	struct mnm_teardown *t = container_of(td, struct mnm_teardown, td);

	mnm_log_add("teardown ctx=%u prio=%d\n", t->ctx->id, td->priority);
}

/* ---- mirror callbacks ----------------------------------------------- */

static struct mnm_ctx *mnm_ctx_of(struct hmm_mirror *mirror)
{
	return container_of(mirror, struct mnm_ctx, mirror);
}

static void mnm_mirror_invalidate(struct hmm_mirror *mirror,
				  const struct mmu_notifier_range *range,
				  unsigned long start, unsigned long end)
{
	struct mnm_ctx *ctx = mnm_ctx_of(mirror);

	/* The layer promises no callback after ->release. */
	WARN_ON_ONCE(ctx->released);
	mnm_pt_zap(&ctx->pt, start, end);
}

static void mnm_mirror_release(struct hmm_mirror *mirror,
			       enum hmm_mirror_release_reason reason)
{
	struct mnm_ctx *ctx = mnm_ctx_of(mirror);

	hmm_mirror_lock(mirror);
	WARN_ON_ONCE(ctx->released);
	ctx->released = true;
	mnm_pt_zap(&ctx->pt, 0, TASK_SIZE_MAX);
	hmm_mirror_unlock(mirror);
	mnm_log_add("release ctx=%u reason=%s mapped=%lld\n", ctx->id,
		    reason == HMM_MIRROR_RELEASE_EXIT ? "exit" : "unregister",
		    atomic64_read(&ctx->pt.mapped_pages));
}

static int mnm_mirror_prepare(struct hmm_mirror *mirror, unsigned long start,
			      unsigned long end, void *arg)
{
	return mnm_pt_reserve(&mnm_ctx_of(mirror)->pt, MNM_PT_BATCH_TABLES);
}

static u64 mnm_pte_of(unsigned long hmm_pfn)
{
	struct page *page = hmm_pfn_to_page(hmm_pfn);
	u64 pte = PFN_PHYS(page_to_pfn(page)) | MNM_PTE_VALID;

	if (hmm_pfn & HMM_PFN_WRITE)
		pte |= MNM_PTE_WRITE;
	/* hmm_range_fault() returns only our own device-private pages. */
	if (is_device_private_page(page))
		pte |= MNM_PTE_DEVICE;
	else if (hmm_mirror_pfn_is_zero(hmm_pfn))
		pte |= MNM_PTE_ZERO;
	return pte;
}

/* 512 entries of one PMD mapping with the same permissions? */
static bool mnm_pfns_huge(const unsigned long *pfns)
{
	unsigned long first = pfns[0];
	int i;

	if (hmm_pfn_to_map_order(first) != PMD_SHIFT - PAGE_SHIFT ||
	    !IS_ALIGNED(page_to_pfn(hmm_pfn_to_page(first)), MNM_PT_ENTRIES))
		return false;
	for (i = 1; i < MNM_PT_ENTRIES; i++)
		if (pfns[i] != first + i)
			return false;
	return true;
}

static noinline int mnm_mirror_commit(struct hmm_mirror *mirror,
				      const struct hmm_mirror_batch *batch)
{
	struct mnm_ctx *ctx = mnm_ctx_of(mirror);
	unsigned long n = (batch->end - batch->start) >> PAGE_SHIFT;
	unsigned long i = 0;
	int ret;

	WARN_ON_ONCE(ctx->released);
	if (mnm_should_fail_commit())
		return -ENOMEM;
	while (i < n) {
		unsigned long addr = batch->start + (i << PAGE_SHIFT);
		unsigned long pfn = batch->hmm_pfns[i];

		if (!(pfn & HMM_PFN_VALID) || (pfn & HMM_PFN_ERROR)) {
			i++;
			continue;
		}
		if (IS_ALIGNED(addr, PMD_SIZE) && n - i >= MNM_PT_ENTRIES &&
		    mnm_pfns_huge(&batch->hmm_pfns[i])) {
			ret = mnm_pt_map_huge(&ctx->pt, addr, mnm_pte_of(pfn));
			i += MNM_PT_ENTRIES;
		} else {
			ret = mnm_pt_map(&ctx->pt, addr, mnm_pte_of(pfn));
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
				struct page **pages, unsigned long npages)
{
	struct mnm_ctx *ctx = mnm_ctx_of(mirror);
	unsigned long i;
	int ret;

	WARN_ON_ONCE(ctx->released);
	for (i = 0; i < npages; i++) {
		ret = mnm_pt_map(&ctx->pt, start + (i << PAGE_SHIFT),
				 PFN_PHYS(page_to_pfn(pages[i])) | MNM_PTE_VALID |
				 MNM_PTE_WRITE | MNM_PTE_EXCLUSIVE);
		if (ret)
			return ret;
	}
	return 0;
}

const struct hmm_mirror_ops mnm_mirror_ops = {
	.invalidate = mnm_mirror_invalidate,
	.release = mnm_mirror_release,
	.prepare = mnm_mirror_prepare,
	.commit = mnm_mirror_commit,
	.migrate_alloc_copy = mnm_devmem_alloc_copy,
	.exclusive_commit = mnm_exclusive_commit,
};

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
	struct drm_mnm_info *args = data;

	if (args->size != sizeof(*args) ||
	    !mnm_zero(args->reserved, ARRAY_SIZE(args->reserved)))
		return -EINVAL;
	args->abi_version = MNM_ABI_VERSION;
	args->caps = MNM_CAP_MIRROR | MNM_CAP_HUGE_PTE;
	if (MNM_HAVE_DEVMEM)
		args->caps |= MNM_CAP_MIGRATE | MNM_CAP_EXCLUSIVE;
	args->page_size = PAGE_SIZE;
	args->device_index = mdev->index;
	args->devmem_size = MNM_HAVE_DEVMEM ? (u64)mdev->devmem.max_chunks *
				mdev->devmem.chunk_pages << PAGE_SHIFT : 0;
	return 0;
}

/*
 * Copy between the bounce buffer and pages [first, n) of addr through the
 * device page table.  Returns the index of the first page the device cannot
 * access (n when all could).  Called with the update lock held.
 */
static unsigned long mnm_copy_locked(struct mnm_ctx *ctx, unsigned long addr,
				     unsigned long first, unsigned long n,
				     char *bounce, bool write)
{
	unsigned long i;

	for (i = first; i < n; i++) {
		u64 pte = mnm_pt_lookup(&ctx->pt, addr + (i << PAGE_SHIFT));
		struct page *page;
		void *vaddr;

		if (!(pte & MNM_PTE_VALID) || (write && !(pte & MNM_PTE_WRITE)))
			return i;
		page = pfn_to_page(PHYS_PFN(pte & MNM_PTE_ADDR));
		if (pte & MNM_PTE_DEVICE) {
			/* Device memory: the data lives in the device. */
			vaddr = mnm_devmem_data(page);
			mnm_devmem_touch(ctx->mdev, page);
		} else {
			vaddr = kmap_local_page(page);
		}
		if (write) {
			memcpy(vaddr, bounce + (i << PAGE_SHIFT), PAGE_SIZE);
			/*
			 * Like a CPU store: reclaim must not drop the page as
			 * clean (MADV_FREE, swap cache).  The entry's notifier
			 * keeps the folio from being truncated meanwhile.
			 */
			if (!(pte & MNM_PTE_DEVICE))
				folio_mark_dirty(page_folio(page));
		} else {
			memcpy(bounce + (i << PAGE_SHIFT), vaddr, PAGE_SIZE);
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
		      char *bounce, bool write)
{
	unsigned long end = jiffies + msecs_to_jiffies(READ_ONCE(debug_drain_ms));
	unsigned long first = 0;

	while (time_before(jiffies, end)) {
		unsigned long slice_end = min(n, first + mnm_copy_slice());

		hmm_mirror_lock(&ctx->mirror);
		mnm_copy_locked(ctx, addr, first, slice_end, bounce, write);
		hmm_mirror_unlock(&ctx->mirror);
		first = slice_end == n ? 0 : slice_end;
		cond_resched();
	}
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
 * Return: 0 or a negative errno (-EINTR when the process was killed);
 * @args->cpages tells how far it got: after a failed write, the device wrote
 * exactly the first cpages pages (the copy goes in address order and stops
 * at the first page it does not map), except when a killed process's
 * drain wrote on.  A failed read returns whole chunks only.
 */
int mnm_ctx_rw(struct mnm_ctx *ctx, struct drm_mnm_rw *args, bool write,
	       bool nofault, unsigned long *calls)
{
	char __user *uptr = u64_to_user_ptr(args->ptr);
	unsigned long done = 0, copied = 0;
	char *bounce;
	int ret;

	ret = mnm_check_range(args->addr, args->npages);
	if (ret)
		return ret;
	if (!uptr || !access_ok(uptr, args->npages << PAGE_SHIFT))
		return -EFAULT;
	args->cpages = 0;
	args->faults = 0;

	/*
	 * Not charged to the memory cgroup: it lives for this call only
	 * (like test_hmm's), and a process at its limit must still be able
	 * to drain its device work when it is killed.
	 */
	bounce = kvmalloc(min_t(u64, args->npages, MNM_COPY_PAGES) << PAGE_SHIFT,
			  GFP_KERNEL);
	if (!bounce)
		return -ENOMEM;

	while (done < args->npages) {
		unsigned long n = min_t(u64, args->npages - done, MNM_COPY_PAGES);
		unsigned long addr = args->addr + (done << PAGE_SHIFT);
		int attempts = 0;

		copied = 0;
		if (write && copy_from_user(bounce, uptr + (done << PAGE_SHIFT),
					    n << PAGE_SHIFT)) {
			ret = -EFAULT;
			break;
		}
		for (;;) {
			/*
			 * At most copy_slice pages per hold, so that an
			 * invalidation waiting on the lock waits for one slice,
			 * not a whole batch.  (The OOM reaper's trylock is let
			 * in by the layer's gate, not by the short window
			 * between slices.)
			 */
			unsigned long slice_end = min(n, copied + mnm_copy_slice());

			hmm_mirror_lock(&ctx->mirror);
			copied = mnm_copy_locked(ctx, addr, copied, slice_end, bounce,
						 write);
			hmm_mirror_unlock(&ctx->mirror);
			if (fatal_signal_pending(current)) {
				mnm_drain(ctx, addr, n, bounce, write);
				ret = -EINTR;
				goto out;
			}
			if (copied == n)
				break;
			if (copied == slice_end) {
				cond_resched();
				continue;
			}
			if (nofault) {
				args->cpages = done + copied;
				ret = -ENOENT;
				goto out;
			}
			if (++attempts > MNM_COPY_ATTEMPTS) {
				ret = -EBUSY;
				goto out;
			}
			/*
			 * The device faults what it misses, and what follows up
			 * to MNM_FAULT_AHEAD pages of the request in the same
			 * call, so later chunks find their entries.
			 */
			ret = hmm_mirror_fault(&ctx->mirror,
					       addr + (copied << PAGE_SHIFT),
					       addr + (min_t(u64, args->npages - done,
							     max_t(u64, n, MNM_FAULT_AHEAD))
						       << PAGE_SHIFT),
					       write ? HMM_MIRROR_FAULT_WRITE : 0,
					       ctx);
			/*
			 * Killed while faulting, whatever the fault said (a
			 * dying task's fault may also fail for want of memory):
			 * drain like the copy loop.
			 */
			if (ret < 0 && fatal_signal_pending(current)) {
				mnm_drain(ctx, addr, n, bounce, write);
				ret = -EINTR;
			}
			if (ret < 0)
				goto out;
			args->faults += ret;
			if (calls)
				(*calls)++;
		}
		if (!write && copy_to_user(uptr + (done << PAGE_SHIFT), bounce,
					   n << PAGE_SHIFT)) {
			ret = -EFAULT;
			break;
		}
		done += n;
		copied = 0;
		args->cpages = done;
	}
out:
	if (ret < 0 && write)
		args->cpages = done + copied;
	kvfree(bounce);
	return ret < 0 ? ret : 0;
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
	bool holes = false;
	unsigned int d;
	int ret;

	for (i = 0; i < n; i++) {
		sn->prot[i] = mnm_prot_of_hmm(ctx, pfns[i]);
		holes |= sn->prot[i] == MNM_PROT_NONE;
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
	if (holes && !sn->compat) {
		hmm_mirror_lock(&ctx->mirror);
		for (i = 0; i < n; i++) {
			u64 pte;

			if (sn->prot[i] != MNM_PROT_NONE)
				continue;
			pte = mnm_pt_lookup(&ctx->pt, addr + (i << PAGE_SHIFT));
			if (pte & MNM_PTE_EXCLUSIVE)
				sn->prot[i] = MNM_PROT_EXCLUSIVE | MNM_PROT_WRITE;
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

static int mnm_snapshot_device(struct mnm_ctx *ctx, unsigned long start,
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
	unsigned long start, end, addr, next;

	if (IS_ERR(ctx))
		return PTR_ERR(ctx);
	start = args->addr;
	end = start + (args->npages << PAGE_SHIFT);
	/* Up to 4 GiB: one batch per update-lock hold. */
	for (addr = start; addr < end; addr = next) {
		next = min(end, addr + (MNM_COPY_PAGES << PAGE_SHIFT));
		hmm_mirror_lock(&ctx->mirror);
		mnm_pt_zap(&ctx->pt, addr, next);
		hmm_mirror_unlock(&ctx->mirror);
		cond_resched();
	}
	hmm_mirror_forget(&ctx->mirror, start, end);
	return 0;
}

static void mnm_counters_fill(struct drm_mnm_counters *out,
			      const struct hmm_mirror_counters *c,
			      atomic64_t *pt_pages, atomic64_t *mapped_pages)
{
	memset(out, 0, sizeof(*out));
	out->faults = atomic64_read(&c->faults);
	out->pages_faulted = atomic64_read(&c->pages_faulted);
	out->retries = atomic64_read(&c->retries);
	out->timeouts = atomic64_read(&c->timeouts);
	out->invalidations = atomic64_read(&c->invalidations);
	out->invalidations_nonblock = atomic64_read(&c->invalidations_nonblock);
	out->nonblock_refusals = atomic64_read(&c->nonblock_refusals);
	out->snapshots = atomic64_read(&c->snapshots);
	out->pt_pages = atomic64_read(pt_pages);
	out->mapped_pages = atomic64_read(mapped_pages);
	out->self_invalidations = atomic64_read(&c->self_invalidations);
}

static void mnm_layer_fill(struct drm_mnm_layer_stats *out,
			   const struct hmm_mirror_counters *c)
{
	memset(out, 0, sizeof(*out));
	out->intervals = atomic64_read(&c->intervals_created) -
			 atomic64_read(&c->intervals_removed);
	out->intervals_removed = atomic64_read(&c->intervals_removed);
	out->hold_max_invalidate_ns =
		atomic64_read(&c->hold_max_ns[HMM_MIRROR_HOLD_INVALIDATE]);
	out->hold_max_commit_ns =
		atomic64_read(&c->hold_max_ns[HMM_MIRROR_HOLD_COMMIT]);
	out->hold_max_remove_ns =
		atomic64_read(&c->hold_max_ns[HMM_MIRROR_HOLD_REMOVE]);
	out->hold_max_device_ns =
		atomic64_read(&c->hold_max_ns[HMM_MIRROR_HOLD_DRIVER]);
	out->gate_waits = atomic64_read(&c->gate_waits);
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
	unsigned long i;
	int ret = mnm_exclusive_args(file, args, &ctx);

	if (ret)
		return ret;
	args->exclusive = 0;
	/* One batch of lookups per update-lock hold. */
	for (i = 0; i < args->npages; cond_resched()) {
		unsigned long end = min_t(u64, args->npages, i + MNM_COPY_PAGES);

		hmm_mirror_lock(&ctx->mirror);
		for (; i < end; i++) {
			u64 pte = mnm_pt_lookup(&ctx->pt, args->addr + (i << PAGE_SHIFT));

			args->exclusive += !!(pte & MNM_PTE_EXCLUSIVE);
		}
		hmm_mirror_unlock(&ctx->mirror);
	}
	return 0;
}

static const struct drm_ioctl_desc mnm_ioctls[] = {
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
};

/* ---- open / close --------------------------------------------------- */

/**
 * mnm_ctx_create() - a device context bound to current's mm
 * @mdev: the device
 *
 * Return: the context or an ERR_PTR.
 */
struct mnm_ctx *mnm_ctx_create(struct mnm_device *mdev)
{
	static const int prio[MNM_TEARDOWN_ENTRIES] = { 30, 10, 20 };
	struct mnm_ctx *ctx;
	char name[32];
	int ret, i;

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
	ctx->mirror.parent = &mdev->counters;
	ret = hmm_mirror_register(&ctx->mirror, current->mm);
	if (ret)
		goto err_pt;
	if (test_teardown) {
		for (i = 0; i < MNM_TEARDOWN_ENTRIES; i++) {
			ctx->teardown[i].ctx = ctx;
			ctx->teardown[i].td.fn = mnm_teardown_fn;
			ctx->teardown[i].td.priority = prio[i];
			ret = hmm_mirror_add_teardown(&ctx->mirror,
						      &ctx->teardown[i].td);
			if (ret)
				goto err_teardown;
		}
		mnm_log_add("open ctx=%u pid=%d\n", ctx->id, current->tgid);
	}
	snprintf(name, sizeof(name), "ctx%u", ctx->id);
	hmm_mirror_debugfs_create(&ctx->mirror, mdev->debugfs, name);
	mutex_lock(&mdev->ctx_lock);
	list_add_tail(&ctx->link, &mdev->ctxs);
	mutex_unlock(&mdev->ctx_lock);
	return ctx;

err_teardown:
	while (i--)
		hmm_mirror_remove_teardown(&ctx->mirror, &ctx->teardown[i].td);
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
	int i;

	mutex_lock(&ctx->mdev->ctx_lock);
	list_del(&ctx->link);
	mutex_unlock(&ctx->mdev->ctx_lock);
	if (test_teardown) {
		for (i = 0; i < MNM_TEARDOWN_ENTRIES; i++)
			hmm_mirror_remove_teardown(&ctx->mirror,
						   &ctx->teardown[i].td);
	}
	hmm_mirror_unregister(&ctx->mirror);
	mnm_pt_fini(&ctx->pt);
	mnm_log_add("close ctx=%u\n", ctx->id);
	kfree(ctx);
}

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
	.fop_flags = FOP_UNSIGNED_OFFSET,
};

static const struct drm_driver mnm_driver = {
	.driver_features = DRIVER_RENDER,
	.open = mnm_open,
	.postclose = mnm_postclose,
	.ioctls = mnm_ioctls,
	.num_ioctls = ARRAY_SIZE(mnm_ioctls),
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
	dma_coerce_mask_and_coherent(&pdev->dev, DMA_BIT_MASK(64));
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
	WARN(debug_warn, "mnmirror: debug_warn set, warning on purpose\n");
	mnm_debugfs_root = debugfs_create_dir("mnmirror", NULL);
#ifdef CONFIG_FAULT_INJECTION_DEBUG_FS
	fault_create_debugfs_attr("fail_commit", mnm_debugfs_root,
				  &mnm_fail_commit);
#endif
	if (test_teardown) {
		mnm_log = vzalloc(MNM_LOG_SIZE);
		if (!mnm_log) {
			ret = -ENOMEM;
			goto err;
		}
		debugfs_create_file("teardown_log", 0644, mnm_debugfs_root,
				    NULL, &mnm_log_fops);
	}
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
	vfree(mnm_log);
	return ret;
}

static void __exit mnm_exit(void)
{
	if (compat)
		mnm_compat_exit();
	mnm_exit_devices();
	debugfs_remove_recursive(mnm_debugfs_root);
	vfree(mnm_log);
}

module_init(mnm_init);
module_exit(mnm_exit);

MODULE_DESCRIPTION("mnmirror mock GPU: device page tables mirrored with hmm_mirror");
MODULE_LICENSE("GPL");
