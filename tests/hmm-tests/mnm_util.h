/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Raw-ioctl helpers for the mnmirror selftests (no libmnmirror on purpose:
 * the tests check the kernel ABI itself).
 *
 * Environment: MNM_DRIVER names the DRM driver whose render nodes the tests
 * open (default "mnmirror", the mock); MNM_DRIVER=mnmskel runs them against
 * the skeleton driver (drivers/gpu/mnmskel), or against any driver that
 * implements include/uapi/drm/mnmirror_drm.h.
 */
#ifndef MNM_UTIL_H
#define MNM_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <drm/mnmirror_drm.h>

/* The DRM driver under test: $MNM_DRIVER, by default "mnmirror". */
static inline const char *mnm_driver_name(void)
{
	const char *name = getenv("MNM_DRIVER");

	return name && *name ? name : "mnmirror";
}

/* Is the driver under test the mock itself (STATS, debugfs, mmap...)? */
static inline int mnm_driver_is_mock(void)
{
	return strcmp(mnm_driver_name(), "mnmirror") == 0;
}

/* Open the render node of device @index; -errno if there is none. */
static inline int mnm_open_device(int index)
{
	const char *driver = mnm_driver_name();
	char path[64], name[32];
	int minor, fd;

	for (minor = 128; minor < 192; minor++) {
		struct drm_version v = { .name = name, .name_len = sizeof(name) - 1 };
		struct drm_mnm_info info = { .size = sizeof(info) };

		snprintf(path, sizeof(path), "/dev/dri/renderD%d", minor);
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			continue;
		memset(name, 0, sizeof(name));
		if (ioctl(fd, DRM_IOCTL_VERSION, &v) == 0 &&
		    strcmp(name, driver) == 0 &&
		    ioctl(fd, DRM_IOCTL_MNM_GET_INFO, &info) == 0 &&
		    (int)info.device_index == index)
			return fd;
		close(fd);
	}
	return -ENODEV;
}

static inline int mnm_ioctl(int fd, unsigned long req, void *arg)
{
	return ioctl(fd, req, arg) ? -errno : 0;
}

static inline int mnm_rw(int fd, int write, void *addr, void *buf,
			 unsigned long npages, struct drm_mnm_rw *out)
{
	struct drm_mnm_rw rw = {
		.size = sizeof(rw),
		.addr = (unsigned long)addr,
		.ptr = (unsigned long)buf,
		.npages = npages,
	};
	int ret = mnm_ioctl(fd, write ? DRM_IOCTL_MNM_WRITE : DRM_IOCTL_MNM_READ, &rw);

	if (out)
		*out = rw;
	return ret;
}

static inline int mnm_read(int fd, void *addr, void *buf, unsigned long npages)
{
	return mnm_rw(fd, 0, addr, buf, npages, NULL);
}

static inline int mnm_write(int fd, void *addr, void *buf, unsigned long npages)
{
	return mnm_rw(fd, 1, addr, buf, npages, NULL);
}

static inline int mnm_snapshot(int fd, void *addr, unsigned long npages,
			       unsigned char *prot, unsigned int flags)
{
	struct drm_mnm_snapshot s = {
		.size = sizeof(s),
		.flags = flags,
		.addr = (unsigned long)addr,
		.ptr = (unsigned long)prot,
		.npages = npages,
	};

	return mnm_ioctl(fd, DRM_IOCTL_MNM_SNAPSHOT, &s);
}

static inline int mnm_release(int fd, void *addr, unsigned long npages)
{
	struct drm_mnm_release r = {
		.size = sizeof(r),
		.addr = (unsigned long)addr,
		.npages = npages,
	};

	return mnm_ioctl(fd, DRM_IOCTL_MNM_RELEASE, &r);
}

static inline int mnm_stats(int fd, struct drm_mnm_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->size = sizeof(*st);
	return mnm_ioctl(fd, DRM_IOCTL_MNM_STATS, st);
}

#endif /* MNM_UTIL_H */
