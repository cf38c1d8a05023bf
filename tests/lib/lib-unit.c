// SPDX-License-Identifier: MIT
/*
 * Host-side unit tests of libmnmirror: argument checks and decoding.  No
 * kernel needed: every call here must be refused before any ioctl, or
 * decodes bytes.  Run by `make check` on the host.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mnmirror.h"
#include "../../include/uapi/drm/mnmirror_drm.h"

static int failures, checks;

#define EXPECT(cond) do {						\
	checks++;							\
	if (!(cond)) {							\
		failures++;						\
		fprintf(stderr, "%s:%d: expected %s\n", __FILE__, __LINE__, #cond); \
	}								\
} while (0)

static void test_null_handles(void)
{
	char buf[4096];
	uint64_t n;
	struct mnm_info info = MNM_INFO_INIT;
	struct mnm_counters c = MNM_COUNTERS_INIT;

	EXPECT(mnm_open_index(0, NULL) == -EINVAL);
	EXPECT(mnm_open_path(NULL, NULL) == -EINVAL);
	EXPECT(mnm_fd(NULL) == -EINVAL);
	EXPECT(mnm_get_info(NULL, &info) == -EINVAL);
	EXPECT(mnm_has_cap(NULL, MNM_CAP_MIRROR) == 0);
	EXPECT(mnm_read(NULL, buf, buf, 1, NULL) == -EINVAL);
	EXPECT(mnm_write(NULL, buf, buf, 1, NULL) == -EINVAL);
	EXPECT(mnm_release(NULL, buf, 1) == -EINVAL);
	EXPECT(mnm_snapshot(NULL, buf, 1, MNM_SNAP_CPU, (uint8_t *)buf) == -EINVAL);
	EXPECT(mnm_migrate(NULL, buf, 1, MNM_TO_DEVICE, NULL) == -EINVAL);
	EXPECT(mnm_exclusive(NULL, buf, 1) == -EINVAL);
	EXPECT(mnm_check_exclusive(NULL, buf, 1, &n) == -EINVAL);
	EXPECT(mnm_stats(NULL, &c, NULL) == -EINVAL);
	mnm_close(NULL);	/* must not crash */
}

static void test_open_missing(void)
{
	struct mnm_device *dev = (void *)1;

	EXPECT(mnm_open_path("/nonexistent/renderD128", &dev) == -ENOENT);
	EXPECT(dev == NULL);
	/* /dev/null is no DRM device at all. */
	EXPECT(mnm_open_path("/dev/null", &dev) == -ENODEV);
	EXPECT(dev == NULL);
}

/*
 * Discovery reads sysfs only: a fake sysfs tree ($MNM_SYSFS_DIR) with a PCI
 * GPU's render node, the skeleton driver's, a card node and one mnmirror
 * device (index 3).
 */
static void test_discovery_sysfs(void)
{
	char root[] = "/tmp/mnm-sysfs-XXXXXX", path[512];
	static const struct { const char *node, *target; } t[] = {
		{ "renderD128", "../../../devices/pci0000:00/0000:00:02.0" },
		{ "renderD129", "../../../devices/platform/mnmirror.3" },
		{ "renderD130", "../../../devices/platform/mnmskel.0" },
		{ "card0", "../../../devices/platform/mnmirror.0" },
	};
	struct mnm_device *dev = (void *)1;
	unsigned int i;

	EXPECT(mkdtemp(root) != NULL);
	snprintf(path, sizeof(path), "%s/class", root);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/class/drm", root);
	mkdir(path, 0755);
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		snprintf(path, sizeof(path), "%s/class/drm/%s", root, t[i].node);
		mkdir(path, 0755);
		snprintf(path, sizeof(path), "%s/class/drm/%s/device", root, t[i].node);
		EXPECT(symlink(t[i].target, path) == 0);
	}
	setenv("MNM_SYSFS_DIR", root, 1);
	EXPECT(mnm_device_count() == 1);
	EXPECT(mnm_open_index(0, &dev) == -ENODEV);
	EXPECT(dev == NULL);
	/* Index 3 is /dev/dri/renderD129: opened if found, and only it. */
	if (access("/dev/dri/renderD129", F_OK)) {
		dev = (void *)1;
		EXPECT(mnm_open_index(3, &dev) == -ENOENT);
		EXPECT(dev == NULL);
	}
	snprintf(path, sizeof(path), "%s/none", root);
	setenv("MNM_SYSFS_DIR", path, 1);
	EXPECT(mnm_device_count() == 0);
	EXPECT(mnm_open_index(3, &dev) == -ENODEV);
	unsetenv("MNM_SYSFS_DIR");
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		snprintf(path, sizeof(path), "%s/class/drm/%s/device", root, t[i].node);
		unlink(path);
		snprintf(path, sizeof(path), "%s/class/drm/%s", root, t[i].node);
		rmdir(path);
	}
	snprintf(path, sizeof(path), "%s/class/drm", root);
	rmdir(path);
	snprintf(path, sizeof(path), "%s/class", root);
	rmdir(path);
	rmdir(root);
}

static void test_version(void)
{
	EXPECT(mnm_version() == MNM_LIB_VERSION);
	EXPECT((mnm_version() >> 16) == MNM_LIB_VERSION_MAJOR);
}

static void test_decode(void)
{
	static const struct { uint8_t raw; enum mnm_page_state state; int w, huge; char ch; } t[] = {
		{ MNM_PROT_NONE, MNM_PAGE_NONE, 0, 0, '.' },
		{ MNM_PROT_READ, MNM_PAGE_READ, 0, 0, 'r' },
		{ MNM_PROT_WRITE, MNM_PAGE_WRITE, 1, 0, 'w' },
		{ MNM_PROT_WRITE | MNM_PROT_PMD, MNM_PAGE_WRITE, 1, 1, 'W' },
		{ MNM_PROT_READ | MNM_PROT_PUD, MNM_PAGE_READ, 0, 1, 'R' },
		{ MNM_PROT_READ | MNM_PROT_ZERO, MNM_PAGE_ZERO, 0, 0, 'z' },
		{ MNM_PROT_READ | MNM_PROT_ZERO | MNM_PROT_PMD, MNM_PAGE_ZERO, 0, 1, 'Z' },
		{ MNM_PROT_WRITE | MNM_PROT_DEV_PRIVATE_LOCAL, MNM_PAGE_DEVICE_LOCAL, 1, 0, 'd' },
		{ MNM_PROT_WRITE | MNM_PROT_DEV_PRIVATE_REMOTE, MNM_PAGE_DEVICE_REMOTE, 1, 0, 'o' },
		{ MNM_PROT_WRITE | MNM_PROT_EXCLUSIVE, MNM_PAGE_EXCLUSIVE, 1, 0, 'x' },
		{ MNM_PROT_ERROR, MNM_PAGE_ERROR, 0, 0, '-' },
	};
	unsigned int i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct mnm_page p;

		mnm_decode(t[i].raw, &p);
		EXPECT(p.state == t[i].state);
		EXPECT(p.writable == t[i].w);
		EXPECT(p.huge == t[i].huge);
		EXPECT(p.raw == t[i].raw);
		EXPECT(mnm_page_char(t[i].raw) == t[i].ch);
	}
}

static void test_strerror(void)
{
	EXPECT(strcmp(mnm_strerror(0), "success") == 0);
	EXPECT(strstr(mnm_strerror(-ENODEV), "mnmirror.ko") != NULL);
	EXPECT(strstr(mnm_strerror(-EOPNOTSUPP), "device memory") != NULL);
	EXPECT(strlen(mnm_strerror(-ENOMEM)) > 0);
	EXPECT(strcmp(mnm_strerror(5), "unknown error") == 0);
}

static void test_map_args(void)
{
	char map[4] = "";

	EXPECT(mnm_snapshot_map(NULL, map, 8, MNM_SNAP_CPU, map, sizeof(map)) == -EINVAL);
	EXPECT(mnm_snapshot_map(NULL, map, 1, MNM_SNAP_CPU, NULL, 0) == -EINVAL);
}

static const struct {
	const char *name;
	void (*fn)(void);
} tests[] = {
	{ "null_handles", test_null_handles },
	{ "open_missing", test_open_missing },
	{ "discovery_sysfs", test_discovery_sysfs },
	{ "version", test_version },
	{ "decode", test_decode },
	{ "strerror", test_strerror },
	{ "map_args", test_map_args },
};

int main(void)
{
	unsigned int i, n = sizeof(tests) / sizeof(tests[0]), failed = 0;

	printf("TAP version 13\n1..%u\n", n);
	for (i = 0; i < n; i++) {
		int before = failures;

		tests[i].fn();
		failed += failures != before;
		printf("%sok %u lib-unit.%s\n", failures != before ? "not " : "",
		       i + 1, tests[i].name);
	}
	printf("# lib-unit: %d checks in %u tests\n", checks, n);
	printf("# Totals: pass:%u fail:%u xfail:0 xpass:0 skip:0 error:0\n",
	       n - failed, failed);
	return failed ? 1 : 0;
}
