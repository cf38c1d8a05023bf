/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * mnmirror: the mock GPU's native ioctl ABI (DRM render node, driver
 * "mnmirror").  Installed as <drm/mnmirror_drm.h>, beside the kernel's DRM
 * uapi headers; libmnmirror's <mnmirror.h> includes it.
 *
 * Rules that hold for every ioctl:
 *  - Every argument struct starts with __u32 size, which userspace sets to
 *    sizeof() the struct it was compiled with.  The kernel accepts the sizes
 *    of its version and fails anything else with -EINVAL.  A later version
 *    grows a struct at its end and accepts the older sizes.  Versions:
 *    1, the first; 2, STATS' layer fields; 3, PREFETCH, ADVISE (with
 *    MNM_CAP_PREFETCH and MNM_CAP_ADVISE), and READ/WRITE refuse a user
 *    buffer that partly overlaps the mirrored range.
 *  - flags bits that are not defined, and every reserved/pad field, must be
 *    zero on input (-EINVAL otherwise); output fields are ignored on input.
 *  - Addresses are user virtual addresses of the calling process; they must be
 *    page aligned and [addr, addr + npages * page_size) must neither overflow
 *    nor leave the user address space nor the device's (addresses below
 *    2^MNM_VA_BITS; a CPU with 5-level paging maps more) (-EINVAL).  npages is
 *    at least 1 and at most MNM_MAX_PAGES (-EINVAL).
 *  - A device file is bound to the address space (mm) of the process that
 *    opened it.  READ, WRITE, SNAPSHOT and RELEASE from any other mm (a forked
 *    child, a process the fd was passed to) fail with -EPERM.  GET_INFO and
 *    STATS touch no memory and work from any process.
 *  - When the bound address space has exited, memory ioctls fail with -ESRCH.
 *  - mmap of the device file (at most 64 MiB) maps zeroed kernel pages
 *    inserted by the driver (a VM_MIXEDMAP mapping), for tests of mirrors of
 *    driver-provided pages.
 */
#ifndef _UAPI_MNMIRROR_DRM_H_
#define _UAPI_MNMIRROR_DRM_H_

#include "drm.h"	/* the kernel uapi drm/drm.h, or libdrm's drm.h */

#if defined(__cplusplus)
extern "C" {
#endif

#define MNM_ABI_VERSION		3
#define MNM_MAX_PAGES		(1ULL << 20)	/* 4 GiB of 4 KiB pages per call */
#define MNM_VA_BITS		48	/* the device addresses [0, 2^48) */

/* GET_INFO capability bits */
#define MNM_CAP_MIRROR		(1ULL << 0)	/* READ/WRITE/SNAPSHOT/RELEASE */
#define MNM_CAP_HUGE_PTE	(1ULL << 1)	/* 2 MiB device page-table entries */
#define MNM_CAP_MIGRATE		(1ULL << 2)	/* device-private memory, MIGRATE */
#define MNM_CAP_EXCLUSIVE	(1ULL << 3)	/* EXCLUSIVE, CHECK_EXCLUSIVE */
#define MNM_CAP_PREFETCH	(1ULL << 4)	/* PREFETCH (v3) */
#define MNM_CAP_ADVISE		(1ULL << 5)	/* ADVISE (v3) */

struct drm_mnm_info {
	__u32 size;
	__u32 abi_version;	/* out: MNM_ABI_VERSION */
	__u64 caps;		/* out: MNM_CAP_* */
	__u32 page_size;	/* out: device and CPU page size in bytes */
	__u32 device_index;	/* out: index of this mock device */
	__u64 devmem_size;	/* out: device memory in bytes, 0 without MIGRATE */
	__u64 reserved[4];	/* must be zero */
};

/*
 * READ / WRITE: the device copies npages pages between the mirrored range at
 * addr and the user buffer at ptr, through its own page table.  The buffer
 * may be the range itself (ptr == addr: each page onto itself) but must not
 * overlap it otherwise (-EINVAL): the device copies straight into (out of)
 * the buffer's pages, with no copy in between.  Missing or
 * read-only device entries are faulted in through the mirror layer (a write
 * needs a writable CPU mapping: a read-only one fails with -EPERM; an unmapped
 * address fails with -EFAULT).  On success cpages == npages; faults counts
 * the device faults (batches of up to 512 pages) taken.  A process killed
 * meanwhile gets -EINTR; one whose pages keep changing under the device,
 * -EBUSY; when the kernel or the device runs out of memory (no memory to
 * fault a page in included), -ENOMEM.  A mapped page whose CPU fault fails
 * otherwise (SIGBUS, a poisoned page) gives -EFAULT, like an unmapped one.
 * After a failure, pages before the failing one may have been copied.
 */
struct drm_mnm_rw {
	__u32 size;
	__u32 flags;		/* must be zero */
	__u64 addr;		/* mirrored address, page aligned */
	__u64 ptr;		/* user buffer of npages pages */
	__u64 npages;
	__u64 cpages;		/* out: pages copied */
	__u64 faults;		/* out: device faults taken */
	__u64 reserved[2];	/* must be zero */
};

/*
 * SNAPSHOT: one byte per page written to ptr.  By default it describes the
 * CPU page table (nothing is faulted in); with MNM_SNAPSHOT_DEVICE it
 * describes the device's own page table instead.
 */
#define MNM_SNAPSHOT_DEVICE	(1U << 0)

#define MNM_PROT_NONE		0x00	/* mapping exists, no page populated yet */
#define MNM_PROT_READ		0x01	/* mapped read-only */
#define MNM_PROT_WRITE		0x02	/* mapped writable (implies readable) */
#define MNM_PROT_PMD		0x04	/* part of a 2 MiB mapping */
#define MNM_PROT_PUD		0x08	/* part of a 1 GiB mapping */
#define MNM_PROT_ZERO		0x10	/* the shared zero page */
#define MNM_PROT_DEV_PRIVATE_LOCAL	0x20	/* in this device's memory */
#define MNM_PROT_DEV_PRIVATE_REMOTE	0x30	/* in another device's memory */
#define MNM_PROT_EXCLUSIVE	0x40	/* device holds exclusive access */
#define MNM_PROT_ERROR		0xff	/* no VMA, or no access: a CPU access faults */

struct drm_mnm_snapshot {
	__u32 size;
	__u32 flags;		/* MNM_SNAPSHOT_* */
	__u64 addr;
	__u64 ptr;		/* user array of npages bytes */
	__u64 npages;
	__u64 reserved[2];	/* must be zero */
};

/* RELEASE: drop the device's mappings of a range (the CPU side is untouched). */
struct drm_mnm_release {
	__u32 size;
	__u32 flags;		/* must be zero */
	__u64 addr;
	__u64 npages;
	__u64 reserved[2];	/* must be zero */
};

/* STATS: counters of this open file (mirror) and of its whole device. */
struct drm_mnm_counters {
	__u64 faults;		/* fault-helper calls that reached hmm_range_fault */
	__u64 pages_faulted;	/* pages committed to the device page table */
	__u64 retries;		/* notifier-sequence or -EBUSY retries */
	__u64 timeouts;		/* faults abandoned after the retry timeout */
	__u64 invalidations;	/* blockable invalidations handled */
	__u64 invalidations_nonblock;	/* non-blockable invalidations handled */
	__u64 nonblock_refusals;	/* non-blockable ones refused (lock busy) */
	__u64 snapshots;	/* snapshot helper calls */
	__u64 pt_pages;		/* device page-table pages currently allocated */
	__u64 mapped_pages;	/* 4 KiB pages the device currently maps */
	__u64 migrated_to_device;	/* pages moved into device memory */
	__u64 migrated_to_system;	/* pages moved out: MIGRATE, CPU, evictions */
	__u64 evictions;	/* device only: pages evicted when memory was full */
	__u64 cpu_faults;	/* device only: CPU touches that brought a page back */
	__u64 devmem_free;	/* device only: free device pages (of devmem_size) */
	__u64 self_invalidations;	/* invalidations the device caused itself */
};

/* The mirror layer's state and its worst case, per file and per device. */
struct drm_mnm_layer_stats {
	__u64 intervals;	/* interval notifiers held now (one per block) */
	__u64 intervals_removed;	/* removed so far: unmapped, released */
	/* The longest update-lock hold (ns), by holder: maxima, not sums. */
	__u64 hold_max_invalidate_ns;	/* an invalidation (the CPU waits) */
	__u64 hold_max_commit_ns;	/* committing a fault or a grant */
	__u64 hold_max_remove_ns;	/* removing intervals, release */
	__u64 hold_max_device_ns;	/* the device: copies, snapshots, zaps */
	__u64 gate_waits;	/* device waits that let the OOM reaper in */
	__u64 dma_mapped;	/* pages the layer holds DMA-mapped now */
};

/*
 * STATS grew in ABI version 2 (the layer fields): the kernel accepts the
 * version-1 size (offsetof(struct drm_mnm_stats, file_layer)) and fills only
 * what it covers.
 */
struct drm_mnm_stats {
	__u32 size;
	__u32 flags;		/* must be zero */
	struct drm_mnm_counters file;	/* out */
	struct drm_mnm_counters device;	/* out: sum over the device's files */
	struct drm_mnm_layer_stats file_layer;		/* out, v2 */
	struct drm_mnm_layer_stats device_layer;	/* out, v2 */
};

#define MNM_STATS_SIZE_V1	(8 + 2 * sizeof(struct drm_mnm_counters))

/*
 * MIGRATE: move [addr, addr + npages pages) into this device's memory
 * (MNM_MIGRATE_TO_DEVICE; pages in another device's memory come through
 * system memory) or out of it (MNM_MIGRATE_TO_SYSTEM).  Every page is
 * accounted for: migrated, or skipped for the reason given.  Needs
 * MNM_CAP_MIGRATE (-EOPNOTSUPP otherwise).
 */
#define MNM_MIGRATE_TO_DEVICE	1
#define MNM_MIGRATE_TO_SYSTEM	2

struct drm_mnm_migrate {
	__u32 size;
	__u32 flags;		/* must be zero */
	__u64 addr;
	__u64 npages;
	__u32 direction;	/* MNM_MIGRATE_TO_* */
	__u32 pad;		/* must be zero */
	__u64 migrated;		/* out: pages now at the destination */
	__u64 skip_vma;		/* out: no VMA, or one that cannot migrate */
	__u64 skip_busy;	/* out: pinned, locked or otherwise busy */
	__u64 skip_refused;	/* out: refused, e.g. file-backed pages */
	__u64 skip_nomem;	/* out: no destination page */
	__u64 skip_other;	/* out: already there, elsewhere, or swapped */
	__u64 reserved[2];	/* must be zero */
};

/*
 * EXCLUSIVE: give the device exclusive (atomic) access to a range; the CPU's
 * next access to a page revokes it.  CHECK_EXCLUSIVE: count the pages of the
 * range the device still holds exclusively.  Need MNM_CAP_EXCLUSIVE.
 */
struct drm_mnm_exclusive {
	__u32 size;
	__u32 flags;		/* must be zero */
	__u64 addr;
	__u64 npages;
	__u64 exclusive;	/* out (CHECK_EXCLUSIVE): pages still exclusive */
	__u64 reserved[2];	/* must be zero */
};

/*
 * PREFETCH: make [addr, addr + npages pages) resident for the device without
 * copying anything to userspace: map it into the device page table
 * (writable with MNM_PREFETCH_WRITE, which breaks copy-on-write sharing as a
 * CPU write would), after migrating it when location asks:
 *  - 0: map the pages where they are (another device's pages come back
 *    to system memory, as on a CPU access);
 *  - MNM_MIGRATE_TO_DEVICE: into this device's memory first (needs
 *    MNM_CAP_MIGRATE, -EOPNOTSUPP otherwise); pages that cannot move are
 *    mapped where they are;
 *  - MNM_MIGRATE_TO_SYSTEM: out of device memory first.
 * Holes do not fail the call; every page is accounted for:
 *    mapped + skip_access + skip_fault + skip_raced == npages, and, when
 *    location is not 0, migrated + mskip_* == npages.
 * mapped counts the pages the device maps (writable, with
 * MNM_PREFETCH_WRITE) when the call returns.  Errors: those of READ (-EINTR,
 * -ENOMEM, -EBUSY, -ESRCH); the counts then cover the part done.
 */
#define MNM_PREFETCH_WRITE	(1U << 0)

struct drm_mnm_prefetch {
	__u32 size;
	__u32 flags;		/* MNM_PREFETCH_* */
	__u64 addr;
	__u64 npages;
	__u32 location;		/* 0 or MNM_MIGRATE_TO_* */
	__u32 pad;		/* must be zero */
	__u64 mapped;		/* out: pages the device maps now */
	__u64 skip_access;	/* out: no VMA, or it forbids the access */
	__u64 skip_fault;	/* out: the CPU fault failed (SIGBUS, ...) */
	__u64 skip_raced;	/* out: unmapped again before the call ended */
	__u64 migrated;		/* out: pages moved to the location */
	__u64 mskip_vma;	/* out: not moved: as in MIGRATE's skip_* */
	__u64 mskip_busy;
	__u64 mskip_refused;
	__u64 mskip_nomem;
	__u64 mskip_other;
	__u64 reserved[2];	/* must be zero */
};

/*
 * ADVISE: placement advice for [addr, addr + npages pages) of this file's
 * mirror: a preferred location and whether the range is read-mostly.  The
 * device honours it:
 *  - a device access that faults a page preferring the device
 *    (MNM_MIGRATE_TO_DEVICE) migrates it there first, unless the range is
 *    read-mostly;
 *  - eviction from device memory takes read-mostly pages and pages that
 *    prefer system memory first, pages that prefer the device last (as
 *    advised when the page moved in);
 *  - read-mostly pages are never migrated by a device fault: the device maps
 *    them where they are, and CPU and device both read without faults.
 * PREFETCH and MIGRATE do what they are told, whatever the advice.  New
 * advice replaces the old where they overlap; location 0 with no attrs
 * clears it.  The range must be mapped (-ENOMEM otherwise, as madvise()),
 * and the advice goes away where the CPU unmaps it (munmap, the source of
 * mremap, mmap over it); MADV_DONTNEED, mprotect and migrations keep it.
 * Preferring the device needs MNM_CAP_MIGRATE (-EOPNOTSUPP).  The first
 * ADVISE of a file may fail with -EINTR when a signal arrives.
 * With MNM_ADVISE_QUERY nothing changes: location and attrs must be zero
 * on input and are set to the advice at addr, and npages to how many pages
 * from addr (at most the npages given) have that same advice.
 */
#define MNM_ADVISE_QUERY	(1U << 0)	/* flags */
#define MNM_ADVISE_READ_MOSTLY	(1U << 0)	/* attrs */

struct drm_mnm_advise {
	__u32 size;
	__u32 flags;		/* MNM_ADVISE_QUERY */
	__u64 addr;
	__u64 npages;		/* in; out with MNM_ADVISE_QUERY */
	__u32 location;		/* 0 (none) or MNM_MIGRATE_TO_* (preferred) */
	__u32 attrs;		/* MNM_ADVISE_READ_MOSTLY */
	__u64 reserved[2];	/* must be zero */
};

#define DRM_MNM_GET_INFO	0x00
#define DRM_MNM_READ		0x01
#define DRM_MNM_WRITE		0x02
#define DRM_MNM_SNAPSHOT	0x03
#define DRM_MNM_RELEASE		0x04
#define DRM_MNM_STATS		0x05
#define DRM_MNM_MIGRATE		0x06
#define DRM_MNM_EXCLUSIVE	0x07
#define DRM_MNM_CHECK_EXCLUSIVE	0x08
#define DRM_MNM_PREFETCH	0x09
#define DRM_MNM_ADVISE		0x0a

#define DRM_IOCTL_MNM_GET_INFO \
	DRM_IOWR(DRM_COMMAND_BASE + DRM_MNM_GET_INFO, struct drm_mnm_info)
#define DRM_IOCTL_MNM_READ \
	DRM_IOWR(DRM_COMMAND_BASE + DRM_MNM_READ, struct drm_mnm_rw)
#define DRM_IOCTL_MNM_WRITE \
	DRM_IOWR(DRM_COMMAND_BASE + DRM_MNM_WRITE, struct drm_mnm_rw)
#define DRM_IOCTL_MNM_SNAPSHOT \
	DRM_IOWR(DRM_COMMAND_BASE + DRM_MNM_SNAPSHOT, struct drm_mnm_snapshot)
#define DRM_IOCTL_MNM_RELEASE \
	DRM_IOWR(DRM_COMMAND_BASE + DRM_MNM_RELEASE, struct drm_mnm_release)
#define DRM_IOCTL_MNM_STATS \
	DRM_IOWR(DRM_COMMAND_BASE + DRM_MNM_STATS, struct drm_mnm_stats)

#define DRM_IOCTL_MNM_MIGRATE \
	DRM_IOWR(DRM_COMMAND_BASE + DRM_MNM_MIGRATE, struct drm_mnm_migrate)
#define DRM_IOCTL_MNM_EXCLUSIVE \
	DRM_IOWR(DRM_COMMAND_BASE + DRM_MNM_EXCLUSIVE, struct drm_mnm_exclusive)
#define DRM_IOCTL_MNM_CHECK_EXCLUSIVE \
	DRM_IOWR(DRM_COMMAND_BASE + DRM_MNM_CHECK_EXCLUSIVE, struct drm_mnm_exclusive)
#define DRM_IOCTL_MNM_PREFETCH \
	DRM_IOWR(DRM_COMMAND_BASE + DRM_MNM_PREFETCH, struct drm_mnm_prefetch)
#define DRM_IOCTL_MNM_ADVISE \
	DRM_IOWR(DRM_COMMAND_BASE + DRM_MNM_ADVISE, struct drm_mnm_advise)

#if defined(__cplusplus)
}
#endif

#endif /* _UAPI_MNMIRROR_DRM_H_ */
