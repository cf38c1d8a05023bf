// SPDX-License-Identifier: GPL-2.0
/*
 * mnmirror selftests, part two: device memory, migration and exclusive
 * access.  Included by mnm-tests.c (one binary, one harness).  Every test
 * skips, saying why, on a kernel without DEVICE_PRIVATE.
 */

static int to_dev(int fd, void *addr, unsigned long npages, struct drm_mnm_migrate *out)
{
	return mnm_migrate(fd, addr, npages, MNM_MIGRATE_TO_DEVICE, out);
}

static int mnm_exclusive(int fd, unsigned long req, void *addr, unsigned long npages,
			 unsigned long *exclusive)
{
	struct drm_mnm_exclusive e = {
		.size = sizeof(e), .addr = (unsigned long)addr, .npages = npages,
	};
	int ret = mnm_ioctl(fd, req, &e);

	if (exclusive)
		*exclusive = e.exclusive;
	return ret;
}

static unsigned long debugfs_limit(int dev)
{
	char path[128];
	unsigned long v = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/kernel/debug/mnmirror/dev%d/devmem_limit", dev);
	f = fopen(path, "r");
	if (f) {
		if (fscanf(f, "%lu", &v) != 1)
			v = 0;
		fclose(f);
	}
	return v;
}

TEST_F(hmm, migrate)
{
	unsigned long npages = 1100, i;
	char *p = map_anon(npages * PS, PROT_READ | PROT_WRITE);
	char *buf = malloc(npages * PS);
	unsigned char *cpu = malloc(npages), *dev = malloc(npages);
	struct drm_mnm_migrate m;
	struct drm_mnm_stats st;

	NEED_MIGRATE(self->fd);
	ASSERT_NE(p, NULL);
	fill(p, npages, 30);
	ASSERT_EQ(to_dev(self->fd, p, npages, &m), 0);
	ASSERT_EQ(m.migrated, npages);
	ASSERT_EQ(mnm_snapshot(self->fd, p, npages, cpu, 0), 0);
	ASSERT_EQ(mnm_snapshot(self->fd, p, npages, dev, MNM_SNAPSHOT_DEVICE), 0);
	for (i = 0; i < npages; i++) {
		ASSERT_EQ(cpu[i], MNM_PROT_DEV_PRIVATE_LOCAL | MNM_PROT_WRITE);
		/* PMD where a device 2 MiB page backs it. */
		ASSERT_EQ(dev[i] & ~MNM_PROT_PMD,
			  MNM_PROT_DEV_PRIVATE_LOCAL | MNM_PROT_WRITE);
	}
	/* The device reads its own memory. */
	ASSERT_EQ(mnm_read(self->fd, p, buf, npages), 0);
	ASSERT_EQ(check(buf, npages, 30), -1);
	/* The CPU touches every page: each comes back with its data. */
	ASSERT_EQ(check(p, npages, 30), -1);
	ASSERT_EQ(mnm_snapshot(self->fd, p, npages, cpu, 0), 0);
	for (i = 0; i < npages; i++)
		ASSERT_EQ(cpu[i] & MNM_PROT_DEV_PRIVATE_LOCAL, 0);
	ASSERT_EQ(mnm_stats(self->fd, &st), 0);
	ASSERT_GE(st.device.cpu_faults, npages);
	ASSERT_GE(st.file.migrated_to_device, npages);
	munmap(p, npages * PS);
	free(buf);
	free(cpu);
	free(dev);
}

TEST_F(hmm, migrate_empty_and_huge)
{
	unsigned long npages = 2 * HPS / PS, i;
	char *p = map_aligned(2 * HPS);
	char *buf = malloc(npages * PS);
	unsigned char *cpu = malloc(npages);
	struct drm_mnm_migrate m;

	NEED_MIGRATE(self->fd);
	ASSERT_NE(p, NULL);
	/* First block: a THP (split on the way); second: never touched. */
	madvise(p, HPS, MADV_HUGEPAGE);
	fill(p, HPS / PS, 31);
	ASSERT_EQ(to_dev(self->fd, p, npages, &m), 0);
	ASSERT_EQ(m.migrated, npages);	/* empty pages become zeroed device pages */
	ASSERT_EQ(mnm_snapshot(self->fd, p, npages, cpu, 0), 0);
	for (i = 0; i < npages; i++)
		ASSERT_EQ(cpu[i] & 0x30, MNM_PROT_DEV_PRIVATE_LOCAL);
	ASSERT_EQ(mnm_read(self->fd, p, buf, npages), 0);
	ASSERT_EQ(check(buf, HPS / PS, 31), -1);
	for (i = HPS; i < 2 * HPS; i++)
		ASSERT_EQ(buf[i], 0);
	ASSERT_EQ(check(p, HPS / PS, 31), -1);
	munmap(p, 2 * HPS);
	free(buf);
	free(cpu);
}

TEST_F(hmm, migrate_back_and_forth)
{
	unsigned long npages = 600;
	char *p = map_anon(npages * PS, PROT_READ | PROT_WRITE);
	char *buf = malloc(npages * PS);
	struct drm_mnm_migrate m;
	int round;

	NEED_MIGRATE(self->fd);
	ASSERT_NE(p, NULL);
	for (round = 0; round < 4; round++) {
		fill(p, npages, 40 + round);
		ASSERT_EQ(to_dev(self->fd, p, npages, &m), 0);
		ASSERT_EQ(m.migrated, npages);
		/* The device writes its memory, then everything goes back. */
		fill(buf, npages, 50 + round);
		ASSERT_EQ(mnm_write(self->fd, p, buf, npages), 0);
		ASSERT_EQ(mnm_migrate(self->fd, p, npages, MNM_MIGRATE_TO_SYSTEM, &m), 0);
		ASSERT_EQ(m.migrated, npages);
		ASSERT_EQ(check(p, npages, 50 + round), -1);
	}
	munmap(p, npages * PS);
	free(buf);
}

TEST_F(hmm, migrate_release)
{
	unsigned long npages = 64, i;
	char *p = map_anon(npages * PS, PROT_READ | PROT_WRITE);
	unsigned char cpu[64], dev[64];

	NEED_MIGRATE(self->fd);
	fill(p, npages, 32);
	ASSERT_EQ(to_dev(self->fd, p, npages, NULL), 0);
	ASSERT_EQ(mnm_release(self->fd, p, npages), 0);
	ASSERT_EQ(mnm_snapshot(self->fd, p, npages, dev, MNM_SNAPSHOT_DEVICE), 0);
	ASSERT_EQ(mnm_snapshot(self->fd, p, npages, cpu, 0), 0);
	for (i = 0; i < npages; i++) {
		ASSERT_EQ(dev[i], MNM_PROT_NONE);	/* device unmapped it */
		ASSERT_EQ(cpu[i] & 0x30, MNM_PROT_DEV_PRIVATE_LOCAL);	/* data stays */
	}
	ASSERT_EQ(check(p, npages, 32), -1);
	munmap(p, npages * PS);
}

TEST_F(hmm, migrate_shared)
{
	unsigned long npages = 32;
	char *p = mmap(NULL, npages * PS, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	struct drm_mnm_migrate m;

	NEED_MIGRATE(self->fd);
	ASSERT_NE(p, MAP_FAILED);
	fill(p, npages, 33);
	/* Shared memory cannot move to device-private memory: all reported. */
	ASSERT_EQ(to_dev(self->fd, p, npages, &m), 0);
	ASSERT_EQ(m.migrated, 0);
	ASSERT_EQ(m.skip_refused + m.skip_busy + m.skip_other, npages);
	ASSERT_EQ(check(p, npages, 33), -1);
	munmap(p, npages * PS);
}

TEST_F(hmm, migrate_file_private)
{
	unsigned long npages = 64;
	int fd = create_tmpfile(npages * PS);
	char *buf = malloc(npages * PS), *p;
	struct drm_mnm_migrate m;

	NEED_MIGRATE(self->fd);
	ASSERT_GE(fd, 0);
	p = mmap(NULL, npages * PS, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	ASSERT_NE(p, MAP_FAILED);
	fill(p, npages, 34);	/* private copies: anonymous pages */
	ASSERT_EQ(to_dev(self->fd, p, npages, &m), 0);
	ASSERT_EQ(m.migrated, npages);
	ASSERT_EQ(mnm_read(self->fd, p, buf, npages), 0);
	ASSERT_EQ(check(buf, npages, 34), -1);
	ASSERT_EQ(check(p, npages, 34), -1);
	munmap(p, npages * PS);
	close(fd);
	free(buf);
}

TEST_F(hmm, migrate_mixed)
{
	unsigned long npages = 12;
	char *p = map_anon(npages * PS, PROT_READ | PROT_WRITE);
	struct drm_mnm_migrate m;

	NEED_MIGRATE(self->fd);
	fill(p, npages, 35);
	ASSERT_EQ(munmap(p + 4 * PS, 2 * PS), 0);	/* a hole */
	ASSERT_EQ(mprotect(p + 8 * PS, 2 * PS, PROT_READ), 0);
	ASSERT_EQ(to_dev(self->fd, p, npages, &m), 0);
	/* Every page is accounted for. */
	ASSERT_EQ(m.skip_vma, 2);
	ASSERT_EQ(m.migrated + m.skip_busy + m.skip_other + m.skip_refused +
		  m.skip_nomem, npages - 2);
	ASSERT_GE(m.migrated, 8);
	ASSERT_EQ(check(p, 4, 35), -1);
	munmap(p, npages * PS);
}

TEST_F(hmm, migrate_cow_in_device)
{
	unsigned long npages = 64;
	char *p = map_anon(npages * PS, PROT_READ | PROT_WRITE);
	char *buf = malloc(npages * PS);
	int status;
	pid_t pid;

	NEED_MIGRATE(self->fd);
	fill(p, npages, 36);
	ASSERT_EQ(to_dev(self->fd, p, npages, NULL), 0);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		/* The child's copy-on-write of device pages. */
		if (check(p, npages, 36) != -1)
			_exit(1);
		fill(p, npages, 37);
		_exit(check(p, npages, 37) == -1 ? 0 : 2);
	}
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_EQ(WEXITSTATUS(status), 0);
	/* The parent's pages are untouched; the device still reads them. */
	ASSERT_EQ(mnm_read(self->fd, p, buf, npages), 0);
	ASSERT_EQ(check(buf, npages, 36), -1);
	fill(p, npages, 38);
	ASSERT_EQ(mnm_read(self->fd, p, buf, npages), 0);
	ASSERT_EQ(check(buf, npages, 38), -1);
	munmap(p, npages * PS);
	free(buf);
}

TEST_F(hmm, migrate_exit_frees)
{
	struct drm_mnm_stats before, after;
	int status, i;
	pid_t pid;

	NEED_MIGRATE(self->fd);
	ASSERT_EQ(mnm_stats(self->fd, &before), 0);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		int fd = mnm_open_device(0);
		char *p = map_anon(2000 * PS, PROT_READ | PROT_WRITE);

		fill(p, 2000, 39);
		if (to_dev(fd, p, 2000, NULL))
			_exit(1);
		_exit(0);	/* with the pages on the device */
	}
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_EQ(WEXITSTATUS(status), 0);
	/* Freed device pages return to the free count (page_free may lag a
	 * little behind exit: poll briefly). */
	for (i = 0; i < 50; i++) {
		ASSERT_EQ(mnm_stats(self->fd, &after), 0);
		if (after.device.devmem_free == before.device.devmem_free)
			break;
		usleep(20000);
	}
	ASSERT_EQ(after.device.devmem_free, before.device.devmem_free);
}

TEST_F_TIMEOUT(hmm, migrate_eviction, 300)
{
	unsigned long npages = 3000, limit = 1024, old;
	char *p = map_anon(npages * PS, PROT_READ | PROT_WRITE);
	char *buf = malloc(npages * PS);
	struct drm_mnm_stats before, after;
	struct drm_mnm_migrate m;

	NEED_MIGRATE(self->fd);
	old = debugfs_limit(0);
	ASSERT_GT(old, 0);
	ASSERT_EQ(debugfs_write(0, "devmem_limit", limit), 0);
	ASSERT_EQ(mnm_stats(self->fd, &before), 0);
	fill(p, npages, 41);
	/* Three times what the device may hold: the oldest pages go back. */
	ASSERT_EQ(to_dev(self->fd, p, npages, &m), 0);
	ASSERT_EQ(mnm_stats(self->fd, &after), 0);
	ASSERT_EQ(debugfs_write(0, "devmem_limit", old), 0);
	TH_LOG("migrated %llu, evictions %llu", (unsigned long long)m.migrated,
	       (unsigned long long)(after.device.evictions - before.device.evictions));
	ASSERT_EQ(m.migrated, npages);
	ASSERT_GE(after.device.evictions - before.device.evictions, npages - limit);
	ASSERT_EQ(mnm_read(self->fd, p, buf, npages), 0);
	ASSERT_EQ(check(buf, npages, 41), -1);
	ASSERT_EQ(check(p, npages, 41), -1);
	munmap(p, npages * PS);
	free(buf);
}

TEST_F(hmm, migrate_alloc_failure)
{
	unsigned long npages = 300;
	char *p = map_anon(npages * PS, PROT_READ | PROT_WRITE);
	struct drm_mnm_migrate m;

	NEED_MIGRATE(self->fd);
	fill(p, npages, 42);
	/* Every device-memory allocation fails until the knob is reset. */
	ASSERT_EQ(debugfs_write(0, "fail_alloc", 1000000), 0);
	ASSERT_EQ(to_dev(self->fd, p, npages, &m), 0);
	ASSERT_EQ(debugfs_write(0, "fail_alloc", 0), 0);
	ASSERT_EQ(m.migrated, 0);
	ASSERT_EQ(m.skip_nomem, npages);
	ASSERT_EQ(check(p, npages, 42), -1);	/* nothing lost */
	ASSERT_EQ(to_dev(self->fd, p, npages, &m), 0);
	ASSERT_EQ(m.migrated, npages);
	ASSERT_EQ(check(p, npages, 42), -1);
	munmap(p, npages * PS);
}

TEST_F(hmm2, migrate_device_to_device)
{
	unsigned long npages = 100, i;
	char *p = map_anon(npages * PS, PROT_READ | PROT_WRITE);
	char *buf = malloc(npages * PS);
	unsigned char s0[100], s1[100];
	struct drm_mnm_migrate m;

	NEED_MIGRATE(self->fd0);
	fill(p, npages, 43);
	ASSERT_EQ(to_dev(self->fd0, p, npages, &m), 0);
	ASSERT_EQ(m.migrated, npages);
	ASSERT_EQ(mnm_snapshot(self->fd0, p, npages, s0, 0), 0);
	ASSERT_EQ(mnm_snapshot(self->fd1, p, npages, s1, 0), 0);
	for (i = 0; i < npages; i++) {
		ASSERT_EQ(s0[i], MNM_PROT_DEV_PRIVATE_LOCAL | MNM_PROT_WRITE);
		ASSERT_EQ(s1[i], MNM_PROT_DEV_PRIVATE_REMOTE | MNM_PROT_WRITE);
	}
	ASSERT_EQ(to_dev(self->fd1, p, npages, &m), 0);
	ASSERT_EQ(m.migrated, npages);
	ASSERT_EQ(mnm_snapshot(self->fd0, p, npages, s0, 0), 0);
	for (i = 0; i < npages; i++)
		ASSERT_EQ(s0[i], MNM_PROT_DEV_PRIVATE_REMOTE | MNM_PROT_WRITE);
	ASSERT_EQ(mnm_read(self->fd1, p, buf, npages), 0);
	ASSERT_EQ(check(buf, npages, 43), -1);
	ASSERT_EQ(mnm_read(self->fd0, p, buf, npages), 0);	/* back via RAM */
	ASSERT_EQ(check(buf, npages, 43), -1);
	ASSERT_EQ(check(p, npages, 43), -1);
	munmap(p, npages * PS);
	free(buf);
}

struct migrator_arg {
	int fd;
	char *p;
	unsigned long npages;
	atomic_bool *stop;
	unsigned long rounds;
};

static void *migrator(void *data)
{
	struct migrator_arg *a = data;

	while (!atomic_load(a->stop)) {
		to_dev(a->fd, a->p, a->npages, NULL);
		a->rounds++;
	}
	return NULL;
}

TEST_F_TIMEOUT(hmm, migrate_race_cpu_and_munmap, 180)
{
	unsigned long npages = 256;
	char *p = map_anon(npages * PS, PROT_READ | PROT_WRITE);
	atomic_bool stop = false;
	struct migrator_arg a;
	pthread_t th;
	int round;

	NEED_MIGRATE(self->fd);
	fill(p, npages, 1);
	a = (struct migrator_arg){ .fd = self->fd, .p = p, .npages = npages, .stop = &stop };
	ASSERT_EQ(pthread_create(&th, NULL, migrator, &a), 0);
	for (round = 2; round < 40; round++) {
		/* CPU faults bring pages back while they are being migrated. */
		ASSERT_EQ(check(p, npages, round - 1), -1);
		fill(p, npages, round);
		if (round % 5 == 0) {
			ASSERT_EQ(munmap(p, npages * PS), 0);
			ASSERT_EQ(mmap(p, npages * PS, PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0), p);
			fill(p, npages, round);
		}
	}
	atomic_store(&stop, true);
	ASSERT_EQ(pthread_join(th, NULL), 0);
	TH_LOG("%lu migrations raced the CPU", a.rounds);
	ASSERT_GT(a.rounds, 0);
	munmap(p, npages * PS);
}

static void exclusive_case(struct __test_metadata *_metadata, int fd, int huge)
{
	unsigned long npages = huge ? HPS / PS : 64, left;
	char *p = huge ? map_aligned(HPS) : map_anon(npages * PS, PROT_READ | PROT_WRITE);
	char *buf = malloc(npages * PS);
	unsigned char *cpu = malloc(npages);

	ASSERT_NE(p, NULL);
	if (huge)
		madvise(p, HPS, MADV_HUGEPAGE);
	fill(p, npages, 44);
	ASSERT_EQ(mnm_exclusive(fd, DRM_IOCTL_MNM_EXCLUSIVE, p, npages, NULL), 0);
	ASSERT_EQ(mnm_exclusive(fd, DRM_IOCTL_MNM_CHECK_EXCLUSIVE, p, npages, &left), 0);
	ASSERT_EQ(left, npages);
	ASSERT_EQ(mnm_snapshot(fd, p, npages, cpu, 0), 0);
	ASSERT_EQ(cpu[0], MNM_PROT_EXCLUSIVE | MNM_PROT_WRITE);
	ASSERT_EQ(mnm_read(fd, p, buf, npages), 0);	/* atomic access works */
	ASSERT_EQ(check(buf, npages, 44), -1);
	/* A CPU access revokes the grant of that page. */
	((volatile char *)p)[0] = ((volatile char *)p)[0];
	ASSERT_EQ(mnm_exclusive(fd, DRM_IOCTL_MNM_CHECK_EXCLUSIVE, p, 1, &left), 0);
	ASSERT_EQ(left, 0);
	ASSERT_EQ(check(p, npages, 44), -1);
	ASSERT_EQ(mnm_exclusive(fd, DRM_IOCTL_MNM_CHECK_EXCLUSIVE, p, npages, &left), 0);
	ASSERT_EQ(left, 0);
	munmap(p, npages * PS);
	free(buf);
	free(cpu);
}

TEST_F(hmm, exclusive)
{
	NEED_MIGRATE(self->fd);
	exclusive_case(_metadata, self->fd, 0);
}

TEST_F(hmm, exclusive_thp)
{
	NEED_MIGRATE(self->fd);
	exclusive_case(_metadata, self->fd, 1);	/* upstream: -EBUSY here */
}

TEST_F(hmm, exclusive_mprotect)
{
	unsigned long npages = 32;
	char *p = map_anon(npages * PS, PROT_READ | PROT_WRITE);
	char *buf = malloc(npages * PS);

	NEED_MIGRATE(self->fd);
	fill(p, npages, 45);
	ASSERT_EQ(mnm_exclusive(self->fd, DRM_IOCTL_MNM_EXCLUSIVE, p, npages, NULL), 0);
	ASSERT_EQ(mprotect(p, npages * PS, PROT_READ), 0);
	ASSERT_EQ(mnm_write(self->fd, p, buf, npages), -EPERM);
	ASSERT_EQ(mnm_read(self->fd, p, buf, npages), 0);
	ASSERT_EQ(check(buf, npages, 45), -1);
	munmap(p, npages * PS);
	free(buf);
}

TEST_F(hmm, exclusive_cow)
{
	unsigned long npages = 32, left;
	char *p = map_anon(npages * PS, PROT_READ | PROT_WRITE);
	int status;
	pid_t pid;

	NEED_MIGRATE(self->fd);
	fill(p, npages, 46);
	ASSERT_EQ(mnm_exclusive(self->fd, DRM_IOCTL_MNM_EXCLUSIVE, p, npages, NULL), 0);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		fill(p, npages, 47);
		_exit(check(p, npages, 47) == -1 ? 0 : 1);
	}
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_EQ(WEXITSTATUS(status), 0);
	fill(p, npages, 48);
	ASSERT_EQ(check(p, npages, 48), -1);
	ASSERT_EQ(mnm_exclusive(self->fd, DRM_IOCTL_MNM_CHECK_EXCLUSIVE, p, npages, &left), 0);
	ASSERT_EQ(left, 0);
	munmap(p, npages * PS);
}

TEST_F(hmm, migrate_bad_inputs)
{
	char *p = map_anon(4 * PS, PROT_READ | PROT_WRITE);
	struct drm_mnm_migrate m = {
		.size = sizeof(m), .addr = (unsigned long)p, .npages = 4,
		.direction = 3,
	};
	struct drm_mnm_exclusive e = {
		.size = sizeof(e), .addr = (unsigned long)p + 1, .npages = 1,
	};

	NEED_MOCK("MIGRATE or EXCLUSIVE ioctl");
	ASSERT_EQ(mnm_ioctl(self->fd, DRM_IOCTL_MNM_MIGRATE, &m), -EINVAL);
	m.direction = MNM_MIGRATE_TO_DEVICE;
	m.pad = 1;
	ASSERT_EQ(mnm_ioctl(self->fd, DRM_IOCTL_MNM_MIGRATE, &m), -EINVAL);
	m.pad = 0;
	m.npages = 0;
	ASSERT_EQ(mnm_ioctl(self->fd, DRM_IOCTL_MNM_MIGRATE, &m), -EINVAL);
	ASSERT_EQ(mnm_ioctl(self->fd, DRM_IOCTL_MNM_EXCLUSIVE, &e), -EINVAL);
	if (!has_migrate(self->fd)) {
		m.npages = 4;
		ASSERT_EQ(mnm_ioctl(self->fd, DRM_IOCTL_MNM_MIGRATE, &m), -EOPNOTSUPP);
		e.addr = (unsigned long)p;
		ASSERT_EQ(mnm_ioctl(self->fd, DRM_IOCTL_MNM_EXCLUSIVE, &e), -EOPNOTSUPP);
	}
	munmap(p, 4 * PS);
}

/*
 * Unload the module while a process has pages in device memory: they must
 * come back to system memory with their data.  Needs MNM_MODULE (path of
 * mnmirror.ko) and MNM_MODULE_ARGS to reload it; runs last.
 */
TEST_F(hmm, migrate_mremap)
{
	unsigned long npages = 64;
	char *p = map_anon(npages * PS, PROT_READ | PROT_WRITE), *q;
	char *buf = malloc(npages * PS);
	unsigned char cpu[64];

	NEED_MIGRATE(self->fd);
	fill(p, npages, 51);
	ASSERT_EQ(to_dev(self->fd, p, npages, NULL), 0);
	q = mremap(p, npages * PS, 2 * npages * PS, MREMAP_MAYMOVE);
	ASSERT_NE(q, MAP_FAILED);
	/* The device pages moved with the mapping and are still ours. */
	ASSERT_EQ(mnm_snapshot(self->fd, q, npages, cpu, 0), 0);
	ASSERT_EQ(cpu[0] & 0x30, MNM_PROT_DEV_PRIVATE_LOCAL);
	ASSERT_EQ(mnm_read(self->fd, q, buf, npages), 0);
	ASSERT_EQ(check(buf, npages, 51), -1);
	ASSERT_EQ(check(q, npages, 51), -1);	/* and come back on CPU touch */
	munmap(q, 2 * npages * PS);
	free(buf);
}

static int gup(int fd, unsigned long req, void *addr, unsigned int flags)
{
	struct gup_test g = {
		.addr = (unsigned long)addr, .size = PS, .nr_pages_per_call = 1,
		.gup_flags = 0x1 /* FOLL_WRITE */ | flags,
	};

	return ioctl(fd, req, &g) ? -errno : 0;
}

/* get_user_pages() and pin_user_pages() on device pages bring them back. */
TEST_F(hmm, migrate_gup)
{
	unsigned long npages = 4, i;
	char *p = map_anon(npages * PS, PROT_READ | PROT_WRITE);
	unsigned char cpu[4];
	int gfd;

	NEED_MIGRATE(self->fd);
	gfd = open("/sys/kernel/debug/gup_test", O_RDWR);
	if (gfd < 0)
		SKIP(return, "no /sys/kernel/debug/gup_test (CONFIG_GUP_TEST)");
	fill(p, npages, 52);
	ASSERT_EQ(to_dev(self->fd, p, npages, NULL), 0);
	ASSERT_EQ(gup(gfd, GUP_BASIC_TEST, p, 0), 0);
	ASSERT_EQ(gup(gfd, GUP_FAST_BENCHMARK, p + PS, 0), 0);
	ASSERT_EQ(gup(gfd, PIN_FAST_BENCHMARK, p + 2 * PS, 0x100 /* FOLL_LONGTERM */), 0);
	ASSERT_EQ(gup(gfd, PIN_LONGTERM_BENCHMARK, p + 3 * PS, 0), 0);
	ASSERT_EQ(mnm_snapshot(self->fd, p, npages, cpu, 0), 0);
	for (i = 0; i < npages; i++)
		ASSERT_EQ(cpu[i], MNM_PROT_WRITE);
	ASSERT_EQ(check(p, npages, 52), -1);
	close(gfd);
	munmap(p, npages * PS);
}

FIXTURE(unload) {
	int unused;
};

FIXTURE_SETUP(unload)
{
}

FIXTURE_TEARDOWN(unload)
{
}

TEST_F(unload, module_unload_with_device_pages)
{
	const char *ko = getenv("MNM_MODULE"), *kargs = getenv("MNM_MODULE_ARGS");
	unsigned long npages = 1000;
	char *p = map_anon(npages * PS, PROT_READ | PROT_WRITE);
	char cmd[512];
	int fd = mnm_open_device(0);

	if (fd == -ENODEV)
		SKIP(return, "no mnmirror device");
	if (!ko)
		SKIP(return, "set MNM_MODULE to the mnmirror.ko to reload (scripts/guest-suite does)");
	if (!has_migrate(fd))
		SKIP(return, "no device memory: the kernel lacks DEVICE_PRIVATE");
	fill(p, npages, 49);
	ASSERT_EQ(to_dev(fd, p, npages, NULL), 0);
	close(fd);
	/* Device pages in use hold the module: unload is refused, not hung. */
	ASSERT_NE(system("rmmod mnmirror 2>/dev/null"), 0);
	ASSERT_EQ(debugfs_write(0, "evict", 1), 0);
	ASSERT_EQ(system("rmmod mnmirror"), 0);
	ASSERT_EQ(check(p, npages, 49), -1);
	snprintf(cmd, sizeof(cmd), "insmod %s %s", ko, kargs ? kargs : "");
	ASSERT_EQ(system(cmd), 0);
	munmap(p, npages * PS);
}
