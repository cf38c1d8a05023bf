# mnmirror top-level Makefile.  Kernel modules are built out of tree against
# an explicit kernel build (never `uname -r`): by default the project's own
# "debug" guest kernel, built from linux-source-6.12 and cached in $(MNM_CACHE).
#
#   make            modules for the debug kernel + userspace + tests
#   make check      everything in QEMU guests, plus static checks
#   make demo       boot a guest and run the mnmctl walk-through
#   make fuzz       the differential checker in a guest (SEED=1 OPS=100000)
#   make FLAVOUR=stock modules     (or perf; or KDIR=/path/to/kernel/build)

MNM_CACHE ?= /var/cache/mnmirror
export MNM_CACHE
FLAVOUR ?= debug
KSRC := $(MNM_CACHE)/src/linux-source-6.12
KDIR ?=
export KDIR

CC ?= gcc
CFLAGS ?= -O2 -g
CPPFLAGS ?=
LDFLAGS ?=
# Warnings are errors for the project's own checks (make check passes
# WERROR=-Werror); a packager's or user's build only warns.
WERROR ?=
WARN := -Wall -Wextra $(WERROR) -Wno-unused-parameter
DRM_CFLAGS := $(shell pkg-config --cflags libdrm 2>/dev/null || echo -I/usr/include/libdrm)
B := build

# GNU installation directories (a packager sets libdir for multiarch).
PREFIX ?= /usr/local
prefix ?= $(PREFIX)
exec_prefix ?= $(prefix)
bindir ?= $(exec_prefix)/bin
libdir ?= $(exec_prefix)/lib
includedir ?= $(prefix)/include
datarootdir ?= $(prefix)/share
mandir ?= $(datarootdir)/man
DESTDIR ?=
LIBSRC := userspace/libmnmirror
LIBOBJ_DEPS := $(LIBSRC)/libmnmirror.c $(LIBSRC)/mnmirror.h include/uapi/drm/mnmirror_drm.h
# The library's version has one source: the MNM_LIB_VERSION_* macros of its
# header (what mnm_version() returns at run time).
lib_version = $(shell sed -n 's/^\#define MNM_LIB_VERSION_$(1)[[:space:]]*\([0-9]*\).*/\1/p' $(LIBSRC)/mnmirror.h)
LIB_MAJOR := $(call lib_version,MAJOR)
LIB_VERSION := $(LIB_MAJOR).$(call lib_version,MINOR).$(call lib_version,PATCH)
SONAME := libmnmirror.so.$(LIB_MAJOR)
SOLIB := $(B)/lib/libmnmirror.so.$(LIB_VERSION)
STLIB := $(B)/lib/libmnmirror.a
LIBS := $(SOLIB) $(STLIB) $(B)/lib/libmnmirror.pc
# The kselftest programs of tests/hmm-tests (built by its own Makefile).
HMM_TESTS := $(addprefix $(B)/tests/,mnm-tests mnm-stale-tests mnm-api-tests \
	mnm-runtime-tests mnm-pressure-tests mnm-trace-tests)
TESTS := $(HMM_TESTS) $(B)/tests/lib-integration $(B)/tests/lib-unit $(B)/tests/mnm-fuzz
UPSTREAM := $(B)/upstream/hmm-tests
MAN1 := $(wildcard userspace/man/man1/*.1)
MAN3 := $(wildcard userspace/man/man3/*.3)
TOOLS := $(B)/bin/mnmctl $(B)/examples/mirror-read $(B)/examples/migrate \
	$(B)/examples/prefetch
# The Vulkan example needs the Vulkan headers and glslang (scripts/deps
# installs both); without them it is not built, and the guests say so.
VULKAN_LIBS := $(shell pkg-config --libs vulkan 2>/dev/null)
ifneq ($(VULKAN_LIBS),)
ifneq ($(shell command -v glslangValidator),)
TOOLS += $(B)/examples/vk-shared
endif
endif

.PHONY: all modules kernel userspace tests upstream check demo clean deps install uninstall bench fuzz \
	trace-demo dkms-src
all: modules userspace tests

deps:
	scripts/deps

kernel:
	scripts/kernel $(FLAVOUR)

modules:
	scripts/build-modules $(FLAVOUR) $(KBUILD_ARGS)

userspace: $(LIBS) $(TOOLS)

# libmnmirror: shared (soname libmnmirror.so.$(LIB_MAJOR), only the public API exported)
# and static.
$(B)/lib/libmnmirror.pic.o: $(LIBOBJ_DEPS)
	@mkdir -p $(dir $@)
	$(CC) -Iinclude/uapi $(CPPFLAGS) $(CFLAGS) $(WARN) -fPIC -fvisibility=hidden $(DRM_CFLAGS) -c -o $@ $<
$(B)/lib/libmnmirror.o: $(LIBOBJ_DEPS)
	@mkdir -p $(dir $@)
	$(CC) -Iinclude/uapi $(CPPFLAGS) $(CFLAGS) $(WARN) -fvisibility=hidden $(DRM_CFLAGS) -c -o $@ $<
$(SOLIB): $(B)/lib/libmnmirror.pic.o $(LIBSRC)/libmnmirror.map
	$(CC) $(LDFLAGS) -shared -Wl,-soname,$(SONAME) \
		-Wl,--version-script=$(LIBSRC)/libmnmirror.map -o $@ $< -ldrm
	ln -sf libmnmirror.so.$(LIB_VERSION) $(B)/lib/$(SONAME)
	ln -sf $(SONAME) $(B)/lib/libmnmirror.so
$(STLIB): $(B)/lib/libmnmirror.o
	rm -f $@ && ar rcs $@ $<
PC_SUBST = sed -e 's|@PREFIX@|$(prefix)|' -e 's|@LIBDIR@|$(libdir)|' \
	-e 's|@INCLUDEDIR@|$(includedir)|' -e 's|@VERSION@|$(LIB_VERSION)|'
$(B)/lib/libmnmirror.pc: $(LIBSRC)/libmnmirror.pc.in $(LIBSRC)/mnmirror.h
	@mkdir -p $(dir $@)
	$(PC_SUBST) $< >$@

# Programs link the static library (they also run in guests, from the tree).
LIBUSE := -I$(LIBSRC) -Iinclude/uapi $(CPPFLAGS) $(DRM_CFLAGS) $(LDFLAGS) $(STLIB) -ldrm
# The Vulkan example: its compute shader compiled to SPIR-V at build time
# (glslang), as a C array.
$(B)/examples/vk_shared_spv.h: userspace/examples/shaders/vk-shared.comp
	@mkdir -p $(dir $@)
	glslangValidator -V --quiet --vn vk_shared_spv -o $@ $<
$(B)/examples/vk-shared: userspace/examples/vk-shared.c $(B)/examples/vk_shared_spv.h $(STLIB) $(LIBSRC)/mnmirror.h
	$(CC) $(CFLAGS) $(WARN) -I$(B)/examples $(shell pkg-config --cflags vulkan) \
		-o $@ $< $(LIBUSE) $(VULKAN_LIBS)
$(B)/examples/%: userspace/examples/%.c $(STLIB) $(LIBSRC)/mnmirror.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(WARN) -o $@ $< $(LIBUSE)
$(B)/tests/lib-unit: tests/lib/lib-unit.c $(STLIB) $(LIBSRC)/mnmirror.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(WARN) -o $@ $< $(LIBUSE)
$(B)/tests/lib-integration: tests/lib/lib-integration.c $(STLIB) $(LIBSRC)/mnmirror.h | $(KSRC)/Makefile
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(WARN) -Wno-sign-compare -Wno-clobbered \
		-I$(KSRC)/tools/testing/selftests -o $@ $< $(LIBUSE) -lpthread

install: $(LIBS) $(B)/bin/mnmctl
	install -d $(DESTDIR)$(libdir)/pkgconfig $(DESTDIR)$(includedir)/drm \
		$(DESTDIR)$(bindir) $(DESTDIR)$(mandir)/man1 $(DESTDIR)$(mandir)/man3
	install -m 0755 $(SOLIB) $(DESTDIR)$(libdir)/
	ln -sf libmnmirror.so.$(LIB_VERSION) $(DESTDIR)$(libdir)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(libdir)/libmnmirror.so
	install -m 0644 $(STLIB) $(DESTDIR)$(libdir)/
	$(PC_SUBST) $(LIBSRC)/libmnmirror.pc.in >$(DESTDIR)$(libdir)/pkgconfig/libmnmirror.pc
	install -m 0644 $(LIBSRC)/mnmirror.h $(DESTDIR)$(includedir)/
	install -m 0644 include/uapi/drm/mnmirror_drm.h $(DESTDIR)$(includedir)/drm/
	install -m 0755 $(B)/bin/mnmctl $(DESTDIR)$(bindir)/
	install -m 0644 $(MAN1) $(DESTDIR)$(mandir)/man1/
	install -m 0644 $(MAN3) $(DESTDIR)$(mandir)/man3/

uninstall:
	rm -f $(DESTDIR)$(libdir)/libmnmirror.so.$(LIB_VERSION) \
		$(DESTDIR)$(libdir)/$(SONAME) $(DESTDIR)$(libdir)/libmnmirror.so \
		$(DESTDIR)$(libdir)/libmnmirror.a \
		$(DESTDIR)$(libdir)/pkgconfig/libmnmirror.pc \
		$(DESTDIR)$(includedir)/mnmirror.h \
		$(DESTDIR)$(includedir)/drm/mnmirror_drm.h $(DESTDIR)$(bindir)/mnmctl \
		$(addprefix $(DESTDIR)$(mandir)/man1/,$(notdir $(MAN1))) \
		$(addprefix $(DESTDIR)$(mandir)/man3/,$(notdir $(MAN3)))

tests: $(TESTS)

$(KSRC)/Makefile:
	scripts/kernel debug

# tests/hmm-tests/Makefile builds its programs with the kernel's selftests
# framework (lib.mk of $(KSRC)), here into $(B)/tests.  CC goes along so
# that lib.mk's default (gcc) does not replace a CC from the environment.
.PHONY: hmm-tests
hmm-tests: | $(KSRC)/Makefile
	$(MAKE) -C tests/hmm-tests OUTPUT=$(abspath $(B)/tests) KSRC=$(KSRC) \
		WERROR="$(WERROR)" CC="$(CC)"
$(HMM_TESTS): hmm-tests ;

# The differential checker (tests/fuzz): a seeded model of the address space
# checked against every device result; replays and shrinks what fails.
FUZZ_SRC := $(wildcard tests/fuzz/*.c)
$(B)/tests/mnm-fuzz: $(FUZZ_SRC) tests/fuzz/fuzz.h tests/hmm-tests/mnm_util.h include/uapi/drm/mnmirror_drm.h | $(KSRC)/Makefile
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(WARN) -Wno-sign-compare -Iinclude/uapi $(DRM_CFLAGS) -I$(KSRC) \
		-Itests/hmm-tests -o $@ $(FUZZ_SRC) -lpthread

# Upstream's selftest, built unmodified from the installed kernel source.
upstream: $(UPSTREAM)
$(UPSTREAM): | $(KSRC)/Makefile
	@mkdir -p $(dir $@)
	$(CC) -O2 -static -I$(MNM_CACHE)/build-debug/usr-headers/include -I$(KSRC) \
		-I$(KSRC)/tools/testing/selftests -I$(KSRC)/tools/include \
		-o $@ $(KSRC)/tools/testing/selftests/mm/hmm-tests.c -lpthread

$(B)/bin/mnmctl: userspace/mnmctl/mnmctl.c $(STLIB) $(LIBSRC)/mnmirror.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(WARN) -o $@ $< $(LIBUSE)

check:
	scripts/check

# Benchmarks: the perf kernel (no debug options), test_hmm.ko beside mnmirror.
BENCH_ROUNDS ?= 11
$(B)/bench/mnm-bench: bench/mnm-bench.c $(STLIB) $(LIBSRC)/mnmirror.h | $(KSRC)/Makefile
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(WARN) -I$(KSRC) -o $@ $< $(LIBUSE) -lpthread

bench:
	scripts/deps
	dpkg -s gnuplot-nox >/dev/null 2>&1 || apt-get install -y -q gnuplot-nox
	scripts/kernel perf >/dev/null
	scripts/build-modules perf
	$(MAKE) $(B)/bench/mnm-bench
	MNM_QEMU_VERSION="$$(qemu-system-x86_64 --version | head -n1)" \
		scripts/vm --kernel perf --mem 4G --no-load --timeout 3600 -- \
		scripts/guest-bench $(BENCH_ROUNDS) | tee $(B)/bench/results.txt
	scripts/bench-report $(B)/bench/results.txt docs

demo:
	scripts/deps
	scripts/build-modules debug
	$(MAKE) userspace
	scripts/vm --kernel debug -- $(B)/bin/mnmctl demo

# The demo again, with the layer's and the mock's trace events printed.
trace-demo:
	scripts/deps
	scripts/build-modules debug
	$(MAKE) userspace
	scripts/vm --kernel debug -- scripts/trace-run $(B)/bin/mnmctl demo

# The kernel-side sources as DKMS takes them (dkms add build/dkms/mnmirror-VERSION).
dkms-src:
	scripts/dkms-src $(B)/dkms

# make fuzz [SEED=1] [OPS=100000] [FUZZ_KERNEL=debug] [FUZZ_ARGS=...]
SEED ?= 1
OPS ?= 100000
FUZZ_KERNEL ?= debug
fuzz:
	scripts/deps
	scripts/build-modules $(FUZZ_KERNEL)
	$(MAKE) $(B)/tests/mnm-fuzz
	scripts/vm --kernel $(FUZZ_KERNEL) --param mnmirror.compat=1 --timeout 7200 -- \
		$(B)/tests/mnm-fuzz --seed $(SEED) --ops $(OPS) $(FUZZ_ARGS)

clean:
	rm -rf $(B)
