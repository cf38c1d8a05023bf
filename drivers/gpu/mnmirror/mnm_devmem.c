// SPDX-License-Identifier: GPL-2.0
/*
 * mnmirror mock GPU: device memory.
 *
 * ZONE_DEVICE MEMORY_DEVICE_PRIVATE pages (request_free_mem_region +
 * memremap_pages), added in chunks on demand up to the device's size.  A
 * device-private page has a struct page but no CPU-addressable memory, so
 * each chunk has a vmalloc'ed backing store holding what the "device" keeps
 * there.  Pages in use sit on an LRU list per eviction class (from the
 * placement advice when the page moved in); a device access only sets a
 * referenced bit.  When the device is full (or at the debugfs devmem_limit),
 * the oldest unreferenced pages of the first class that has any are
 * evicted to system memory with migrate_device_range() (referenced ones get
 * a second chance).  A 2 MiB-aligned migration batch gets a naturally
 * aligned block of 512 pages (a device 2 MiB page) when one is free.  Every
 * device page in use holds a reference on the module, so unloading fails
 * with -EBUSY while any process still has data in device memory, instead of
 * blocking in memunmap_pages(); the debugfs file "evict" (or the test_hmm
 * ABI's RELEASE) moves everything back to system memory first.
 *
 * Locking: devmem->lock (spinlock) protects the free and LRU lists and the
 * counts; it is taken in ->page_free and never held across anything that
 * sleeps.  grow_lock (mutex) serialises adding chunks.  ->migrate_to_ram runs
 * in the CPU fault path with the device page locked; the mirror layer's
 * interval notifiers zap every mirror that maps the page (each taking its
 * update lock) from inside migrate_vma_setup().
 */
#include <linux/debugfs.h>
#include <linux/delay.h>
#include <linux/highmem.h>
#include <linux/memremap.h>
#include <linux/migrate.h>
#include <linux/error-injection.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>

#include "mnm_drv.h"
#include "mnm_trace.h"

#if MNM_HAVE_DEVMEM

struct mnm_dpage {
	struct list_head link;		/* devmem->free or devmem->lru[] */
	bool referenced;		/* used since eviction last looked */
};

static enum mnm_evict_class mnm_evict_class_of(unsigned long advice)
{
	if ((advice & MNM_ADV_READ_MOSTLY) ||
	    (advice & MNM_ADV_LOCATION) == MNM_MIGRATE_TO_SYSTEM)
		return MNM_EVICT_FIRST;
	if ((advice & MNM_ADV_LOCATION) == MNM_MIGRATE_TO_DEVICE)
		return MNM_EVICT_LAST;
	return MNM_EVICT_NORMAL;
}

struct mnm_chunk {
	struct dev_pagemap pgmap;
	struct mnm_device *mdev;
	struct resource *res;
	unsigned long pfn_first;
	unsigned long npages;
	void *backing;			/* npages * PAGE_SIZE */
	struct mnm_dpage *meta;		/* npages */
	u16 *block_free;		/* free pages per 2 MiB block, or NULL */
};

/* Pages of a device 2 MiB page: naturally aligned, one device entry. */
#define MNM_LARGE_PAGES		(PMD_SIZE >> PAGE_SHIFT)

/* Off: every migration uses single pages (what `make bench` compares with). */
static bool mnm_devmem_large = true;
module_param_named(devmem_large, mnm_devmem_large, bool, 0644);
MODULE_PARM_DESC(devmem_large, "Device 2 MiB pages for 2 MiB-aligned migrations (default on)");

/* Keep a chunk's count of free pages per 2 MiB block; dm->lock held. */
static void mnm_block_count(struct mnm_chunk *chunk, struct mnm_dpage *meta,
			    int delta)
{
	if (chunk->block_free)
		chunk->block_free[(meta - chunk->meta) / MNM_LARGE_PAGES] += delta;
}

static struct mnm_chunk *mnm_chunk_of(struct page *page)
{
	return container_of(page->pgmap, struct mnm_chunk, pgmap);
}

static struct mnm_dpage *mnm_meta_of(struct page *page)
{
	struct mnm_chunk *chunk = mnm_chunk_of(page);

	return &chunk->meta[page_to_pfn(page) - chunk->pfn_first];
}

static struct page *mnm_page_of(struct mnm_chunk *chunk, struct mnm_dpage *meta)
{
	return pfn_to_page(chunk->pfn_first + (meta - chunk->meta));
}

/* Which chunk holds @meta?  Chunks never move while the device exists. */
static struct mnm_chunk *mnm_chunk_of_meta(struct mnm_devmem *dm,
					   struct mnm_dpage *meta)
{
	unsigned int i;

	for (i = 0; i < dm->nchunks; i++) {
		struct mnm_chunk *c = dm->chunks[i];

		if (meta >= c->meta && meta < c->meta + c->npages)
			return c;
	}
	return NULL;
}

/**
 * mnm_devmem_data() - where the device keeps a device-private page's data
 * @page: a device-private page of a mock device
 *
 * Return: the kernel address of its PAGE_SIZE backing store.
 */
void *mnm_devmem_data(struct page *page)
{
	struct mnm_chunk *chunk = mnm_chunk_of(page);

	return chunk->backing + ((page_to_pfn(page) - chunk->pfn_first) << PAGE_SHIFT);
}

/**
 * mnm_devmem_touch() - mark a device page recently used
 * @mdev: its device
 * @page: the page
 *
 * Lockless: one store on the device's access path.  Eviction gives
 * referenced pages a second chance (clock over the LRU list).
 */
void mnm_devmem_touch(struct mnm_device *mdev, struct page *page)
{
	WRITE_ONCE(mnm_meta_of(page)->referenced, true);
}

static void mnm_devmem_page_free(struct page *page)
{
	struct mnm_device *mdev = mnm_chunk_of(page)->mdev;
	struct mnm_devmem *dm = &mdev->devmem;

	spin_lock(&dm->lock);
	list_move(&mnm_meta_of(page)->link, &dm->free);
	mnm_block_count(mnm_chunk_of(page), mnm_meta_of(page), 1);
	dm->nfree++;
	dm->nused--;
	spin_unlock(&dm->lock);
	/*
	 * The page's reference on the module.  Not the last code to run: the
	 * caller puts the pgmap reference after this, which memunmap_pages()
	 * (module exit) waits for.
	 */
	module_put(THIS_MODULE);
}

/* Copy a device page out to a new, locked system page; NULL on failure. */
static struct page *mnm_devmem_copy_out(struct page *spage,
					struct vm_area_struct *vma,
					unsigned long addr, void *arg)
{
	struct page *dpage;

	dpage = vma ? alloc_page_vma(GFP_HIGHUSER_MOVABLE, vma, addr) :
		      alloc_page(GFP_HIGHUSER_MOVABLE);
	if (!dpage)
		return NULL;
	lock_page(dpage);
	memcpy_to_page(dpage, 0, mnm_devmem_data(spage), PAGE_SIZE);
	return dpage;
}

/* The layer's helper zaps the page in every mirror, then we copy. */
static vm_fault_t mnm_devmem_migrate_to_ram(struct vm_fault *vmf)
{
	struct mnm_device *mdev = mnm_chunk_of(vmf->page)->mdev;
	unsigned long moved;
	vm_fault_t ret;

	ret = hmm_mirror_migrate_to_ram(vmf, mdev, mnm_devmem_copy_out, NULL,
					&moved);
	if (moved) {
		atomic64_inc(&mdev->devmem.cpu_faults);
		atomic64_inc(&mdev->devmem.migrated_to_system);
	}
	trace_mnm_copy(mdev->index, MNM_COPY_TO_SYSTEM,
		       vmf->address & PAGE_MASK, moved, 0, 0);
	return ret;
}

static const struct dev_pagemap_ops mnm_devmem_ops = {
	.page_free = mnm_devmem_page_free,
	.migrate_to_ram = mnm_devmem_migrate_to_ram,
};

#define MNM_EVICT_BATCH		64

/*
 * Evict up to @want least recently used pages, by class: pages advised
 * away from the device first, pages advised to stay last.
 */
static unsigned long mnm_devmem_evict(struct mnm_device *mdev,
				      unsigned long want)
{
	struct mnm_devmem *dm = &mdev->devmem;
	unsigned long pfns[MNM_EVICT_BATCH], src[2], moved = 0;
	unsigned int i, n = 0, cls, classes = 0;
	struct mnm_dpage *meta, *tmp;

	want = min_t(unsigned long, want, MNM_EVICT_BATCH);
	spin_lock(&dm->lock);
	for (cls = MNM_EVICT_FIRST; cls < MNM_EVICT_CLASSES && n < want; cls++) {
		unsigned long scanned = 0;
		LIST_HEAD(seen);

		/*
		 * Oldest first; a page used since the last look gets a second
		 * chance.  Everything looked at moves to the tail, so a busy
		 * page is not picked again at once.  A class is taken only
		 * when the ones before it had too little.
		 */
		list_for_each_entry_safe(meta, tmp, &dm->lru[cls], link) {
			struct mnm_chunk *chunk = mnm_chunk_of_meta(dm, meta);

			if (n == want || scanned++ >= dm->nused)
				break;
			list_move_tail(&meta->link, &seen);
			if (READ_ONCE(meta->referenced)) {
				WRITE_ONCE(meta->referenced, false);
				continue;
			}
			pfns[n++] = chunk->pfn_first + (meta - chunk->meta);
			classes |= BIT(cls);
		}
		list_splice_tail(&seen, &dm->lru[cls]);
	}
	spin_unlock(&dm->lock);

	for (i = 0; i < n; i++)
		moved += hmm_mirror_evict_range(pfns[i], 1, src,
						 mnm_devmem_copy_out, NULL);
	atomic64_add(moved, &dm->evictions);
	atomic64_add(moved, &dm->migrated_to_system);
	trace_mnm_evict(mdev->index, want, n, classes, moved);
	return moved;
}

static noinline int mnm_devmem_grow(struct mnm_device *mdev)
{
	struct mnm_devmem *dm = &mdev->devmem;
	unsigned long i, size = dm->chunk_pages << PAGE_SHIFT;
	struct mnm_chunk *chunk;
	void *ptr;
	int ret;

	mutex_lock(&dm->grow_lock);
	if (dm->nchunks >= dm->max_chunks) {
		ret = -ENOSPC;
		goto out_unlock;
	}
	chunk = kzalloc(sizeof(*chunk), GFP_KERNEL);
	if (!chunk) {
		ret = -ENOMEM;
		goto out_unlock;
	}
	chunk->mdev = mdev;
	chunk->npages = dm->chunk_pages;
	chunk->backing = vzalloc(size);
	chunk->meta = kvcalloc(chunk->npages, sizeof(*chunk->meta), GFP_KERNEL);
	if (IS_ALIGNED(chunk->npages, MNM_LARGE_PAGES))
		chunk->block_free = kvcalloc(chunk->npages / MNM_LARGE_PAGES,
					     sizeof(u16), GFP_KERNEL);
	if (!chunk->backing || !chunk->meta ||
	    (IS_ALIGNED(chunk->npages, MNM_LARGE_PAGES) && !chunk->block_free)) {
		ret = -ENOMEM;
		goto err_free;
	}
	chunk->res = request_free_mem_region(&iomem_resource, size, "mnmirror");
	if (IS_ERR(chunk->res)) {
		ret = PTR_ERR(chunk->res);
		goto err_free;
	}
	chunk->pgmap.type = MEMORY_DEVICE_PRIVATE;
	chunk->pgmap.range.start = chunk->res->start;
	chunk->pgmap.range.end = chunk->res->end;
	chunk->pgmap.nr_range = 1;
	chunk->pgmap.ops = &mnm_devmem_ops;
	chunk->pgmap.owner = mdev;
	ptr = memremap_pages(&chunk->pgmap, numa_node_id());
	if (IS_ERR(ptr)) {
		ret = PTR_ERR(ptr);
		goto err_region;
	}
	chunk->pfn_first = PHYS_PFN(chunk->res->start);
	/* 2 MiB device pages need 2 MiB-aligned device addresses. */
	if (!IS_ALIGNED(chunk->pfn_first, MNM_LARGE_PAGES)) {
		kvfree(chunk->block_free);
		chunk->block_free = NULL;
	}
	for (i = 0; chunk->block_free && i < chunk->npages / MNM_LARGE_PAGES; i++)
		chunk->block_free[i] = MNM_LARGE_PAGES;

	spin_lock(&dm->lock);
	for (i = 0; i < chunk->npages; i++)
		list_add_tail(&chunk->meta[i].link, &dm->free);
	dm->nfree += chunk->npages;
	dm->chunks[dm->nchunks++] = chunk;
	spin_unlock(&dm->lock);
	mutex_unlock(&dm->grow_lock);
	return 0;

err_region:
	release_mem_region(chunk->res->start, resource_size(chunk->res));
err_free:
	kvfree(chunk->block_free);
	kvfree(chunk->meta);
	vfree(chunk->backing);
	kfree(chunk);
out_unlock:
	mutex_unlock(&dm->grow_lock);
	return ret;
}
ALLOW_ERROR_INJECTION(mnm_devmem_grow, ERRNO);

/**
 * mnm_devmem_reserve() - add device memory before a migration needs it
 * @mdev: the device
 * @n: pages the migration may allocate
 *
 * Adds chunks (memremap_pages()) until the free pages cover @n on top of
 * what running migrations reserved, or the limit is reached.  Called with
 * no folio locked: memremap_pages() takes mem_hotplug_lock, which memory
 * offlining holds while it locks folios, so growing from
 * ->migrate_alloc_copy (source folios locked) would invert that order.
 * Allocation itself only evicts.
 *
 * Context: may sleep; no lock held.
 * Return: what was reserved (@n, capped at the limit), for
 * mnm_devmem_unreserve().
 */
unsigned long mnm_devmem_reserve(struct mnm_device *mdev, unsigned long n)
{
	struct mnm_devmem *dm = &mdev->devmem;
	bool short_of_pages;

	n = min(n, READ_ONCE(dm->limit));
	for (;;) {
		spin_lock(&dm->lock);
		short_of_pages = dm->nfree < dm->reserved + n &&
				 dm->nused + dm->nfree < dm->limit;
		if (!short_of_pages)
			dm->reserved += n;
		spin_unlock(&dm->lock);
		if (!short_of_pages)
			return n;
		if (mnm_devmem_grow(mdev)) {
			/* No more chunks: promise nothing, evict later. */
			return 0;
		}
	}
}

/* The migration that reserved @n pages is over. */
void mnm_devmem_unreserve(struct mnm_device *mdev, unsigned long n)
{
	struct mnm_devmem *dm = &mdev->devmem;

	spin_lock(&dm->lock);
	dm->reserved -= n;
	spin_unlock(&dm->lock);
}

/**
 * mnm_devmem_alloc() - allocate device pages
 * @mdev: the device
 * @pages: out: the pages, each initialised (one reference) and locked
 * @n: how many
 *
 * Takes pages from the free list in one go; evicts least recently used
 * pages when short (mnm_devmem_reserve() adds chunks beforehand).  Can
 * return fewer than @n.
 *
 * Context: may sleep; no lock held.
 * Return: the number of pages allocated.
 */
unsigned long mnm_devmem_alloc(struct mnm_device *mdev, struct page **pages,
			       unsigned long n)
{
	struct mnm_devmem *dm = &mdev->devmem;
	unsigned long got = 0, tries = 0;

	while (got < n) {
		unsigned long take, room;

		spin_lock(&dm->lock);
		if (dm->fail_alloc) {
			dm->fail_alloc--;
			spin_unlock(&dm->lock);
			break;
		}
		room = dm->limit > dm->nused ? dm->limit - dm->nused : 0;
		take = min3(n - got, dm->nfree, room);
		while (take--) {
			struct mnm_dpage *meta =
				list_first_entry(&dm->free, struct mnm_dpage, link);
			struct mnm_chunk *chunk = mnm_chunk_of_meta(dm, meta);

			list_move_tail(&meta->link, &dm->lru[MNM_EVICT_NORMAL]);
			mnm_block_count(chunk, meta, -1);
			meta->referenced = false;
			dm->nfree--;
			dm->nused++;
			pages[got++] = mnm_page_of(chunk, meta);
		}
		spin_unlock(&dm->lock);
		if (got == n || ++tries > 64)
			break;
		if (!mnm_devmem_evict(mdev, n - got) && tries > 8)
			break;
	}
	/* Outside the lock: initialise (ref 1, locked) what we took. */
	for (tries = 0; tries < got; tries++) {
		__module_get(THIS_MODULE);	/* dropped in ->page_free */
		zone_device_page_init(pages[tries]);
	}
	return got;
}

/* Move a page just allocated (on the NORMAL list) to its class's list. */
static void mnm_devmem_set_class(struct mnm_device *mdev, struct page *page,
				 enum mnm_evict_class cls)
{
	struct mnm_devmem *dm = &mdev->devmem;

	spin_lock(&dm->lock);
	list_move_tail(&mnm_meta_of(page)->link, &dm->lru[cls]);
	spin_unlock(&dm->lock);
}

/*
 * One device 2 MiB page: a naturally aligned block of MNM_LARGE_PAGES free
 * device pages, returned in address order, each initialised and locked.
 * No eviction: when no whole block is free (device memory fragmented or
 * full), the caller falls back to single pages.
 */
static bool mnm_devmem_alloc_large(struct mnm_device *mdev, struct page **pages)
{
	struct mnm_devmem *dm = &mdev->devmem;
	struct mnm_chunk *chunk = NULL;
	unsigned long b = 0, i;
	unsigned int c;

	spin_lock(&dm->lock);
	/* An injected failure is the single-page path's to take. */
	if (dm->fail_alloc || dm->nused + MNM_LARGE_PAGES > dm->limit)
		goto fail;
	for (c = 0; c < dm->nchunks && !chunk; c++) {
		struct mnm_chunk *ch = dm->chunks[c];

		for (b = 0; ch->block_free && b < ch->npages / MNM_LARGE_PAGES; b++)
			if (ch->block_free[b] == MNM_LARGE_PAGES) {
				chunk = ch;
				break;
			}
	}
	if (!chunk)
		goto fail;
	for (i = 0; i < MNM_LARGE_PAGES; i++) {
		struct mnm_dpage *meta = &chunk->meta[b * MNM_LARGE_PAGES + i];

		list_move_tail(&meta->link, &dm->lru[MNM_EVICT_NORMAL]);
		meta->referenced = false;
		pages[i] = mnm_page_of(chunk, meta);
	}
	chunk->block_free[b] = 0;
	dm->nfree -= MNM_LARGE_PAGES;
	dm->nused += MNM_LARGE_PAGES;
	spin_unlock(&dm->lock);
	for (i = 0; i < MNM_LARGE_PAGES; i++) {
		__module_get(THIS_MODULE);	/* dropped in ->page_free */
		zone_device_page_init(pages[i]);
	}
	atomic64_inc(&dm->large_allocs);
	return true;
fail:
	spin_unlock(&dm->lock);
	atomic64_inc(&dm->large_fallbacks);
	return false;
}

/*
 * Is this batch one whole 2 MiB-aligned block of which every page moves?
 * Then it gets a device 2 MiB page, unless the context asked (test_hmm's
 * HMM_DMIRROR_FLAG_FAIL_ALLOC) that the next such allocation fail.
 */
static bool mnm_batch_large(struct mnm_ctx *ctx, struct migrate_vma *args,
			    unsigned long n)
{
	if (n != MNM_LARGE_PAGES || !IS_ALIGNED(args->start, PMD_SIZE) ||
	    args->end - args->start != PMD_SIZE || !READ_ONCE(mnm_devmem_large))
		return false;
	if (test_and_clear_bit(MNM_CTX_FAIL_LARGE, &ctx->flags)) {
		atomic64_inc(&ctx->mdev->devmem.large_fallbacks);
		return false;
	}
	return true;
}

/**
 * mnm_devmem_alloc_copy() - the mock's ->migrate_alloc_copy
 * @mirror: the mirror (of a mock file context)
 * @m: the batch
 *
 * Return: 0 (pages left without a destination are reported as skipped).
 */
int mnm_devmem_alloc_copy(struct hmm_mirror *mirror,
			  struct hmm_mirror_migrate *m)
{
	struct mnm_ctx *ctx = container_of(mirror, struct mnm_ctx, mirror);
	struct migrate_vma *args = &m->args;
	unsigned long i, n = 0, npages = (args->end - args->start) >> PAGE_SHIFT;
	unsigned long advice = 0, advice_end = 0, copied = 0;
	struct page **dpages = NULL;
	bool large = false;

	if (m->to_device) {
		for (i = 0; i < npages; i++)
			n += !!(args->src[i] & MIGRATE_PFN_MIGRATE);
		dpages = kvmalloc_array(n, sizeof(*dpages), GFP_KERNEL);
		if (!dpages)
			return -ENOMEM;
		large = mnm_batch_large(ctx, args, n) &&
			mnm_devmem_alloc_large(ctx->mdev, dpages);
		if (!large)
			n = mnm_devmem_alloc(ctx->mdev, dpages, n);
	}
	for (i = 0; i < npages; i++) {
		struct page *spage = migrate_pfn_to_page(args->src[i]);
		unsigned long addr = args->start + (i << PAGE_SHIFT);
		struct page *dpage;

		if (!(args->src[i] & MIGRATE_PFN_MIGRATE))
			continue;
		if (!m->to_device) {
			dpage = mnm_devmem_copy_out(spage, args->vma, addr, NULL);
			if (!dpage)
				continue;
			args->dst[i] = migrate_pfn(page_to_pfn(dpage));
			if (args->src[i] & MIGRATE_PFN_WRITE)
				args->dst[i] |= MIGRATE_PFN_WRITE;
			copied++;
			continue;
		}
		if (large) {
			/* In order: page i of the block backs page i. */
			dpage = dpages[i];
		} else {
			if (!n)
				continue;
			dpage = dpages[--n];
		}
		if (addr >= advice_end)
			advice = hmm_mirror_get_attr(mirror, addr, &advice_end);
		if (mnm_evict_class_of(advice) != MNM_EVICT_NORMAL)
			mnm_devmem_set_class(ctx->mdev, dpage,
					     mnm_evict_class_of(advice));
		if (spage)
			memcpy_from_page(mnm_devmem_data(dpage), spage, 0, PAGE_SIZE);
		else
			memset(mnm_devmem_data(dpage), 0, PAGE_SIZE);
		args->dst[i] = migrate_pfn(page_to_pfn(dpage));
		if ((args->src[i] & MIGRATE_PFN_WRITE) ||
		    (!spage && (args->vma->vm_flags & VM_WRITE)))
			args->dst[i] |= MIGRATE_PFN_WRITE;
		copied++;
	}
	/* Pages we could not use go back (their last reference). */
	while (!large && n--) {
		unlock_page(dpages[n]);
		put_page(dpages[n]);
	}
	kvfree(dpages);
	trace_mnm_copy(ctx->mdev->index, m->to_device ? MNM_COPY_TO_DEVICE :
		       MNM_COPY_TO_SYSTEM, args->start, copied, 0, 0);
	return 0;
}

/* Injected, no page gets a destination: the batch is skip_nomem. */
ALLOW_ERROR_INJECTION(mnm_devmem_alloc_copy, ERRNO);

/**
 * mnm_devmem_init() - set up (empty) device memory
 * @mdev: the device
 * @bytes: its size; chunks of up to 64 MiB are added on demand
 *
 * Return: 0.
 */
int mnm_devmem_init(struct mnm_device *mdev, unsigned long bytes)
{
	struct mnm_devmem *dm = &mdev->devmem;
	unsigned long pages = max(bytes >> PAGE_SHIFT, 512UL);
	unsigned int i;

	spin_lock_init(&dm->lock);
	mutex_init(&dm->grow_lock);
	INIT_LIST_HEAD(&dm->free);
	for (i = 0; i < MNM_EVICT_CLASSES; i++)
		INIT_LIST_HEAD(&dm->lru[i]);
	dm->chunk_pages = min(pages, SZ_64M >> PAGE_SHIFT);
	dm->max_chunks = min_t(unsigned long, MNM_MAX_CHUNKS,
			       DIV_ROUND_UP(pages, dm->chunk_pages));
	dm->limit = (unsigned long)dm->max_chunks * dm->chunk_pages;
	return 0;
}

/**
 * mnm_devmem_evict_all() - move every device page back to system memory
 * @mdev: the device
 *
 * Retries pages that are busy for a while (up to about 2 s).
 */
void mnm_devmem_evict_all(struct mnm_device *mdev)
{
	struct mnm_devmem *dm = &mdev->devmem;
	unsigned long *src, pfn;
	unsigned int i, pass;

	src = kvmalloc_array(2 * 512, sizeof(*src), GFP_KERNEL | __GFP_NOFAIL);
	for (pass = 0; pass < 100; pass++) {
		spin_lock(&dm->lock);
		if (!dm->nused) {
			spin_unlock(&dm->lock);
			break;
		}
		spin_unlock(&dm->lock);
		mutex_lock(&dm->grow_lock);
		for (i = 0; i < dm->nchunks; i++) {
			struct mnm_chunk *c = dm->chunks[i];

			for (pfn = 0; pfn < c->npages; pfn += 512) {
				unsigned long n = min(512UL, c->npages - pfn);

				n = hmm_mirror_evict_range(c->pfn_first + pfn, n,
							   src, mnm_devmem_copy_out,
							   NULL);
				atomic64_add(n, &dm->evictions);
				atomic64_add(n, &dm->migrated_to_system);
			}
		}
		mutex_unlock(&dm->grow_lock);
		if (pass)
			msleep(20);
	}
	kvfree(src);
}

/**
 * mnm_devmem_fini() - free the chunks
 * @mdev: the device, with no open files and no device page in use (each
 *	holds a module reference), or the module init failure path
 *
 * Never blocks on pages in use: if some were, it reports them and leaks the
 * chunks rather than wait in memunmap_pages() forever.
 */
void mnm_devmem_fini(struct mnm_device *mdev)
{
	struct mnm_devmem *dm = &mdev->devmem;
	unsigned int i;

	mnm_devmem_evict_all(mdev);
	if (WARN(dm->nused, "mnmirror: %lu device pages still in use, leaking device memory\n",
		 dm->nused))
		return;
	for (i = 0; i < dm->nchunks; i++) {
		struct mnm_chunk *c = dm->chunks[i];

		memunmap_pages(&c->pgmap);
		release_mem_region(c->res->start, resource_size(c->res));
		kvfree(c->meta);
		kvfree(c->block_free);
		vfree(c->backing);
		kfree(c);
	}
	dm->nchunks = 0;
}

#else /* !MNM_HAVE_DEVMEM: the stock kernel has no DEVICE_PRIVATE */

int mnm_devmem_init(struct mnm_device *mdev, unsigned long bytes)
{
	return 0;
}

void mnm_devmem_fini(struct mnm_device *mdev)
{
}

unsigned long mnm_devmem_reserve(struct mnm_device *mdev, unsigned long n)
{
	return 0;
}

void mnm_devmem_unreserve(struct mnm_device *mdev, unsigned long n)
{
}

unsigned long mnm_devmem_alloc(struct mnm_device *mdev, struct page **pages,
			       unsigned long n)
{
	return 0;
}

void *mnm_devmem_data(struct page *page)
{
	return NULL;
}

void mnm_devmem_touch(struct mnm_device *mdev, struct page *page)
{
}

int mnm_devmem_alloc_copy(struct hmm_mirror *mirror,
			  struct hmm_mirror_migrate *m)
{
	return -EOPNOTSUPP;
}

void mnm_devmem_evict_all(struct mnm_device *mdev)
{
}

#endif
