// SPDX-License-Identifier: MIT
/*
 * Example: what a runtime does before a kernel runs on the device: advise
 * where a buffer should live, prefetch it there (no copy through the CPU),
 * then let the device read it with no fault.  Exits 0 if the device read
 * the buffer without faulting.
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
	struct mnm_prefetch_result pr;
	struct mnm_rw_result rr = { 0 };
	struct mnm_device *dev;
	size_t npages = 64;
	int where, ret;
	char *mem, *buf;

	ret = mnm_open_index(0, &dev);
	if (ret || !mnm_has_cap(dev, MNM_CAP_PREFETCH)) {
		fprintf(stderr, "open: %s\n", ret ? mnm_strerror(ret) : "no PREFETCH");
		return 1;
	}
	mem = mmap(NULL, npages * ps, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	buf = malloc(npages * ps);
	if (mem == MAP_FAILED || !buf)
		return 1;
	memset(mem, 7, npages * ps);
	/* Device memory where the kernel has it, else keep it in system memory. */
	where = mnm_has_cap(dev, MNM_CAP_MIGRATE) ? MNM_TO_DEVICE : MNM_TO_SYSTEM;
	ret = mnm_advise(dev, mem, npages, where, 0);
	if (!ret)
		ret = mnm_prefetch(dev, mem, npages, where == MNM_TO_DEVICE ? where : 0,
				   0, &pr);
	if (ret) {
		fprintf(stderr, "advise/prefetch: %s\n", mnm_strerror(ret));
		return 1;
	}
	printf("prefetch: %llu pages mapped, %llu migrated\n",
	       (unsigned long long)pr.mapped, (unsigned long long)pr.migrate.migrated);
	ret = mnm_read(dev, mem, buf, npages, &rr);
	printf("device read: %s, %llu faults\n", mnm_strerror(ret),
	       (unsigned long long)rr.faults);
	ret = !ret && pr.mapped == npages && rr.faults == 0 && buf[0] == 7 ? 0 : 1;
	mnm_close(dev);
	return ret;
}
