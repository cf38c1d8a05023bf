// SPDX-License-Identifier: MIT
/*
 * Example: move a buffer into device memory when the kernel supports it,
 * then touch it from the CPU, which brings it back.  Exits 0 if the data
 * survived both moves (or the kernel has no device memory).
 */
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <mnmirror.h>

int main(void)
{
	long ps = sysconf(_SC_PAGESIZE);
	struct mnm_migrate_result m;
	struct mnm_counters dev_stats = MNM_COUNTERS_INIT;
	struct mnm_device *dev;
	size_t npages = 16;
	char *mem, map[32];
	int ret;

	ret = mnm_open_index(0, &dev);
	if (ret) {
		fprintf(stderr, "open: %s\n", mnm_strerror(ret));
		return 1;
	}
	if (!mnm_has_cap(dev, MNM_CAP_MIGRATE)) {
		printf("this kernel has no device memory (DEVICE_PRIVATE off)\n");
		mnm_close(dev);
		return 0;
	}
	mem = mmap(NULL, npages * ps, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return 1;
	memset(mem, 'x', npages * ps);
	ret = mnm_migrate(dev, mem, npages, MNM_TO_DEVICE, &m);
	printf("migrate: %s, %llu pages moved\n", mnm_strerror(ret),
	       (unsigned long long)m.migrated);
	if (ret || m.migrated != npages)
		return 1;
	mnm_snapshot_map(dev, mem, npages, MNM_SNAP_CPU, map, sizeof(map));
	printf("CPU view after migration: %s   (d = in device memory)\n", map);
	printf("CPU reads page 0: '%c'\n", mem[0]);
	mnm_snapshot_map(dev, mem, npages, MNM_SNAP_CPU, map, sizeof(map));
	printf("CPU view after touching page 0: %s\n", map);
	mnm_stats(dev, NULL, &dev_stats);
	printf("device: %llu CPU faults brought pages back\n",
	       (unsigned long long)dev_stats.cpu_faults);
	ret = mem[0] == 'x' && mem[npages * ps - 1] == 'x' && dev_stats.cpu_faults ? 0 : 1;
	mnm_close(dev);
	return ret;
}
