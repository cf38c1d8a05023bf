// SPDX-License-Identifier: MIT
/*
 * libmnmirror: discovery through sysfs, one call per ioctl, decoding.
 * No global state; a handle is immutable after open (thread safe).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <xf86drm.h>

#include "../../include/uapi/drm/mnmirror_drm.h"
#include "mnmirror.h"

#define MNM_PUBLIC __attribute__((visibility("default")))
#define MNM_MAX_NODES 64

struct mnm_device {
	int fd;
	struct mnm_info info;
};

static int xioctl(int fd, unsigned long req, void *arg)
{
	int ret;

	do {
		ret = ioctl(fd, req, arg);
	} while (ret && errno == EINTR);
	return ret ? -errno : 0;
}

/*
 * Discovery reads sysfs and opens nothing: opening a render node can wake
 * another vendor's GPU, and opening an mnmirror node registers a mirror of
 * the caller (the mmap lock for write, a notifier, a debugfs entry).  A
 * mock device is a platform device named "mnmirror.<index>", so the target
 * of /sys/class/drm/renderD<minor>/device names both the driver and the
 * index.  $MNM_SYSFS_DIR replaces /sys (for tests).
 */
struct node {
	unsigned int index;
	char path[64];
};

static int sysfs_scan(struct node *nodes, int max)
{
	const char *root = secure_getenv("MNM_SYSFS_DIR");
	char dir[PATH_MAX], link[PATH_MAX], target[PATH_MAX];
	struct dirent *e;
	int n = 0;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/class/drm", root && *root ? root : "/sys");
	d = opendir(dir);
	if (!d)
		return -ENODEV;
	while ((e = readdir(d)) && n < max) {
		const char *base;
		unsigned int minor, index;
		char tail;
		ssize_t len;

		if (sscanf(e->d_name, "renderD%u%c", &minor, &tail) != 1)
			continue;
		if (snprintf(link, sizeof(link), "%s/%.64s/device", dir,
			     e->d_name) >= (int)sizeof(link))
			continue;
		len = readlink(link, target, sizeof(target) - 1);
		if (len <= 0)
			continue;
		target[len] = 0;
		base = strrchr(target, '/');
		base = base ? base + 1 : target;
		if (sscanf(base, "mnmirror.%u%c", &index, &tail) != 1)
			continue;
		nodes[n].index = index;
		snprintf(nodes[n].path, sizeof(nodes[n].path), "%s/renderD%u",
			 DRM_DIR_NAME, minor);
		n++;
	}
	closedir(d);
	return n;
}

MNM_PUBLIC unsigned int mnm_version(void)
{
	return MNM_LIB_VERSION;
}

MNM_PUBLIC int mnm_device_count(void)
{
	struct node nodes[MNM_MAX_NODES];
	int n = sysfs_scan(nodes, MNM_MAX_NODES);

	return n < 0 ? 0 : n;
}

static int adopt(int fd, const char *path, struct mnm_device **dev)
{
	struct drm_mnm_info info = { .size = sizeof(info) };
	struct mnm_device *d;
	int ret = xioctl(fd, DRM_IOCTL_MNM_GET_INFO, &info);

	if (ret)
		return ret == -EINVAL || ret == -ENOTTY ? -ENODEV : ret;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->fd = fd;
	d->info.size = sizeof(d->info);
	d->info.abi_version = info.abi_version;
	d->info.index = info.device_index;
	d->info.caps = info.caps;
	d->info.page_size = info.page_size;
	d->info.devmem_size = info.devmem_size;
	snprintf(d->info.path, sizeof(d->info.path), "%s", path);
	*dev = d;
	return 0;
}

MNM_PUBLIC int mnm_open_index(unsigned int index, struct mnm_device **dev)
{
	struct node nodes[MNM_MAX_NODES];
	int i, n;

	if (!dev)
		return -EINVAL;
	*dev = NULL;
	n = sysfs_scan(nodes, MNM_MAX_NODES);
	for (i = 0; i < n; i++)
		if (nodes[i].index == index)
			return mnm_open_path(nodes[i].path, dev);
	return -ENODEV;
}

MNM_PUBLIC int mnm_open_path(const char *path, struct mnm_device **dev)
{
	drmVersionPtr v;
	int fd, ret;

	if (!path || !dev)
		return -EINVAL;
	*dev = NULL;
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	v = drmGetVersion(fd);
	if (!v || !v->name || strcmp(v->name, "mnmirror")) {
		drmFreeVersion(v);
		close(fd);
		return -ENODEV;
	}
	drmFreeVersion(v);
	ret = adopt(fd, path, dev);
	if (ret)
		close(fd);
	return ret;
}

MNM_PUBLIC void mnm_close(struct mnm_device *dev)
{
	if (!dev)
		return;
	close(dev->fd);
	free(dev);
}

MNM_PUBLIC int mnm_fd(const struct mnm_device *dev)
{
	return dev ? dev->fd : -EINVAL;
}

/*
 * The 2.0 sizes of the growable structs, frozen at their last 2.0 field:
 * the library never accepts less, and fills what it and the caller both
 * know.
 */
#define MNM_END_OF(type, field)	(offsetof(type, field) + sizeof(((type *)0)->field))
#define MNM_INFO_SIZE_2_0	MNM_END_OF(struct mnm_info, path)
#define MNM_COUNTERS_SIZE_2_0	MNM_END_OF(struct mnm_counters, self_invalidations)

/*
 * Copy @full (@full_size bytes) into @out, @out_size of them, and zero the
 * rest; size says how many bytes the library filled, so that a program
 * built against a newer header tells a zero from a field it lacks.
 */
static void fill_sized(void *out, uint32_t out_size, const void *full,
		       size_t full_size)
{
	size_t n = out_size < full_size ? out_size : full_size;

	memcpy(out, full, n);
	memset((char *)out + n, 0, out_size - n);
	*(uint32_t *)out = n;
}

MNM_PUBLIC int mnm_get_info(const struct mnm_device *dev, struct mnm_info *info)
{
	if (!dev || !info || info->size < MNM_INFO_SIZE_2_0)
		return -EINVAL;
	fill_sized(info, info->size, &dev->info, sizeof(dev->info));
	return 0;
}

MNM_PUBLIC int mnm_has_cap(const struct mnm_device *dev, uint64_t cap)
{
	return dev && cap && (dev->info.caps & cap) == cap;
}

/* Checks shared by every range call; the kernel checks again. */
static int check_range(const struct mnm_device *dev, const void *addr,
		       size_t npages)
{
	uintptr_t a = (uintptr_t)addr;

	if (!dev || !npages || npages > MNM_MAX_PAGES)
		return -EINVAL;
	if (a & (dev->info.page_size - 1))
		return -EINVAL;
	if (a + npages * (uintptr_t)dev->info.page_size < a)
		return -EINVAL;
	return 0;
}

static int rw(struct mnm_device *dev, unsigned long req, const void *addr,
	      const void *buf, size_t npages, struct mnm_rw_result *res)
{
	struct drm_mnm_rw a = {
		.size = sizeof(a),
		.addr = (uintptr_t)addr,
		.ptr = (uintptr_t)buf,
		.npages = npages,
	};
	int ret = check_range(dev, addr, npages);

	if (ret)
		return ret;
	if (!buf)
		return -EFAULT;
	ret = xioctl(dev->fd, req, &a);
	if (res) {
		res->pages = a.cpages;
		res->faults = a.faults;
	}
	return ret;
}

MNM_PUBLIC int mnm_read(struct mnm_device *dev, const void *addr, void *buf,
			size_t npages, struct mnm_rw_result *res)
{
	return rw(dev, DRM_IOCTL_MNM_READ, addr, buf, npages, res);
}

MNM_PUBLIC int mnm_write(struct mnm_device *dev, void *addr, const void *buf,
			 size_t npages, struct mnm_rw_result *res)
{
	return rw(dev, DRM_IOCTL_MNM_WRITE, addr, buf, npages, res);
}

MNM_PUBLIC int mnm_release(struct mnm_device *dev, const void *addr,
			   size_t npages)
{
	struct drm_mnm_release r = {
		.size = sizeof(r), .addr = (uintptr_t)addr, .npages = npages,
	};
	int ret = check_range(dev, addr, npages);

	return ret ? ret : xioctl(dev->fd, DRM_IOCTL_MNM_RELEASE, &r);
}

MNM_PUBLIC int mnm_snapshot(struct mnm_device *dev, const void *addr,
			    size_t npages, int which, uint8_t *raw)
{
	struct drm_mnm_snapshot s = {
		.size = sizeof(s),
		.addr = (uintptr_t)addr,
		.ptr = (uintptr_t)raw,
		.npages = npages,
	};
	int ret = check_range(dev, addr, npages);

	if (ret)
		return ret;
	if (which != MNM_SNAP_CPU && which != MNM_SNAP_DEVICE)
		return -EINVAL;
	if (!raw)
		return -EFAULT;
	if (which == MNM_SNAP_DEVICE)
		s.flags = MNM_SNAPSHOT_DEVICE;
	return xioctl(dev->fd, DRM_IOCTL_MNM_SNAPSHOT, &s);
}

MNM_PUBLIC void mnm_decode(uint8_t raw, struct mnm_page *page)
{
	memset(page, 0, sizeof(*page));
	page->raw = raw;
	if (raw == MNM_PROT_ERROR) {
		page->state = MNM_PAGE_ERROR;
		return;
	}
	page->writable = !!(raw & MNM_PROT_WRITE);
	page->huge = !!(raw & (MNM_PROT_PMD | MNM_PROT_PUD));
	if (raw & MNM_PROT_EXCLUSIVE)
		page->state = MNM_PAGE_EXCLUSIVE;
	else if ((raw & 0x30) == MNM_PROT_DEV_PRIVATE_REMOTE)
		page->state = MNM_PAGE_DEVICE_REMOTE;
	else if ((raw & 0x30) == MNM_PROT_DEV_PRIVATE_LOCAL)
		page->state = MNM_PAGE_DEVICE_LOCAL;
	else if (raw & MNM_PROT_ZERO)
		page->state = MNM_PAGE_ZERO;
	else if (raw & MNM_PROT_WRITE)
		page->state = MNM_PAGE_WRITE;
	else if (raw & MNM_PROT_READ)
		page->state = MNM_PAGE_READ;
	else
		page->state = MNM_PAGE_NONE;
}

MNM_PUBLIC char mnm_page_char(uint8_t raw)
{
	static const char c[] = {
		[MNM_PAGE_NONE] = '.', [MNM_PAGE_READ] = 'r', [MNM_PAGE_WRITE] = 'w',
		[MNM_PAGE_ZERO] = 'z', [MNM_PAGE_DEVICE_LOCAL] = 'd',
		[MNM_PAGE_DEVICE_REMOTE] = 'o', [MNM_PAGE_EXCLUSIVE] = 'x',
		[MNM_PAGE_ERROR] = '-',
	};
	struct mnm_page p;
	char ch;

	mnm_decode(raw, &p);
	ch = c[p.state];
	/* Upper case: part of a huge (2 MiB or 1 GiB) mapping. */
	if (p.huge && ch >= 'a' && ch <= 'z')
		ch -= 'a' - 'A';
	return ch;
}

MNM_PUBLIC int mnm_snapshot_map(struct mnm_device *dev, const void *addr,
				size_t npages, int which, char *map,
				size_t maplen)
{
	uint8_t *raw;
	size_t i;
	int ret;

	if (!map || maplen < npages + 1)
		return -EINVAL;
	raw = malloc(npages ? npages : 1);
	if (!raw)
		return -ENOMEM;
	ret = mnm_snapshot(dev, addr, npages, which, raw);
	if (!ret) {
		for (i = 0; i < npages; i++)
			map[i] = mnm_page_char(raw[i]);
		map[npages] = '\0';
	}
	free(raw);
	return ret;
}

MNM_PUBLIC int mnm_migrate(struct mnm_device *dev, const void *addr,
			   size_t npages, enum mnm_direction dir,
			   struct mnm_migrate_result *res)
{
	struct drm_mnm_migrate m = {
		.size = sizeof(m),
		.addr = (uintptr_t)addr,
		.npages = npages,
		.direction = dir,
	};
	int ret = check_range(dev, addr, npages);

	if (ret)
		return ret;
	if (dir != MNM_TO_DEVICE && dir != MNM_TO_SYSTEM)
		return -EINVAL;
	ret = xioctl(dev->fd, DRM_IOCTL_MNM_MIGRATE, &m);
	if (res) {
		res->migrated = m.migrated;
		res->skip_vma = m.skip_vma;
		res->skip_busy = m.skip_busy;
		res->skip_refused = m.skip_refused;
		res->skip_nomem = m.skip_nomem;
		res->skip_other = m.skip_other;
	}
	return ret;
}

MNM_PUBLIC int mnm_prefetch(struct mnm_device *dev, const void *addr,
			    size_t npages, int location, unsigned int flags,
			    struct mnm_prefetch_result *res)
{
	struct drm_mnm_prefetch p = {
		.size = sizeof(p),
		.flags = flags,
		.addr = (uintptr_t)addr,
		.npages = npages,
		.location = (uint32_t)location,
	};
	int ret = check_range(dev, addr, npages);

	if (ret)
		return ret;
	if (location && location != MNM_TO_DEVICE && location != MNM_TO_SYSTEM)
		return -EINVAL;
	ret = xioctl(dev->fd, DRM_IOCTL_MNM_PREFETCH, &p);
	if (res) {
		res->mapped = p.mapped;
		res->skip_access = p.skip_access;
		res->skip_fault = p.skip_fault;
		res->skip_raced = p.skip_raced;
		res->migrate.migrated = p.migrated;
		res->migrate.skip_vma = p.mskip_vma;
		res->migrate.skip_busy = p.mskip_busy;
		res->migrate.skip_refused = p.mskip_refused;
		res->migrate.skip_nomem = p.mskip_nomem;
		res->migrate.skip_other = p.mskip_other;
	}
	return ret;
}

MNM_PUBLIC int mnm_advise(struct mnm_device *dev, const void *addr,
			  size_t npages, int location, unsigned int attrs)
{
	struct drm_mnm_advise a = {
		.size = sizeof(a),
		.addr = (uintptr_t)addr,
		.npages = npages,
		.location = (uint32_t)location,
		.attrs = attrs,
	};
	int ret = check_range(dev, addr, npages);

	if (ret)
		return ret;
	return xioctl(dev->fd, DRM_IOCTL_MNM_ADVISE, &a);
}

MNM_PUBLIC int mnm_advice(struct mnm_device *dev, const void *addr,
			  size_t npages, int *location, unsigned int *attrs,
			  size_t *same_pages)
{
	struct drm_mnm_advise a = {
		.size = sizeof(a),
		.flags = MNM_ADVISE_QUERY,
		.addr = (uintptr_t)addr,
		.npages = npages,
	};
	int ret = check_range(dev, addr, npages);

	if (ret)
		return ret;
	ret = xioctl(dev->fd, DRM_IOCTL_MNM_ADVISE, &a);
	if (ret)
		return ret;
	if (location)
		*location = (int)a.location;
	if (attrs)
		*attrs = a.attrs;
	if (same_pages)
		*same_pages = a.npages;
	return 0;
}

static int exclusive(struct mnm_device *dev, unsigned long req, const void *addr,
		     size_t npages, uint64_t *out)
{
	struct drm_mnm_exclusive e = {
		.size = sizeof(e), .addr = (uintptr_t)addr, .npages = npages,
	};
	int ret = check_range(dev, addr, npages);

	if (ret)
		return ret;
	ret = xioctl(dev->fd, req, &e);
	if (!ret && out)
		*out = e.exclusive;
	return ret;
}

MNM_PUBLIC int mnm_exclusive(struct mnm_device *dev, const void *addr,
			     size_t npages)
{
	return exclusive(dev, DRM_IOCTL_MNM_EXCLUSIVE, addr, npages, NULL);
}

MNM_PUBLIC int mnm_check_exclusive(struct mnm_device *dev, const void *addr,
				   size_t npages, uint64_t *exclusive_pages)
{
	if (!exclusive_pages)
		return -EINVAL;
	return exclusive(dev, DRM_IOCTL_MNM_CHECK_EXCLUSIVE, addr, npages,
			 exclusive_pages);
}

static void counters(struct mnm_counters *o, const struct drm_mnm_counters *c)
{
	o->faults = c->faults;
	o->pages_faulted = c->pages_faulted;
	o->retries = c->retries;
	o->timeouts = c->timeouts;
	o->invalidations = c->invalidations;
	o->invalidations_nonblock = c->invalidations_nonblock;
	o->nonblock_refusals = c->nonblock_refusals;
	o->snapshots = c->snapshots;
	o->pt_pages = c->pt_pages;
	o->mapped_pages = c->mapped_pages;
	o->migrated_to_device = c->migrated_to_device;
	o->migrated_to_system = c->migrated_to_system;
	o->evictions = c->evictions;
	o->cpu_faults = c->cpu_faults;
	o->devmem_free = c->devmem_free;
	o->self_invalidations = c->self_invalidations;
}

MNM_PUBLIC int mnm_stats(struct mnm_device *dev, struct mnm_counters *file,
			 struct mnm_counters *device)
{
	struct drm_mnm_stats st = { .size = sizeof(st) };
	int ret;

	struct mnm_counters c = { 0 };

	if (!dev || (!file && !device) ||
	    (file && file->size < MNM_COUNTERS_SIZE_2_0) ||
	    (device && device->size < MNM_COUNTERS_SIZE_2_0))
		return -EINVAL;
	ret = xioctl(dev->fd, DRM_IOCTL_MNM_STATS, &st);
	if (ret)
		return ret;
	if (file) {
		counters(&c, &st.file);
		fill_sized(file, file->size, &c, sizeof(c));
	}
	if (device) {
		counters(&c, &st.device);
		fill_sized(device, device->size, &c, sizeof(c));
	}
	return 0;
}

MNM_PUBLIC const char *mnm_strerror(int err)
{
	switch (err) {
	case 0:
		return "success";
	case -ENODEV:
		return "no such mnmirror device (is mnmirror.ko loaded?)";
	case -EPERM:
		return "not permitted: the file mirrors another process, or the mapping is read-only";
	case -EFAULT:
		return "bad address: unmapped memory or an invalid buffer";
	case -EOPNOTSUPP:
		return "not supported on this kernel (no device memory)";
	case -EBUSY:
		return "busy: pages were changing too fast, or could not be made exclusive";
	case -ESRCH:
		return "the mirrored process has exited";
	case -EINVAL:
		return "invalid argument";
	default:
		return err < 0 ? strerror(-err) : "unknown error";
	}
}
