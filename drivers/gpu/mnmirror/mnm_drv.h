/* SPDX-License-Identifier: GPL-2.0 */
/*
 * mnmirror mock GPU: internal interfaces.
 *
 * Locking: see mnm_drv.c (device and file contexts) and mnm_pt.c (device
 * page table; every change happens under the owning mirror's update lock).
 */
#ifndef _MNM_DRV_H_
#define _MNM_DRV_H_

#include <drm/drm_device.h>
#include <linux/hmm_mirror.h>
#include <linux/list.h>
#include <linux/spinlock.h>

/*
 * Device page table: 4 levels of 512 64-bit entries, like a GPU's.  Level 3
 * is the root; a level-1 entry maps 2 MiB (MNM_PTE_HUGE) or points to a
 * level-0 table; a level-0 entry maps 4 KiB.
 */
#define MNM_MAX_CHUNKS		16
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

/* ---- devices, files, device memory ------------------------------------ */

struct mnm_chunk;

/* Device-private memory of one mock device (mnm_devmem.c). */
struct mnm_devmem {
	spinlock_t lock;		/* the lists, counts and fail_alloc */
	struct list_head free;		/* struct mnm_dpage.link */
	struct list_head lru;		/* in use, least recently used first */
	unsigned long nfree;
	unsigned long nused;
	unsigned long reserved;		/* pages promised to running migrations */
	unsigned long limit;		/* pages; eviction starts above it */
	unsigned int fail_alloc;	/* test hook: fail this many allocations */
	struct mutex grow_lock;		/* chunks, nchunks */
	struct mnm_chunk *chunks[MNM_MAX_CHUNKS];
	unsigned int nchunks;
	unsigned int max_chunks;
	unsigned long chunk_pages;
	atomic64_t migrated_to_device;
	atomic64_t migrated_to_system;
	atomic64_t evictions;
	atomic64_t cpu_faults;
};

struct mnm_device {
	struct drm_device drm;
	struct platform_device *pdev;
	unsigned int index;
	struct hmm_mirror_counters counters;	/* sum over its files */
	atomic64_t pt_pages;
	atomic64_t mapped_pages;
	struct dentry *debugfs;
	struct mutex ctx_lock;			/* ctxs */
	struct list_head ctxs;			/* struct mnm_ctx.link */
	struct mnm_devmem devmem;
};

#define MNM_TEARDOWN_ENTRIES	3

struct mnm_ctx;

struct mnm_teardown {
	struct hmm_mirror_teardown td;
	struct mnm_ctx *ctx;
};

struct mnm_ctx {
	struct mnm_device *mdev;
	struct hmm_mirror mirror;
	struct mnm_pt pt;
	unsigned int id;
	struct list_head link;			/* in mdev->ctxs */
	bool released;				/* under the update lock */
	atomic64_t migrated_to_device;
	atomic64_t migrated_to_system;
	struct mnm_teardown teardown[MNM_TEARDOWN_ENTRIES];
};

#define MNM_MAX_DEVICES		8

extern const struct hmm_mirror_ops mnm_mirror_ops;

struct drm_mnm_rw;
struct file;
struct vm_area_struct;

struct mnm_ctx *mnm_ctx_create(struct mnm_device *mdev);
void mnm_ctx_destroy(struct mnm_ctx *ctx);
int mnm_ctx_rw(struct mnm_ctx *ctx, struct drm_mnm_rw *args, bool write,
	       bool nofault, unsigned long *calls);
int mnm_check_range(u64 addr, u64 npages);
u8 mnm_prot_of_hmm(struct mnm_ctx *ctx, unsigned long hmm_pfn);
int mnm_snapshot_user(struct mnm_ctx *ctx, unsigned long addr,
		      unsigned long npages, u8 __user *uptr, bool compat);
int mnm_mmap(struct file *filp, struct vm_area_struct *vma);
void mnm_devmem_evict_all(struct mnm_device *mdev);
int mnm_compat_init(struct mnm_device **devices, unsigned int n,
		    const char *name);
void mnm_compat_exit(void);

int mnm_ctx_migrate(struct mnm_ctx *ctx, unsigned long start,
		    unsigned long end, unsigned int flags,
		    struct hmm_mirror_migrate_result *res);

#if IS_ENABLED(CONFIG_DEVICE_PRIVATE)
#define MNM_HAVE_DEVMEM		1
#else
#define MNM_HAVE_DEVMEM		0
#endif

int mnm_devmem_init(struct mnm_device *mdev, unsigned long bytes);
void mnm_devmem_fini(struct mnm_device *mdev);
unsigned long mnm_devmem_reserve(struct mnm_device *mdev, unsigned long n);
void mnm_devmem_unreserve(struct mnm_device *mdev, unsigned long n);
unsigned long mnm_devmem_alloc(struct mnm_device *mdev, struct page **pages,
			       unsigned long n);
void *mnm_devmem_data(struct page *page);
void mnm_devmem_touch(struct mnm_device *mdev, struct page *page);
int mnm_devmem_alloc_copy(struct hmm_mirror *mirror,
			  struct hmm_mirror_migrate *m);
void mnm_devmem_debugfs(struct mnm_device *mdev);

#endif /* _MNM_DRV_H_ */
