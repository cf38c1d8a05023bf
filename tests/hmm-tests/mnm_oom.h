/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The OOM victims' device work, shared by the mnmirror selftests that get
 * a mirrored process OOM-killed (mnm-pressure-tests, mnm-trace-tests): a
 * region the device threads keep reading and writing through the mock,
 * 2 MiB at a time, until the process dies.
 */
#ifndef MNM_OOM_H
#define MNM_OOM_H

#include <stdlib.h>

#include "mnm_pages.h"
#include "mnm_util.h"

#define OOM_REGION	(8UL << 20)

static char *oom_mem;

/* A device thread: @arg is fd << 1 | write. */
static void *oom_device_thread(void *arg)
{
	int fd = (int)(long)arg >> 1, write = (int)(long)arg & 1;
	char *buf = malloc(HPS);
	unsigned long off = 0;

	for (;;) {
		mnm_rw(fd, write, oom_mem + off, buf, HPS / PS, NULL);
		off = (off + HPS) % OOM_REGION;
	}
	return NULL;
}

#endif /* MNM_OOM_H */
