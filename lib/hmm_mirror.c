// SPDX-License-Identifier: GPL-2.0
/*
 * hmm_mirror: keep device page tables in sync with a process address space.
 *
 * Objects and lifetimes
 *  - struct hmm_mirror_mm: one per mm, shared by every mirror of that mm and
 *    by teardown-chain users.  It is an mmu_notifier obtained with
 *    mmu_notifier_get(), so it is refcounted by the mmu_notifier core; its
 *    ->release runs once at exit_mmap(), and it is freed by ->free_notifier
 *    after an SRCU grace period once the last mmu_notifier_put() is done.
 *  - struct hmm_mirror: embedded in a driver context; holds one reference on
 *    its hmm_mirror_mm between register and unregister.
 *  - struct hmm_mirror_interval: one mmu interval notifier per naturally
 *    aligned HMM_MIRROR_INTERVAL_SIZE block the device touched.  Kept in the
 *    mirror's rb-tree; refcounted; the tree holds one reference; the last put
 *    removes the interval notifier and frees the object after an RCU grace
 *    period, so lockless readers never touch freed memory.
 *
 * Locking rules (outermost first)
 *  - mmm->lock (mutex): the mirror list, every mirror's ->released flag, the
 *    teardown chain.  ->release callbacks and teardown callbacks run under it.
 *  - mirror->tree_lock (mutex) + mirror->tree_seq (seqcount): writers of the
 *    interval tree.  Readers on the fault path walk the tree under RCU and
 *    trust a hit that they could take a reference on; a miss is trusted only
 *    if tree_seq did not move, otherwise they retry, and finally fall back to
 *    tree_lock.  mmu_interval_notifier_insert() may take mmap_lock for write
 *    under tree_lock, so tree_lock is never taken with mmap_lock held.
 *  - mmap_lock (read): held only around hmm_range_fault().
 *  - mirror->update_lock (mutex): the driver's device page table.  Taken in
 *    invalidation callbacks, which reclaim can call: nothing under it may
 *    allocate memory with reclaim.  Non-blockable invalidations (the OOM
 *    reaper) only trylock it and refuse the invalidation when it is busy.
 *  - The driver's ->commit and ->invalidate run under update_lock;
 *    ->prepare runs with no lock held.
 */
#include <linux/debugfs.h>
#include <linux/hmm.h>
#include <linux/hmm_mirror.h>
#include <linux/jiffies.h>
#include <linux/migrate.h>
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/mmu_notifier.h>
#include <linux/module.h>
#include <linux/rcupdate.h>
#include <linux/refcount.h>
#include <linux/rmap.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/seq_file.h>
#include <linux/slab.h>

static unsigned int fault_timeout_ms = 1000;
module_param(fault_timeout_ms, uint, 0644);
MODULE_PARM_DESC(fault_timeout_ms,
		 "Give up a fault batch after retrying this long (ms, default 1000)");

struct hmm_mirror_mm {
	struct mmu_notifier mn;
	struct mutex lock;		/* mirrors, ->released, teardown, exited */
	struct list_head mirrors;	/* struct hmm_mirror.mm_link */
	struct list_head teardown;	/* sorted by priority */
	bool exited;			/* ->release ran: no new users */
};

struct hmm_mirror_interval {
	struct mmu_interval_notifier notifier;
	struct hmm_mirror *mirror;
	struct rb_node node;
	unsigned long start;
	unsigned long end;
	refcount_t ref;
	struct list_head dead;		/* after unlinking, under no lock */
	struct rcu_head rcu;
};

static void count(struct hmm_mirror *mirror, size_t offset, long n)
{
	atomic64_add(n, (atomic64_t *)((char *)&mirror->stats + offset));
	if (mirror->parent)
		atomic64_add(n, (atomic64_t *)((char *)mirror->parent + offset));
}

#define COUNT(mirror, field, n) \
	count(mirror, offsetof(struct hmm_mirror_counters, field), n)

/* ---- per-mm object and the teardown chain --------------------------- */

static struct mmu_notifier *hmm_mirror_mm_alloc(struct mm_struct *mm)
{
	struct hmm_mirror_mm *mmm = kzalloc(sizeof(*mmm), GFP_KERNEL);

	if (!mmm)
		return ERR_PTR(-ENOMEM);
	mutex_init(&mmm->lock);
	INIT_LIST_HEAD(&mmm->mirrors);
	INIT_LIST_HEAD(&mmm->teardown);
	return &mmm->mn;
}

static void hmm_mirror_mm_free(struct mmu_notifier *mn)
{
	struct hmm_mirror_mm *mmm = container_of(mn, struct hmm_mirror_mm, mn);

	WARN_ON(!list_empty(&mmm->mirrors));
	WARN_ON(!list_empty(&mmm->teardown));
	mutex_destroy(&mmm->lock);
	kfree(mmm);
}

/* Under mmm->lock: the one place a mirror's ->release is called. */
static void hmm_mirror_release_locked(struct hmm_mirror *mirror,
				      enum hmm_mirror_release_reason reason)
{
	lockdep_assert_held(&mirror->mmm->lock);
	if (mirror->released)
		return;
	mirror->released = true;
	mutex_lock(&mirror->update_lock);
	mirror->dead = true;
	mutex_unlock(&mirror->update_lock);
	mirror->ops->release(mirror, reason);
}

/*
 * mmu_notifier ->release: exit_mmap() calls it exactly once, under SRCU,
 * before the pages of the mm are freed.  Every mirror is released, then the
 * teardown chain runs in priority order.
 */
static void hmm_mirror_mm_release(struct mmu_notifier *mn,
				  struct mm_struct *mm)
{
	struct hmm_mirror_mm *mmm = container_of(mn, struct hmm_mirror_mm, mn);
	struct hmm_mirror_teardown *td;
	struct hmm_mirror *mirror;

	mutex_lock(&mmm->lock);
	if (WARN_ON_ONCE(mmm->exited))
		goto out;
	mmm->exited = true;
	list_for_each_entry(mirror, &mmm->mirrors, mm_link)
		hmm_mirror_release_locked(mirror, HMM_MIRROR_RELEASE_EXIT);
	while ((td = list_first_entry_or_null(&mmm->teardown,
					      struct hmm_mirror_teardown,
					      link))) {
		list_del_init(&td->link);
		td->ran = true;
		td->fn(td, mm);
	}
out:
	mutex_unlock(&mmm->lock);
}

static const struct mmu_notifier_ops hmm_mirror_mm_ops = {
	.release = hmm_mirror_mm_release,
	.alloc_notifier = hmm_mirror_mm_alloc,
	.free_notifier = hmm_mirror_mm_free,
};

/**
 * hmm_mirror_add_teardown() - add an entry to the mm's teardown chain
 * @mirror: a registered mirror of the mm
 * @td: the entry, with @fn and @priority set
 *
 * The entry runs once when the mm is torn down, after every mirror of the
 * mm was released.  The caller must remove it with
 * hmm_mirror_remove_teardown() before unregistering @mirror.
 *
 * Return: 0, or -ESRCH if the mm is already torn down.
 */
int hmm_mirror_add_teardown(struct hmm_mirror *mirror,
			    struct hmm_mirror_teardown *td)
{
	struct hmm_mirror_mm *mmm = mirror->mmm;
	struct hmm_mirror_teardown *pos;
	int ret = 0;

	td->ran = false;
	mutex_lock(&mmm->lock);
	if (mmm->exited) {
		ret = -ESRCH;
		goto out;
	}
	/* Insert before the first entry with a higher priority. */
	list_for_each_entry(pos, &mmm->teardown, link)
		if (pos->priority > td->priority)
			break;
	list_add_tail(&td->link, &pos->link);
out:
	mutex_unlock(&mmm->lock);
	return ret;
}
EXPORT_SYMBOL_GPL(hmm_mirror_add_teardown);

/**
 * hmm_mirror_remove_teardown() - remove an entry from the teardown chain
 * @mirror: the mirror @td was added through
 * @td: the entry
 *
 * If the chain is running, waits until it has finished.
 *
 * Return: true if @td's function ran (the mm was torn down), false if it was
 * removed before it could run.
 */
bool hmm_mirror_remove_teardown(struct hmm_mirror *mirror,
				struct hmm_mirror_teardown *td)
{
	struct hmm_mirror_mm *mmm = mirror->mmm;
	bool ran;

	mutex_lock(&mmm->lock);
	ran = td->ran;
	if (!ran)
		list_del_init(&td->link);
	mutex_unlock(&mmm->lock);
	return ran;
}
EXPORT_SYMBOL_GPL(hmm_mirror_remove_teardown);

/* ---- mirrored intervals --------------------------------------------- */

static bool hmm_mirror_interval_invalidate(struct mmu_interval_notifier *mni,
					   const struct mmu_notifier_range *range,
					   unsigned long cur_seq)
{
	struct hmm_mirror_interval *iv =
		container_of(mni, struct hmm_mirror_interval, notifier);
	struct hmm_mirror *mirror = iv->mirror;

	bool self = (range->event == MMU_NOTIFY_MIGRATE ||
		     range->event == MMU_NOTIFY_EXCLUSIVE) &&
		    mirror->owner && range->owner == mirror->owner;

	if (mmu_notifier_range_blockable(range)) {
		mutex_lock(&mirror->update_lock);
	} else if (!mutex_trylock(&mirror->update_lock)) {
		COUNT(mirror, nonblock_refusals, 1);
		return false;
	}
	/*
	 * Always move the sequence, so that a fault that raced this event
	 * retries.  The device's own migrations and exclusive grants do not
	 * zap: hmm_mirror_migrate() and hmm_mirror_make_exclusive() update the
	 * device page table themselves.
	 */
	mmu_interval_set_seq(mni, cur_seq);
	if (self) {
		COUNT(mirror, self_invalidations, 1);
	} else {
		if (mmu_notifier_range_blockable(range))
			COUNT(mirror, invalidations, 1);
		else
			COUNT(mirror, invalidations_nonblock, 1);
		mirror->ops->invalidate(mirror, range,
					max(range->start, iv->start),
					min(range->end, iv->end));
	}
	mutex_unlock(&mirror->update_lock);
	return true;
}

static const struct mmu_interval_notifier_ops hmm_mirror_interval_ops = {
	.invalidate = hmm_mirror_interval_invalidate,
};

static void hmm_mirror_interval_free_rcu(struct rcu_head *rcu)
{
	kfree(container_of(rcu, struct hmm_mirror_interval, rcu));
}

/* Drop a reference; the last one must be dropped where sleeping is allowed. */
static void hmm_mirror_interval_put(struct hmm_mirror_interval *iv)
{
	if (!refcount_dec_and_test(&iv->ref))
		return;
	/* Waits for invalidations running on this interval. */
	mmu_interval_notifier_remove(&iv->notifier);
	call_rcu(&iv->rcu, hmm_mirror_interval_free_rcu);
}

/* Under RCU or tree_lock: the interval that contains @addr, if any. */
static struct hmm_mirror_interval *
hmm_mirror_interval_find(struct hmm_mirror *mirror, unsigned long addr)
{
	struct rb_node *node = READ_ONCE(mirror->intervals.rb_node);

	while (node) {
		struct hmm_mirror_interval *iv =
			rb_entry(node, struct hmm_mirror_interval, node);

		if (addr < iv->start)
			node = READ_ONCE(node->rb_left);
		else if (addr >= iv->end)
			node = READ_ONCE(node->rb_right);
		else
			return iv;
	}
	return NULL;
}

/*
 * Lockless lookup.  rb-tree rotations may make a concurrent walk miss a node
 * (never loop, see lib/rbtree.c), so a hit is good once referenced, and a
 * miss only if the tree did not change meanwhile.
 */
static struct hmm_mirror_interval *
hmm_mirror_interval_get_rcu(struct hmm_mirror *mirror, unsigned long addr)
{
	struct hmm_mirror_interval *iv;
	unsigned int seq;
	int tries = 3;

	rcu_read_lock();
	do {
		seq = raw_read_seqcount(&mirror->tree_seq);
		if (seq & 1)
			continue;
		iv = hmm_mirror_interval_find(mirror, addr);
		if (iv && refcount_inc_not_zero(&iv->ref))
			goto out;
		if (!read_seqcount_retry(&mirror->tree_seq, seq))
			break;
	} while (--tries);
	iv = NULL;
out:
	rcu_read_unlock();
	return iv;
}

static void hmm_mirror_interval_link(struct hmm_mirror *mirror,
				     struct hmm_mirror_interval *iv)
{
	struct rb_node **link = &mirror->intervals.rb_node, *parent = NULL;

	while (*link) {
		struct hmm_mirror_interval *pos =
			rb_entry(*link, struct hmm_mirror_interval, node);

		parent = *link;
		link = iv->start < pos->start ? &parent->rb_left :
						&parent->rb_right;
	}
	/*
	 * @iv is fully initialised; the smp_wmb() in write_seqcount_begin()
	 * orders that before the store that publishes it to lockless readers.
	 */
	write_seqcount_begin(&mirror->tree_seq);
	rb_link_node(&iv->node, parent, link);
	rb_insert_color(&iv->node, &mirror->intervals);
	write_seqcount_end(&mirror->tree_seq);
}

/* The referenced interval containing @addr, created if needed. */
static struct hmm_mirror_interval *
hmm_mirror_interval_get(struct hmm_mirror *mirror, unsigned long addr)
{
	struct hmm_mirror_interval *iv;
	int ret;

	iv = hmm_mirror_interval_get_rcu(mirror, addr);
	if (iv)
		return iv;

	mutex_lock(&mirror->tree_lock);
	iv = hmm_mirror_interval_find(mirror, addr);
	if (iv && refcount_inc_not_zero(&iv->ref))
		goto out;
	iv = kzalloc(sizeof(*iv), GFP_KERNEL);
	if (!iv) {
		iv = ERR_PTR(-ENOMEM);
		goto out;
	}
	iv->mirror = mirror;
	iv->start = ALIGN_DOWN(addr, HMM_MIRROR_INTERVAL_SIZE);
	iv->end = iv->start + HMM_MIRROR_INTERVAL_SIZE;
	refcount_set(&iv->ref, 2);	/* the tree's and ours */
	ret = mmu_interval_notifier_insert(&iv->notifier, mirror->mm, iv->start,
					   HMM_MIRROR_INTERVAL_SIZE,
					   &hmm_mirror_interval_ops);
	if (ret) {
		kfree(iv);
		iv = ERR_PTR(ret);
		goto out;
	}
	hmm_mirror_interval_link(mirror, iv);
out:
	mutex_unlock(&mirror->tree_lock);
	return iv;
}

/* Unlink the intervals inside [start, end) and drop the tree's references. */
static void hmm_mirror_intervals_drop(struct hmm_mirror *mirror,
				      unsigned long start, unsigned long end)
{
	struct hmm_mirror_interval *iv, *tmp;
	LIST_HEAD(dead);
	struct rb_node *node;

	mutex_lock(&mirror->tree_lock);
	node = rb_first(&mirror->intervals);
	while (node) {
		iv = rb_entry(node, struct hmm_mirror_interval, node);
		node = rb_next(node);
		if (iv->start < start || iv->end > end)
			continue;
		write_seqcount_begin(&mirror->tree_seq);
		rb_erase(&iv->node, &mirror->intervals);
		write_seqcount_end(&mirror->tree_seq);
		list_add(&iv->dead, &dead);
	}
	mutex_unlock(&mirror->tree_lock);

	list_for_each_entry_safe(iv, tmp, &dead, dead)
		hmm_mirror_interval_put(iv);
}

/* ---- registration --------------------------------------------------- */

/**
 * hmm_mirror_register() - bind a mirror to an mm
 * @mirror: the mirror, with @ops (and optionally @owner, @parent) set
 * @mm: the mm to mirror; the caller must hold a user reference on it
 *	(current->mm, or one taken with mmget_not_zero())
 *
 * Several mirrors (devices) may mirror the same mm; they share one per-mm
 * object and its teardown chain.
 *
 * Context: process context, takes mmap_lock for write.
 * Return: 0 or a negative errno.
 */
int hmm_mirror_register(struct hmm_mirror *mirror, struct mm_struct *mm)
{
	struct mmu_notifier *mn;
	struct hmm_mirror_mm *mmm;
	int ret;

	if (WARN_ON(!mirror->ops || !mirror->ops->invalidate ||
		    !mirror->ops->release || !mirror->ops->commit))
		return -EINVAL;

	mutex_init(&mirror->update_lock);
	mutex_init(&mirror->tree_lock);
	seqcount_mutex_init(&mirror->tree_seq, &mirror->tree_lock);
	mirror->intervals = RB_ROOT;
	mirror->released = false;
	mirror->dead = false;
	mirror->debugfs = NULL;

	/* Make interval inserts never need mmap_lock later. */
	ret = mmu_notifier_register(NULL, mm);
	if (ret)
		return ret;
	mn = mmu_notifier_get(&hmm_mirror_mm_ops, mm);
	if (IS_ERR(mn))
		return PTR_ERR(mn);
	mmm = container_of(mn, struct hmm_mirror_mm, mn);

	mutex_lock(&mmm->lock);
	if (mmm->exited) {
		ret = -ESRCH;
		goto err_unlock;
	}
	mirror->mmm = mmm;
	mirror->mm = mm;
	list_add_tail(&mirror->mm_link, &mmm->mirrors);
	mutex_unlock(&mmm->lock);
	return 0;

err_unlock:
	mutex_unlock(&mmm->lock);
	mmu_notifier_put(mn);
	return ret;
}
EXPORT_SYMBOL_GPL(hmm_mirror_register);

/**
 * hmm_mirror_unregister() - unbind a mirror
 * @mirror: a registered mirror
 *
 * Calls ->release unless mm teardown already did (then waits for it to have
 * finished), removes every interval notifier, and drops the per-mm
 * reference.  The caller must make sure no hmm_mirror_fault(),
 * hmm_mirror_snapshot() or hmm_mirror_forget() runs concurrently or later.
 *
 * Context: process context; may sleep.
 */
void hmm_mirror_unregister(struct hmm_mirror *mirror)
{
	struct hmm_mirror_mm *mmm = mirror->mmm;

	mutex_lock(&mmm->lock);
	hmm_mirror_release_locked(mirror, HMM_MIRROR_RELEASE_UNREGISTER);
	list_del(&mirror->mm_link);
	mutex_unlock(&mmm->lock);

	debugfs_remove(mirror->debugfs);
	hmm_mirror_intervals_drop(mirror, 0, ULONG_MAX);
	WARN_ON(!RB_EMPTY_ROOT(&mirror->intervals));
	mmu_notifier_put(&mmm->mn);
	mirror->mmm = NULL;
}
EXPORT_SYMBOL_GPL(hmm_mirror_unregister);

/* ---- faults and snapshots ------------------------------------------- */

static int hmm_mirror_fault_batch(struct hmm_mirror *mirror,
				  struct hmm_mirror_interval *iv,
				  struct hmm_range *range,
				  struct hmm_mirror_batch *batch)
{
	unsigned long timeout = jiffies + msecs_to_jiffies(fault_timeout_ms);
	struct mm_struct *mm = mirror->mm;
	int ret;

	for (;;) {
		if (fatal_signal_pending(current))
			return -EINTR;
		if (mirror->ops->prepare) {
			ret = mirror->ops->prepare(mirror, batch->start,
						   batch->end, batch->arg);
			if (ret)
				return ret;
		}
		/* A fresh sequence on every attempt, never a stale one. */
		range->notifier_seq = mmu_interval_read_begin(&iv->notifier);
		mmap_read_lock(mm);
		ret = hmm_range_fault(range);
		mmap_read_unlock(mm);
		if (ret == -EBUSY)
			goto retry;
		if (ret)
			return ret;

		mutex_lock(&mirror->update_lock);
		if (mmu_interval_read_retry(&iv->notifier, range->notifier_seq)) {
			mutex_unlock(&mirror->update_lock);
			goto retry;
		}
		ret = mirror->dead ? -ESRCH : mirror->ops->commit(mirror, batch);
		mutex_unlock(&mirror->update_lock);
		/*
		 * The driver ran out of what ->prepare set aside (a racing
		 * fault of the same mirror used it): prepare and try again.
		 */
		if (ret == -EAGAIN)
			goto retry;
		if (!ret) {
			COUNT(mirror, faults, 1);
			COUNT(mirror, pages_faulted,
			      (batch->end - batch->start) >> PAGE_SHIFT);
		}
		return ret;
retry:
		COUNT(mirror, retries, 1);
		if (time_after(jiffies, timeout)) {
			COUNT(mirror, timeouts, 1);
			return -EBUSY;
		}
		cond_resched();
	}
}

static int hmm_mirror_walk(struct hmm_mirror *mirror, unsigned long start,
			   unsigned long end, unsigned int flags, void *arg)
{
	struct hmm_range range = {
		.dev_private_owner = mirror->owner,
		.default_flags = HMM_PFN_REQ_FAULT |
			((flags & HMM_MIRROR_FAULT_WRITE) ? HMM_PFN_REQ_WRITE : 0),
	};
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
		unsigned long next = min(end, ALIGN_DOWN(addr, HMM_MIRROR_INTERVAL_SIZE) +
					 HMM_MIRROR_INTERVAL_SIZE);
		struct hmm_mirror_batch batch = {
			.start = addr, .end = next, .flags = flags, .arg = arg,
			.hmm_pfns = pfns,
		};
		struct hmm_mirror_interval *iv;

		iv = hmm_mirror_interval_get(mirror, addr);
		if (IS_ERR(iv)) {
			ret = PTR_ERR(iv);
			break;
		}
		range.notifier = &iv->notifier;
		range.start = addr;
		range.end = next;
		range.hmm_pfns = pfns;
		ret = hmm_mirror_fault_batch(mirror, iv, &range, &batch);
		hmm_mirror_interval_put(iv);
		if (ret)
			break;
		batches++;
		addr = next;
	}

	kvfree(pfns);
out_mmput:
	mmput(mirror->mm);
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
 * retried with a fresh sequence for up to the fault_timeout_ms parameter.
 *
 * Context: process context; may sleep; takes mmap_lock for read.
 * Return: the number of batches committed, or -EFAULT (range not mapped),
 * -EPERM (write to a read-only mapping), -EBUSY (timed out), -ESRCH (the mm
 * is gone or the mirror was released), -EINTR, -ENOMEM or ->commit's error.
 */
int hmm_mirror_fault(struct hmm_mirror *mirror, unsigned long start,
		     unsigned long end, unsigned int flags, void *arg)
{
	if (flags & ~HMM_MIRROR_FAULT_WRITE)
		return -EINVAL;
	return hmm_mirror_walk(mirror, start, end, flags, arg);
}
EXPORT_SYMBOL_GPL(hmm_mirror_fault);

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
 * is taken again (up to fault_timeout_ms).
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
	unsigned long timeout = jiffies + msecs_to_jiffies(fault_timeout_ms);
	struct mmu_interval_notifier *mni;
	struct hmm_range range = {
		.dev_private_owner = owner,
	};
	unsigned long addr, *pfns;
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
	for (addr = start; addr < end && !ret; ) {
		unsigned long next = min(end, addr +
					 (HMM_MIRROR_BATCH_PAGES << PAGE_SHIFT));

		range.start = addr;
		range.end = next;
		range.notifier_seq = mmu_interval_read_begin(mni);
		mmap_read_lock(mirror->mm);
		ret = hmm_range_fault(&range);
		mmap_read_unlock(mirror->mm);
		if (ret == -EBUSY && !time_after(jiffies, timeout)) {
			COUNT(mirror, retries, 1);
			ret = 0;
			cond_resched();
			continue;
		}
		if (ret)
			break;
		COUNT(mirror, snapshots, 1);
		ret = fn(arg, addr, pfns, (next - addr) >> PAGE_SHIFT);
		addr = next;
	}
	mmu_interval_notifier_remove(mni);
out_free:
	kvfree(pfns);
	kfree(mni);
	mmput(mirror->mm);
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
 * hmm_mirror_forget() - stop tracking a range
 * @mirror: a registered mirror
 * @start: first address
 * @end: end address (exclusive)
 *
 * Removes the interval notifiers that lie entirely inside [start, end) so
 * that CPU changes there no longer reach the driver.  The driver drops its
 * own mappings of the range first.  Faults racing with this keep working.
 *
 * Context: process context; may sleep.
 */
void hmm_mirror_forget(struct hmm_mirror *mirror, unsigned long start,
		       unsigned long end)
{
	hmm_mirror_intervals_drop(mirror, start, end);
}
EXPORT_SYMBOL_GPL(hmm_mirror_forget);

/* ---- migration and exclusive access -------------------------------- */

/*
 * Fault the batch in for reading with our owner: pages in another device's
 * memory come back to system memory (their owner's migrate_to_ram), swap
 * entries are read in, holes get the zero page.  Our own device pages stay.
 * Called with mmap_lock held for read; best effort.
 */
static void hmm_mirror_prefault(struct hmm_mirror *mirror,
				struct hmm_mirror_interval *iv,
				unsigned long start, unsigned long end,
				unsigned long *pfns)
{
	struct hmm_range range = {
		.notifier = &iv->notifier,
		.start = start,
		.end = end,
		.hmm_pfns = pfns,
		.default_flags = HMM_PFN_REQ_FAULT,
		.dev_private_owner = mirror->owner,
	};
	int tries = 8;

	do {
		range.notifier_seq = mmu_interval_read_begin(&iv->notifier);
	} while (hmm_range_fault(&range) == -EBUSY && --tries);
}

/* A migrate_vma for [start, end) of @vma with @src (and dst after it) zeroed. */
static void hmm_mirror_migrate_args(struct migrate_vma *args,
				    struct hmm_mirror *mirror,
				    struct vm_area_struct *vma,
				    unsigned long start, unsigned long end,
				    unsigned long *src, unsigned long flags)
{
	memset(src, 0, 2 * HMM_MIRROR_BATCH_PAGES * sizeof(*src));
	*args = (struct migrate_vma) {
		.vma = vma,
		.start = start,
		.end = end,
		.src = src,
		.dst = src + HMM_MIRROR_BATCH_PAGES,
		.pgmap_owner = mirror->owner,
		.flags = flags,
	};
}

static void hmm_mirror_migrate_batch(struct hmm_mirror *mirror,
				     struct hmm_mirror_migrate *m,
				     struct hmm_mirror_migrate_result *res)
{
	struct migrate_vma *args = &m->args;
	unsigned long i, npages = (args->end - args->start) >> PAGE_SHIFT;

	if (migrate_vma_setup(args)) {
		res->skip_vma += npages;
		return;
	}
	for (i = 0; i < npages; i++) {
		if (!args->src[i])
			res->skip_other++;
		else if (!(args->src[i] & MIGRATE_PFN_MIGRATE))
			res->skip_busy++;
	}
	if (!args->cpages)
		goto out_finalize;

	/*
	 * Our own migration does not zap through the notifier (owner filter):
	 * zap here, before the copy, so a device write cannot land in a
	 * source page after it was copied.  Device faults meanwhile wait on
	 * the migration entries, or retry on the moved sequence.
	 */
	mutex_lock(&mirror->update_lock);
	mirror->ops->invalidate(mirror, NULL, args->start, args->end);
	mutex_unlock(&mirror->update_lock);

	mirror->ops->migrate_alloc_copy(mirror, m);
	for (i = 0; i < npages; i++)
		if ((args->src[i] & MIGRATE_PFN_MIGRATE) && !args->dst[i])
			res->skip_nomem++;

	migrate_vma_pages(args);
	for (i = 0; i < npages; i++) {
		if (!args->dst[i])
			continue;
		if (args->src[i] & MIGRATE_PFN_MIGRATE)
			res->migrated++;
		else
			res->skip_refused++;
	}
	if (mirror->ops->migrate_commit) {
		mutex_lock(&mirror->update_lock);
		if (!mirror->dead)
			mirror->ops->migrate_commit(mirror, m);
		mutex_unlock(&mirror->update_lock);
	}
out_finalize:
	migrate_vma_finalize(args);
}

/**
 * hmm_mirror_migrate() - move a range to or from the device's memory
 * @mirror: a registered mirror with ->migrate_alloc_copy and an @owner
 * @start: first address (page aligned)
 * @end: end address (page aligned, exclusive)
 * @flags: HMM_MIRROR_MIGRATE_TO_DEVICE: system memory -> device memory,
 *	else this device's memory -> system memory;
 *	HMM_MIRROR_MIGRATE_FROM_PEERS: first fault pages that sit in another
 *	device's memory (and swapped-out pages) back to system memory, so
 *	they move too (device to device through system memory)
 * @arg: cookie for the driver callbacks
 * @res: out: where every page went
 *
 * Works in batches of at most HMM_MIRROR_BATCH_PAGES pages inside one VMA
 * around migrate_vma_setup(), ->migrate_alloc_copy, migrate_vma_pages(),
 * ->migrate_commit and migrate_vma_finalize().  A THP source is split by
 * migrate_vma_setup() as 6.12 requires.  Every page is accounted for in @res.
 *
 * Context: process context; may sleep; takes mmap_lock for read.
 * Return: 0, or -EINVAL, -EOPNOTSUPP (no migration callbacks or owner),
 * -ESRCH (the mm is gone), -ENOMEM.
 */
int hmm_mirror_migrate(struct hmm_mirror *mirror, unsigned long start,
		       unsigned long end, unsigned int flags, void *arg,
		       struct hmm_mirror_migrate_result *res)
{
	bool to_device = flags & HMM_MIRROR_MIGRATE_TO_DEVICE;
	struct mm_struct *mm = mirror->mm;
	struct hmm_mirror_migrate m = {
		.to_device = to_device,
		.arg = arg,
	};
	unsigned long addr, cend, *src;
	int ret = 0;

	memset(res, 0, sizeof(*res));
	if (!mirror->ops->migrate_alloc_copy || !mirror->owner)
		return -EOPNOTSUPP;
	if (!PAGE_ALIGNED(start) || !PAGE_ALIGNED(end) || start >= end ||
	    (flags & ~(HMM_MIRROR_MIGRATE_TO_DEVICE | HMM_MIRROR_MIGRATE_FROM_PEERS)))
		return -EINVAL;
	src = kvmalloc_array(2 * HMM_MIRROR_BATCH_PAGES, sizeof(*src),
			     GFP_KERNEL);
	if (!src)
		return -ENOMEM;
	if (!mmget_not_zero(mm)) {
		ret = -ESRCH;
		goto out_free;
	}

	for (addr = start; addr < end && !ret; addr = cend) {
		struct hmm_mirror_interval *iv = NULL;
		unsigned long a, next;

		cend = min(end, ALIGN_DOWN(addr, HMM_MIRROR_INTERVAL_SIZE) +
				HMM_MIRROR_INTERVAL_SIZE);
		/* Interval inserts may not nest in mmap_lock: take it first. */
		if (to_device && (flags & HMM_MIRROR_MIGRATE_FROM_PEERS)) {
			iv = hmm_mirror_interval_get(mirror, addr);
			if (IS_ERR(iv))
				iv = NULL;
		}
		mmap_read_lock(mm);
		for (a = addr; a < cend; a = next) {
			struct vm_area_struct *vma = find_vma(mm, a);

			if (!vma || vma->vm_start > a) {
				next = vma ? min(cend, vma->vm_start) : cend;
				res->skip_vma += (next - a) >> PAGE_SHIFT;
				continue;
			}
			next = min(cend, vma->vm_end);
			if (iv)
				hmm_mirror_prefault(mirror, iv, a, next, src);
			hmm_mirror_migrate_args(&m.args, mirror, vma, a, next, src,
						to_device ? MIGRATE_VMA_SELECT_SYSTEM :
						MIGRATE_VMA_SELECT_DEVICE_PRIVATE);
			hmm_mirror_migrate_batch(mirror, &m, res);
		}
		mmap_read_unlock(mm);
		if (iv)
			hmm_mirror_interval_put(iv);
		if (fatal_signal_pending(current))
			ret = -EINTR;
		cond_resched();
	}
	mmput(mm);
out_free:
	kvfree(src);
	return ret;
}
EXPORT_SYMBOL_GPL(hmm_mirror_migrate);

#if IS_ENABLED(CONFIG_DEVICE_PRIVATE)
/*
 * Split PMD-mapped THPs in [start, end): migrate_vma_setup() splits them
 * while collecting, and finalizing without destinations restores every
 * page in place.  make_device_exclusive_range() cannot take a large folio.
 */
static void hmm_mirror_split_thp(struct hmm_mirror *mirror,
				 struct vm_area_struct *vma,
				 unsigned long start, unsigned long end,
				 unsigned long *src)
{
	struct migrate_vma args;

	hmm_mirror_migrate_args(&args, mirror, vma, start, end, src,
				MIGRATE_VMA_SELECT_SYSTEM);
	if (!migrate_vma_setup(&args))
		migrate_vma_finalize(&args);
}

static long hmm_mirror_exclusive_batch(struct hmm_mirror *mirror,
				       unsigned long start, unsigned long end,
				       struct page **pages)
{
	long i, n, npages = (end - start) >> PAGE_SHIFT, granted = 0;

	if (mirror->ops->prepare) {
		n = mirror->ops->prepare(mirror, start, end, NULL);
		if (n)
			return n;
	}
	n = make_device_exclusive_range(mirror->mm, start, end, pages,
					mirror->owner);
	if (n < 0)
		return n;
	for (i = 0; i < n; i++)
		granted += !!pages[i];
	if (granted == npages) {
		mutex_lock(&mirror->update_lock);
		n = mirror->dead ? -ESRCH :
			mirror->ops->exclusive_commit(mirror, start, pages, npages);
		mutex_unlock(&mirror->update_lock);
	} else {
		n = -EBUSY;
	}
	for (i = 0; i < npages; i++) {
		if (pages[i]) {
			unlock_page(pages[i]);
			put_page(pages[i]);
		}
	}
	return n;
}

/**
 * hmm_mirror_make_exclusive() - give the device exclusive (atomic) access
 * @mirror: a registered mirror with ->exclusive_commit and an @owner
 * @start: first address (page aligned)
 * @end: end address (page aligned, exclusive)
 *
 * Replaces the CPU mappings of [start, end) with device-exclusive entries
 * (make_device_exclusive_range()) and lets the driver map the pages; the
 * first CPU access to a page revokes the grant through an invalidation.
 * THP-backed ranges are split first (upstream test_hmm gets -EBUSY there).
 *
 * Context: process context; may sleep; takes mmap_lock for read.
 * Return: 0, or -EBUSY (some page could not be made exclusive), -EFAULT,
 * -EOPNOTSUPP, -ESRCH, -ENOMEM, -EINVAL.
 */
int hmm_mirror_make_exclusive(struct hmm_mirror *mirror, unsigned long start,
			      unsigned long end)
{
	struct mm_struct *mm = mirror->mm;
	unsigned long addr, next, *src;
	struct page **pages;
	long ret = 0;

	if (!mirror->ops->exclusive_commit || !mirror->owner)
		return -EOPNOTSUPP;
	if (!PAGE_ALIGNED(start) || !PAGE_ALIGNED(end) || start >= end)
		return -EINVAL;
	pages = kvmalloc_array(HMM_MIRROR_BATCH_PAGES, sizeof(*pages), GFP_KERNEL);
	src = kvmalloc_array(2 * HMM_MIRROR_BATCH_PAGES, sizeof(*src), GFP_KERNEL);
	if (!pages || !src) {
		ret = -ENOMEM;
		goto out_free;
	}
	if (!mmget_not_zero(mm)) {
		ret = -ESRCH;
		goto out_free;
	}
	for (addr = start; addr < end && !ret; addr = next) {
		struct hmm_mirror_interval *iv;
		struct vm_area_struct *vma;
		int tries;

		/* The grant must be covered by a notifier that can revoke it. */
		iv = hmm_mirror_interval_get(mirror, addr);
		if (IS_ERR(iv)) {
			ret = PTR_ERR(iv);
			break;
		}
		mmap_read_lock(mm);
		vma = vma_lookup(mm, addr);
		if (!vma) {
			ret = -EFAULT;
			next = end;
			goto next_unlock;
		}
		next = min3(end, vma->vm_end, iv->end);
		/*
		 * Split THPs before the first attempt: its FOLL_SPLIT_PMD would
		 * leave a PTE-mapped large folio that nothing splits any more.
		 */
		if (vma_is_anonymous(vma))
			hmm_mirror_split_thp(mirror, vma, addr, next, src);
		for (tries = 0; tries < 3; tries++) {
			memset(pages, 0, HMM_MIRROR_BATCH_PAGES * sizeof(*pages));
			ret = hmm_mirror_exclusive_batch(mirror, addr, next, pages);
			if (ret != -EBUSY)
				break;
			hmm_mirror_split_thp(mirror, vma, addr, next, src);
		}
next_unlock:
		mmap_read_unlock(mm);
		hmm_mirror_interval_put(iv);
	}
	mmput(mm);
out_free:
	kvfree(src);
	kvfree(pages);
	return ret < 0 ? ret : 0;
}
#else
int hmm_mirror_make_exclusive(struct hmm_mirror *mirror, unsigned long start,
			      unsigned long end)
{
	return -EOPNOTSUPP;
}
#endif
EXPORT_SYMBOL_GPL(hmm_mirror_make_exclusive);

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

/* ---- counters ------------------------------------------------------- */

/**
 * hmm_mirror_counters_show() - print counters as "name value" lines
 * @m: the seq_file
 * @c: the counters
 *
 * Return: 0.
 */
int hmm_mirror_counters_show(struct seq_file *m,
			     const struct hmm_mirror_counters *c)
{
	seq_printf(m, "faults %lld\n", atomic64_read(&c->faults));
	seq_printf(m, "pages_faulted %lld\n", atomic64_read(&c->pages_faulted));
	seq_printf(m, "retries %lld\n", atomic64_read(&c->retries));
	seq_printf(m, "timeouts %lld\n", atomic64_read(&c->timeouts));
	seq_printf(m, "invalidations %lld\n", atomic64_read(&c->invalidations));
	seq_printf(m, "invalidations_nonblock %lld\n",
		   atomic64_read(&c->invalidations_nonblock));
	seq_printf(m, "nonblock_refusals %lld\n",
		   atomic64_read(&c->nonblock_refusals));
	seq_printf(m, "snapshots %lld\n", atomic64_read(&c->snapshots));
	seq_printf(m, "self_invalidations %lld\n",
		   atomic64_read(&c->self_invalidations));
	return 0;
}
EXPORT_SYMBOL_GPL(hmm_mirror_counters_show);

static int hmm_mirror_debugfs_show(struct seq_file *m, void *unused)
{
	struct hmm_mirror *mirror = m->private;

	return hmm_mirror_counters_show(m, &mirror->stats);
}
DEFINE_SHOW_ATTRIBUTE(hmm_mirror_debugfs);

/**
 * hmm_mirror_debugfs_create() - expose a mirror's counters in debugfs
 * @mirror: a registered mirror
 * @parent: the debugfs directory
 * @name: the file name
 *
 * The file goes away in hmm_mirror_unregister().
 */
void hmm_mirror_debugfs_create(struct hmm_mirror *mirror,
			       struct dentry *parent, const char *name)
{
	mirror->debugfs = debugfs_create_file(name, 0444, parent, mirror,
					      &hmm_mirror_debugfs_fops);
}
EXPORT_SYMBOL_GPL(hmm_mirror_debugfs_create);

static void __exit hmm_mirror_exit(void)
{
	/* Wait for the SRCU-deferred frees of per-mm objects. */
	mmu_notifier_synchronize();
	rcu_barrier();
}
module_exit(hmm_mirror_exit);

MODULE_DESCRIPTION("HMM mirror layer: device page tables kept in sync with a process mm");
MODULE_LICENSE("GPL");
