// SPDX-License-Identifier: GPL-2.0
/*
 * mnmirror mock GPU: test-only hooks, in one place.
 *
 *  - test_teardown: every open file adds three teardown-chain entries and
 *    logs opens, releases, teardown calls and closes to debugfs
 *    mnmirror/teardown_log (a write clears it).
 *  - debugfs mnmirror/fail_commit: a fault attribute that fails the device's
 *    commit (-ENOMEM).
 *  - debugfs mnmirror/refuse_nonblock_invalidate: a fault attribute that
 *    makes the device refuse a non-blockable invalidation, as one whose
 *    TLB flush is still pending would.
 *  - debug_drain_ms: a killed process's device access keeps copying this
 *    long, as a GPU draining queued work would (the OOM-reaper tests).
 *  - debugfs mnmirror/hold_release: written 1, the next mirror ->release
 *    waits (10 s at most) until it is written 0, as a GPU waiting for idle
 *    would; other releases pass.  mnmirror/releases_held says whether one
 *    waits.  Shows that a slow ->release holds up no other device of the
 *    same mm.
 *  - debug_warn: WARN once at load (proves that test runs catch splats).
 *
 * Locking: the teardown log has its own spinlock; the rest is read-only
 * after load or read with READ_ONCE().
 */
#include <linux/debugfs.h>
#include <linux/fault-inject.h>
#include <linux/module.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>
#include <linux/wait.h>

#include "mnm_drv.h"

static bool test_teardown;
module_param(test_teardown, bool, 0444);
MODULE_PARM_DESC(test_teardown,
		 "Test hook: every open file adds teardown-chain entries and logs releases to debugfs mnmirror/teardown_log");

#ifdef CONFIG_FAULT_INJECTION_DEBUG_FS
/* debugfs mnmirror/fail_commit: a device commit that fails (-ENOMEM). */
static DECLARE_FAULT_ATTR(mnm_fail_commit);

bool mnm_should_fail_commit(void)
{
	return should_fail(&mnm_fail_commit, 1);
}

/* debugfs mnmirror/refuse_nonblock_invalidate (does not sleep). */
static DECLARE_FAULT_ATTR(mnm_refuse_invalidate);

bool mnm_should_refuse_invalidate(void)
{
	return should_fail(&mnm_refuse_invalidate, 1);
}
#else
bool mnm_should_fail_commit(void)
{
	return false;
}

bool mnm_should_refuse_invalidate(void)
{
	return false;
}
#endif

static unsigned int debug_drain_ms;
module_param(debug_drain_ms, uint, 0644);
MODULE_PARM_DESC(debug_drain_ms, "Test hook: a device access of a killed process keeps copying this long (ms) before it returns -EINTR, as a GPU draining queued work would");

/* How long a killed process's device access keeps copying (ms). */
unsigned int mnm_debug_drain_ms(void)
{
	return READ_ONCE(debug_drain_ms);
}

/* ---- a slow ->release -------------------------------------------------- */

/* 0: off; 1: armed, the next ->release waits; 2: one waits. */
static atomic_t mnm_hold_release = ATOMIC_INIT(0);
static DECLARE_WAIT_QUEUE_HEAD(mnm_release_wq);

/* At the start of ->release: the first one after arming waits. */
void mnm_debug_release_hold(void)
{
	if (atomic_cmpxchg(&mnm_hold_release, 1, 2) != 1)
		return;
	wait_event_timeout(mnm_release_wq,
			   atomic_read(&mnm_hold_release) != 2, 10 * HZ);
	atomic_cmpxchg(&mnm_hold_release, 2, 0);
}

static int mnm_hold_get(void *data, u64 *val)
{
	*val = atomic_read(&mnm_hold_release) != 0;
	return 0;
}

static int mnm_hold_set(void *data, u64 val)
{
	atomic_set(&mnm_hold_release, val ? 1 : 0);
	wake_up_all(&mnm_release_wq);
	return 0;
}
DEFINE_DEBUGFS_ATTRIBUTE(mnm_hold_fops, mnm_hold_get, mnm_hold_set, "%llu\n");

static int mnm_held_get(void *data, u64 *val)
{
	*val = atomic_read(&mnm_hold_release) == 2;
	return 0;
}
DEFINE_DEBUGFS_ATTRIBUTE(mnm_held_fops, mnm_held_get, NULL, "%llu\n");

static bool debug_warn;
module_param(debug_warn, bool, 0444);
MODULE_PARM_DESC(debug_warn, "Test hook: WARN once at load (proves that test runs catch kernel splats)");

/* ---- teardown test log ---------------------------------------------- */

#define MNM_LOG_SIZE		(1024 * 1024)
static DEFINE_SPINLOCK(mnm_log_lock);
static char *mnm_log;
static size_t mnm_log_len;

static __printf(1, 2) void mnm_log_add(const char *fmt, ...)
{
	va_list ap;

	if (!mnm_log)
		return;
	spin_lock(&mnm_log_lock);
	va_start(ap, fmt);
	if (mnm_log_len < MNM_LOG_SIZE)
		mnm_log_len += vscnprintf(mnm_log + mnm_log_len,
					  MNM_LOG_SIZE - mnm_log_len, fmt, ap);
	va_end(ap);
	spin_unlock(&mnm_log_lock);
}

static int mnm_log_show(struct seq_file *m, void *unused)
{
	char *copy = kvmalloc(MNM_LOG_SIZE, GFP_KERNEL);
	size_t len;

	if (!copy)
		return -ENOMEM;
	spin_lock(&mnm_log_lock);
	len = mnm_log_len;
	memcpy(copy, mnm_log, len);
	spin_unlock(&mnm_log_lock);
	seq_write(m, copy, len);
	kvfree(copy);
	return 0;
}

static int mnm_log_open(struct inode *inode, struct file *file)
{
	return single_open(file, mnm_log_show, NULL);
}

static ssize_t mnm_log_write(struct file *file, const char __user *buf,
			     size_t len, loff_t *ppos)
{
	/* Any write clears the log. */
	spin_lock(&mnm_log_lock);
	mnm_log_len = 0;
	spin_unlock(&mnm_log_lock);
	return len;
}

static const struct file_operations mnm_log_fops = {
	.owner = THIS_MODULE,
	.open = mnm_log_open,
	.read = seq_read,
	.write = mnm_log_write,
	.llseek = seq_lseek,
	.release = single_release,
};

static void mnm_teardown_fn(struct hmm_mirror_teardown *td,
			    struct mm_struct *mm)
{
	struct mnm_teardown *t = container_of(td, struct mnm_teardown, td);

	mnm_log_add("teardown ctx=%u prio=%d\n", t->ctx->id, td->priority);
}

/* Open of a file context: its teardown-chain entries (test_teardown). */
int mnm_debug_ctx_open(struct mnm_ctx *ctx)
{
	static const int prio[MNM_TEARDOWN_ENTRIES] = { 30, 10, 20 };
	int ret, i;

	if (!test_teardown)
		return 0;
	for (i = 0; i < MNM_TEARDOWN_ENTRIES; i++) {
		ctx->teardown[i].ctx = ctx;
		ctx->teardown[i].td.fn = mnm_teardown_fn;
		ctx->teardown[i].td.priority = prio[i];
		ret = hmm_mirror_add_teardown(&ctx->mirror, &ctx->teardown[i].td);
		if (ret)
			goto err;
	}
	mnm_log_add("open ctx=%u pid=%d\n", ctx->id, current->tgid);
	return 0;

err:
	while (i--)
		hmm_mirror_remove_teardown(&ctx->mirror, &ctx->teardown[i].td);
	return ret;
}

/* Close of a file context, before it unregisters. */
void mnm_debug_ctx_close(struct mnm_ctx *ctx)
{
	int i;

	if (!test_teardown)
		return;
	for (i = 0; i < MNM_TEARDOWN_ENTRIES; i++)
		hmm_mirror_remove_teardown(&ctx->mirror, &ctx->teardown[i].td);
}

/* A release, as the teardown log records it. */
void mnm_debug_ctx_released(struct mnm_ctx *ctx, bool exit)
{
	mnm_log_add("release ctx=%u reason=%s mapped=%lld\n", ctx->id,
		    exit ? "exit" : "unregister",
		    atomic64_read(&ctx->pt.mapped_pages));
}

void mnm_debug_ctx_closed(struct mnm_ctx *ctx)
{
	mnm_log_add("close ctx=%u\n", ctx->id);
}

/* At load, under debugfs mnmirror/: the fault attribute and the log. */
int mnm_debug_init(struct dentry *root)
{
	WARN(debug_warn, "mnmirror: debug_warn set, warning on purpose\n");
#ifdef CONFIG_FAULT_INJECTION_DEBUG_FS
	fault_create_debugfs_attr("fail_commit", root, &mnm_fail_commit);
	fault_create_debugfs_attr("refuse_nonblock_invalidate", root,
				  &mnm_refuse_invalidate);
#endif
	debugfs_create_file_unsafe("hold_release", 0600, root, NULL,
				   &mnm_hold_fops);
	debugfs_create_file_unsafe("releases_held", 0400, root, NULL,
				   &mnm_held_fops);
	if (!test_teardown)
		return 0;
	mnm_log = vzalloc(MNM_LOG_SIZE);
	if (!mnm_log)
		return -ENOMEM;
	debugfs_create_file("teardown_log", 0644, root, NULL, &mnm_log_fops);
	return 0;
}

/* At unload, after the debugfs tree is gone. */
void mnm_debug_exit(void)
{
	vfree(mnm_log);
	mnm_log = NULL;
}
