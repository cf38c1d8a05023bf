// SPDX-License-Identifier: GPL-2.0
/*
 * hmm_mirror: the per-mm object, registration and release, the teardown
 * chain, the update lock and its gate, counters, the module.
 */

/**
 * DOC: Overview
 *
 * A mirror binds a device to one process address space (mm) and keeps the
 * device's page table in step with the CPU's.  Its one promise: a device
 * never reads or writes memory that the CPU no longer maps at that address.
 *
 * The driver embeds a &struct hmm_mirror in its per-file (per-VM) object,
 * sets &hmm_mirror_ops and registers it with hmm_mirror_register().  It maps
 * memory with hmm_mirror_fault(), which faults the CPU side in with
 * hmm_range_fault() and hands each batch to ->commit under the mirror's
 * update lock once the interval notifier's sequence proves the batch
 * current.  Every CPU page-table change over a mapped block reaches
 * ->invalidate, under the same lock.  With a @dma_dev the layer also
 * DMA-maps the pages it hands over and unmaps them when the device lets go.
 * At process exit or unregister, whichever comes first, ->release runs once.
 *
 * The files: hmm_mirror_main.c (this), hmm_mirror_interval.c (intervals,
 * invalidation, the collector), hmm_mirror_fault.c (the fault loop,
 * snapshots), hmm_mirror_dma.c (the DMA step, the validity check),
 * hmm_mirror_migrate.c (device memory, exclusive access).
 */

/**
 * DOC: Objects and lifetimes
 *
 * - &struct hmm_mirror_mm: one per mm, shared by every mirror of that mm
 *   and by teardown-chain users.  It is an mmu_notifier obtained with
 *   mmu_notifier_get(), so the mmu_notifier core refcounts it; its
 *   ->release runs once at exit_mmap(), and ->free_notifier frees it after
 *   an SRCU grace period once the last mmu_notifier_put() is done.
 * - &struct hmm_mirror: embedded in a driver object; holds one reference on
 *   its hmm_mirror_mm from register to unregister.
 * - &struct hmm_mirror_interval: one mmu interval notifier per naturally
 *   aligned block (the mirror's granule) the device used, in the mirror's
 *   rb-tree, refcounted, freed after an RCU grace period.  Every device
 *   entry lies inside a live interval: the layer commits entries
 *   (->commit, ->exclusive_commit) only under the update lock, after the
 *   interval's sequence proved the CPU state current and the interval was
 *   not removed; removing an interval zaps its block under the same lock.
 *   It also holds the block's DMA addresses and mapped bits.
 * - &struct hmm_mirror_teardown: embedded by its owner, on the per-mm
 *   chain until removed; runs at most once.
 */

/**
 * DOC: Locking
 *
 * Outermost first:
 *
 * - mmm->lock (mutex): the mirror list, every mirror's ->released and
 *   ->release_running flags, the teardown chain.  Teardown callbacks run
 *   under it; ->release callbacks run under no lock of the layer.
 * - mirror->tree_lock (mutex) + mirror->tree_seq (seqcount, written with
 *   preemption off under tree_lock): writers of the interval tree.  Readers
 *   on the fault path walk the tree under RCU and trust a hit they could
 *   take a reference on; a miss only if tree_seq did not move.  Interval
 *   allocation and mmu_interval_notifier_insert() happen under tree_lock,
 *   so tree_lock is never taken with mmap_lock or the update lock held.
 * - mmap_lock (read): around hmm_range_fault(), migrate_vma_*() and
 *   make_device_exclusive_range(); never around a driver callback except
 *   ->migrate_alloc_copy.
 * - mirror->update_lock (mutex): the driver's device page table, the
 *   mirror's ->dead flag, its intervals' ->removed flags, DMA slots and
 *   mapped bits.  Invalidation callbacks take it, and reclaim invalidates:
 *   nothing under it may allocate with reclaim (register primes lockdep
 *   with that fact).  Non-blockable invalidations (the OOM reaper) only
 *   trylock it and refuse when it is busy; device-side lockers then wait
 *   at a gate so the reaper's next pass gets it.
 * - ->commit, ->exclusive_commit and ->invalidate run under update_lock;
 *   ->prepare and ->release with no lock of the layer held.
 * - After ->release, no callback of that mirror runs but the
 *   ->migrate_alloc_copy of a migration already past its checks.
 * - The entry points hold a user reference on the mm (mmget_not_zero())
 *   while they work and drop it with mmput_async(): a driver calling from a
 *   fault worker, with its own locks held, may hold the last reference,
 *   and exit_mmap() (every ->release of the mm) must not run under them.
 */

/**
 * DOC: Release and the teardown chain
 *
 * Every registered mirror gets exactly one ->release, from whichever comes
 * first: exit_mmap() (the per-mm notifier's ->release, reason EXIT) or
 * hmm_mirror_unregister() (reason UNREGISTER).  Both claim the mirror
 * under mmm->lock, so a release is never doubled or missed; the claimer
 * then, with no lock held, zaps everything (->invalidate over the whole
 * address space with ->dead set, in one update-lock section, so no commit
 * can follow), unmaps the DMA addresses and calls ->release.  An
 * unregister that lost the claim to exit waits until that ->release
 * returned.  A device that waits for idle in ->release stalls no other
 * device of the mm.
 *
 * At exit, once every ->release of the mm returned (those of racing
 * unregisters included), the teardown chain runs under mmm->lock in
 * ascending priority, equal priorities in registration order, each entry
 * once.  Registration after exit fails with -ESRCH.
 */
#include <linux/debugfs.h>
#include <linux/delay.h>
#include <linux/dma-map-ops.h>
#include <linux/fault-inject.h>
#include <linux/jiffies.h>
#include <linux/log2.h>
#include <linux/module.h>
#include <linux/rcupdate.h>
#include <linux/sched/mm.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/swiotlb.h>
#include <linux/timekeeping.h>
#include <linux/wait.h>

#include "hmm_mirror_internal.h"

#define CREATE_TRACE_POINTS
#include <trace/events/hmm_mirror.h>

static unsigned int fault_timeout_ms;
module_param(fault_timeout_ms, uint, 0644);
MODULE_PARM_DESC(fault_timeout_ms,
		 "Test hook: when nonzero, every mirror gives up a fault or snapshot batch after retrying this long (ms), whatever its own fault_timeout_ms says");

static unsigned int debug_delay_us;
module_param(debug_delay_us, uint, 0644);
MODULE_PARM_DESC(debug_delay_us,
		 "Test hook: sleep this long (us) in every window between reading CPU state and committing it (default 0)");

/* Widen the race windows on purpose (tests only; a no-op by default). */
void hmm_mirror_debug_delay(void)
{
	unsigned int us = READ_ONCE(debug_delay_us);

	if (us)
		usleep_range(us, us + us / 4 + 1);
}

/*
 * When a batch that starts now must give up retrying: the module parameter
 * (a test override), else the mirror's own timeout, else the core's.
 */
unsigned long hmm_mirror_deadline(const struct hmm_mirror *mirror)
{
	unsigned int ms = READ_ONCE(fault_timeout_ms);

	if (!ms)
		ms = mirror->fault_timeout_ms ?: HMM_RANGE_DEFAULT_TIMEOUT;
	return jiffies + msecs_to_jiffies(ms);
}

/* ---- the update lock ------------------------------------------------ */

#ifdef CONFIG_FAULT_INJECTION_DEBUG_FS
/*
 * debugfs hmm_mirror/fail_nonblock_trylock: make a non-blockable
 * invalidation's trylock fail, to drive the refusal path (the OOM reaper
 * retries) on purpose.
 */
static DECLARE_FAULT_ATTR(hmm_mirror_fail_trylock);

bool hmm_mirror_should_fail_trylock(void)
{
	return should_fail(&hmm_mirror_fail_trylock, 1);
}

/*
 * debugfs hmm_mirror/fail_interval_alloc: an interval that cannot be
 * allocated (-ENOMEM), in the faulting task's context, so task-filtered.
 * (ALLOW_ERROR_INJECTION() marks the same point for BPF and fail_function;
 * fail_function runs its decision in the kprobe's int3 context, which
 * lockdep reports as an NMI taking the crng lock on 6.12.)
 */
static DECLARE_FAULT_ATTR(hmm_mirror_fail_interval);

bool hmm_mirror_should_fail_interval_alloc(void)
{
	return should_fail(&hmm_mirror_fail_interval, 1);
}
#endif

/*
 * The OOM reaper must not lose to a busy device.  Its invalidations are
 * non-blockable: they only trylock the update lock, and a refused one is
 * retried by the reaper HZ/10 later, ten times at most.  An attempt needs
 * every interval of every VMA to succeed in the same pass.  A device that
 * takes the lock again and again (copy slices, commits) can win those
 * races.  So a refusal closes a gate for HMM_MIRROR_GATE_MS, and every
 * later non-blockable invalidation (refused or not) keeps it closed, so
 * that the rest of the reaper's pass finds the lock free: device-side
 * lockers wait at it (not the CPU side) until it lapses.  It is not opened
 * on the first success, which would let the device back in between two
 * intervals of the same pass.
 */
#define HMM_MIRROR_GATE_MS	200

/* Jiffies left before the gate lapses; 0 when it is open. */
static long hmm_mirror_gate_left(struct hmm_mirror *mirror)
{
	unsigned long until = READ_ONCE(mirror->nonblock_gate);

	return until && time_before(jiffies, until) ? (long)(until - jiffies) : 0;
}

/* A non-blockable invalidation came (refused, or one of a pass): hold. */
void hmm_mirror_gate_close(struct hmm_mirror *mirror)
{
	WRITE_ONCE(mirror->nonblock_gate,
		   (jiffies + msecs_to_jiffies(HMM_MIRROR_GATE_MS)) ?: 1);
}

/*
 * The lock without the gate: the CPU side (invalidations, teardown) never
 * waits for it, and a device-side caller that already waited at the gate
 * (hmm_mirror_gate_wait(), before taking page locks) need not wait again.
 */
void hmm_mirror_update_lock_ungated(struct hmm_mirror *mirror)
{
	mutex_lock(&mirror->update_lock);
	mirror->locked_at_ns = ktime_get_ns();
}

/* Sleep while the gate is closed (the device side, no lock held). */
void hmm_mirror_gate_wait(struct hmm_mirror *mirror)
{
	/* After release (dead) there is nothing left for the reaper to wait for. */
	long left = READ_ONCE(mirror->dead) ? 0 : hmm_mirror_gate_left(mirror);

	if (left) {
		hmm_mirror_count(mirror, HMM_MIRROR_EV_GATE_WAITS, 1);
		schedule_timeout_uninterruptible(left);
	}
}

/* The device side: first let a refused non-blockable invalidation in. */
void hmm_mirror_update_lock(struct hmm_mirror *mirror)
{
	hmm_mirror_gate_wait(mirror);
	hmm_mirror_update_lock_ungated(mirror);
}

bool hmm_mirror_update_trylock(struct hmm_mirror *mirror)
{
	if (!mutex_trylock(&mirror->update_lock))
		return false;
	mirror->locked_at_ns = ktime_get_ns();
	return true;
}

static void hmm_mirror_hold_max(atomic64_t *max, s64 ns)
{
	s64 old = atomic64_read(max);

	while (ns > old && !atomic64_try_cmpxchg(max, &old, ns))
		;
}

/* Drop the update lock and record how long @who held it. */
void hmm_mirror_update_unlock(struct hmm_mirror *mirror,
			      enum hmm_mirror_hold who)
{
	s64 ns = ktime_get_ns() - mirror->locked_at_ns;

	mutex_unlock(&mirror->update_lock);
	hmm_mirror_hold_max(&mirror->stats.hold_max_ns[who], ns);
	if (mirror->parent)
		hmm_mirror_hold_max(&mirror->parent->hold_max_ns[who], ns);
}

/**
 * hmm_mirror_lock() - take a mirror's update lock
 * @mirror: the mirror
 *
 * The update lock serialises device page-table changes against
 * invalidations.  Drivers take it to read or change their page table outside
 * the callbacks.  It must not be held across memory allocation with reclaim,
 * and only briefly: the OOM reaper's non-blockable invalidations trylock it
 * and fail while it is held.  Work in bounded slices and drop it between
 * them; the longest hold is in the hold_max_ns counters.  After the OOM
 * reaper was refused, it first waits (200 ms at most) so that the reaper
 * gets the lock.  Every mirror's update lock is of one lockdep class: hold
 * one at a time.
 *
 * Context: process context; may sleep.
 */
void hmm_mirror_lock(struct hmm_mirror *mirror)
{
	hmm_mirror_update_lock(mirror);
}
EXPORT_SYMBOL_GPL(hmm_mirror_lock);

/**
 * hmm_mirror_unlock() - drop a mirror's update lock
 * @mirror: the mirror
 */
void hmm_mirror_unlock(struct hmm_mirror *mirror)
{
	hmm_mirror_update_unlock(mirror, HMM_MIRROR_HOLD_DRIVER);
}
EXPORT_SYMBOL_GPL(hmm_mirror_unlock);

/* ---- per-mm object and the teardown chain --------------------------- */

static struct mmu_notifier *hmm_mirror_mm_alloc(struct mm_struct *mm)
{
	struct hmm_mirror_mm *mmm = kzalloc(sizeof(*mmm), GFP_KERNEL);

	if (!mmm)
		return ERR_PTR(-ENOMEM);
	mutex_init(&mmm->lock);
	init_waitqueue_head(&mmm->release_wq);
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

/*
 * Under mmm->lock: decide that @mirror is released now (true), unless it
 * was already.  Exactly one caller gets true and must then call
 * hmm_mirror_release_run(); the others wait in hmm_mirror_release_wait().
 */
static bool hmm_mirror_release_claim(struct hmm_mirror *mirror)
{
	lockdep_assert_held(&mirror->mmm->lock);
	if (mirror->released)
		return false;
	mirror->released = true;
	WRITE_ONCE(mirror->release_running, true);
	WRITE_ONCE(mirror->mmm->releasing, mirror->mmm->releasing + 1);
	return true;
}

/*
 * Release a claimed mirror, with no lock held: neither the per-mm lock,
 * which every mirror of the mm shares (a device waiting for idle in
 * ->release must not stall another device's register or unregister), nor
 * the update lock.  From here on ->invalidate and the commits are never
 * called, so the device forgets everything first, in one critical section
 * with ->dead: an munmap between this and ->release must not find entries
 * nobody zaps.  Then the DMA mappings go, then ->release.  @mirror may be
 * freed once release_running is cleared (its unregister waits for that).
 */
static void hmm_mirror_release_run(struct hmm_mirror *mirror,
				   enum hmm_mirror_release_reason reason)
{
	struct hmm_mirror_mm *mmm = mirror->mmm;

	hmm_mirror_update_lock_ungated(mirror);
	WRITE_ONCE(mirror->dead, true);
	WARN_ON_ONCE(!mirror->ops->invalidate(mirror, NULL, 0, ULONG_MAX));
	hmm_mirror_update_unlock(mirror, HMM_MIRROR_HOLD_REMOVE);
	hmm_mirror_dma_unmap_all(mirror);
	mirror->ops->release(mirror, reason);
	trace_hmm_mirror_release(mirror, reason);

	mutex_lock(&mmm->lock);
	WRITE_ONCE(mirror->release_running, false);
	WRITE_ONCE(mmm->releasing, mmm->releasing - 1);
	mutex_unlock(&mmm->lock);
	wake_up_all(&mmm->release_wq);
}

/* Wait until the ->release another caller claimed for @mirror returned. */
static void hmm_mirror_release_wait(struct hmm_mirror *mirror)
{
	wait_event(mirror->mmm->release_wq, !READ_ONCE(mirror->release_running));
}

/*
 * mmu_notifier ->release: exit_mmap() calls it exactly once, under SRCU,
 * before the pages of the mm are freed.  Every mirror is released (outside
 * mmm->lock, see hmm_mirror_release_run()), and once every ->release of the
 * mm returned, unregisters' included, the teardown chain runs in priority
 * order.
 */
static void hmm_mirror_mm_release(struct mmu_notifier *mn,
				  struct mm_struct *mm)
{
	struct hmm_mirror_mm *mmm = container_of(mn, struct hmm_mirror_mm, mn);
	struct hmm_mirror *mirror, *next;
	struct hmm_mirror_teardown *td;
	unsigned int index = 0;
	LIST_HEAD(claimed);

	mutex_lock(&mmm->lock);
	if (WARN_ON_ONCE(mmm->exited)) {
		mutex_unlock(&mmm->lock);
		return;
	}
	mmm->exited = true;
	list_for_each_entry(mirror, &mmm->mirrors, mm_link)
		if (hmm_mirror_release_claim(mirror))
			list_add_tail(&mirror->release_link, &claimed);
	mutex_unlock(&mmm->lock);

	/*
	 * A claimed mirror stays allocated until its release_running is
	 * cleared (its unregister waits), so fetch the next one first.
	 */
	list_for_each_entry_safe(mirror, next, &claimed, release_link)
		hmm_mirror_release_run(mirror, HMM_MIRROR_RELEASE_EXIT);

	wait_event(mmm->release_wq, !READ_ONCE(mmm->releasing));
	mutex_lock(&mmm->lock);
	while ((td = list_first_entry_or_null(&mmm->teardown,
					      struct hmm_mirror_teardown,
					      link))) {
		list_del_init(&td->link);
		td->ran = true;
		trace_hmm_mirror_teardown(mm, td, index++);
		td->fn(td, mm);
	}
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
	if (!mirror->granule)
		mirror->granule = HMM_MIRROR_GRANULE_MAX;
	if (WARN_ON(!is_power_of_2(mirror->granule) ||
		    mirror->granule < HMM_MIRROR_GRANULE_MIN ||
		    mirror->granule > HMM_MIRROR_GRANULE_MAX))
		return -EINVAL;
	/* Mirrored memory is written in place: no bounce, no CPU syncs. */
	if (mirror->dma_dev && (!dev_is_dma_coherent(mirror->dma_dev) ||
				is_swiotlb_force_bounce(mirror->dma_dev) ||
				dma_addressing_limited(mirror->dma_dev)))
		return -EINVAL;

	mutex_init(&mirror->update_lock);
	/*
	 * Invalidations take the update lock, and reclaim invalidates: teach
	 * lockdep now that reclaim may take it, so that an allocation that may
	 * reclaim under the lock (a deadlock under memory pressure) splats on
	 * its first run, not on the first reclaim that hits it.  drm_gpusvm
	 * primes its notifier lock the same way.
	 */
	if (IS_ENABLED(CONFIG_LOCKDEP)) {
		fs_reclaim_acquire(GFP_KERNEL);
		might_lock(&mirror->update_lock);
		fs_reclaim_release(GFP_KERNEL);
	}
	mirror->nonblock_gate = 0;
	hmm_mirror_intervals_init(mirror);
	mirror->released = false;
	mirror->release_running = false;
	mirror->dead = false;
	mirror->debugfs = NULL;
	mirror->attrs = NULL;

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
 * reference.  The caller must make sure no other hmm_mirror call on
 * @mirror runs concurrently or later.
 *
 * Context: process context; may sleep.
 */
void hmm_mirror_unregister(struct hmm_mirror *mirror)
{
	struct hmm_mirror_mm *mmm = mirror->mmm;
	bool mine;

	mutex_lock(&mmm->lock);
	mine = hmm_mirror_release_claim(mirror);
	mutex_unlock(&mmm->lock);
	if (mine)
		hmm_mirror_release_run(mirror, HMM_MIRROR_RELEASE_UNREGISTER);
	else
		hmm_mirror_release_wait(mirror);

	mutex_lock(&mmm->lock);
	list_del(&mirror->mm_link);
	mutex_unlock(&mmm->lock);

	debugfs_remove(mirror->debugfs);
	hmm_mirror_intervals_fini(mirror);
	hmm_mirror_attrs_fini(mirror);
	mmu_notifier_put(&mmm->mn);
	mirror->mmm = NULL;
}
EXPORT_SYMBOL_GPL(hmm_mirror_unregister);

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
	static const char * const names[HMM_MIRROR_EV_NR] = {
		[HMM_MIRROR_EV_FAULTS] = "faults",
		[HMM_MIRROR_EV_PAGES_FAULTED] = "pages_faulted",
		[HMM_MIRROR_EV_RETRIES] = "retries",
		[HMM_MIRROR_EV_TIMEOUTS] = "timeouts",
		[HMM_MIRROR_EV_INVALIDATIONS] = "invalidations",
		[HMM_MIRROR_EV_INVALIDATIONS_NONBLOCK] = "invalidations_nonblock",
		[HMM_MIRROR_EV_NONBLOCK_REFUSALS] = "nonblock_refusals",
		[HMM_MIRROR_EV_DRIVER_REFUSALS] = "driver_refusals",
		[HMM_MIRROR_EV_SNAPSHOTS] = "snapshots",
		[HMM_MIRROR_EV_SELF_INVALIDATIONS] = "self_invalidations",
		[HMM_MIRROR_EV_INTERVALS_CREATED] = "intervals_created",
		[HMM_MIRROR_EV_INTERVALS_REMOVED] = "intervals_removed",
		[HMM_MIRROR_EV_GATE_WAITS] = "gate_waits",
		[HMM_MIRROR_EV_DMA_MAPS] = "dma_maps",
		[HMM_MIRROR_EV_DMA_UNMAPS] = "dma_unmaps",
	};
	int ev;

	for (ev = 0; ev < HMM_MIRROR_EV_NR; ev++)
		seq_printf(m, "%s %lld\n", names[ev], hmm_mirror_counter(c, ev));
	seq_printf(m, "intervals %lld\n",
		   hmm_mirror_counter(c, HMM_MIRROR_EV_INTERVALS_CREATED) -
		   hmm_mirror_counter(c, HMM_MIRROR_EV_INTERVALS_REMOVED));
	seq_printf(m, "dma_mapped %lld\n",
		   hmm_mirror_counter(c, HMM_MIRROR_EV_DMA_MAPS) -
		   hmm_mirror_counter(c, HMM_MIRROR_EV_DMA_UNMAPS));
	seq_printf(m, "hold_max_ns invalidate %lld commit %lld remove %lld driver %lld\n",
		   atomic64_read(&c->hold_max_ns[HMM_MIRROR_HOLD_INVALIDATE]),
		   atomic64_read(&c->hold_max_ns[HMM_MIRROR_HOLD_COMMIT]),
		   atomic64_read(&c->hold_max_ns[HMM_MIRROR_HOLD_REMOVE]),
		   atomic64_read(&c->hold_max_ns[HMM_MIRROR_HOLD_DRIVER]));
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

static struct dentry *hmm_mirror_debugfs_root;

static int __init hmm_mirror_init(void)
{
	int ret = hmm_mirror_interval_cache_init();

	if (ret)
		return ret;
	hmm_mirror_debugfs_root = debugfs_create_dir("hmm_mirror", NULL);
#ifdef CONFIG_FAULT_INJECTION_DEBUG_FS
	fault_create_debugfs_attr("fail_nonblock_trylock",
				  hmm_mirror_debugfs_root,
				  &hmm_mirror_fail_trylock);
	fault_create_debugfs_attr("fail_interval_alloc",
				  hmm_mirror_debugfs_root,
				  &hmm_mirror_fail_interval);
#endif
	return 0;
}
module_init(hmm_mirror_init);

static void __exit hmm_mirror_exit(void)
{
	debugfs_remove(hmm_mirror_debugfs_root);
	/* Wait for the SRCU-deferred frees of per-mm objects. */
	mmu_notifier_synchronize();
	rcu_barrier();
	hmm_mirror_interval_cache_fini();
}
module_exit(hmm_mirror_exit);

MODULE_DESCRIPTION("HMM mirror layer: device page tables kept in sync with a process mm");
MODULE_LICENSE("GPL");
