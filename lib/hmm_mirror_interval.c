// SPDX-License-Identifier: GPL-2.0
/*
 * hmm_mirror: mirrored intervals, their invalidation, and their collector.
 * Locking: see DOC: Locking in hmm_mirror_main.c.  The collector takes
 * tree_lock, then mmap_lock (read) with tree_lock dropped, then tree_lock
 * and the update lock in turn; it never holds two of them.
 */

/**
 * DOC: Invalidation
 *
 * A mirror watches the CPU page tables through one mmu interval notifier
 * per naturally aligned block of its granule that the device used, so an
 * invalidation elsewhere in the process never reaches it.  Every event
 * reaches every mirror whose interval covers it, whatever caused it
 * (another file, another device, the device's own migration): there is no
 * owner filter.  The one event skipped is the mirror's own exclusive
 * grant, whose CPU entries point at the very pages the device maps.
 *
 * A blockable invalidation takes the update lock, moves the sequence, calls
 * ->invalidate with the range clipped to the block, and unmaps the DMA
 * addresses of the range once ->invalidate returned true.  A non-blockable
 * one (the OOM reaper) only trylocks: a busy lock, or a driver whose TLB
 * flush is still pending (->invalidate returned false), refuses it, and
 * the reaper tries again later; a gate keeps device-side lockers out for
 * 200 ms so that it then gets the lock.  The kernel may invalidate more
 * than an operation changes (a VMA split inside a PMD-sized block
 * invalidates the whole block on 6.12); the device only refaults.
 *
 * Intervals go away when the range is forgotten (hmm_mirror_forget()), at
 * unregister, and when the CPU unmaps the block: MMU_NOTIFY_UNMAP (and a
 * fault that found nothing mapped) marks the interval, and a worker removes
 * marked intervals whose block no VMA intersects, as drm_gpusvm's garbage
 * collector does.  The number of intervals is bounded by the mapped blocks
 * the device used, not by the history of the address space.  Intervals
 * come from their own slab cache, charged to the memory cgroup of the task
 * that creates them (hmm_mirror_interval in /proc/slabinfo).
 */
#include <linux/error-injection.h>
#include <linux/mm.h>
#include <linux/rcupdate.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/workqueue.h>

#include "hmm_mirror_internal.h"
#include <trace/events/hmm_mirror.h>

static struct kmem_cache *hmm_mirror_interval_cache;

/* Intervals removed per update-lock hold. */
#define HMM_MIRROR_REMOVE_SLICE	64

static bool hmm_mirror_interval_invalidate(struct mmu_interval_notifier *mni,
					   const struct mmu_notifier_range *range,
					   unsigned long cur_seq)
{
	struct hmm_mirror_interval *iv =
		container_of(mni, struct hmm_mirror_interval, notifier);
	struct hmm_mirror *mirror = iv->mirror;
	bool blockable = mmu_notifier_range_blockable(range);
	unsigned long start = max(range->start, iv->start);
	unsigned long end = min(range->end, iv->end);
	enum hmm_mirror_inval_outcome outcome = HMM_MIRROR_INVAL_DEAD;

	/*
	 * The mirror's own exclusive grant (hmm_mirror_make_exclusive() passes
	 * the mirror as owner): the CPU entries now point at the very pages
	 * the device maps.  Neither zap nor move the sequence, so that the
	 * grant's commit still notices every other event.
	 */
	if (range->event == MMU_NOTIFY_EXCLUSIVE && range->owner == mirror) {
		hmm_mirror_count(mirror, HMM_MIRROR_EV_SELF_INVALIDATIONS, 1);
		trace_hmm_mirror_invalidate(mirror, range, start, end,
					    HMM_MIRROR_INVAL_SELF);
		return true;
	}

	if (!blockable) {
		bool locked = !hmm_mirror_should_fail_trylock() &&
			      hmm_mirror_update_trylock(mirror);

		/* Keep device lockers out for the rest of the reaper's pass. */
		hmm_mirror_gate_close(mirror);
		if (!locked) {
			hmm_mirror_count(mirror, HMM_MIRROR_EV_NONBLOCK_REFUSALS, 1);
			trace_hmm_mirror_invalidate(mirror, range, start, end,
						    HMM_MIRROR_INVAL_BUSY);
			return false;
		}
	} else {
		hmm_mirror_update_lock_ungated(mirror);
	}
	/* Always move the sequence, so that a racing fault retries. */
	mmu_interval_set_seq(mni, cur_seq);
	/* Not valid any more, whether the driver lets go now or not. */
	hmm_mirror_mark_unmapped(iv, start, end);
	if (!mirror->dead) {
		if (!mirror->ops->invalidate(mirror, range, start, end) &&
		    !WARN_ON_ONCE(blockable)) {
			/* The device cannot let go yet: refuse. */
			hmm_mirror_count(mirror, HMM_MIRROR_EV_DRIVER_REFUSALS, 1);
			hmm_mirror_update_unlock(mirror, HMM_MIRROR_HOLD_INVALIDATE);
			trace_hmm_mirror_invalidate(mirror, range, start, end,
						    HMM_MIRROR_INVAL_DRIVER);
			return false;
		}
		hmm_mirror_count(mirror, blockable ? HMM_MIRROR_EV_INVALIDATIONS :
				 HMM_MIRROR_EV_INVALIDATIONS_NONBLOCK, 1);
		outcome = HMM_MIRROR_INVAL_DONE;
		/* The block may be empty now: let the collector look. */
		if (range->event == MMU_NOTIFY_UNMAP)
			hmm_mirror_interval_gc_mark(iv);
	}
	/* The device let go (or, dead, was zapped whole): unmap the DMA. */
	hmm_mirror_dma_unmap(mirror, iv, start, end);
	hmm_mirror_update_unlock(mirror, HMM_MIRROR_HOLD_INVALIDATE);
	trace_hmm_mirror_invalidate(mirror, range, start, end, outcome);
	return true;
}

static const struct mmu_interval_notifier_ops hmm_mirror_interval_ops = {
	.invalidate = hmm_mirror_interval_invalidate,
};

static void hmm_mirror_interval_free(struct hmm_mirror_interval *iv)
{
	unsigned long i;

	/* Removal unmapped every page: a slot left is a leaked mapping. */
	for (i = 0; iv->dma && i < (iv->end - iv->start) >> PAGE_SHIFT; i++)
		WARN_ON_ONCE(iv->dma[i] != DMA_MAPPING_ERROR);
	kfree(iv->dma);
	kmem_cache_free(hmm_mirror_interval_cache, iv);
}

static void hmm_mirror_interval_free_rcu(struct rcu_head *rcu)
{
	hmm_mirror_interval_free(container_of(rcu, struct hmm_mirror_interval,
					      rcu));
}

/* Drop a reference; the last one must be dropped where sleeping is allowed. */
void hmm_mirror_interval_put(struct hmm_mirror_interval *iv)
{
	if (!refcount_dec_and_test(&iv->ref))
		return;
	/* Only unlinked (removed) intervals lose their last reference. */
	WARN_ON_ONCE(!READ_ONCE(iv->removed));
	/* Waits for invalidations running on this interval. */
	mmu_interval_notifier_remove(&iv->notifier);
	call_rcu(&iv->rcu, hmm_mirror_interval_free_rcu);
}

/*
 * Under RCU or tree_lock: the interval that contains @addr, if any.  Under
 * RCU alone a concurrent rotation can make it miss one (never loop).
 */
struct hmm_mirror_interval *
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
 * Under RCU: the linked interval containing @addr, or NULL.  rb-tree
 * rotations may make a concurrent walk miss a node (never loop, see
 * lib/rbtree.c), so the walk is retried until no tree write ran meanwhile
 * (writers hold preemption off, so this never waits long).  Usable under
 * the update lock.
 */
struct hmm_mirror_interval *
hmm_mirror_interval_lookup(struct hmm_mirror *mirror, unsigned long addr)
{
	struct hmm_mirror_interval *iv;
	unsigned int seq;

	do {
		seq = read_seqcount_begin(&mirror->tree_seq);
		iv = hmm_mirror_interval_find(mirror, addr);
	} while (read_seqcount_retry(&mirror->tree_seq, seq));
	return iv;
}

/* Lockless lookup, and a reference: the last put waits for RCU. */
static struct hmm_mirror_interval *
hmm_mirror_interval_get_rcu(struct hmm_mirror *mirror, unsigned long addr)
{
	struct hmm_mirror_interval *iv;

	rcu_read_lock();
	iv = hmm_mirror_interval_lookup(mirror, addr);
	if (iv && !refcount_inc_not_zero(&iv->ref))
		iv = NULL;
	rcu_read_unlock();
	return iv;
}

/*
 * Writers of the interval tree hold tree_lock.  tree_seq is a plain
 * seqcount (a mutex-associated one makes readers that see a write in
 * progress take the mutex on PREEMPT_RT, inside rcu_read_lock()), so the
 * writer disables preemption itself; rb-tree updates never sleep.
 */
static void hmm_mirror_tree_write_begin(struct hmm_mirror *mirror)
{
	lockdep_assert_held(&mirror->tree_lock);
	preempt_disable();
	write_seqcount_begin(&mirror->tree_seq);
}

static void hmm_mirror_tree_write_end(struct hmm_mirror *mirror)
{
	write_seqcount_end(&mirror->tree_seq);
	preempt_enable();
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
	hmm_mirror_tree_write_begin(mirror);
	rb_link_node(&iv->node, parent, link);
	rb_insert_color(&iv->node, &mirror->intervals);
	hmm_mirror_tree_write_end(mirror);
}

/* The referenced interval containing @addr, created if needed. */
struct hmm_mirror_interval *hmm_mirror_interval_get(struct hmm_mirror *mirror,
						    unsigned long addr)
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
	/* Charged to the caller's memory cgroup (the cache is SLAB_ACCOUNT). */
	iv = hmm_mirror_should_fail_interval_alloc() ? NULL :
	     kmem_cache_zalloc(hmm_mirror_interval_cache, GFP_KERNEL);
	if (!iv) {
		iv = ERR_PTR(-ENOMEM);
		goto out;
	}
	RB_CLEAR_NODE(&iv->node);
	iv->mirror = mirror;
	iv->start = ALIGN_DOWN(addr, hmm_mirror_granule(mirror));
	iv->end = iv->start + hmm_mirror_granule(mirror);
	refcount_set(&iv->ref, 2);	/* the tree's and ours */
	if (mirror->dma_dev) {
		unsigned long i, n = hmm_mirror_granule(mirror) >> PAGE_SHIFT;

		iv->dma = kmalloc_array(n, sizeof(*iv->dma), GFP_KERNEL_ACCOUNT);
		if (!iv->dma) {
			ret = -ENOMEM;
			goto err_free;
		}
		for (i = 0; i < n; i++)
			iv->dma[i] = DMA_MAPPING_ERROR;
	}
	ret = mmu_interval_notifier_insert(&iv->notifier, mirror->mm, iv->start,
					   hmm_mirror_granule(mirror),
					   &hmm_mirror_interval_ops);
	if (ret)
		goto err_free;
	hmm_mirror_interval_link(mirror, iv);
	hmm_mirror_count(mirror, HMM_MIRROR_EV_INTERVALS_CREATED, 1);
out:
	mutex_unlock(&mirror->tree_lock);
	return iv;

err_free:
	hmm_mirror_interval_free(iv);
	mutex_unlock(&mirror->tree_lock);
	return ERR_PTR(ret);
}

/* For BPF and fail_function: an interval that cannot be allocated. */
ALLOW_ERROR_INJECTION(hmm_mirror_interval_get, ERRNO);

/* Under tree_lock: take @iv out of the tree (its reference goes with it). */
static void hmm_mirror_interval_unlink(struct hmm_mirror *mirror,
				       struct hmm_mirror_interval *iv,
				       struct list_head *dead)
{
	hmm_mirror_tree_write_begin(mirror);
	rb_erase(&iv->node, &mirror->intervals);
	hmm_mirror_tree_write_end(mirror);
	RB_CLEAR_NODE(&iv->node);
	list_add(&iv->dead, dead);
}

/*
 * Zap what the device maps in the unlinked intervals on @dead and mark them
 * removed under the update lock (a commit racing this, holding its own
 * reference, then fails and takes a new interval), then drop the tree's
 * references.
 */
static void hmm_mirror_intervals_kill(struct hmm_mirror *mirror,
				      struct list_head *dead)
{
	struct hmm_mirror_interval *iv, *tmp;

	unsigned int n = 0;

	if (list_empty(dead))
		return;
	hmm_mirror_update_lock(mirror);
	list_for_each_entry(iv, dead, dead) {
		struct hmm_mirror_interval *now;

		WRITE_ONCE(iv->removed, true);
		if (!mirror->dead)
			WARN_ON_ONCE(!mirror->ops->invalidate(mirror, NULL,
							      iv->start, iv->end));
		hmm_mirror_dma_unmap(mirror, iv, iv->start, iv->end);
		/*
		 * The zap took the block whole, the entries a fault committed
		 * through a newer interval of the block too: that one is not
		 * valid any more either (its DMA mappings are still good).
		 */
		rcu_read_lock();
		now = hmm_mirror_interval_lookup(mirror, iv->start);
		if (now)
			hmm_mirror_mark_unmapped(now, now->start, now->end);
		rcu_read_unlock();
		hmm_mirror_count(mirror, HMM_MIRROR_EV_INTERVALS_REMOVED, 1);
		/* Bounded holds: let waiting invalidations in now and then. */
		if (++n % HMM_MIRROR_REMOVE_SLICE == 0) {
			hmm_mirror_update_unlock(mirror, HMM_MIRROR_HOLD_REMOVE);
			cond_resched();
			hmm_mirror_update_lock(mirror);
		}
	}
	hmm_mirror_update_unlock(mirror, HMM_MIRROR_HOLD_REMOVE);

	list_for_each_entry_safe(iv, tmp, dead, dead)
		hmm_mirror_interval_put(iv);
}

/* Remove the intervals that lie entirely inside [start, end). */
void hmm_mirror_intervals_drop(struct hmm_mirror *mirror, unsigned long start,
			       unsigned long end)
{
	struct hmm_mirror_interval *iv;
	struct rb_node *node;
	LIST_HEAD(dead);

	mutex_lock(&mirror->tree_lock);
	node = rb_first(&mirror->intervals);
	while (node) {
		iv = rb_entry(node, struct hmm_mirror_interval, node);
		node = rb_next(node);
		if (iv->start >= start && iv->end <= end)
			hmm_mirror_interval_unlink(mirror, iv, &dead);
	}
	mutex_unlock(&mirror->tree_lock);
	hmm_mirror_intervals_kill(mirror, &dead);
}

/**
 * hmm_mirror_forget() - stop tracking a range
 * @mirror: a registered mirror
 * @start: first address
 * @end: end address (exclusive)
 *
 * Removes the interval notifiers that lie entirely inside [start, end) and
 * drops the device's mappings of them (->invalidate with a NULL range), so
 * that no device entry is left without a notifier behind it.  Device entries
 * in partly covered intervals stay, and stay tracked; a driver that wants
 * them gone zaps them itself.  A fault racing with this retries on a new
 * interval, so what it maps is tracked too.
 *
 * Context: process context; may sleep.
 */
void hmm_mirror_forget(struct hmm_mirror *mirror, unsigned long start,
		       unsigned long end)
{
	hmm_mirror_intervals_drop(mirror, start, end);
}
EXPORT_SYMBOL_GPL(hmm_mirror_forget);

/**
 * hmm_mirror_zap() - the driver drops its entries of a range
 * @mirror: a registered mirror
 * @start: first address (page aligned)
 * @end: end address (page aligned, exclusive)
 *
 * For a driver that makes its device forget memory on its own (evicting a
 * VM's mappings, a user request): calls ->invalidate with a NULL range for
 * each mirrored block of [start, end), one block per update-lock hold, then
 * unmaps the DMA addresses there and marks the pages not valid.  The
 * intervals stay; a later fault maps the pages again.  It is not a barrier
 * against a concurrent fault (which may map the range again at once) or
 * removal (whose own zap follows).
 *
 * Context: process context; may sleep.
 */
void hmm_mirror_zap(struct hmm_mirror *mirror, unsigned long start,
		    unsigned long end)
{
	unsigned long addr, next;

	if (WARN_ON_ONCE(!PAGE_ALIGNED(start) || !PAGE_ALIGNED(end)))
		return;
	for (addr = start; addr < end; addr = next) {
		struct hmm_mirror_interval *iv;

		next = hmm_mirror_block_end(mirror, addr, end);
		rcu_read_lock();
		iv = hmm_mirror_interval_lookup(mirror, addr);
		rcu_read_unlock();
		if (!iv)
			continue;
		hmm_mirror_update_lock(mirror);
		/*
		 * Under the update lock a linked or not yet killed interval
		 * stays allocated (its removal needs the lock before it drops
		 * the tree's reference): RCU only for the walk, since
		 * ->invalidate may sleep.
		 */
		rcu_read_lock();
		iv = hmm_mirror_interval_lookup(mirror, addr);
		rcu_read_unlock();
		if (iv && !iv->removed && !mirror->dead) {
			hmm_mirror_mark_unmapped(iv, addr, next);
			WARN_ON_ONCE(!mirror->ops->invalidate(mirror, NULL, addr,
							      next));
			hmm_mirror_dma_unmap(mirror, iv, addr, next);
		}
		hmm_mirror_update_unlock(mirror, HMM_MIRROR_HOLD_DRIVER);
		cond_resched();
	}
}
EXPORT_SYMBOL_GPL(hmm_mirror_zap);

/* ---- the collector ----------------------------------------------------- */

/**
 * hmm_mirror_interval_gc_mark() - ask the collector to look at an interval
 * @iv: an interval whose block may have no VMA left (an MMU_NOTIFY_UNMAP
 *	event, or a fault that found nothing mapped)
 *
 * Context: any; never sleeps (invalidations of the OOM reaper call it).
 */
void hmm_mirror_interval_gc_mark(struct hmm_mirror_interval *iv)
{
	if (!test_and_set_bit(HMM_MIRROR_IV_GC, &iv->flags))
		queue_work(system_unbound_wq, &iv->mirror->gc_work);
}

/*
 * Remove the marked intervals whose block no VMA intersects any more, as
 * drm_gpusvm's garbage collector does for unmapped ranges, but from a
 * worker: mmu_interval_notifier_remove() cannot run in the notifier, and
 * the VMA check needs mmap_lock, which the invalidation may hold for write.
 * An mmap and a fault racing the removal only cost a refault: the removal
 * zaps the block and the fault's commit finds its interval removed.
 */
static void hmm_mirror_gc_work(struct work_struct *work)
{
	struct hmm_mirror *mirror = container_of(work, struct hmm_mirror,
						 gc_work);
	struct hmm_mirror_interval *iv, *tmp;
	struct mm_struct *mm = mirror->mm;
	LIST_HEAD(candidates);
	struct rb_node *node;
	LIST_HEAD(dead);

	if (!mmget_not_zero(mm))
		return;
	mutex_lock(&mirror->tree_lock);
	for (node = rb_first(&mirror->intervals); node; node = rb_next(node)) {
		iv = rb_entry(node, struct hmm_mirror_interval, node);
		if (test_and_clear_bit(HMM_MIRROR_IV_GC, &iv->flags)) {
			refcount_inc(&iv->ref);
			list_add_tail(&iv->gc_link, &candidates);
		}
	}
	mutex_unlock(&mirror->tree_lock);
	if (list_empty(&candidates))
		goto out;

	/* tree_lock is never taken under mmap_lock: decide first. */
	mmap_read_lock(mm);
	list_for_each_entry(iv, &candidates, gc_link)
		iv->gc_empty = !find_vma_intersection(mm, iv->start, iv->end);
	mmap_read_unlock(mm);
	/*
	 * Needed no longer: do not hold up an exit (maybe the OOM victim's)
	 * through the removal below; its exit_mmap() runs in a worker.
	 */
	mmput_async(mm);

	mutex_lock(&mirror->tree_lock);
	list_for_each_entry(iv, &candidates, gc_link)
		if (iv->gc_empty && !RB_EMPTY_NODE(&iv->node))
			hmm_mirror_interval_unlink(mirror, iv, &dead);
	mutex_unlock(&mirror->tree_lock);
	hmm_mirror_intervals_kill(mirror, &dead);

	list_for_each_entry_safe(iv, tmp, &candidates, gc_link)
		hmm_mirror_interval_put(iv);
	return;
out:
	/* Maybe the last user: leave exit_mmap() to its own worker. */
	mmput_async(mm);
}

/* At register: an empty tree and an idle collector. */
void hmm_mirror_intervals_init(struct hmm_mirror *mirror)
{
	mutex_init(&mirror->tree_lock);
	seqcount_init(&mirror->tree_seq);
	mirror->intervals = RB_ROOT;
	INIT_WORK(&mirror->gc_work, hmm_mirror_gc_work);
}

/*
 * At unregister, after ->release: remove every interval, then wait for the
 * collector (nothing queues it once no interval is left).
 */
void hmm_mirror_intervals_fini(struct hmm_mirror *mirror)
{
	hmm_mirror_intervals_drop(mirror, 0, ULONG_MAX);
	cancel_work_sync(&mirror->gc_work);
	WARN_ON(!RB_EMPTY_ROOT(&mirror->intervals));
}

int __init hmm_mirror_interval_cache_init(void)
{
	hmm_mirror_interval_cache = KMEM_CACHE(hmm_mirror_interval,
					       SLAB_ACCOUNT | SLAB_NO_MERGE);
	return hmm_mirror_interval_cache ? 0 : -ENOMEM;
}

/* After rcu_barrier(): the RCU callbacks free into the cache. */
void hmm_mirror_interval_cache_fini(void)
{
	kmem_cache_destroy(hmm_mirror_interval_cache);
}
