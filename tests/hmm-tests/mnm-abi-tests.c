// SPDX-License-Identifier: GPL-2.0
/*
 * mnmirror selftests, included by mnm-tests.c: the ABI's rules (a device
 * file serves only its opener's mm, bad input gets a clear errno) and
 * RELEASE.
 */

TEST(fd_other_process)
{
	int fd = mnm_open_device(0), sv[2], status;
	char *p = map_anon(PS, PROT_READ | PROT_WRITE);
	char buf[4096];
	pid_t pid;

	if (fd == -ENODEV)
		SKIP(return, "no %s device", mnm_driver_name());
	ASSERT_GE(fd, 0);
	ASSERT_EQ(mnm_read(fd, p, buf, 1), 0);
	ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		struct drm_mnm_info info = { .size = sizeof(info) };
		char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
		struct iovec iov = { .iov_base = buf, .iov_len = 1 };
		struct msghdr msg = {
			.msg_iov = &iov, .msg_iovlen = 1,
			.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
		};
		int passed;

		/* The inherited fd: same memory at the same address, other mm. */
		if (mnm_read(fd, p, buf, 1) != -EPERM)
			_exit(1);
		if (mnm_write(fd, p, buf, 1) != -EPERM)
			_exit(2);
		if (mnm_snapshot(fd, p, 1, (unsigned char *)buf, 0) != -EPERM)
			_exit(3);
		if (mnm_driver_is_mock() && mnm_release(fd, p, 1) != -EPERM)
			_exit(4);
		if (mnm_ioctl(fd, DRM_IOCTL_MNM_GET_INFO, &info))
			_exit(5);
		/* The same file passed over a socket. */
		if (recvmsg(sv[1], &msg, 0) != 1)
			_exit(6);
		memcpy(&passed, CMSG_DATA(CMSG_FIRSTHDR(&msg)), sizeof(int));
		if (mnm_read(passed, p, buf, 1) != -EPERM)
			_exit(7);
		_exit(0);
	} else {
		char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
		struct iovec iov = { .iov_base = "f", .iov_len = 1 };
		struct msghdr msg = {
			.msg_iov = &iov, .msg_iovlen = 1,
			.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
		};
		struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);

		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
		ASSERT_EQ(sendmsg(sv[0], &msg, 0), 1);
	}
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(WEXITSTATUS(status), 0);
	/* Still fine for its own process. */
	ASSERT_EQ(mnm_read(fd, p, buf, 1), 0);
	close(fd);
}

struct bad_case {
	const char *name;
	unsigned long addr;	/* 0: use the valid buffer */
	unsigned long npages;
	unsigned long ptr;	/* 1: use the valid buffer */
	unsigned int size_delta;
	unsigned int flags;
	unsigned long reserved;
	int err;
};

TEST_F(hmm, bad_inputs)
{
	char *p = map_anon(4 * PS, PROT_READ | PROT_WRITE);
	char *buf = malloc(4 * PS);
	char *hole = map_anon(PS, PROT_READ);
	const struct bad_case cases[] = {
		{ "valid", 0, 4, 1, 0, 0, 0, 0 },
		{ "unaligned address", 1, 1, 1, 0, 0, 0, -EINVAL },
		{ "zero pages", 0, 0, 1, 0, 0, 0, -EINVAL },
		{ "too many pages", 0, MNM_MAX_PAGES + 1, 1, 0, 0, 0, -EINVAL },
		{ "huge page count", 0, ~0UL, 1, 0, 0, 0, -EINVAL },
		{ "address overflow", -PS, 2, 1, 0, 0, 0, -EINVAL },
		{ "kernel address", 0xffff888000000000UL, 1, 1, 0, 0, 0, -EINVAL },
		{ "NULL buffer", 0, 1, 0, 0, 0, 0, -EFAULT },
		{ "kernel buffer", 0, 1, 0xffff888000000000UL, 0, 0, 0, -EFAULT },
		{ "nonzero flags", 0, 1, 1, 0, 1, 0, -EINVAL },
		{ "nonzero reserved", 0, 1, 1, 0, 0, 1, -EINVAL },
		{ "struct too small", 0, 1, 1, 8, 0, 0, -EINVAL },
		{ "unmapped address", 2, 1, 1, 0, 0, 0, -EFAULT },
	};
	unsigned int i, w;

	ASSERT_NE(p, NULL);
	ASSERT_NE(hole, NULL);
	munmap(hole, PS);
	for (w = 0; w < 2; w++) {
		for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			const struct bad_case *c = &cases[i];
			struct drm_mnm_rw rw = {
				.size = sizeof(rw) - c->size_delta,
				.flags = c->flags,
				.addr = c->addr == 0 ? (unsigned long)p :
					c->addr == 1 ? (unsigned long)p + 1 :
					c->addr == 2 ? (unsigned long)hole : c->addr,
				.ptr = c->ptr == 1 ? (unsigned long)buf : c->ptr,
				.npages = c->npages,
			};
			int ret;

			rw.reserved[1] = c->reserved;
			ret = mnm_ioctl(self->fd, w ? DRM_IOCTL_MNM_WRITE :
					DRM_IOCTL_MNM_READ, &rw);
			if (ret != c->err)
				TH_LOG("%s %s: got %d, want %d", w ? "write" : "read",
				       c->name, ret, c->err);
			ASSERT_EQ(ret, c->err);
		}
	}
	{
		struct drm_mnm_snapshot s = {
			.size = sizeof(s), .flags = 2, .addr = (unsigned long)p,
			.ptr = (unsigned long)buf, .npages = 1,
		};
		struct drm_mnm_release r = {
			.size = sizeof(r), .addr = (unsigned long)p + 1, .npages = 1,
		};
		struct drm_mnm_info info = { .size = sizeof(info), .reserved = { 1 } };
		struct drm_mnm_stats st = { .size = 4 };

		ASSERT_EQ(mnm_ioctl(self->fd, DRM_IOCTL_MNM_SNAPSHOT, &s), -EINVAL);
		s.flags = 0;
		s.ptr = 0;
		ASSERT_EQ(mnm_ioctl(self->fd, DRM_IOCTL_MNM_SNAPSHOT, &s), -EFAULT);
		ASSERT_EQ(mnm_ioctl(self->fd, DRM_IOCTL_MNM_GET_INFO, &info), -EINVAL);
		/* Elsewhere -EINVAL proves nothing: DRM's for unknown ioctls. */
		if (mnm_driver_is_mock()) {
			ASSERT_EQ(mnm_ioctl(self->fd, DRM_IOCTL_MNM_RELEASE, &r), -EINVAL);
			r.addr = (unsigned long)p;
			r.npages = 0;
			ASSERT_EQ(mnm_ioctl(self->fd, DRM_IOCTL_MNM_RELEASE, &r), -EINVAL);
			ASSERT_EQ(mnm_ioctl(self->fd, DRM_IOCTL_MNM_STATS, &st), -EINVAL);
		}
	}
	munmap(p, 4 * PS);
	free(buf);
}

TEST_F(hmm, release_range)
{
	unsigned long npages = 1024, i;
	char *p = map_anon(npages * PS, PROT_READ | PROT_WRITE);
	char *buf = malloc(npages * PS);
	unsigned char *dev = malloc(npages);
	struct drm_mnm_stats st;
	struct drm_mnm_rw rw;

	NEED_MOCK("RELEASE or STATS");
	ASSERT_NE(p, NULL);
	fill(p, npages, 20);
	ASSERT_EQ(mnm_read(self->fd, p, buf, npages), 0);
	ASSERT_EQ(mnm_release(self->fd, p, npages), 0);
	ASSERT_EQ(mnm_snapshot(self->fd, p, npages, dev, MNM_SNAPSHOT_DEVICE), 0);
	for (i = 0; i < npages; i++)
		ASSERT_EQ(dev[i], MNM_PROT_NONE);
	ASSERT_EQ(mnm_stats(self->fd, &st), 0);
	ASSERT_EQ(st.file.mapped_pages, 0);
	/* The device faults again and still sees current data. */
	fill(p, npages, 21);
	ASSERT_EQ(mnm_rw(self->fd, 0, p, buf, npages, &rw), 0);
	ASSERT_GE(rw.faults, 1);
	ASSERT_EQ(check(buf, npages, 21), -1);
	munmap(p, npages * PS);
	free(buf);
	free(dev);
}
