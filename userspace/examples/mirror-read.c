// SPDX-License-Identifier: MIT
/*
 * Example: let mock device 0 read this process's memory, then show what the
 * CPU and the device map.  Exits 0 only if the device read what the CPU
 * wrote.  Build: cc mirror-read.c $(pkg-config --cflags --libs libmnmirror)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <mnmirror.h>

int main(void)
{
	long ps = sysconf(_SC_PAGESIZE);
	struct mnm_device *dev;
	struct mnm_rw_result res;
	size_t npages = 8;
	char *mem, *buf, map[16];
	int ret;

	ret = mnm_open_index(0, &dev);
	if (ret) {
		fprintf(stderr, "open: %s\n", mnm_strerror(ret));
		return 1;
	}
	mem = mmap(NULL, npages * ps, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	buf = malloc(npages * ps);
	if (mem == MAP_FAILED || !buf)
		return 1;
	strcpy(mem, "hello, device");
	ret = mnm_read(dev, mem, buf, npages, &res);
	if (ret) {
		fprintf(stderr, "read: %s\n", mnm_strerror(ret));
		return 1;
	}
	printf("device read %llu pages in %llu faults: \"%s\"\n",
	       (unsigned long long)res.pages, (unsigned long long)res.faults, buf);
	mnm_snapshot_map(dev, mem, npages, MNM_SNAP_CPU, map, sizeof(map));
	printf("CPU    %s\n", map);
	mnm_snapshot_map(dev, mem, npages, MNM_SNAP_DEVICE, map, sizeof(map));
	printf("device %s\n", map);
	ret = res.pages == npages && !strcmp(buf, "hello, device") ? 0 : 1;
	mnm_close(dev);
	return ret;
}
