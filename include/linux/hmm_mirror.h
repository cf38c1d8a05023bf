/* SPDX-License-Identifier: GPL-2.0 */
/*
 * hmm_mirror: keep a device page table in sync with one process address space.
 *
 * The promise: a device never reads or writes memory that the CPU no longer
 * maps at that address.  See lib/hmm_mirror_main.c for the locking rules and
 * docs/design.md for the design.
 */
#ifndef _LINUX_HMM_MIRROR_H
#define _LINUX_HMM_MIRROR_H

#include <linux/atomic.h>
#include <linux/dma-mapping.h>
#include <linux/hmm.h>
#include <linux/list.h>
#include <linux/migrate.h>
#include <linux/mmu_notifier.h>
#include <linux/mutex.h>
#include <linux/rbtree.h>
#include <linux/seqlock.h>
#include <linux/sizes.h>
#include <linux/workqueue.h>

struct dentry;
struct hmm_mirror;
struct hmm_mirror_attrs;
struct hmm_mirror_mm;

/*
 * A mirror tracks the CPU page tables in naturally aligned blocks of its
 * granule (struct hmm_mirror.granule): one interval notifier per block the
 * device used, one hmm_range_fault() call per block and fault.  A driver
 * picks a power of two between these bounds; 0 means the largest.
 */
#define HMM_MIRROR_GRANULE_MIN		SZ_64K
#define HMM_MIRROR_GRANULE_MAX		SZ_2M
/* The most pages a batch (a fault, a migration step) ever holds. */
#define HMM_MIRROR_BATCH_PAGES		(HMM_MIRROR_GRANULE_MAX >> PAGE_SHIFT)

/* hmm_mirror_migrate() flags */
#define HMM_MIRROR_MIGRATE_TO_DEVICE	BIT(0)	/* else to system memory */
#define HMM_MIRROR_MIGRATE_FROM_PEERS	BIT(1)	/* pull other devices' pages */
#define HMM_MIRROR_MIGRATE_MAP		BIT(2)	/* then map the range (->commit) */

/* hmm_mirror_fault() flags */
#define HMM_MIRROR_FAULT_WRITE		BIT(0)	/* device needs write access */

/**
 * enum hmm_mirror_release_reason - why a mirror's ->release runs
 * @HMM_MIRROR_RELEASE_EXIT: the mm is being torn down (exit_mmap)
 * @HMM_MIRROR_RELEASE_UNREGISTER: the driver unregistered the mirror first
 */
enum hmm_mirror_release_reason {
	HMM_MIRROR_RELEASE_EXIT,
	HMM_MIRROR_RELEASE_UNREGISTER,
};

/**
 * struct hmm_mirror_batch - one batch of CPU page-table state to commit
 * @start: first address of the batch (page aligned)
 * @end: end of the batch (exclusive), at most HMM_MIRROR_BATCH_PAGES pages
 * @hmm_pfns: one hmm_range_fault() output entry per page
 * @dma_addrs: when the mirror has a @dma_dev, one DMA address per page,
 *	mapped by the layer for that device (PAGE_SIZE; DMA_BIDIRECTIONAL
 *	where the entry is writable, else DMA_TO_DEVICE),
 *	or DMA_MAPPING_ERROR where the page has none (an entry without
 *	HMM_PFN_VALID, or one of the device's own device-private pages);
 *	NULL without a @dma_dev.  The layer owns these mappings: it unmaps
 *	them after ->invalidate returned true for them, and at release.
 * @flags: the HMM_MIRROR_FAULT_* flags of the request
 * @arg: the driver cookie passed to hmm_mirror_fault()
 */
struct hmm_mirror_batch {
	unsigned long start;
	unsigned long end;
	const unsigned long *hmm_pfns;
	const dma_addr_t *dma_addrs;
	unsigned int flags;
	void *arg;
};

/**
 * struct hmm_mirror_migrate - one batch of a migration (at most one granule,
 * inside one VMA)
 * @args: the migrate_vma arguments; @args.src is filled by
 *	migrate_vma_setup(), the driver fills @args.dst
 * @to_device: direction: system -> device memory, or device -> system
 * @arg: the driver cookie passed to hmm_mirror_migrate()
 */
struct hmm_mirror_migrate {
	struct migrate_vma args;
	bool to_device;
	void *arg;
};

/**
 * struct hmm_mirror_migrate_result - where every page of a migration went
 * @migrated: pages now at the destination
 * @skip_vma: no VMA there, or a VMA that cannot migrate (hugetlb, VM_IO,
 *	VM_PFNMAP, DAX)
 * @skip_busy: present but not isolable: pinned, locked, extra references
 * @skip_refused: not anonymous memory (page cache, shmem, memfd_secret()),
 *	which cannot become device-private, or refused by migrate_vma_pages()
 * @skip_nomem: the driver had no destination page
 * @skip_other: not selected: already at the destination, in another
 *	device's memory, or a swap entry
 */
struct hmm_mirror_migrate_result {
	unsigned long migrated;
	unsigned long skip_vma;
	unsigned long skip_busy;
	unsigned long skip_refused;
	unsigned long skip_nomem;
	unsigned long skip_other;
};

/**
 * struct hmm_mirror_ops - what a driver implements
 * @invalidate: drop device mappings of [start, end), a part of @range.  Called
 *	with the mirror's update lock held, for every CPU page-table change
 *	in an interval the mirror maps, whoever caused it (other files, other
 *	devices, this device's own migrations).  Must not sleep when
 *	mmu_notifier_range_blockable(@range) is false.  @range is NULL when
 *	the layer drops entries on its own: a whole block when its interval
 *	is removed (hmm_mirror_forget(), the collector, unregister), a range
 *	in hmm_mirror_zap(), the pages of a batch whose read-only DMA
 *	mappings must become writable (inside a fault, right before
 *	->commit maps them again), everything ([0, ULONG_MAX)) right before
 *	->release.  Never called after ->release.  A device that wrote to a
 *	system page must have marked its folio dirty (folio_mark_dirty()) by
 *	the time the entry is zapped: hmm_range_fault() reports clean
 *	writable pages as writable, and reclaim discards clean pages
 *	(MADV_FREE, swap cache).  A device may drop more than [start, end)
 *	(a large entry partly covered); the layer treats the PMD-aligned
 *	span around it as no longer valid (hmm_mirror_range_valid()).
 *	Returns true once the device can no longer reach the pages (its TLB
 *	invalidation complete).  Only for a non-blockable @range may it
 *	return false instead, when the pages may still be reachable (a TLB
 *	flush it started has not completed, and waiting would sleep); it may
 *	have cleared entries and started the flush, but must be safe to call
 *	again.  The invalidation is then refused and counted as a driver
 *	refusal: the OOM reaper (the only non-blockable caller in 6.12)
 *	skips the VMA and tries again, up to 10 times 100 ms apart, then
 *	gives up on the process, so a flush must complete within about a
 *	second.  In a non-blockable call the driver may clear its entries,
 *	take spinlocks and poll a fence, but not sleep, wait or allocate with
 *	reclaim.  Blockable calls and the layer's own (@range NULL) must
 *	return true.
 *	Required.
 * @release: called exactly once per registered mirror, from mm teardown
 *	or from hmm_mirror_unregister(), whichever comes first, with no lock
 *	of the layer held (neither the update lock nor the per-mm lock that
 *	every mirror of the mm shares: it may wait for the device to go idle
 *	without stalling another device's register or unregister; at exit
 *	the mirrors of the mm are released one after another, so a slow one
 *	delays the others' exit releases).  By then
 *	the layer has called ->invalidate over the whole address space
 *	(@range NULL) and unmapped every DMA address; no commit and no
 *	->invalidate can happen any more.  The driver stops using the mm and
 *	frees what it kept for it.  Required.
 * @prepare: optional; called before each fault or exclusive-grant attempt
 *	with no lock held, may sleep and allocate (for example device
 *	page-table pages that @commit will need, since @commit runs where
 *	reclaim must not recurse).  @arg is the cookie of hmm_mirror_fault()
 *	or hmm_mirror_migrate(), NULL for an exclusive grant.  What it sets
 *	aside and a failed batch leaves unused stays the driver's to reuse
 *	or free.
 * @commit: write device mappings for @batch.  Called with the update lock
 *	held after the notifier sequence was checked, so @batch is current.
 *	Entries without HMM_PFN_VALID, or with HMM_PFN_ERROR, must be
 *	skipped.  Must not allocate memory with reclaim (GFP_KERNEL).  May
 *	return -EAGAIN when what ->prepare set aside was used up by a
 *	concurrent fault: the batch is then retried (->prepare runs again).
 *	Required.
 * @migrate_alloc_copy: for hmm_mirror_migrate(): for every @m->args.src
 *	entry with MIGRATE_PFN_MIGRATE, allocate a destination page, copy
 *	the data, lock it and set @m->args.dst; leave dst 0 to skip a page.
 *	Moving to the device, a source may have no page (an empty anonymous
 *	PTE or the zero page): zero-fill.  Moving to system memory, every
 *	source is a device-private page of @owner.  mmap_lock held for read,
 *	no other lock; may sleep and allocate.  Its return value is only
 *	informative: every page left without a destination, whatever the
 *	return, is skipped and counted in skip_nomem.
 * @exclusive_commit: for hmm_mirror_make_exclusive(): map @npages pages at
 *	@start for exclusive (atomic) device access.  Update lock held, the
 *	notifier sequence checked; the pages are locked and referenced.
 *	@dma_addrs is as in struct hmm_mirror_batch.
 */
struct hmm_mirror_ops {
	bool (*invalidate)(struct hmm_mirror *mirror,
			   const struct mmu_notifier_range *range,
			   unsigned long start, unsigned long end);
	void (*release)(struct hmm_mirror *mirror,
			enum hmm_mirror_release_reason reason);
	int (*prepare)(struct hmm_mirror *mirror, unsigned long start,
		       unsigned long end, void *arg);
	int (*commit)(struct hmm_mirror *mirror,
		      const struct hmm_mirror_batch *batch);
	int (*migrate_alloc_copy)(struct hmm_mirror *mirror,
				  struct hmm_mirror_migrate *m);
	int (*exclusive_commit)(struct hmm_mirror *mirror, unsigned long start,
				struct page **pages, const dma_addr_t *dma_addrs,
				unsigned long npages);
};

/**
 * enum hmm_mirror_hold - who held a mirror's update lock
 * @HMM_MIRROR_HOLD_INVALIDATE: an invalidation callback (the CPU side, the
 *	OOM reaper among it, waits for the lock)
 * @HMM_MIRROR_HOLD_COMMIT: a fault's or an exclusive grant's commit
 * @HMM_MIRROR_HOLD_REMOVE: removing intervals (forget, the collector,
 *	release, unregister)
 * @HMM_MIRROR_HOLD_DRIVER: the driver, between hmm_mirror_lock() and
 *	hmm_mirror_unlock()
 * @HMM_MIRROR_HOLD_NR: how many there are
 */
enum hmm_mirror_hold {
	HMM_MIRROR_HOLD_INVALIDATE,
	HMM_MIRROR_HOLD_COMMIT,
	HMM_MIRROR_HOLD_REMOVE,
	HMM_MIRROR_HOLD_DRIVER,
	HMM_MIRROR_HOLD_NR
};

/**
 * enum hmm_mirror_event - what the layer counts (monotonic, lockless)
 * @HMM_MIRROR_EV_FAULTS: hmm_range_fault() batches committed
 * @HMM_MIRROR_EV_PAGES_FAULTED: pages in those batches
 * @HMM_MIRROR_EV_RETRIES: attempts repeated because of -EBUSY or a changed
 *	notifier sequence
 * @HMM_MIRROR_EV_TIMEOUTS: batches abandoned after the retry timeout
 * @HMM_MIRROR_EV_INVALIDATIONS: blockable invalidations handled
 * @HMM_MIRROR_EV_INVALIDATIONS_NONBLOCK: non-blockable invalidations handled
 *	(neither the layer nor the driver refused them)
 * @HMM_MIRROR_EV_NONBLOCK_REFUSALS: non-blockable invalidations refused
 *	(update lock busy)
 * @HMM_MIRROR_EV_DRIVER_REFUSALS: non-blockable invalidations the driver
 *	refused (->invalidate returned false)
 * @HMM_MIRROR_EV_SNAPSHOTS: hmm_mirror_snapshot() batches
 * @HMM_MIRROR_EV_SELF_INVALIDATIONS: events of the mirror's own exclusive
 *	grants, which need neither a zap nor a sequence change
 * @HMM_MIRROR_EV_INTERVALS_CREATED: interval notifiers inserted
 * @HMM_MIRROR_EV_INTERVALS_REMOVED: interval notifiers removed (unmapped
 *	blocks, forget, unregister); created - removed is how many the mirror
 *	holds now
 * @HMM_MIRROR_EV_GATE_WAITS: device-side lockers that waited for a refused
 *	non-blockable invalidation (the OOM reaper) to come back and get the
 *	lock first
 * @HMM_MIRROR_EV_DMA_MAPS: pages DMA-mapped for the device (@dma_dev)
 * @HMM_MIRROR_EV_DMA_UNMAPS: pages DMA-unmapped; maps - unmaps is how many
 *	the mirror holds now
 * @HMM_MIRROR_EV_NR: how many there are
 */
enum hmm_mirror_event {
	HMM_MIRROR_EV_FAULTS,
	HMM_MIRROR_EV_PAGES_FAULTED,
	HMM_MIRROR_EV_RETRIES,
	HMM_MIRROR_EV_TIMEOUTS,
	HMM_MIRROR_EV_INVALIDATIONS,
	HMM_MIRROR_EV_INVALIDATIONS_NONBLOCK,
	HMM_MIRROR_EV_NONBLOCK_REFUSALS,
	HMM_MIRROR_EV_DRIVER_REFUSALS,
	HMM_MIRROR_EV_SNAPSHOTS,
	HMM_MIRROR_EV_SELF_INVALIDATIONS,
	HMM_MIRROR_EV_INTERVALS_CREATED,
	HMM_MIRROR_EV_INTERVALS_REMOVED,
	HMM_MIRROR_EV_GATE_WAITS,
	HMM_MIRROR_EV_DMA_MAPS,
	HMM_MIRROR_EV_DMA_UNMAPS,
	HMM_MIRROR_EV_NR
};

/**
 * struct hmm_mirror_counters - a mirror's (or a device's) counters
 * @events: one count per enum hmm_mirror_event; read them with
 *	hmm_mirror_counter()
 * @hold_max_ns: the longest the update lock was held, per enum
 *	hmm_mirror_hold (a maximum, not a sum: a long hold makes the OOM
 *	reaper's trylock fail)
 */
struct hmm_mirror_counters {
	atomic64_t events[HMM_MIRROR_EV_NR];
	atomic64_t hold_max_ns[HMM_MIRROR_HOLD_NR];
};

/**
 * hmm_mirror_counter() - read one event count
 * @c: the counters
 * @ev: the event
 *
 * Return: the count.
 */
static inline s64 hmm_mirror_counter(const struct hmm_mirror_counters *c,
				     enum hmm_mirror_event ev)
{
	return atomic64_read(&c->events[ev]);
}

/**
 * struct hmm_mirror - one device's view of one mm
 * @ops: the driver's callbacks
 * @owner: the device-private pgmap owner of this device (may be NULL)
 * @parent: optional counters (for example per device) that every event is
 *	also added to
 * @fault_timeout_ms: how long a fault or snapshot batch keeps retrying
 *	while the CPU side keeps changing before it gives up with -EBUSY;
 *	0 (the default) means HMM_RANGE_DEFAULT_TIMEOUT.  Set before
 *	hmm_mirror_register().
 * @granule: the size of the blocks the mirror tracks and faults: a power
 *	of two from HMM_MIRROR_GRANULE_MIN to HMM_MIRROR_GRANULE_MAX, or 0
 *	for HMM_MIRROR_GRANULE_MAX.  Smaller blocks mean smaller
 *	hmm_range_fault() calls and interval removals (an invalidation is
 *	clipped to its range at any granule) but more notifiers per mapped
 *	byte, and only invalidations that touch a used block reach the
 *	mirror; a device 2 MiB entry needs the largest.  Set before
 *	hmm_mirror_register().
 * @dma_dev: when set, the layer DMA-maps every system page it hands the
 *	driver (->commit, ->exclusive_commit) for this device, keeps the
 *	addresses with the block and unmaps them when the pages are
 *	invalidated, their block removed or the mirror released.  The device
 *	must be cache-coherent and reach memory without bouncing (a DMA mask
 *	that covers all memory, no forced swiotlb): a device that mirrors
 *	memory writes it in place.  hmm_mirror_register() refuses others
 *	(-EINVAL).  Set before hmm_mirror_register().
 * @stats: this mirror's counters
 *
 * Embed it in the driver's per-context object; the other fields are private
 * to the layer (lib/).
 */
struct hmm_mirror {
	const struct hmm_mirror_ops *ops;
	void *owner;
	struct hmm_mirror_counters *parent;
	unsigned int fault_timeout_ms;
	unsigned long granule;
	struct device *dma_dev;
	struct hmm_mirror_counters stats;

	/* private: */
	struct hmm_mirror_mm *mmm;
	struct mm_struct *mm;
	struct list_head mm_link;	/* in mmm->mirrors, under mmm->lock */
	struct list_head release_link;	/* mm exit's list of mirrors to release */
	bool released;			/* under mmm->lock: release decided */
	bool release_running;		/* under mmm->lock: ->release not done */
	bool dead;			/* under update_lock: no more callbacks */
	struct mutex update_lock;	/* device page table vs invalidations */
	u64 locked_at_ns;		/* under update_lock: when it was taken */
	unsigned long nonblock_gate;	/* jiffies: device lockers wait till then */
	struct mutex tree_lock;		/* writers of @intervals */
	seqcount_t tree_seq;		/* lockless readers of @intervals */
	struct rb_root intervals;
	struct work_struct gc_work;	/* removes intervals of unmapped blocks */
	struct hmm_mirror_attrs *attrs;	/* range attributes, made on first use */
	struct dentry *debugfs;
};

/**
 * struct hmm_mirror_teardown - an entry of a per-mm teardown chain
 * @fn: called once when the mm is torn down, after every mirror of the mm
 *	was released, in ascending @priority order (equal priorities in
 *	registration order).  May sleep; must not call hmm_mirror functions
 *	that take the per-mm lock (register, unregister, teardown add/remove).
 * @priority: lower runs first
 *
 * The other fields are private.
 */
struct hmm_mirror_teardown {
	void (*fn)(struct hmm_mirror_teardown *td, struct mm_struct *mm);
	int priority;

	/* private: */
	struct list_head link;
	bool ran;
};

int hmm_mirror_register(struct hmm_mirror *mirror, struct mm_struct *mm);
void hmm_mirror_unregister(struct hmm_mirror *mirror);

int hmm_mirror_fault(struct hmm_mirror *mirror, unsigned long start,
		     unsigned long end, unsigned int flags, void *arg);
int hmm_mirror_snapshot(struct hmm_mirror *mirror, unsigned long start,
			unsigned long end, unsigned long *hmm_pfns);
int hmm_mirror_snapshot_range(struct hmm_mirror *mirror, unsigned long start,
			      unsigned long end, void *owner,
			      int (*fn)(void *arg, unsigned long addr,
					const unsigned long *pfns,
					unsigned long npages),
			      void *arg);
int hmm_mirror_snapshot_owner(struct hmm_mirror *mirror, unsigned long start,
			      unsigned long end, unsigned long *hmm_pfns,
			      void *owner);
int hmm_mirror_migrate(struct hmm_mirror *mirror, unsigned long start,
		       unsigned long end, unsigned int flags, void *arg,
		       struct hmm_mirror_migrate_result *res);
int hmm_mirror_make_exclusive(struct hmm_mirror *mirror, unsigned long start,
			      unsigned long end);
bool hmm_mirror_range_valid(struct hmm_mirror *mirror, unsigned long start,
			    unsigned long end, unsigned int flags);
bool hmm_mirror_pfn_is_zero(unsigned long hmm_pfn);
void hmm_mirror_forget(struct hmm_mirror *mirror, unsigned long start,
		       unsigned long end);
void hmm_mirror_zap(struct hmm_mirror *mirror, unsigned long start,
		    unsigned long end);
int hmm_mirror_set_attr(struct hmm_mirror *mirror, unsigned long start,
			unsigned long end, unsigned long value);
unsigned long hmm_mirror_get_attr(struct hmm_mirror *mirror, unsigned long addr,
				  unsigned long *end);

/* With CONFIG_DEVICE_PRIVATE (lib/hmm_mirror_devmem.c): */
vm_fault_t hmm_mirror_migrate_to_ram(struct vm_fault *vmf, void *owner,
				     struct page *(*copy_out)(struct page *dpage,
							      struct vm_area_struct *vma,
							      unsigned long addr,
							      void *arg),
				     void *arg, unsigned long *moved);
unsigned long hmm_mirror_evict_range(unsigned long pfn, unsigned long npages,
				     unsigned long *scratch,
				     struct page *(*copy_out)(struct page *dpage,
							      struct vm_area_struct *vma,
							      unsigned long addr,
							      void *arg),
				     void *arg);

int hmm_mirror_add_teardown(struct hmm_mirror *mirror,
			    struct hmm_mirror_teardown *td);
bool hmm_mirror_remove_teardown(struct hmm_mirror *mirror,
				struct hmm_mirror_teardown *td);

void hmm_mirror_debugfs_create(struct hmm_mirror *mirror,
			       struct dentry *parent, const char *name);
int hmm_mirror_counters_show(struct seq_file *m,
			     const struct hmm_mirror_counters *c);

void hmm_mirror_lock(struct hmm_mirror *mirror);
void hmm_mirror_unlock(struct hmm_mirror *mirror);

/**
 * hmm_mirror_assert_locked() - lockdep: the caller holds the update lock
 * @mirror: the mirror
 *
 * For a driver's functions that change or read its device page table,
 * which they may only do under the update lock (hmm_mirror_lock(), or
 * inside a callback the layer calls with it held).
 */
static inline void hmm_mirror_assert_locked(struct hmm_mirror *mirror)
{
	lockdep_assert_held(&mirror->update_lock);
}

/**
 * hmm_mirror_mm() - the mm a mirror is bound to
 * @mirror: a registered mirror
 *
 * Return: the mm (held by mmgrab() while the mirror is registered).
 */
static inline struct mm_struct *hmm_mirror_mm(const struct hmm_mirror *mirror)
{
	return mirror->mm;
}

#endif /* _LINUX_HMM_MIRROR_H */
