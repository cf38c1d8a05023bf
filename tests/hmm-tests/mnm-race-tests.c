// SPDX-License-Identifier: GPL-2.0
/*
 * mnmirror selftests, included by mnm-tests.c: device access racing CPU
 * changes, RELEASE and exit, and the per-mm teardown chain.
 */

/* ---- concurrency ---------------------------------------------------- */

struct reader_arg {
	int fd;
	char *p;
	unsigned long npages;
	atomic_uint *gen;	/* generation fully written before a read starts */
	atomic_bool *stop;
	unsigned long reads, ok, stale;
};

static void *reader(void *data)
{
	struct reader_arg *a = data;
	uint32_t *buf = malloc(a->npages * PS);

	while (!atomic_load(a->stop)) {
		unsigned int min_gen = atomic_load(a->gen);
		unsigned long i, j;

		a->reads++;
		if (mnm_read(a->fd, a->p, buf, a->npages))
			continue;	/* unmapped or busy right now: allowed */
		a->ok++;
		for (i = 0; i < a->npages; i++) {
			for (j = 0; j < PS / 4; j += 256) {
				uint32_t t = buf[i * PS / 4 + j];

				/* zero (fresh page) or a current-or-newer tag */
				if (t && (TAG_IDX(t) != i || TAG_GEN(t) < min_gen))
					a->stale++;
			}
		}
	}
	free(buf);
	return NULL;
}

TEST_F_TIMEOUT(hmm, stress_invalidate, 120)
{
	unsigned long npages = 64;
	char *p = map_anon(npages * PS, PROT_READ | PROT_WRITE);
	atomic_uint gen = 1;
	atomic_bool stop = false;
	struct reader_arg args[2];
	pthread_t th[2];
	unsigned int g, i;

	ASSERT_NE(p, NULL);
	fill(p, npages, 1);
	for (i = 0; i < 2; i++) {
		args[i] = (struct reader_arg){ .fd = self->fd, .p = p,
			.npages = npages, .gen = &gen, .stop = &stop };
		ASSERT_EQ(pthread_create(&th[i], NULL, reader, &args[i]), 0);
	}
	for (g = 2; g < 200; g++) {
		switch (g % 3) {
		case 0:	/* unmap and map fresh memory */
			ASSERT_EQ(munmap(p, npages * PS), 0);
			ASSERT_EQ(mmap(p, npages * PS, PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0), p);
			break;
		case 1:	/* take write access away and back */
			ASSERT_EQ(mprotect(p, npages * PS, PROT_READ), 0);
			ASSERT_EQ(mprotect(p, npages * PS, PROT_READ | PROT_WRITE), 0);
			break;
		case 2:	/* drop the pages */
			ASSERT_EQ(madvise(p, npages * PS, MADV_DONTNEED), 0);
			break;
		}
		fill(p, npages, g);
		atomic_store(&gen, g);
	}
	atomic_store(&stop, true);
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(pthread_join(th[i], NULL), 0);
		TH_LOG("reader %u: %lu reads, %lu complete, %lu stale words",
		       i, args[i].reads, args[i].ok, args[i].stale);
		ASSERT_EQ(args[i].stale, 0);
	}
	ASSERT_GT(args[0].ok + args[1].ok, 0);
	munmap(p, npages * PS);
}

struct release_arg {
	int fd;
	char *p;
	unsigned long npages;
	atomic_bool *stop;
	atomic_ulong reads;	/* reads started so far */
	unsigned long releases;
};

/*
 * Up to three releases, 1 ms apart, into every read: each read meets
 * releases, and each can still finish.  (A releaser that never pauses
 * starves a reader whose refault takes longer than one release period:
 * on the debug kernel a cold 6 MiB refault with its DMA mappings takes
 * about 270 ms, a release 50 ms.)
 */
static void *releaser(void *data)
{
	struct release_arg *a = data;
	unsigned long seen = 0, n = 0;

	while (!atomic_load(a->stop)) {
		unsigned long r = atomic_load(&a->reads);

		if (r != seen) {
			seen = r;
			n = 0;
		}
		if (n < 3 && mnm_release(a->fd, a->p, a->npages) == 0) {
			a->releases++;
			n++;
		}
		usleep(1000);
	}
	return NULL;
}

/* RELEASE drops device mappings and interval notifiers under running reads. */
TEST_F_TIMEOUT(hmm, release_race, 300)
{
	unsigned long npages = 1536;	/* three 2 MiB intervals */
	char *p = map_anon(npages * PS, PROT_READ | PROT_WRITE);
	char *buf = malloc(npages * PS);
	atomic_bool stop = false;
	struct release_arg ra;
	pthread_t th;
	int i, ok = 0;

	NEED_MOCK("RELEASE");
	ASSERT_NE(p, NULL);
	fill(p, npages, 22);
	ra = (struct release_arg){ .fd = self->fd, .p = p, .npages = npages,
				   .stop = &stop };
	ASSERT_EQ(pthread_create(&th, NULL, releaser, &ra), 0);
	for (i = 0; i < 20; i++) {
		int ret;

		atomic_fetch_add(&ra.reads, 1);
		ret = mnm_read(self->fd, p, buf, npages);
		/* Only a retry budget exhausted by the releases may fail. */
		if (ret == -EBUSY)
			continue;
		ASSERT_EQ(ret, 0);
		ASSERT_EQ(check(buf, npages, 22), -1);
		ok++;
	}
	atomic_store(&stop, true);
	ASSERT_EQ(pthread_join(th, NULL), 0);
	TH_LOG("%d of 20 reads complete, %lu releases", ok, ra.releases);
	ASSERT_GT(ok, 0);
	ASSERT_GT(ra.releases, 0);
	munmap(p, npages * PS);
	free(buf);
}

static void *exit_reader(void *data)
{
	struct reader_arg *a = data;
	char *buf = malloc(a->npages * PS);

	for (;;)
		mnm_read(a->fd, a->p, buf, a->npages);
	return NULL;
}

TEST(exit_during_read)
{
	int fd = mnm_open_device(0), round;
	struct drm_mnm_stats st;

	if (fd == -ENODEV)
		SKIP(return, "no %s device", mnm_driver_name());
	ASSERT_GE(fd, 0);
	for (round = 0; round < 10; round++) {
		int status;
		pid_t pid = fork();

		ASSERT_GE(pid, 0);
		if (pid == 0) {
			static struct reader_arg a;
			pthread_t th[2];

			a.fd = mnm_open_device(0);
			a.npages = 2048;
			a.p = map_anon(a.npages * PS, PROT_READ | PROT_WRITE);
			if (a.fd < 0 || !a.p)
				_exit(1);
			fill(a.p, a.npages, 1);
			pthread_create(&th[0], NULL, exit_reader, &a);
			pthread_create(&th[1], NULL, exit_reader, &a);
			usleep(1000 * (round * 7 % 20));
			exit(0);	/* exit_group with reads in flight */
		}
		ASSERT_EQ(waitpid(pid, &status, 0), pid);
		ASSERT_TRUE(WIFEXITED(status));
		ASSERT_EQ(WEXITSTATUS(status), 0);
	}
	/* Every mapping of the exited processes is gone from the device. */
	if (mnm_driver_is_mock()) {	/* STATS */
		ASSERT_EQ(mnm_stats(fd, &st), 0);
		ASSERT_EQ(st.device.mapped_pages, st.file.mapped_pages);
	}
	close(fd);
}

/* ---- the per-mm teardown chain (needs mnmirror.test_teardown=1) ------- */

#define LOG_PATH "/sys/kernel/debug/mnmirror/teardown_log"

struct ctx_log {
	int opened, releases, closes, exit_release;
	int teardown[3];	/* prio 10, 20, 30 counts */
	int first_line;		/* line of the first teardown entry */
};

static int log_clear(void)
{
	int fd = open(LOG_PATH, O_WRONLY);

	if (fd < 0)
		return -1;
	if (write(fd, "c", 1) != 1) {
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/*
 * Parse the log into per-context records and check the global ordering
 * rules: within one mm's chain, entries run in priority order, and each
 * context's release comes before its chain entries.
 */
static int log_parse(struct ctx_log *c, int max, char *err, size_t errlen)
{
	FILE *f = fopen(LOG_PATH, "r");
	char line[128];
	int n = 0, last_prio = 0;
	unsigned int id;

	if (!f)
		return -1;
	memset(c, 0, sizeof(*c) * max);
	while (fgets(line, sizeof(line), f)) {
		char reason[16];
		int prio;

		n++;
		if (sscanf(line, "open ctx=%u", &id) == 1 && id < (unsigned int)max) {
			c[id].opened++;
		} else if (sscanf(line, "release ctx=%u reason=%15s", &id, reason) == 2 &&
			   id < (unsigned int)max) {
			c[id].releases++;
			c[id].exit_release = !strcmp(reason, "exit");
			if (!strstr(line, "mapped=0")) {
				snprintf(err, errlen, "release left mappings: %s", line);
				fclose(f);
				return -1;
			}
		} else if (sscanf(line, "teardown ctx=%u prio=%d", &id, &prio) == 2 &&
			   id < (unsigned int)max && prio >= 10 && prio <= 30) {
			if (!c[id].releases) {
				snprintf(err, errlen, "chain before release: %s", line);
				fclose(f);
				return -1;
			}
			if (prio < last_prio && c[id].teardown[0] + c[id].teardown[1] +
			    c[id].teardown[2] > 0) {
				snprintf(err, errlen, "priority order broken: %s", line);
				fclose(f);
				return -1;
			}
			last_prio = prio;
			c[id].teardown[prio / 10 - 1]++;
		} else if (sscanf(line, "close ctx=%u", &id) == 1 && id < (unsigned int)max) {
			c[id].closes++;
			last_prio = 0;
		}
	}
	fclose(f);
	return n;
}

#define MAX_CTX 65536

/* Check every logged context; return how many were released by exit. */
static int check_ctx_logs(struct __test_metadata *_metadata)
{
	static struct ctx_log c[MAX_CTX];
	char err[160] = "";
	int id, seen = 0, by_exit = 0;

	ASSERT_GE(log_parse(c, MAX_CTX, err, sizeof(err)), 0) TH_LOG("%s", err);
	for (id = 0; id < MAX_CTX; id++) {
		int t;

		if (!c[id].opened)
			continue;
		seen++;
		ASSERT_EQ(c[id].releases, 1) TH_LOG("ctx %d released %d times", id, c[id].releases);
		ASSERT_EQ(c[id].closes, 1);
		for (t = 0; t < 3; t++) {
			ASSERT_LE(c[id].teardown[t], 1);
			ASSERT_EQ(c[id].teardown[t], c[id].teardown[0]);
		}
		if (!c[id].exit_release) {
			ASSERT_EQ(c[id].teardown[0], 0);
		} else {
			by_exit++;
		}
	}
	ASSERT_GT(seen, 0);
	return by_exit;
}

static int teardown_available(void)
{
	return mnm_driver_is_mock() && access(LOG_PATH, R_OK) == 0;
}

TEST(teardown_exit_once)
{
	int status;
	pid_t pid;

	if (!teardown_available())
		SKIP(return, "load mnmirror with test_teardown=1 to test the chain");
	ASSERT_EQ(log_clear(), 0);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		/* Two mirrors on one mm share one chain; exit without close. */
		int a = mnm_open_device(0), b = mnm_open_device(1 % 2);
		char *p = map_anon(16 * PS, PROT_READ | PROT_WRITE);
		char buf[16 * 4096];

		if (a < 0 || b < 0 || !p)
			_exit(1);
		fill(p, 16, 1);
		mnm_read(a, p, buf, 16);
		mnm_read(b, p, buf, 16);
		_exit(0);
	}
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_EQ(WEXITSTATUS(status), 0);
	/* The two files still open at exit: released by exit, chain ran. */
	ASSERT_EQ(check_ctx_logs(_metadata), 2);
}

TEST(teardown_unregister_first)
{
	int status;
	pid_t pid;

	if (!teardown_available())
		SKIP(return, "load mnmirror with test_teardown=1 to test the chain");
	ASSERT_EQ(log_clear(), 0);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		int a = mnm_open_device(0);

		if (a < 0)
			_exit(1);
		close(a);	/* released by unregister, the chain never runs */
		_exit(0);
	}
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_EQ(WEXITSTATUS(status), 0);
	ASSERT_EQ(check_ctx_logs(_metadata), 0);
}

static void *closer(void *data)
{
	int *fds = data, i;

	for (i = 0; i < 4; i++)
		close(fds[i]);
	return NULL;
}

static void *opener(void *data)
{
	int i;

	(void)data;
	for (i = 0; i < 12; i++) {
		int fd = mnm_open_device(0);

		if (fd >= 0)
			close(fd);
	}
	return NULL;
}

TEST_F_TIMEOUT(hmm, teardown_races, 120)
{
	int round;

	if (!teardown_available())
		SKIP(return, "load mnmirror with test_teardown=1 to test the chain");
	ASSERT_EQ(log_clear(), 0);
	for (round = 0; round < 24; round++) {
		int status;
		pid_t pid = fork();

		ASSERT_GE(pid, 0);
		if (pid == 0) {
			static int fds[4];
			pthread_t th[3];
			int i;

			for (i = 0; i < 4; i++)
				fds[i] = mnm_open_device(i & 1);
			/* unregister races exit; registration races exit */
			pthread_create(&th[0], NULL, closer, fds);
			pthread_create(&th[1], NULL, opener, NULL);
			pthread_create(&th[2], NULL, opener, NULL);
			usleep(500 * (round % 8));
			exit(0);
		}
		ASSERT_EQ(waitpid(pid, &status, 0), pid);
		ASSERT_TRUE(WIFEXITED(status));
	}
	check_ctx_logs(_metadata);
}
