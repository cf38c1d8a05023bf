// SPDX-License-Identifier: GPL-2.0
/*
 * hmm_mirror: range attributes, a per-mirror tree of driver-defined values
 * over ranges of the mm (placement advice: a preferred location, read-mostly)
 * that goes away where the CPU unmaps.  Locking: see DOC: Range attributes.
 */

/**
 * DOC: Range attributes
 *
 * A runtime advises where a range should live (cudaMemAdvise(), Xe's
 * madvise); the driver consults the advice when the device faults and when
 * it evicts.  hmm_mirror_set_attr() stores one nonzero value per range in a
 * per-mirror interval tree (0 clears); a new value replaces the old ones
 * where they overlap, splitting them, as madvise() does.  Only mapped
 * ranges take attributes (-ENOMEM otherwise, like madvise()), and an
 * attribute goes away with the mapping: munmap, the source of mremap and
 * mmap over it all end in an MMU_NOTIFY_UNMAP invalidation, and the
 * mirror's notifier trims the tree there.  (So do the OOM reaper, whose
 * victim is dying, and mremap(MREMAP_DONTUNMAP), which keeps the old range
 * mapped but empty: losing advice is always safe.)  Nothing else removes it:
 * MADV_DONTNEED, mprotect, migration and fork keep the mapping and so the
 * advice (a child's mirrors start with none).
 *
 * An attribute is a hint: the layer never lets it change what the device
 * may map.  So where trimming would have to split a range and the
 * non-sleeping notifier cannot allocate a node for the part past the
 * unmapped range, that part loses its value, which is always safe.
 *
 * Locking: the tree is under a spinlock, the innermost lock of the layer,
 * never held across anything that sleeps; the notifier (which may run in
 * the OOM reaper's non-blockable context) takes only it.  The tree's mmu
 * notifier is registered on the first hmm_mirror_set_attr() (it takes the
 * mmap lock for write) and unregistered by hmm_mirror_unregister().
 * hmm_mirror_set_attr() checks that the range is mapped and updates the tree
 * under the mmap lock (read), so a racing munmap either comes first (and
 * the call fails) or trims what it stored.
 */
#include <linux/interval_tree.h>
#include <linux/mm.h>
#include <linux/mmu_notifier.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>

#include "hmm_mirror_internal.h"

struct hmm_mirror_attrs {
	struct mmu_notifier mn;
	spinlock_t lock;		/* tree */
	struct rb_root_cached tree;	/* struct hmm_mirror_attr_node */
};

struct hmm_mirror_attr_node {
	struct interval_tree_node it;	/* [start, last], inclusive */
	unsigned long value;
};

/*
 * Remove [start, last] from the tree, keeping the parts of ranges outside
 * it.  A range that straddles both ends needs a second node: *spare if
 * set, else one allocated with @gfp, else its outer right part is dropped
 * too.  Called with the tree lock held.
 */
static void hmm_mirror_attrs_clear(struct hmm_mirror_attrs *a,
				   unsigned long start, unsigned long last,
				   struct hmm_mirror_attr_node **spare, gfp_t gfp)
{
	struct interval_tree_node *it;

	lockdep_assert_held(&a->lock);
	while ((it = interval_tree_iter_first(&a->tree, start, last))) {
		struct hmm_mirror_attr_node *node =
			container_of(it, struct hmm_mirror_attr_node, it);
		bool left = it->start < start, right = it->last > last;

		interval_tree_remove(it, &a->tree);
		if (left && right) {
			struct hmm_mirror_attr_node *r = *spare;

			*spare = NULL;
			if (!r && gfp)
				r = kmalloc(sizeof(*r), gfp);
			if (r) {
				r->it.start = last + 1;
				r->it.last = it->last;
				r->value = node->value;
				interval_tree_insert(&r->it, &a->tree);
			}
			it->last = start - 1;
		} else if (left) {
			it->last = start - 1;
		} else if (right) {
			it->start = last + 1;
		} else {
			kfree(node);
			continue;
		}
		interval_tree_insert(it, &a->tree);
	}
}

static int hmm_mirror_attrs_invalidate(struct mmu_notifier *mn,
				       const struct mmu_notifier_range *range)
{
	struct hmm_mirror_attrs *a = container_of(mn, struct hmm_mirror_attrs, mn);
	struct hmm_mirror_attr_node *none = NULL;

	if (range->event != MMU_NOTIFY_UNMAP || range->start >= range->end)
		return 0;
	spin_lock(&a->lock);
	hmm_mirror_attrs_clear(a, range->start, range->end - 1, &none,
			       GFP_NOWAIT | __GFP_NOWARN);
	spin_unlock(&a->lock);
	return 0;
}

static const struct mmu_notifier_ops hmm_mirror_attrs_ops = {
	.invalidate_range_start = hmm_mirror_attrs_invalidate,
};

/*
 * The mirror's tree, created (and its notifier registered) on first use.
 * Published with a release cmpxchg and read with acquire loads, so a reader
 * that sees the pointer sees the tree initialised.
 */
static struct hmm_mirror_attrs *hmm_mirror_attrs_get(struct hmm_mirror *mirror)
{
	/* Pairs with the cmpxchg_release() below. */
	struct hmm_mirror_attrs *a = smp_load_acquire(&mirror->attrs);
	int ret;

	if (a)
		return a;
	a = kzalloc(sizeof(*a), GFP_KERNEL);
	if (!a)
		return ERR_PTR(-ENOMEM);
	spin_lock_init(&a->lock);
	a->tree = RB_ROOT_CACHED;
	a->mn.ops = &hmm_mirror_attrs_ops;
	if (!mmget_not_zero(mirror->mm)) {
		kfree(a);
		return ERR_PTR(-ESRCH);
	}
	ret = mmu_notifier_register(&a->mn, mirror->mm);
	mmput(mirror->mm);
	if (ret) {
		kfree(a);
		return ERR_PTR(ret);
	}
	/* Two first users: one tree stays, the other goes. */
	if (cmpxchg_release(&mirror->attrs, NULL, a)) {
		mmu_notifier_unregister(&a->mn, mirror->mm);
		kfree(a);
		/*
		 * A failed cmpxchg orders nothing: read the winner's tree
		 * again, pairing with its cmpxchg_release().
		 */
		a = smp_load_acquire(&mirror->attrs);
	}
	return a;
}

/* Is every page of [start, end) inside a VMA?  mmap_lock held. */
static bool hmm_mirror_range_mapped(struct mm_struct *mm, unsigned long start,
				    unsigned long end)
{
	struct vm_area_struct *vma;

	mmap_assert_locked(mm);
	while (start < end) {
		vma = find_vma(mm, start);
		if (!vma || vma->vm_start > start)
			return false;
		start = vma->vm_end;
	}
	return true;
}

/**
 * hmm_mirror_set_attr() - give a range a driver-defined attribute
 * @mirror: a registered mirror
 * @start: first address (page aligned)
 * @end: end address (page aligned, exclusive)
 * @value: the attribute, or 0 to clear the range's
 *
 * Replaces whatever [start, end) had (see DOC: Range attributes).  The value
 * means nothing to the layer.
 *
 * Context: process context; may sleep; takes mmap_lock for read (for write
 * once per mirror, to register the tree's notifier).
 * Return: 0, -EINVAL (bad range), -ENOMEM (a part of the range is not
 * mapped, or no memory), -ESRCH (the mm is gone), -EINTR (a signal came
 * while the first call registered the tree's notifier).
 */
int hmm_mirror_set_attr(struct hmm_mirror *mirror, unsigned long start,
			unsigned long end, unsigned long value)
{
	struct hmm_mirror_attr_node *spare, *node = NULL;
	struct mm_struct *mm = mirror->mm;
	struct hmm_mirror_attrs *a;
	int ret = 0;

	if (!PAGE_ALIGNED(start) || !PAGE_ALIGNED(end) || start >= end)
		return -EINVAL;
	a = hmm_mirror_attrs_get(mirror);
	if (IS_ERR(a))
		return PTR_ERR(a);
	spare = kmalloc(sizeof(*spare), GFP_KERNEL);
	if (value)
		node = kmalloc(sizeof(*node), GFP_KERNEL);
	if (!spare || (value && !node)) {
		ret = -ENOMEM;
		goto out;
	}
	if (!mmget_not_zero(mm)) {
		ret = -ESRCH;
		goto out;
	}
	mmap_read_lock(mm);
	if (!hmm_mirror_range_mapped(mm, start, end)) {
		ret = -ENOMEM;
	} else {
		spin_lock(&a->lock);
		hmm_mirror_attrs_clear(a, start, end - 1, &spare, 0);
		if (node) {
			node->it.start = start;
			node->it.last = end - 1;
			node->value = value;
			interval_tree_insert(&node->it, &a->tree);
			node = NULL;
		}
		spin_unlock(&a->lock);
	}
	mmap_read_unlock(mm);
	mmput(mm);
out:
	kfree(spare);
	kfree(node);
	return ret;
}
EXPORT_SYMBOL_GPL(hmm_mirror_set_attr);

/**
 * hmm_mirror_get_attr() - the attribute at an address
 * @mirror: a registered mirror
 * @addr: the address
 * @end: out, optional: where the answer stops holding (the end of the range
 *	with this attribute, or the start of the next one; ULONG_MAX if none)
 *
 * Context: process or softirq-free atomic context (takes a plain spinlock,
 *	never from an interrupt handler).
 * Return: the attribute, 0 if none.
 */
unsigned long hmm_mirror_get_attr(struct hmm_mirror *mirror, unsigned long addr,
				  unsigned long *end)
{
	/* Pairs with the cmpxchg_release() in hmm_mirror_attrs_get(). */
	struct hmm_mirror_attrs *a = smp_load_acquire(&mirror->attrs);
	struct interval_tree_node *it;
	unsigned long value = 0, stop = ULONG_MAX;

	if (a) {
		spin_lock(&a->lock);
		it = interval_tree_iter_first(&a->tree, addr, addr);
		if (it) {
			value = container_of(it, struct hmm_mirror_attr_node,
					     it)->value;
			stop = it->last + 1;
		} else {
			it = interval_tree_iter_first(&a->tree, addr, ULONG_MAX);
			if (it)
				stop = it->start;
		}
		spin_unlock(&a->lock);
	}
	if (end)
		*end = stop;
	return value;
}
EXPORT_SYMBOL_GPL(hmm_mirror_get_attr);

/*
 * At unregister: the notifier goes (waiting for running callbacks), then
 * the tree.
 */
void hmm_mirror_attrs_fini(struct hmm_mirror *mirror)
{
	struct hmm_mirror_attrs *a = mirror->attrs;
	struct interval_tree_node *it;

	if (!a)
		return;
	mmu_notifier_unregister(&a->mn, mirror->mm);
	while ((it = interval_tree_iter_first(&a->tree, 0, ULONG_MAX))) {
		interval_tree_remove(it, &a->tree);
		kfree(container_of(it, struct hmm_mirror_attr_node, it));
	}
	kfree(a);
	mirror->attrs = NULL;
}
