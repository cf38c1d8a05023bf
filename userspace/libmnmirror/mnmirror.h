/* SPDX-License-Identifier: MIT */
/*
 * libmnmirror: the C library for the mnmirror mock GPU.
 *
 * Every function returns 0 (or a count) on success and a negative errno on
 * failure; mnm_strerror() turns that into text.  A handle holds only a file
 * descriptor and the device's immutable info, so one handle may be used from
 * many threads at once; there is no global state.
 *
 * Reference with examples: docs/libmnmirror.md.
 */
#ifndef LIBMNMIRROR_H
#define LIBMNMIRROR_H

#include <stddef.h>
#include <stdint.h>

/*
 * The kernel ABI: MNM_CAP_* (struct mnm_info.caps), MNM_MAX_PAGES,
 * MNM_PREFETCH_WRITE, MNM_ADVISE_READ_MOSTLY and the MNM_PROT_* bytes of
 * a snapshot.
 */
#include <drm/mnmirror_drm.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The library's version: the one source of the soname, the file names and
 * pkg-config's.  MNM_LIB_VERSION is what a program was compiled against;
 * mnm_version() is what it runs with.
 */
#define MNM_LIB_VERSION_MAJOR	2
#define MNM_LIB_VERSION_MINOR	0
#define MNM_LIB_VERSION_PATCH	0
#define MNM_LIB_VERSION		((MNM_LIB_VERSION_MAJOR << 16) | \
				 (MNM_LIB_VERSION_MINOR << 8) | MNM_LIB_VERSION_PATCH)

struct mnm_device;

/*
 * Structs the library fills for the caller can grow: the caller sets size
 * to the sizeof() it was compiled with (MNM_INFO_INIT, MNM_COUNTERS_INIT);
 * the library fills what both know, zeroes the rest, sets size to the bytes
 * it filled, and refuses a size smaller than version 2.0's (-EINVAL).
 */
struct mnm_info {
	uint32_t size;			/* in: sizeof(struct mnm_info) */
	unsigned int abi_version;
	unsigned int index;		/* mock device index */
	uint64_t caps;			/* MNM_CAP_* */
	unsigned int page_size;
	uint64_t devmem_size;		/* bytes of device memory, 0 if none */
	char path[64];			/* render node path */
};

/* The version of the library running: MNM_LIB_VERSION's encoding. */
unsigned int mnm_version(void);

/* Discovery and handles (sysfs only: nothing is opened but the device asked for) */
int mnm_device_count(void);
int mnm_open_index(unsigned int index, struct mnm_device **dev);
int mnm_open_path(const char *path, struct mnm_device **dev);
void mnm_close(struct mnm_device *dev);
int mnm_fd(const struct mnm_device *dev);
int mnm_get_info(const struct mnm_device *dev, struct mnm_info *info);
int mnm_has_cap(const struct mnm_device *dev, uint64_t cap);

/* Device access to the calling process's memory */
struct mnm_rw_result {
	uint64_t pages;		/* pages copied */
	uint64_t faults;	/* device fault batches taken */
};

int mnm_read(struct mnm_device *dev, const void *addr, void *buf,
	     size_t npages, struct mnm_rw_result *res);
int mnm_write(struct mnm_device *dev, void *addr, const void *buf,
	      size_t npages, struct mnm_rw_result *res);
int mnm_release(struct mnm_device *dev, const void *addr, size_t npages);

/* Snapshots */
#define MNM_SNAP_CPU		0	/* the CPU page table (nothing faulted) */
#define MNM_SNAP_DEVICE		1	/* the device's own page table */

enum mnm_page_state {
	MNM_PAGE_NONE,		/* nothing mapped (yet) */
	MNM_PAGE_READ,		/* read-only */
	MNM_PAGE_WRITE,		/* writable */
	MNM_PAGE_ZERO,		/* the shared zero page */
	MNM_PAGE_DEVICE_LOCAL,	/* in this device's memory */
	MNM_PAGE_DEVICE_REMOTE,	/* in another device's memory */
	MNM_PAGE_EXCLUSIVE,	/* the device holds exclusive access */
	MNM_PAGE_ERROR,		/* no VMA or no access */
};

struct mnm_page {
	enum mnm_page_state state;
	int writable;
	int huge;		/* part of a 2 MiB (or 1 GiB) mapping */
	uint8_t raw;		/* the kernel's MNM_PROT_* byte */
};

int mnm_snapshot(struct mnm_device *dev, const void *addr, size_t npages,
		 int which, uint8_t *raw);
void mnm_decode(uint8_t raw, struct mnm_page *page);
char mnm_page_char(uint8_t raw);
int mnm_snapshot_map(struct mnm_device *dev, const void *addr, size_t npages,
		     int which, char *map, size_t maplen);

/* Device memory */
enum mnm_direction {
	MNM_TO_DEVICE = 1,
	MNM_TO_SYSTEM = 2,
};

struct mnm_migrate_result {
	uint64_t migrated;
	uint64_t skip_vma, skip_busy, skip_refused, skip_nomem, skip_other;
};

int mnm_migrate(struct mnm_device *dev, const void *addr, size_t npages,
		enum mnm_direction dir, struct mnm_migrate_result *res);
/*
 * Prefetch: make a range resident for the device and map it, with no copy to
 * userspace; first migrate it to @location (0: leave pages where they are).
 * Holes are not errors: every page is counted in the result.
 */
struct mnm_prefetch_result {
	uint64_t mapped;	/* pages the device maps now */
	uint64_t skip_access;	/* no VMA, or it forbids the access */
	uint64_t skip_fault;	/* the CPU fault failed (SIGBUS, ...) */
	uint64_t skip_raced;	/* unmapped again before the call ended */
	struct mnm_migrate_result migrate;	/* zero when @location is 0 */
};

int mnm_prefetch(struct mnm_device *dev, const void *addr, size_t npages,
		 int location, unsigned int flags,
		 struct mnm_prefetch_result *res);
/*
 * Placement advice for a mapped range: a preferred location (0 for none,
 * MNM_TO_DEVICE or MNM_TO_SYSTEM) and attributes.  Device faults and
 * eviction follow it; it goes away where the range is unmapped.  Location 0
 * with no attributes clears it.
 */
int mnm_advise(struct mnm_device *dev, const void *addr, size_t npages,
	       int location, unsigned int attrs);
/* The advice at @addr, and how many pages from it (up to @npages) share it. */
int mnm_advice(struct mnm_device *dev, const void *addr, size_t npages,
	       int *location, unsigned int *attrs, size_t *same_pages);
int mnm_exclusive(struct mnm_device *dev, const void *addr, size_t npages);
int mnm_check_exclusive(struct mnm_device *dev, const void *addr,
			size_t npages, uint64_t *exclusive_pages);

/* Counters */
#define MNM_INFO_INIT		{ .size = sizeof(struct mnm_info) }

struct mnm_counters {
	uint32_t size;			/* in: sizeof(struct mnm_counters) */
	uint64_t faults, pages_faulted, retries, timeouts;
	uint64_t invalidations, invalidations_nonblock, nonblock_refusals;
	uint64_t snapshots, pt_pages, mapped_pages;
	uint64_t migrated_to_device, migrated_to_system, evictions, cpu_faults;
	uint64_t devmem_free, self_invalidations;
};

#define MNM_COUNTERS_INIT	{ .size = sizeof(struct mnm_counters) }

int mnm_stats(struct mnm_device *dev, struct mnm_counters *file,
	      struct mnm_counters *device);

const char *mnm_strerror(int err);

#ifdef __cplusplus
}
#endif

#endif /* LIBMNMIRROR_H */
