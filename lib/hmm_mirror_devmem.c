// SPDX-License-Identifier: GPL-2.0
/*
 * hmm_mirror: what every driver with device-private memory writes again:
 * bringing one page back on a CPU fault (->migrate_to_ram), and evicting
 * device pages to system memory.  The driver keeps its allocator and its
 * eviction order (an LRU, a clock); it supplies only the copy.
 *
 * Both move pages with migrate_vma_*() or migrate_device_*(), whose
 * MMU_NOTIFY_MIGRATE event zaps the page in every mirror of the mm that
 * maps it, this device's other files and other devices included, before
 * the copy: no device can write the page after it was copied.
 *
 * Locking: no lock of the layer is taken.  hmm_mirror_migrate_to_ram()
 * runs in the CPU fault, with mmap_lock (or the VMA lock) held as the core
 * holds it there; the copy callback may sleep and allocate.
 */
#include <linux/migrate.h>
#include <linux/mm.h>

#include "hmm_mirror_internal.h"

#if IS_ENABLED(CONFIG_DEVICE_PRIVATE)
/* Point @dst at the copy @copy_out made of @src (or leave it 0). */
static void hmm_mirror_copy_one(unsigned long src, unsigned long *dst,
				struct vm_area_struct *vma, unsigned long addr,
				struct page *(*copy_out)(struct page *dpage,
							 struct vm_area_struct *vma,
							 unsigned long addr,
							 void *arg),
				void *arg)
{
	struct page *spage = migrate_pfn_to_page(src), *dpage;

	if (!(src & MIGRATE_PFN_MIGRATE) || !spage)
		return;
	dpage = copy_out(spage, vma, addr, arg);
	if (!dpage)
		return;
	*dst = migrate_pfn(page_to_pfn(dpage));
	if (src & MIGRATE_PFN_WRITE)
		*dst |= MIGRATE_PFN_WRITE;
}

/**
 * hmm_mirror_migrate_to_ram() - a device-private page's ->migrate_to_ram
 * @vmf: the CPU fault on a device-private entry of @owner
 * @owner: the pgmap owner of the device
 * @copy_out: copies the device page @dpage into a new system page and
 *	returns it locked, or NULL when there is no memory; @vma and @addr
 *	say where the page is mapped (NULL and 0 when evicting)
 * @arg: cookie for @copy_out
 * @moved: out, optional: 1 if the page moved, else 0
 *
 * Moves the faulting page to system memory.  An munmap or MADV_DONTNEED
 * that raced the fault leaves nothing to move, which is not an error.
 *
 * Context: the CPU fault path; may sleep.
 * Return: 0, VM_FAULT_SIGBUS when the migration could not start, or
 * VM_FAULT_OOM when @copy_out found no memory.
 */
vm_fault_t hmm_mirror_migrate_to_ram(struct vm_fault *vmf, void *owner,
				     struct page *(*copy_out)(struct page *dpage,
							      struct vm_area_struct *vma,
							      unsigned long addr,
							      void *arg),
				     void *arg, unsigned long *moved)
{
	unsigned long start = vmf->address & PAGE_MASK, src = 0, dst = 0;
	struct migrate_vma args = {
		.vma = vmf->vma,
		.start = start,
		.end = start + PAGE_SIZE,
		.src = &src,
		.dst = &dst,
		.pgmap_owner = owner,
		.flags = MIGRATE_VMA_SELECT_DEVICE_PRIVATE,
		.fault_page = vmf->page,
	};
	vm_fault_t ret = 0;

	if (moved)
		*moved = 0;
	if (migrate_vma_setup(&args))
		return VM_FAULT_SIGBUS;
	hmm_mirror_copy_one(src, &dst, vmf->vma, start, copy_out, arg);
	if ((src & MIGRATE_PFN_MIGRATE) && migrate_pfn_to_page(src) && !dst)
		ret = VM_FAULT_OOM;
	migrate_vma_pages(&args);
	if (moved)
		*moved = dst && (src & MIGRATE_PFN_MIGRATE);
	migrate_vma_finalize(&args);
	return ret;
}
EXPORT_SYMBOL_GPL(hmm_mirror_migrate_to_ram);

/**
 * hmm_mirror_evict_range() - move device pages back to system memory
 * @pfn: first device-private pfn
 * @npages: how many
 * @scratch: room for 2 * @npages entries (no allocation here, so that a
 *	driver may evict from its allocation path)
 * @copy_out: as for hmm_mirror_migrate_to_ram(); @vma is NULL
 * @arg: cookie for @copy_out
 *
 * Pages that are free, busy or that @copy_out could not copy stay.
 *
 * Context: process context; may sleep.
 * Return: the number of pages moved.
 */
unsigned long hmm_mirror_evict_range(unsigned long pfn, unsigned long npages,
				     unsigned long *scratch,
				     struct page *(*copy_out)(struct page *dpage,
							      struct vm_area_struct *vma,
							      unsigned long addr,
							      void *arg),
				     void *arg)
{
	unsigned long *src = scratch, *dst = scratch + npages, i, moved = 0;

	memset(scratch, 0, 2 * npages * sizeof(*scratch));
	migrate_device_range(src, pfn, npages);
	for (i = 0; i < npages; i++)
		hmm_mirror_copy_one(src[i], &dst[i], NULL, 0, copy_out, arg);
	migrate_device_pages(src, dst, npages);
	for (i = 0; i < npages; i++)
		moved += dst[i] && (src[i] & MIGRATE_PFN_MIGRATE);
	migrate_device_finalize(src, dst, npages);
	return moved;
}
EXPORT_SYMBOL_GPL(hmm_mirror_evict_range);
#endif
