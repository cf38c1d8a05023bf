/* SPDX-License-Identifier: GPL-2.0 */
/*
 * hmm_mirror: what the files of the layer share, private to lib/.
 *
 * The layer is four files: hmm_mirror_main.c (the per-mm object, mirror
 * registration, the teardown chain, counters, the module),
 * hmm_mirror_interval.c (mirrored intervals, their invalidation and their
 * collector), hmm_mirror_fault.c (faults and snapshots) and
 * hmm_mirror_migrate.c (migration and exclusive access).  The locking rules
 * are in hmm_mirror_main.c.
 */
#ifndef _HMM_MIRROR_INTERNAL_H
#define _HMM_MIRROR_INTERNAL_H

#include <linux/hmm_mirror.h>
#include <linux/mmu_notifier.h>
#include <linux/refcount.h>

struct hmm_mirror_mm {
	struct mmu_notifier mn;
	struct mutex lock;		/* mirrors, ->released, teardown, exited */
	struct list_head mirrors;	/* struct hmm_mirror.mm_link */
	struct list_head teardown;	/* sorted by priority */
	bool exited;			/* ->release ran: no new users */
	unsigned int releasing;		/* under lock: ->release calls running */
	wait_queue_head_t release_wq;	/* a ->release call finished */
};

/*
 * One mmu interval notifier over a naturally aligned block.  Every device
 * entry a mirror holds lies inside a live, linked interval: entries are only
 * committed under the update lock after checking that the interval was not
 * @removed, and removal zaps the block under the same lock.
 */
struct hmm_mirror_interval {
	struct mmu_interval_notifier notifier;
	struct hmm_mirror *mirror;
	struct rb_node node;
	unsigned long start;
	unsigned long end;
	refcount_t ref;
	bool removed;			/* under update_lock: unlinked, zapped */
	struct list_head dead;		/* after unlinking, under no lock */
	unsigned long flags;		/* HMM_MIRROR_IV_* bits */
	struct list_head gc_link;	/* the collector's, with a reference */
	bool gc_empty;			/* the collector's: no VMA in the block */
	struct rcu_head rcu;
	/*
	 * Under update_lock, one bit per page of the block: what the device
	 * was handed by a commit since the page was last invalidated (for
	 * hmm_mirror_range_valid()), and writable so.
	 */
	DECLARE_BITMAP(mapped, HMM_MIRROR_BATCH_PAGES);
	DECLARE_BITMAP(writable, HMM_MIRROR_BATCH_PAGES);
	/*
	 * With a dma_dev: one DMA address per page of the block, or
	 * DMA_MAPPING_ERROR, and whether it was mapped DMA_BIDIRECTIONAL (else
	 * DMA_TO_DEVICE: a page the device may only read).  Under update_lock.
	 */
	dma_addr_t *dma;
	DECLARE_BITMAP(dma_bidi, HMM_MIRROR_BATCH_PAGES);
};

/* @flags: the collector should check whether the block is still mapped. */
#define HMM_MIRROR_IV_GC		0

/*
 * Internal hmm_mirror_fault() flag: map only what the CPU maps now (no
 * fault); used to map pages right after they migrated to the device.
 */
#define HMM_MIRROR_FAULT_PRESENT	BIT(31)

/*
 * Returned by a batch whose interval was removed: take a new one.  Positive,
 * so that no errno of a driver callback can be mistaken for it.
 */
#define HMM_MIRROR_STALE_INTERVAL	1

/* Add @n to event @ev of @mirror and of its parent counters. */
static inline void hmm_mirror_count(struct hmm_mirror *mirror,
				    enum hmm_mirror_event ev, long n)
{
	atomic64_add(n, &mirror->stats.events[ev]);
	if (mirror->parent)
		atomic64_add(n, &mirror->parent->events[ev]);
}

unsigned long hmm_mirror_deadline(const struct hmm_mirror *mirror);

/* The size of a mirror's blocks (a power of two). */
static inline unsigned long hmm_mirror_granule(const struct hmm_mirror *mirror)
{
	return mirror->granule;
}

/* The end of the block that contains @addr, clipped to @end. */
static inline unsigned long hmm_mirror_block_end(const struct hmm_mirror *mirror,
						 unsigned long addr,
						 unsigned long end)
{
	return min(end, ALIGN_DOWN(addr, mirror->granule) + mirror->granule);
}

#ifdef CONFIG_FAULT_INJECTION_DEBUG_FS
bool hmm_mirror_should_fail_trylock(void);
bool hmm_mirror_should_fail_interval_alloc(void);
#else
static inline bool hmm_mirror_should_fail_trylock(void)
{
	return false;
}

static inline bool hmm_mirror_should_fail_interval_alloc(void)
{
	return false;
}
#endif

void hmm_mirror_gate_close(struct hmm_mirror *mirror);
void hmm_mirror_gate_wait(struct hmm_mirror *mirror);
void hmm_mirror_update_lock_ungated(struct hmm_mirror *mirror);
void hmm_mirror_update_lock(struct hmm_mirror *mirror);
bool hmm_mirror_update_trylock(struct hmm_mirror *mirror);
void hmm_mirror_update_unlock(struct hmm_mirror *mirror,
			      enum hmm_mirror_hold who);
void hmm_mirror_debug_delay(void);

struct hmm_mirror_interval *
hmm_mirror_interval_find(struct hmm_mirror *mirror, unsigned long addr);
struct hmm_mirror_interval *
hmm_mirror_interval_lookup(struct hmm_mirror *mirror, unsigned long addr);
struct hmm_mirror_interval *hmm_mirror_interval_get(struct hmm_mirror *mirror,
						    unsigned long addr);
void hmm_mirror_interval_put(struct hmm_mirror_interval *iv);
void hmm_mirror_intervals_drop(struct hmm_mirror *mirror, unsigned long start,
			       unsigned long end);
void hmm_mirror_interval_gc_mark(struct hmm_mirror_interval *iv);
void hmm_mirror_intervals_init(struct hmm_mirror *mirror);
void hmm_mirror_intervals_fini(struct hmm_mirror *mirror);
int hmm_mirror_interval_cache_init(void);
void hmm_mirror_interval_cache_fini(void);
/* The DMA slots of the batch that starts at @addr, or NULL. */
static inline const dma_addr_t *
hmm_mirror_iv_dma(const struct hmm_mirror_interval *iv, unsigned long addr)
{
	return iv->dma ? &iv->dma[(addr - iv->start) >> PAGE_SHIFT] : NULL;
}

int hmm_mirror_dma_map(struct hmm_mirror *mirror,
		       struct hmm_mirror_interval *iv, unsigned long start,
		       const unsigned long *hmm_pfns, struct page **pages,
		       unsigned long npages);
void hmm_mirror_dma_unmap(struct hmm_mirror *mirror,
			  struct hmm_mirror_interval *iv, unsigned long start,
			  unsigned long end);
void hmm_mirror_dma_unmap_all(struct hmm_mirror *mirror);
void hmm_mirror_mark_unmapped(struct hmm_mirror_interval *iv,
			      unsigned long start, unsigned long end);
void hmm_mirror_mark_mapped(struct hmm_mirror_interval *iv,
			    unsigned long start, const unsigned long *hmm_pfns,
			    unsigned long npages, bool all_writable);
int hmm_mirror_fault_batch(struct hmm_mirror *mirror,
			   struct hmm_mirror_interval *iv,
			   unsigned long start, unsigned long end,
			   unsigned int flags, void *arg, unsigned long *pfns,
			   unsigned long deadline);

/* hmm_mirror_attr.c */
void hmm_mirror_attrs_fini(struct hmm_mirror *mirror);

#endif /* _HMM_MIRROR_INTERNAL_H */
