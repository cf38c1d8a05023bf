/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Trace events of the hmm_mirror layer (lib/hmm_mirror_*.c).
 *
 * Every event names the mirror by its DMA device (dev_name(), "-" for a
 * mirror without one) and its mm (hashed pointer, the same for every event
 * of one mm within a boot).  Addresses are the CPU virtual addresses the
 * event covers; ends are exclusive.  Each event is emitted after the work
 * it reports (the teardown event just before its entry runs) and never
 * allocates; the invalidation event may run in the OOM reaper.
 *
 * Locking: none of its own.  The fault batch, invalidation and release
 * events are emitted with no lock of the layer held; the migration batch
 * under the mmap lock (read), as migrate_vma runs; the teardown event
 * under the per-mm lock, which the chain runs under.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM hmm_mirror

#if !defined(_TRACE_HMM_MIRROR_H) || defined(TRACE_HEADER_MULTI_READ)
#define _TRACE_HMM_MIRROR_H

#include <linux/device.h>
#include <linux/hmm_mirror.h>
#include <linux/mmu_notifier.h>
#include <linux/tracepoint.h>

#ifndef HMM_MIRROR_TRACE_ONCE
#define HMM_MIRROR_TRACE_ONCE
/**
 * enum hmm_mirror_inval_outcome - what an invalidation of a mirror did
 * @HMM_MIRROR_INVAL_DONE: the device let go of the range
 * @HMM_MIRROR_INVAL_SELF: the mirror's own exclusive grant, skipped
 * @HMM_MIRROR_INVAL_BUSY: non-blockable and the update lock was busy:
 *	refused, the caller (the OOM reaper) tries again
 * @HMM_MIRROR_INVAL_DRIVER: non-blockable and ->invalidate could not let go
 *	yet: refused
 * @HMM_MIRROR_INVAL_DEAD: the mirror was released already and maps nothing;
 *	only the sequence moved and the DMA addresses went
 */
enum hmm_mirror_inval_outcome {
	HMM_MIRROR_INVAL_DONE,
	HMM_MIRROR_INVAL_SELF,
	HMM_MIRROR_INVAL_BUSY,
	HMM_MIRROR_INVAL_DRIVER,
	HMM_MIRROR_INVAL_DEAD,
};

static inline const char *hmm_mirror_trace_dev(const struct hmm_mirror *mirror)
{
	return mirror->dma_dev ? dev_name(mirror->dma_dev) : "-";
}
#endif

TRACE_DEFINE_ENUM(MMU_NOTIFY_UNMAP);
TRACE_DEFINE_ENUM(MMU_NOTIFY_CLEAR);
TRACE_DEFINE_ENUM(MMU_NOTIFY_PROTECTION_VMA);
TRACE_DEFINE_ENUM(MMU_NOTIFY_PROTECTION_PAGE);
TRACE_DEFINE_ENUM(MMU_NOTIFY_SOFT_DIRTY);
TRACE_DEFINE_ENUM(MMU_NOTIFY_RELEASE);
TRACE_DEFINE_ENUM(MMU_NOTIFY_MIGRATE);
TRACE_DEFINE_ENUM(MMU_NOTIFY_EXCLUSIVE);
TRACE_DEFINE_ENUM(HMM_MIRROR_INVAL_DONE);
TRACE_DEFINE_ENUM(HMM_MIRROR_INVAL_SELF);
TRACE_DEFINE_ENUM(HMM_MIRROR_INVAL_BUSY);
TRACE_DEFINE_ENUM(HMM_MIRROR_INVAL_DRIVER);
TRACE_DEFINE_ENUM(HMM_MIRROR_INVAL_DEAD);
TRACE_DEFINE_ENUM(HMM_MIRROR_RELEASE_EXIT);
TRACE_DEFINE_ENUM(HMM_MIRROR_RELEASE_UNREGISTER);

#define hmm_mirror_show_event(e)					\
	__print_symbolic(e,						\
			 { MMU_NOTIFY_UNMAP, "unmap" },			\
			 { MMU_NOTIFY_CLEAR, "clear" },			\
			 { MMU_NOTIFY_PROTECTION_VMA, "protection_vma" },	\
			 { MMU_NOTIFY_PROTECTION_PAGE, "protection_page" },	\
			 { MMU_NOTIFY_SOFT_DIRTY, "soft_dirty" },		\
			 { MMU_NOTIFY_RELEASE, "release" },		\
			 { MMU_NOTIFY_MIGRATE, "migrate" },		\
			 { MMU_NOTIFY_EXCLUSIVE, "exclusive" })

#define hmm_mirror_show_outcome(o)					\
	__print_symbolic(o,						\
			 { HMM_MIRROR_INVAL_DONE, "done" },		\
			 { HMM_MIRROR_INVAL_SELF, "self" },		\
			 { HMM_MIRROR_INVAL_BUSY, "busy" },		\
			 { HMM_MIRROR_INVAL_DRIVER, "driver" },		\
			 { HMM_MIRROR_INVAL_DEAD, "dead" })

/*
 * One batch of hmm_mirror_fault() (and of the present-only mapping after a
 * migration): [start, end) inside one interval, after its last attempt.
 * ret is 0 when the batch was committed, else the error it ended with (1:
 * the interval went away meanwhile and the caller takes a new one).
 */
TRACE_EVENT(hmm_mirror_fault_batch,
	TP_PROTO(const struct hmm_mirror *mirror, unsigned long start,
		 unsigned long end, bool write, bool present_only,
		 unsigned int retries, int ret),
	TP_ARGS(mirror, start, end, write, present_only, retries, ret),
	TP_STRUCT__entry(
		__string(dev, hmm_mirror_trace_dev(mirror))
		__field(const void *, mm)
		__field(unsigned long, start)
		__field(unsigned long, end)
		__field(bool, write)
		__field(bool, present_only)
		__field(unsigned int, retries)
		__field(int, ret)
	),
	TP_fast_assign(
		__assign_str(dev);
		__entry->mm = mirror->mm;
		__entry->start = start;
		__entry->end = end;
		__entry->write = write;
		__entry->present_only = present_only;
		__entry->retries = retries;
		__entry->ret = ret;
	),
	TP_printk("dev=%s mm=%p start=0x%lx end=0x%lx npages=%lu write=%d present_only=%d retries=%u ret=%d",
		  __get_str(dev), __entry->mm, __entry->start, __entry->end,
		  (__entry->end - __entry->start) >> PAGE_SHIFT,
		  __entry->write, __entry->present_only, __entry->retries,
		  __entry->ret)
);

/*
 * One invalidation reaching one interval of a mirror: [start, end) is the
 * CPU range clipped to the interval.  Emitted once the outcome is known,
 * with the update lock dropped.
 */
TRACE_EVENT(hmm_mirror_invalidate,
	TP_PROTO(const struct hmm_mirror *mirror,
		 const struct mmu_notifier_range *range, unsigned long start,
		 unsigned long end, enum hmm_mirror_inval_outcome outcome),
	TP_ARGS(mirror, range, start, end, outcome),
	TP_STRUCT__entry(
		__string(dev, hmm_mirror_trace_dev(mirror))
		__field(const void *, mm)
		__field(unsigned long, start)
		__field(unsigned long, end)
		__field(unsigned int, event)
		__field(bool, blockable)
		__field(unsigned int, outcome)
	),
	TP_fast_assign(
		__assign_str(dev);
		__entry->mm = mirror->mm;
		__entry->start = start;
		__entry->end = end;
		__entry->event = range->event;
		__entry->blockable = mmu_notifier_range_blockable(range);
		__entry->outcome = outcome;
	),
	TP_printk("dev=%s mm=%p start=0x%lx end=0x%lx npages=%lu event=%s blockable=%d refused=%d outcome=%s",
		  __get_str(dev), __entry->mm, __entry->start, __entry->end,
		  (__entry->end - __entry->start) >> PAGE_SHIFT,
		  hmm_mirror_show_event(__entry->event), __entry->blockable,
		  __entry->outcome == HMM_MIRROR_INVAL_BUSY ||
		  __entry->outcome == HMM_MIRROR_INVAL_DRIVER,
		  hmm_mirror_show_outcome(__entry->outcome))
);

/*
 * One migrate_vma batch of hmm_mirror_migrate(): [start, end), the pages
 * selected for the copy and the pages that moved; ret is
 * migrate_vma_setup()'s error (nothing selected then), else 0.
 */
TRACE_EVENT(hmm_mirror_migrate_batch,
	TP_PROTO(const struct hmm_mirror *mirror, unsigned long start,
		 unsigned long end, bool to_device, unsigned long selected,
		 unsigned long migrated, int ret),
	TP_ARGS(mirror, start, end, to_device, selected, migrated, ret),
	TP_STRUCT__entry(
		__string(dev, hmm_mirror_trace_dev(mirror))
		__field(const void *, mm)
		__field(unsigned long, start)
		__field(unsigned long, end)
		__field(bool, to_device)
		__field(unsigned long, selected)
		__field(unsigned long, migrated)
		__field(int, ret)
	),
	TP_fast_assign(
		__assign_str(dev);
		__entry->mm = mirror->mm;
		__entry->start = start;
		__entry->end = end;
		__entry->to_device = to_device;
		__entry->selected = selected;
		__entry->migrated = migrated;
		__entry->ret = ret;
	),
	TP_printk("dev=%s mm=%p start=0x%lx end=0x%lx npages=%lu to=%s selected=%lu migrated=%lu ret=%d",
		  __get_str(dev), __entry->mm, __entry->start, __entry->end,
		  (__entry->end - __entry->start) >> PAGE_SHIFT,
		  __entry->to_device ? "device" : "system",
		  __entry->selected, __entry->migrated, __entry->ret)
);

/* A mirror's ->release returned (exactly once per mirror). */
TRACE_EVENT(hmm_mirror_release,
	TP_PROTO(const struct hmm_mirror *mirror,
		 enum hmm_mirror_release_reason reason),
	TP_ARGS(mirror, reason),
	TP_STRUCT__entry(
		__string(dev, hmm_mirror_trace_dev(mirror))
		__field(const void *, mm)
		__field(unsigned int, reason)
	),
	TP_fast_assign(
		__assign_str(dev);
		__entry->mm = mirror->mm;
		__entry->reason = reason;
	),
	TP_printk("dev=%s mm=%p reason=%s", __get_str(dev), __entry->mm,
		  __print_symbolic(__entry->reason,
				   { HMM_MIRROR_RELEASE_EXIT, "exit" },
				   { HMM_MIRROR_RELEASE_UNREGISTER, "unregister" }))
);

/*
 * One entry of an mm's teardown chain is about to run: its position in
 * the chain (0 first), its priority and its function.
 */
TRACE_EVENT(hmm_mirror_teardown,
	TP_PROTO(const struct mm_struct *mm,
		 const struct hmm_mirror_teardown *td, unsigned int index),
	TP_ARGS(mm, td, index),
	TP_STRUCT__entry(
		__field(const void *, mm)
		__field(void *, fn)
		__field(int, priority)
		__field(unsigned int, index)
	),
	TP_fast_assign(
		__entry->mm = mm;
		__entry->fn = td->fn;
		__entry->priority = td->priority;
		__entry->index = index;
	),
	TP_printk("mm=%p index=%u priority=%d fn=%ps", __entry->mm,
		  __entry->index, __entry->priority, __entry->fn)
);

#endif /* _TRACE_HMM_MIRROR_H */

#include <trace/define_trace.h>
