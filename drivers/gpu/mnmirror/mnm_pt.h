/* SPDX-License-Identifier: GPL-2.0 */
/*
 * mnmirror mock GPU: the device page table (mnm_pt.c).
 *
 * Locking: every change happens under the owning mirror's update lock; see
 * mnm_pt.c.
 */
#ifndef _MNM_PT_H_
#define _MNM_PT_H_

#include <linux/atomic.h>
#include <linux/bits.h>
#include <linux/list.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <asm/page.h>

/*
 * Device page table: 4 levels of 512 64-bit entries, like a GPU's.  Level 3
 * is the root; a level-1 entry maps 2 MiB (MNM_PTE_HUGE) or points to a
 * level-0 table; a level-0 entry maps 4 KiB.
 */
#define MNM_PT_LEVELS		4
#define MNM_PT_BITS		9
#define MNM_PT_ENTRIES		BIT(MNM_PT_BITS)
/* The end of what the table translates: 2^MNM_VA_BITS (uapi). */
#define MNM_VA_END		BIT_ULL(PAGE_SHIFT + MNM_PT_LEVELS * MNM_PT_BITS)

#define MNM_PTE_VALID		BIT_ULL(0)
#define MNM_PTE_WRITE		BIT_ULL(1)
#define MNM_PTE_HUGE		BIT_ULL(2)
#define MNM_PTE_ZERO		BIT_ULL(3)
#define MNM_PTE_TABLE		BIT_ULL(4)
#define MNM_PTE_DEVICE		BIT_ULL(5)	/* device-private page of ours */
#define MNM_PTE_EXCLUSIVE	BIT_ULL(6)	/* exclusive (atomic) grant */
#define MNM_PTE_ADDR		(~(u64)(PAGE_SIZE - 1))	/* physical address */

struct mnm_pt {
	u64 *root;
	spinlock_t reserve_lock;	/* reserve, nreserve */
	struct list_head reserve;	/* zeroed pages for new tables */
	unsigned int nreserve;
	atomic64_t *dev_pt_pages;	/* device-wide totals, may be NULL */
	atomic64_t *dev_mapped_pages;
	atomic64_t pt_pages;		/* table pages in use (root included) */
	atomic64_t mapped_pages;	/* 4 KiB pages mapped */
};

/* Tables a fault batch (within one 2 MiB block) may need: levels 2, 1, 0. */
#define MNM_PT_BATCH_TABLES	3

int mnm_pt_init(struct mnm_pt *pt, atomic64_t *dev_pt_pages,
		atomic64_t *dev_mapped_pages);
void mnm_pt_fini(struct mnm_pt *pt);
int mnm_pt_reserve(struct mnm_pt *pt, unsigned int n);
int mnm_pt_map(struct mnm_pt *pt, unsigned long addr, u64 pte);
int mnm_pt_map_huge(struct mnm_pt *pt, unsigned long addr, u64 pte);
u64 mnm_pt_lookup(struct mnm_pt *pt, unsigned long addr);
void mnm_pt_zap(struct mnm_pt *pt, unsigned long start, unsigned long end);

#endif /* _MNM_PT_H_ */
