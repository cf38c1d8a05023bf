/* SPDX-License-Identifier: GPL-2.0 */
/*
 * mnmirror mock GPU: trace events (the layer's own are in
 * <trace/events/hmm_mirror.h>).  Devices are named by their index (the
 * platform device mnmirror.N); addresses are CPU virtual addresses.
 *
 * Locking: none of its own; the events are emitted with no lock held except
 * where a call site says otherwise.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM mnmirror

#if !defined(_MNM_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _MNM_TRACE_H

#include <linux/tracepoint.h>

#ifndef MNM_TRACE_ONCE
#define MNM_TRACE_ONCE
/**
 * enum mnm_copy_op - what a device copy moved
 * @MNM_COPY_READ: mirrored memory to a user buffer (READ)
 * @MNM_COPY_WRITE: a user buffer to mirrored memory (WRITE)
 * @MNM_COPY_TO_DEVICE: system pages into device memory (migration)
 * @MNM_COPY_TO_SYSTEM: device memory out to system pages (migration or a
 *	CPU fault on a device page)
 */
enum mnm_copy_op {
	MNM_COPY_READ,
	MNM_COPY_WRITE,
	MNM_COPY_TO_DEVICE,
	MNM_COPY_TO_SYSTEM,
};
#endif

TRACE_DEFINE_ENUM(MNM_COPY_READ);
TRACE_DEFINE_ENUM(MNM_COPY_WRITE);
TRACE_DEFINE_ENUM(MNM_COPY_TO_DEVICE);
TRACE_DEFINE_ENUM(MNM_COPY_TO_SYSTEM);

/*
 * The device copied @npages pages starting at @addr (one READ/WRITE chunk,
 * one migration batch, or one CPU fault's page).  @faults: the device
 * faults a READ/WRITE chunk took (0 for migrations, and for a chunk that
 * failed); @ret: 0, or the chunk's error (the copy then stopped after
 * @npages pages).
 */
TRACE_EVENT(mnm_copy,
	TP_PROTO(unsigned int dev, enum mnm_copy_op op, unsigned long addr,
		 unsigned long npages, unsigned long faults, int ret),
	TP_ARGS(dev, op, addr, npages, faults, ret),
	TP_STRUCT__entry(
		__field(unsigned int, dev)
		__field(unsigned int, op)
		__field(unsigned long, addr)
		__field(unsigned long, npages)
		__field(unsigned long, faults)
		__field(int, ret)
	),
	TP_fast_assign(
		__entry->dev = dev;
		__entry->op = op;
		__entry->addr = addr;
		__entry->npages = npages;
		__entry->faults = faults;
		__entry->ret = ret;
	),
	TP_printk("dev=%u op=%s addr=0x%lx npages=%lu faults=%lu ret=%d",
		  __entry->dev,
		  __print_symbolic(__entry->op,
				   { MNM_COPY_READ, "read" },
				   { MNM_COPY_WRITE, "write" },
				   { MNM_COPY_TO_DEVICE, "to_device" },
				   { MNM_COPY_TO_SYSTEM, "to_system" }),
		  __entry->addr, __entry->npages, __entry->faults, __entry->ret)
);

/*
 * One eviction pass of device memory: @want pages asked for (at most one
 * batch, MNM_EVICT_BATCH: a caller needing more calls again), @picked taken
 * off the LRU lists, @classes the eviction classes they came from (bit i:
 * class i, enum mnm_evict_class, first evicted first), @moved actually
 * moved to system memory.
 */
TRACE_EVENT(mnm_evict,
	TP_PROTO(unsigned int dev, unsigned long want, unsigned long picked,
		 unsigned int classes, unsigned long moved),
	TP_ARGS(dev, want, picked, classes, moved),
	TP_STRUCT__entry(
		__field(unsigned int, dev)
		__field(unsigned long, want)
		__field(unsigned long, picked)
		__field(unsigned int, classes)
		__field(unsigned long, moved)
	),
	TP_fast_assign(
		__entry->dev = dev;
		__entry->want = want;
		__entry->picked = picked;
		__entry->classes = classes;
		__entry->moved = moved;
	),
	TP_printk("dev=%u want=%lu picked=%lu classes=0x%x moved=%lu",
		  __entry->dev, __entry->want, __entry->picked,
		  __entry->classes, __entry->moved)
);

#endif /* _MNM_TRACE_H */

#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE mnm_trace
#include <trace/define_trace.h>
