/* SPDX-License-Identifier: GPL-2.0 */
/*
 * mnmirror mock GPU: the objects (devices, file contexts, device memory)
 * and each file's interface, in layers: mnm_main.c on top; mnm_ioctl.c and
 * mnm_compat.c (the two ABIs) below it; then mnm_place.c; then mnm_copy.c;
 * then mnm_ctx.c; then mnm_devmem.c and mnm_pt.c (mnm_pt.h); mnm_debug.c,
 * the test hooks, sits at the bottom.  A file calls only the layers below
 * its own.  mnm_mmap() lives with the contexts because both ABIs' file
 * operations use it.
 *
 * Locking: see each file's header.
 */
#ifndef _MNM_DRV_H_
#define _MNM_DRV_H_

#include <drm/drm_device.h>
#include <drm/drm_ioctl.h>
#include <linux/hmm_mirror.h>
#include <linux/list.h>
#include <linux/spinlock.h>
#include <uapi/drm/mnmirror_drm.h>

#include "mnm_pt.h"

/* ---- devices, files, device memory ------------------------------------ */

#define MNM_MAX_CHUNKS		16

struct mnm_chunk;

/*
 * Eviction order of device pages, from the advice when a page moved in:
 * read-mostly or system-preferring first, unadvised, device-preferring last.
 */
enum mnm_evict_class {
	MNM_EVICT_FIRST,
	MNM_EVICT_NORMAL,
	MNM_EVICT_LAST,
	MNM_EVICT_CLASSES
};

/* Device-private memory of one mock device (mnm_devmem.c). */
struct mnm_devmem {
	spinlock_t lock;		/* the lists, counts and fail_alloc */
	struct list_head free;		/* struct mnm_dpage.link */
	/* in use, least recently used first, one list per eviction class */
	struct list_head lru[MNM_EVICT_CLASSES];
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
	atomic64_t large_allocs;	/* device 2 MiB pages allocated */
	atomic64_t large_fallbacks;	/* 2 MiB batches that got single pages */
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

/*
 * ADVISE's advice, kept as the mirror's range attribute: the preferred
 * location (0 or MNM_MIGRATE_TO_*) in the low bits, and read-mostly.
 */
#define MNM_ADV_LOCATION	0xffUL
#define MNM_ADV_READ_MOSTLY	BIT(8)

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
	unsigned long flags;			/* MNM_CTX_* bits */
	struct mnm_teardown teardown[MNM_TEARDOWN_ENTRIES];
};

/* ctx->flags: HMM_DMIRROR_FLAG_FAIL_ALLOC, armed for one 2 MiB allocation */
#define MNM_CTX_FAIL_LARGE	0

#define MNM_MAX_DEVICES		8

#if IS_ENABLED(CONFIG_DEVICE_PRIVATE)
#define MNM_HAVE_DEVMEM		1
#else
#define MNM_HAVE_DEVMEM		0
#endif

/* Pages the device copies per pass (one bounce buffer). */
#define MNM_COPY_PAGES		HMM_MIRROR_BATCH_PAGES

struct file;
struct vm_area_struct;

/* mnm_main.c: the devices (written at load and unload only) */
extern struct mnm_device *mnm_devices[MNM_MAX_DEVICES];

/* mnm_ioctl.c: the native ABI */
#define MNM_NUM_IOCTLS		(DRM_MNM_ADVISE + 1)
extern const struct drm_ioctl_desc mnm_ioctls[MNM_NUM_IOCTLS];

/*
 * mnm_compat.c: test_hmm's ABI.  Built only where the kernel source's
 * lib/test_hmm_uapi.h is at hand (not against a distribution's headers,
 * as DKMS builds): without it, compat=1 fails the load.
 */
#ifdef MNM_COMPAT
int mnm_compat_init(struct mnm_device **devices, unsigned int n,
		    const char *name);
void mnm_compat_exit(void);
#else
static inline int mnm_compat_init(struct mnm_device **devices, unsigned int n,
				  const char *name)
{
	pr_err("mnmirror: compat=1, but this build has no test_hmm ABI (built without the kernel source's lib/test_hmm_uapi.h)\n");
	return -EOPNOTSUPP;
}

static inline void mnm_compat_exit(void)
{
}
#endif

/* mnm_ctx.c: file contexts */
struct mnm_ctx *mnm_ctx_create(struct mnm_device *mdev);
void mnm_ctx_destroy(struct mnm_ctx *ctx);
int mnm_ctx_migrate(struct mnm_ctx *ctx, unsigned long start,
		    unsigned long end, unsigned int flags,
		    struct hmm_mirror_migrate_result *res);
bool mnm_ctx_place(struct mnm_ctx *ctx, unsigned long start, unsigned long end);
int mnm_mmap(struct file *filp, struct vm_area_struct *vma);

/* mnm_copy.c: the device at work */
int mnm_check_range(u64 addr, u64 npages);
int mnm_ctx_rw(struct mnm_ctx *ctx, struct drm_mnm_rw *args, bool write,
	       bool nofault, unsigned long *calls);
u8 mnm_prot_of_hmm(struct mnm_ctx *ctx, unsigned long hmm_pfn);
int mnm_snapshot_user(struct mnm_ctx *ctx, unsigned long addr,
		      unsigned long npages, u8 __user *uptr, bool compat);
int mnm_snapshot_device(struct mnm_ctx *ctx, unsigned long start,
			unsigned long npages, u8 __user *uptr);
void mnm_ctx_zap(struct mnm_ctx *ctx, unsigned long start, unsigned long end);
unsigned long mnm_ctx_count_exclusive(struct mnm_ctx *ctx, unsigned long addr,
				      unsigned long npages, bool first_only);

/* mnm_place.c: PREFETCH and ADVISE */
int mnm_ctx_prefetch(struct mnm_ctx *ctx, struct drm_mnm_prefetch *args);
int mnm_ctx_advise(struct mnm_ctx *ctx, struct drm_mnm_advise *args);

/* mnm_devmem.c: device memory */
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
void mnm_devmem_evict_all(struct mnm_device *mdev);
void mnm_devmem_debugfs(struct mnm_device *mdev);

/* mnm_bench.c: the bare hmm_range_fault() limit, built only with MNM_BENCH */
#ifdef MNM_BENCH
void mnm_bench_init(struct dentry *root);
#else
static inline void mnm_bench_init(struct dentry *root) { }
#endif

/* mnm_debug.c: test hooks, built only with MNM_TEST_HOOKS (see Kbuild) */
#ifdef MNM_TEST_HOOKS
int mnm_debug_init(struct dentry *root);
void mnm_debug_exit(void);
bool mnm_should_fail_commit(void);
bool mnm_should_refuse_invalidate(void);
unsigned int mnm_debug_drain_ms(void);
int mnm_debug_ctx_open(struct mnm_ctx *ctx);
void mnm_debug_ctx_close(struct mnm_ctx *ctx);
void mnm_debug_ctx_released(struct mnm_ctx *ctx, bool exit);
void mnm_debug_ctx_closed(struct mnm_ctx *ctx);
void mnm_debug_release_hold(void);
#else
static inline int mnm_debug_init(struct dentry *root) { return 0; }
static inline void mnm_debug_exit(void) { }
static inline bool mnm_should_fail_commit(void) { return false; }
static inline bool mnm_should_refuse_invalidate(void) { return false; }
static inline unsigned int mnm_debug_drain_ms(void) { return 0; }
static inline int mnm_debug_ctx_open(struct mnm_ctx *ctx) { return 0; }
static inline void mnm_debug_ctx_close(struct mnm_ctx *ctx) { }
static inline void mnm_debug_ctx_released(struct mnm_ctx *ctx, bool exit) { }
static inline void mnm_debug_ctx_closed(struct mnm_ctx *ctx) { }
static inline void mnm_debug_release_hold(void) { }
#endif

#endif /* _MNM_DRV_H_ */
