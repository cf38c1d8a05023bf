/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Trace helpers of mnm-trace-tests: a tracefs instance of the test's own,
 * and its events parsed into name, pid and key=value fields.  A trace
 * line is
 *   <comm>-<pid> [cpu] <flags> <time>: <event>: key=value key=value ...
 * and the tests match the pid, the event name and exact key=value tokens.
 */
#ifndef MNM_TRACE_UTIL_H
#define MNM_TRACE_UTIL_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mnm_pages.h"
#include "mnm_devmem.h"

#define TRACEFS		"/sys/kernel/tracing"

/* ---- a tracefs instance ----------------------------------------------- */

struct trace {
	char dir[128];
	char *buf;		/* the last trace_read() */
};

/* Mount tracefs if needed; 0 when its events directory is there. */
static int tracefs_ready(void)
{
	if (access(TRACEFS "/events", F_OK))
		mount("nodev", TRACEFS, "tracefs", 0, NULL);
	return access(TRACEFS "/instances", F_OK) ? -1 : 0;
}

static int trace_set(struct trace *t, const char *file, const char *val)
{
	char path[sizeof(t->dir) + 192];

	snprintf(path, sizeof(path), "%s/%s", t->dir, file);
	return mnm_write_str(path, val);
}

/*
 * A fresh instance with the given event systems ("hmm_mirror", "mnmirror")
 * or single events ("hmm_mirror/hmm_mirror_invalidate") enabled; NULL-ended.
 */
static int trace_start(struct trace *t, const char *const *events)
{
	char file[160];

	snprintf(t->dir, sizeof(t->dir), TRACEFS "/instances/mnm-trace-%d", getpid());
	t->buf = NULL;
	rmdir(t->dir);
	if (mkdir(t->dir, 0755))
		return -errno;
	if (trace_set(t, "buffer_size_kb", "8192"))
		return -EIO;
	for (; *events; events++) {
		snprintf(file, sizeof(file), "events/%s/enable", *events);
		if (trace_set(t, file, "1"))
			return -ENOENT;
	}
	return trace_set(t, "tracing_on", "1");
}

/* The instance's whole trace so far (kept in t->buf, NUL-terminated). */
static const char *trace_read(struct trace *t)
{
	char path[256];
	size_t len = 0, cap = 1 << 20;
	ssize_t n;
	int fd;

	free(t->buf);
	t->buf = malloc(cap);
	if (!t->buf)
		return "";
	snprintf(path, sizeof(path), "%s/trace", t->dir);
	fd = open(path, O_RDONLY);
	if (fd < 0) {
		t->buf[0] = 0;
		return t->buf;
	}
	for (;;) {
		if (cap - len < 65536) {
			char *b = realloc(t->buf, cap * 2);

			if (!b)
				break;
			t->buf = b;
			cap *= 2;
		}
		n = read(fd, t->buf + len, cap - len - 1);
		if (n <= 0)
			break;
		len += n;
	}
	close(fd);
	t->buf[len] = 0;
	return t->buf;
}

/* Empty the instance's buffer (between runs whose hashed mm may repeat). */
static int trace_clear(struct trace *t)
{
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "%s/trace", t->dir);
	fd = open(path, O_WRONLY | O_TRUNC);
	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

static void trace_stop(struct trace *t)
{
	trace_set(t, "tracing_on", "0");
	trace_set(t, "events/enable", "0");
	rmdir(t->dir);
	free(t->buf);
	t->buf = NULL;
}

/* ---- parsed events ------------------------------------------------------ */

struct ev {
	int pid;
	char name[64];
	char fields[512];
};

/*
 * Parse one line of the trace file; false for comments and anything else
 * that is not an event line.
 */
static bool ev_parse(const char *line, size_t len, struct ev *e)
{
	const char *cpu, *dash, *colon, *name, *end = line + len;

	if (len == 0 || line[0] == '#')
		return false;
	cpu = strstr(line, " [");
	if (!cpu || cpu >= end)
		return false;
	for (dash = cpu; dash > line && *dash != '-'; dash--)
		;
	if (*dash != '-')
		return false;
	e->pid = atoi(dash + 1);
	colon = strstr(cpu, ": ");		/* after the timestamp */
	if (!colon || colon >= end)
		return false;
	name = colon + 2;
	colon = strstr(name, ": ");
	if (!colon || colon >= end || (size_t)(colon - name) >= sizeof(e->name))
		return false;
	memcpy(e->name, name, colon - name);
	e->name[colon - name] = 0;
	len = end - (colon + 2);
	if (len >= sizeof(e->fields))
		len = sizeof(e->fields) - 1;
	memcpy(e->fields, colon + 2, len);
	e->fields[len] = 0;
	return true;
}

/* The value of "key=" in an event's fields, copied into @val; false if absent. */
static bool ev_get(const struct ev *e, const char *key, char *val, size_t size)
{
	size_t klen = strlen(key);
	const char *p = e->fields;

	while (p && *p) {
		if (!strncmp(p, key, klen) && p[klen] == '=') {
			size_t n = strcspn(p + klen + 1, " ");

			if (n >= size)
				n = size - 1;
			memcpy(val, p + klen + 1, n);
			val[n] = 0;
			return true;
		}
		p = strchr(p, ' ');
		if (p)
			p++;
	}
	return false;
}

static unsigned long ev_ul(const struct ev *e, const char *key)
{
	char v[64];

	return ev_get(e, key, v, sizeof(v)) ? strtoul(v, NULL, 0) : ~0UL;
}

/* Does @e carry every "key=value" token of @want (NULL-ended)? */
static bool ev_has(const struct ev *e, const char *const *want)
{
	char key[64], val[128];

	for (; want && *want; want++) {
		const char *eq = strchr(*want, '=');

		if (!eq || (size_t)(eq - *want) >= sizeof(key))
			return false;
		memcpy(key, *want, eq - *want);
		key[eq - *want] = 0;
		if (!ev_get(e, key, val, sizeof(val)) || strcmp(val, eq + 1))
			return false;
	}
	return true;
}

/*
 * Walk the events of @buf named @name (of task @pid, or any when -1) that
 * carry every token of @want; call @fn on each (it may be NULL).  Returns
 * how many matched.
 */
static int ev_each(const char *buf, const char *name, int pid,
		   const char *const *want,
		   void (*fn)(const struct ev *e, void *arg), void *arg)
{
	const char *line = buf;
	struct ev e;
	int n = 0;

	while (line && *line) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);

		if (ev_parse(line, len, &e) && !strcmp(e.name, name) &&
		    (pid < 0 || e.pid == pid) && ev_has(&e, want)) {
			if (fn)
				fn(&e, arg);
			n++;
		}
		line = nl ? nl + 1 : NULL;
	}
	return n;
}

#define W(...)	((const char *const []){ __VA_ARGS__, NULL })

/*
 * Events that may come after the call that caused them returned (an mm's
 * exit ends in whichever task drops its last reference): read the trace
 * until @want of them are there, for up to 10 s.  Returns how many are.
 */
static int ev_wait(struct trace *t, const char *name, const char *const *tokens,
		   int want)
{
	int i, n = 0;

	for (i = 0; i < 100; i++) {
		n = ev_each(trace_read(t), name, -1, tokens, NULL, NULL);
		if (n >= want)
			break;
		usleep(100 * 1000);
	}
	return n;
}

/* "key=0x..." (addresses) and "key=N" tokens, in caller-provided room. */
static const char *kx(char *s, const char *key, unsigned long v)
{
	sprintf(s, "%s=0x%lx", key, v);
	return s;
}

static const char *kd(char *s, const char *key, unsigned long v)
{
	sprintf(s, "%s=%lu", key, v);
	return s;
}

/* Pages of [start, end) covered by events, one bit per page of a range. */
struct cover {
	unsigned long start, npages;
	unsigned char *hit;
	unsigned long sum;		/* of a numeric field, see below */
	const char *sum_key;
	char mm[64];			/* the mm= of the events, if one */
};

static void cover_fn(const struct ev *e, void *arg)
{
	struct cover *c = arg;
	unsigned long s = ev_ul(e, "start"), en = ev_ul(e, "end"), a;

	if (c->sum_key)
		c->sum += ev_ul(e, c->sum_key);
	ev_get(e, "mm", c->mm, sizeof(c->mm));
	if (s == ~0UL || en == ~0UL)
		return;
	for (a = s; a < en; a += PS)
		if (a >= c->start && a < c->start + c->npages * PS)
			c->hit[(a - c->start) / PS] = 1;
}

static unsigned long cover_count(const struct cover *c)
{
	unsigned long i, n = 0;

	for (i = 0; i < c->npages; i++)
		n += c->hit[i];
	return n;
}

/* Sum and coverage of one kind of event of this task over [start, +n). */
static unsigned long covered(const char *tr, const char *name, int pid,
			     const char *const *want, unsigned long start,
			     unsigned long n, const char *sum_key,
			     unsigned long *sum, char *mm)
{
	unsigned char *hit = calloc(n, 1);
	struct cover c = {
		.start = start, .npages = n, .hit = hit, .sum_key = sum_key,
	};
	unsigned long ret;

	if (!hit)
		return 0;
	ev_each(tr, name, pid, want, cover_fn, &c);
	ret = cover_count(&c);
	if (sum)
		*sum = c.sum;
	if (mm)
		strcpy(mm, c.mm);
	free(hit);
	return ret;
}

/* Events lost to the ring buffer's overwrite, over every CPU. */
static long trace_overrun(struct trace *t)
{
	char path[256], line[128];
	long total = 0, v;
	int cpu;

	for (cpu = 0; cpu < 64; cpu++) {
		FILE *f;

		snprintf(path, sizeof(path), "%s/per_cpu/cpu%d/stats", t->dir, cpu);
		f = fopen(path, "r");
		if (!f)
			break;
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, "overrun: %ld", &v) == 1)
				total += v;
		fclose(f);
	}
	return total;
}

#endif /* MNM_TRACE_UTIL_H */
