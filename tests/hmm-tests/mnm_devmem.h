/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Device-memory helpers shared by the mnmirror selftests (users of the
 * kselftest harness: NEED_MIGRATE skips the test).
 */
#ifndef MNM_DEVMEM_H
#define MNM_DEVMEM_H

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "mnm_util.h"

static inline bool has_migrate(int fd)
{
	struct drm_mnm_info info = { .size = sizeof(info) };

	return !mnm_ioctl(fd, DRM_IOCTL_MNM_GET_INFO, &info) &&
	       (info.caps & MNM_CAP_MIGRATE);
}

#define NEED_MIGRATE(fd) do {						\
	if (!has_migrate(fd))						\
		SKIP(return, "no device memory: the kernel lacks DEVICE_PRIVATE"); \
} while (0)

static inline int mnm_migrate(int fd, void *addr, unsigned long npages, int dir,
			      struct drm_mnm_migrate *out)
{
	struct drm_mnm_migrate m = {
		.size = sizeof(m), .addr = (unsigned long)addr,
		.npages = npages, .direction = dir,
	};
	int ret = mnm_ioctl(fd, DRM_IOCTL_MNM_MIGRATE, &m);

	if (out)
		*out = m;
	return ret;
}

/* Write a string to a sysfs, debugfs or cgroup file; 0 or -errno. */
static inline int mnm_write_str(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY), n = strlen(val), ret = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, val, n) != n)
		ret = -errno;
	close(fd);
	return ret;
}

/* Write a number to a sysfs or debugfs file; 0 or -errno. */
static inline int mnm_write_file(const char *path, unsigned long val)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%lu\n", val);
	return mnm_write_str(path, buf);
}

/* Write to /sys/kernel/debug/mnmirror/dev<dev>/<file>. */
static inline int debugfs_write(int dev, const char *file, unsigned long val)
{
	char path[128];

	snprintf(path, sizeof(path), "/sys/kernel/debug/mnmirror/dev%d/%s", dev, file);
	return mnm_write_file(path, val);
}

/* A "name value" line of /sys/kernel/debug/mnmirror/dev0/<file>, or @none. */
static inline long dev0_value(const char *file, const char *name, long none)
{
	char path[96], line[128], key[64];
	long v, ret = none;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/kernel/debug/mnmirror/dev0/%s", file);
	f = fopen(path, "r");
	if (!f)
		return none;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%63s %ld", key, &v) == 2 && !strcmp(key, name)) {
			ret = v;
			break;
		}
	fclose(f);
	return ret;
}

/* A counter of device 0 (debugfs dev0/stats), or -1. */
static inline long dev_counter(const char *name)
{
	return dev0_value("stats", name, -1);
}

/* A line of device 0's debugfs devmem file, or ~0UL. */
static inline unsigned long devmem_stat(const char *name)
{
	return dev0_value("devmem", name, ~0L);
}

static inline unsigned long devmem_used(void)
{
	return devmem_stat("used");
}

/* Device 0's debugfs devmem_limit in pages, 0 if it cannot be read. */
static inline unsigned long devmem_limit(void)
{
	FILE *f = fopen("/sys/kernel/debug/mnmirror/dev0/devmem_limit", "r");
	unsigned long v = 0;

	if (f) {
		if (fscanf(f, "%lu", &v) != 1)
			v = 0;
		fclose(f);
	}
	return v;
}

#endif /* MNM_DEVMEM_H */
