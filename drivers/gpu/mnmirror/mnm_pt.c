// SPDX-License-Identifier: GPL-2.0
/*
 * mnmirror mock GPU: the device page table.
 *
 * A radix tree of 4 levels x 512 entries (one page per table), with 2 MiB
 * leaf entries at level 1.  It costs table pages, not a structure per page.
 *
 * Locking: mnm_pt_map*(), mnm_pt_lookup() and mnm_pt_zap() run under the
 * owning mirror's update lock, which invalidations (possibly from reclaim or
 * the OOM reaper) also take: they never allocate and never sleep.  New tables
 * come from a small reserve that mnm_pt_reserve() fills beforehand with no
 * lock held (GFP_KERNEL_ACCOUNT: charged to the memory cgroup of the task
 * that faults); reserve_lock (a spinlock) protects the reserve.
 * Tables are freed under the update lock when a zap covers them entirely or
 * leaves them empty.
 */
#include <linux/error-injection.h>
#include <linux/gfp.h>
#include <linux/io.h>
#include <linux/mm.h>
#include <linux/slab.h>

#include "mnm_pt.h"

/* Keep at most this many free table pages around after zaps. */
#define MNM_PT_RESERVE_MAX	16

static unsigned int mnm_pt_index(unsigned long addr, int level)
{
	return (addr >> (PAGE_SHIFT + level * MNM_PT_BITS)) & (MNM_PT_ENTRIES - 1);
}

static unsigned long mnm_pt_span(int level)
{
	return 1UL << (PAGE_SHIFT + level * MNM_PT_BITS);
}

static u64 *mnm_pt_child(u64 pte)
{
	return phys_to_virt(pte & MNM_PTE_ADDR);
}

static void mnm_pt_count(struct mnm_pt *pt, long tables, long pages)
{
	if (tables) {
		atomic64_add(tables, &pt->pt_pages);
		if (pt->dev_pt_pages)
			atomic64_add(tables, pt->dev_pt_pages);
	}
	if (pages) {
		atomic64_add(pages, &pt->mapped_pages);
		if (pt->dev_mapped_pages)
			atomic64_add(pages, pt->dev_mapped_pages);
	}
}

/**
 * mnm_pt_reserve() - make sure @n table pages are available without allocating
 * @pt: the page table
 * @n: pages needed by the next change
 *
 * Context: may sleep; no lock held.
 * Return: 0 or -ENOMEM.
 */
int mnm_pt_reserve(struct mnm_pt *pt, unsigned int n)
{
	for (;;) {
		struct page *page;

		spin_lock(&pt->reserve_lock);
		if (pt->nreserve >= n) {
			spin_unlock(&pt->reserve_lock);
			return 0;
		}
		spin_unlock(&pt->reserve_lock);

		/* Charged to the faulting task's memory cgroup. */
		page = alloc_page(GFP_KERNEL_ACCOUNT | __GFP_ZERO);
		if (!page)
			return -ENOMEM;
		spin_lock(&pt->reserve_lock);
		list_add(&page->lru, &pt->reserve);
		pt->nreserve++;
		spin_unlock(&pt->reserve_lock);
	}
}
ALLOW_ERROR_INJECTION(mnm_pt_reserve, ERRNO);

static u64 *mnm_pt_table_get(struct mnm_pt *pt)
{
	struct page *page;

	spin_lock(&pt->reserve_lock);
	page = list_first_entry_or_null(&pt->reserve, struct page, lru);
	if (page) {
		list_del(&page->lru);
		pt->nreserve--;
	}
	spin_unlock(&pt->reserve_lock);
	if (!page)
		return NULL;
	mnm_pt_count(pt, 1, 0);
	return page_address(page);
}

/* Give a table page back: zero it and keep it, or free it.  Never sleeps. */
static void mnm_pt_table_put(struct mnm_pt *pt, u64 *table)
{
	struct page *page = virt_to_page(table);

	mnm_pt_count(pt, -1, 0);
	memset(table, 0, PAGE_SIZE);
	spin_lock(&pt->reserve_lock);
	if (pt->nreserve < MNM_PT_RESERVE_MAX) {
		list_add(&page->lru, &pt->reserve);
		pt->nreserve++;
		page = NULL;
	}
	spin_unlock(&pt->reserve_lock);
	if (page)
		__free_page(page);
}

/* Free a table and everything below it; return the 4 KiB pages it mapped. */
static long mnm_pt_free_table(struct mnm_pt *pt, u64 *table, int level)
{
	long mapped = 0;
	int i;

	for (i = 0; i < MNM_PT_ENTRIES; i++) {
		u64 pte = table[i];

		if (!(pte & MNM_PTE_VALID))
			continue;
		if (pte & MNM_PTE_TABLE)
			mapped += mnm_pt_free_table(pt, mnm_pt_child(pte), level - 1);
		else
			mapped += mnm_pt_span(level) >> PAGE_SHIFT;
	}
	mnm_pt_table_put(pt, table);
	return mapped;
}

/* The entry slot for @addr at @level, creating tables above it. */
static u64 *mnm_pt_walk_alloc(struct mnm_pt *pt, unsigned long addr, int level)
{
	u64 *table = pt->root;
	int l;

	for (l = MNM_PT_LEVELS - 1; l > level; l--) {
		u64 *slot = &table[mnm_pt_index(addr, l)];

		if (!(*slot & MNM_PTE_TABLE)) {
			u64 *child = mnm_pt_table_get(pt);

			if (!child)
				return NULL;
			if (*slot & MNM_PTE_VALID) {
				/* A 2 MiB leaf is split: its pages refault. */
				mnm_pt_count(pt, 0, -(long)(mnm_pt_span(l) >> PAGE_SHIFT));
			}
			WRITE_ONCE(*slot, virt_to_phys(child) | MNM_PTE_TABLE |
					  MNM_PTE_VALID);
		}
		table = mnm_pt_child(*slot);
	}
	return &table[mnm_pt_index(addr, level)];
}

/**
 * mnm_pt_map() - map one 4 KiB page
 * @pt: the page table
 * @addr: device (= CPU) virtual address
 * @pte: physical address | MNM_PTE_VALID | optional WRITE/ZERO
 *
 * Context: update lock held.
 * Return: 0, or -EAGAIN when the table reserve ran dry.
 */
int mnm_pt_map(struct mnm_pt *pt, unsigned long addr, u64 pte)
{
	u64 *slot;

	/* Callers validate ranges (mnm_check_range()): never alias. */
	if (WARN_ON_ONCE(addr >= MNM_VA_END))
		return -EINVAL;
	slot = mnm_pt_walk_alloc(pt, addr, 0);

	if (!slot)
		return -EAGAIN;
	if (!(*slot & MNM_PTE_VALID))
		mnm_pt_count(pt, 0, 1);
	WRITE_ONCE(*slot, pte);
	return 0;
}

/**
 * mnm_pt_map_huge() - map one 2 MiB block with a single level-1 entry
 * @pt: the page table
 * @addr: 2 MiB aligned address
 * @pte: physical address (2 MiB aligned) | MNM_PTE_VALID | optional WRITE/ZERO
 *
 * Context: update lock held.
 * Return: 0, or -EAGAIN when the table reserve ran dry.
 */
int mnm_pt_map_huge(struct mnm_pt *pt, unsigned long addr, u64 pte)
{
	long old = 0;
	u64 *slot;

	if (WARN_ON_ONCE(addr >= MNM_VA_END))
		return -EINVAL;
	slot = mnm_pt_walk_alloc(pt, addr, 1);

	if (!slot)
		return -EAGAIN;
	if (*slot & MNM_PTE_TABLE)
		old = mnm_pt_free_table(pt, mnm_pt_child(*slot), 0);
	else if (*slot & MNM_PTE_VALID)
		old = MNM_PT_ENTRIES;
	WRITE_ONCE(*slot, pte | MNM_PTE_HUGE);
	mnm_pt_count(pt, 0, MNM_PT_ENTRIES - old);
	return 0;
}

/**
 * mnm_pt_lookup() - translate one address
 * @pt: the page table
 * @addr: the address
 *
 * Context: update lock held.
 * Return: the 4 KiB entry for @addr (a 2 MiB entry is narrowed to the page
 * and keeps MNM_PTE_HUGE), or 0 when nothing is mapped.
 */
u64 mnm_pt_lookup(struct mnm_pt *pt, unsigned long addr)
{
	u64 *table = pt->root;
	int l;

	if (addr >= MNM_VA_END)
		return 0;

	for (l = MNM_PT_LEVELS - 1; l >= 0; l--) {
		u64 pte = table[mnm_pt_index(addr, l)];

		if (!(pte & MNM_PTE_VALID))
			return 0;
		if (!(pte & MNM_PTE_TABLE)) {
			if (l == 0)
				return pte;
			return pte + ((addr & (mnm_pt_span(l) - 1)) & PAGE_MASK);
		}
		table = mnm_pt_child(pte);
	}
	return 0;
}

static void mnm_pt_zap_level(struct mnm_pt *pt, u64 *table, int level,
			     unsigned long base, unsigned long start,
			     unsigned long end)
{
	unsigned long span = mnm_pt_span(level);
	unsigned int i = mnm_pt_index(start, level);
	unsigned long addr = base + i * span;

	for (; i < MNM_PT_ENTRIES && addr < end; i++, addr += span) {
		u64 pte = table[i];
		unsigned long s = max(addr, start), e = min(addr + span, end);

		if (!(pte & MNM_PTE_VALID))
			continue;
		if (pte & MNM_PTE_TABLE) {
			if (s == addr && e == addr + span) {
				/* Covered entirely: drop the whole subtree. */
				long gone = mnm_pt_free_table(pt, mnm_pt_child(pte),
							      level - 1);

				WRITE_ONCE(table[i], 0);
				mnm_pt_count(pt, 0, -gone);
			} else {
				u64 *child = mnm_pt_child(pte);

				mnm_pt_zap_level(pt, child, level - 1, addr, s, e);
				/* Emptied by this zap: give the table back. */
				if (!memchr_inv(child, 0, PAGE_SIZE)) {
					WRITE_ONCE(table[i], 0);
					mnm_pt_table_put(pt, child);
				}
			}
		} else {
			/* A leaf; a partly covered 2 MiB entry goes entirely. */
			WRITE_ONCE(table[i], 0);
			mnm_pt_count(pt, 0, -(long)(span >> PAGE_SHIFT));
		}
	}
}

/**
 * mnm_pt_zap() - unmap [start, end)
 * @pt: the page table
 * @start: first address
 * @end: end address (exclusive)
 *
 * Clears exactly the entries that map the range (a 2 MiB entry that the
 * range touches is cleared whole) and frees the tables it covers or empties.
 * Nothing is mapped at or above MNM_VA_END; the range is clipped there.
 *
 * Context: update lock held; never sleeps, never allocates.
 */
void mnm_pt_zap(struct mnm_pt *pt, unsigned long start, unsigned long end)
{
	/* Nothing is mapped above MNM_VA_END: do not let it alias below. */
	end = min_t(u64, end, MNM_VA_END);
	if (start < end)
		mnm_pt_zap_level(pt, pt->root, MNM_PT_LEVELS - 1, 0, start, end);
}

/**
 * mnm_pt_init() - set up an empty page table
 * @pt: the page table
 * @dev_pt_pages: device-wide table-page counter, or NULL
 * @dev_mapped_pages: device-wide mapped-page counter, or NULL
 *
 * Return: 0 or -ENOMEM.
 */
int mnm_pt_init(struct mnm_pt *pt, atomic64_t *dev_pt_pages,
		atomic64_t *dev_mapped_pages)
{
	spin_lock_init(&pt->reserve_lock);
	INIT_LIST_HEAD(&pt->reserve);
	pt->nreserve = 0;
	pt->dev_pt_pages = dev_pt_pages;
	pt->dev_mapped_pages = dev_mapped_pages;
	atomic64_set(&pt->pt_pages, 0);
	atomic64_set(&pt->mapped_pages, 0);
	if (mnm_pt_reserve(pt, 1))
		return -ENOMEM;
	pt->root = mnm_pt_table_get(pt);
	return 0;
}

/**
 * mnm_pt_fini() - free every table and the reserve
 * @pt: the page table, no longer reachable by anyone
 */
void mnm_pt_fini(struct mnm_pt *pt)
{
	struct page *page, *tmp;

	mnm_pt_count(pt, 0, -mnm_pt_free_table(pt, pt->root, MNM_PT_LEVELS - 1));
	pt->root = NULL;
	list_for_each_entry_safe(page, tmp, &pt->reserve, lru)
		__free_page(page);
	INIT_LIST_HEAD(&pt->reserve);
	pt->nreserve = 0;
}
