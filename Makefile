# mnmirror top-level Makefile.  Kernel modules are built out of tree against
# an explicit kernel build (never `uname -r`): by default the project's own
# "debug" guest kernel, built from linux-source-6.12 and cached in $(MNM_CACHE).
#
#   make            modules for the debug kernel + userspace + tests
#   make check      everything in QEMU guests, plus static checks
#   make demo       boot a guest and run the mnmctl walk-through
#   make FLAVOUR=stock modules     (or perf; or KDIR=/path/to/kernel/build)

MNM_CACHE ?= /var/cache/mnmirror
export MNM_CACHE
FLAVOUR ?= debug
KSRC := $(MNM_CACHE)/src/linux-source-6.12
KDIR ?=
export KDIR

CC ?= gcc
CFLAGS ?= -O2 -g
WARN := -Wall -Wextra -Werror -Wno-unused-parameter
DRM_CFLAGS := $(shell pkg-config --cflags libdrm 2>/dev/null || echo -I/usr/include/libdrm)
B := build

TESTS := $(B)/tests/mnm-tests
UPSTREAM := $(B)/upstream/hmm-tests
TOOLS := $(B)/bin/mnmctl

.PHONY: all modules kernel userspace tests upstream check demo clean deps
all: modules userspace tests

deps:
	scripts/deps

kernel:
	scripts/kernel $(FLAVOUR)

modules:
	scripts/build-modules $(FLAVOUR) $(KBUILD_ARGS)

userspace: $(TOOLS)

tests: $(TESTS)

$(KSRC)/Makefile:
	scripts/kernel debug

$(B)/tests/mnm-tests: tests/hmm-tests/mnm-tests.c tests/hmm-tests/mnm-migrate-tests.c tests/hmm-tests/mnm_util.h include/uapi/mnmirror.h | $(KSRC)/Makefile
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(WARN) -Wno-sign-compare -Wno-clobbered -Iinclude/uapi $(DRM_CFLAGS) \
		-I$(KSRC)/tools/testing/selftests -I$(KSRC) -o $@ $< -lpthread

# Upstream's selftest, built unmodified from the installed kernel source.
upstream: $(UPSTREAM)
$(UPSTREAM): | $(KSRC)/Makefile
	@mkdir -p $(dir $@)
	$(CC) -O2 -static -I$(MNM_CACHE)/build-debug/usr-headers/include -I$(KSRC) \
		-I$(KSRC)/tools/testing/selftests -I$(KSRC)/tools/include \
		-o $@ $(KSRC)/tools/testing/selftests/mm/hmm-tests.c -lpthread

$(B)/bin/mnmctl: userspace/mnmctl/mnmctl.c include/uapi/mnmirror.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(WARN) -Iinclude/uapi $(DRM_CFLAGS) -o $@ $<

check:
	scripts/check

demo:
	scripts/deps
	scripts/build-modules debug
	$(MAKE) userspace
	scripts/vm --kernel debug -- $(B)/bin/mnmctl demo

clean:
	rm -rf $(B)
