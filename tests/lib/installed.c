// SPDX-License-Identifier: MIT
/*
 * Built by scripts/check-install against an installed tree only (its
 * headers, pkg-config file and shared library): every constant and call the
 * library documents must compile and link from what is installed.  Run on
 * the host: it needs no device, only that the library it loads is the one
 * it was compiled against.
 */
#include <stdio.h>
#include <mnmirror.h>
#include <drm/mnmirror_drm.h>

int main(void)
{
	static const unsigned long long constants[] = {
		MNM_MAX_PAGES, MNM_CAP_MIRROR, MNM_CAP_HUGE_PTE, MNM_CAP_MIGRATE,
		MNM_CAP_EXCLUSIVE, MNM_CAP_PREFETCH, MNM_CAP_ADVISE,
		MNM_PREFETCH_WRITE, MNM_ADVISE_READ_MOSTLY, MNM_ABI_VERSION,
		MNM_SNAP_CPU, MNM_SNAP_DEVICE, MNM_TO_DEVICE, MNM_TO_SYSTEM,
		MNM_PROT_PMD, MNM_LIB_VERSION,
	};
	/* Every call, by address: the link proves the shared library has it. */
	const void *calls[] = {
		(const void *)mnm_device_count, (const void *)mnm_open_index,
		(const void *)mnm_open_path, (const void *)mnm_close,
		(const void *)mnm_fd, (const void *)mnm_get_info,
		(const void *)mnm_has_cap, (const void *)mnm_read,
		(const void *)mnm_write, (const void *)mnm_release,
		(const void *)mnm_snapshot, (const void *)mnm_decode,
		(const void *)mnm_page_char, (const void *)mnm_snapshot_map,
		(const void *)mnm_migrate, (const void *)mnm_exclusive,
		(const void *)mnm_check_exclusive, (const void *)mnm_stats,
		(const void *)mnm_strerror, (const void *)mnm_prefetch,
		(const void *)mnm_advise, (const void *)mnm_advice,
		(const void *)mnm_version,
	};
	unsigned int i;

	for (i = 0; i < sizeof(calls) / sizeof(calls[0]); i++)
		if (!calls[i])
			return 1;
	if (mnm_version() != MNM_LIB_VERSION) {
		fprintf(stderr, "library %#x, header %#x\n", mnm_version(),
			MNM_LIB_VERSION);
		return 1;
	}
	printf("installed libmnmirror %u.%u.%u: %zu constants, %zu calls\n",
	       mnm_version() >> 16, (mnm_version() >> 8) & 0xff,
	       mnm_version() & 0xff, sizeof(constants) / sizeof(constants[0]),
	       sizeof(calls) / sizeof(calls[0]));
	return 0;
}
