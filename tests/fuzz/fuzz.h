/* SPDX-License-Identifier: GPL-2.0 */
/*
 * mnm-fuzz: a seeded differential checker of the mnmirror mock GPU.
 *
 * One promise is under test: a device never reads or writes memory that the
 * CPU no longer maps at that address.  The checker keeps a model of every
 * page of a fixed window of its address space (what is mapped there, with
 * which protection and backing, and which values the page may hold) and
 * checks every device result against it.
 *
 * Files: mnm-fuzz.c (command line, runs, results, the watchdog), shrink.c
 * (replay in fresh processes, shrinking, op files), model.c (page model,
 * values, reporting, the oracle's checks), cpuops.c (CPU-side operations),
 * devops.c (device operations on both ABIs), gen.c (operation generation,
 * text form, execution), conc.c (fork and the concurrent phase), inject.c
 * (the kernel's fault injection around device ioctls, --inject).
 */
#ifndef MNM_FUZZ_H
#define MNM_FUZZ_H

#define _GNU_SOURCE
#include <pthread.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

/* ---- sizes --------------------------------------------------------- */

#define WIN_BYTES	(32UL << 20)	/* the modelled window */
#define HUGE_BYTES	(2UL << 20)
#define MAX_FDS		5		/* device file slots */
#define NFILES		2		/* memfd objects */
#define FILE_BYTES	(4UL << 20)
#define MAX_OBJS	48		/* files + shared anonymous objects */
#define VSET_MAX	8		/* values a page may hold */
#define MAX_CHILDREN	4
#define MAX_RANGE	64		/* usual device/CPU op length */

/* ---- operations ---------------------------------------------------- */

enum op_type {
	OP_MMAP, OP_MUNMAP, OP_MREMAP, OP_MPROTECT, OP_MADVISE,
	OP_CPU_WRITE, OP_CPU_READ,
	OP_DEV_READ, OP_DEV_WRITE, OP_MIGRATE, OP_EXCL, OP_CHECK_EXCL,
	OP_SNAP, OP_RELEASE, OP_PREFETCH, OP_REOPEN, OP_PROBE,
	OP_CHECK, OP_FORK, OP_WAIT, OP_CONC,
	OP_NTYPES
};

enum kind { K_ANON_PRIV, K_ANON_SHARED, K_FILE_SHARED, K_FILE_PRIV, K_NKINDS };
enum prot { P_NONE, P_R, P_RW };
enum adv { A_DONTNEED, A_FREE, A_COLLAPSE };
enum remap { R_MOVE, R_DONTUNMAP, R_GROW };

/* op.b bits of OP_MMAP */
#define MM_FIXED	1
#define MM_HUGE		2

struct op {
	uint8_t type;
	uint8_t fd;		/* device slot, or file index for OP_MMAP */
	uint8_t a;		/* kind / prot / advice / direction / mode / child */
	uint8_t b;		/* OP_MMAP: prot | MM_* << 4; OP_SNAP: device view */
	uint32_t p, n;		/* window page index, page count */
	uint32_t q, nn;		/* OP_MREMAP destination; OP_MMAP file offset in q */
	uint64_t x;		/* tag counter base, or a seed */
};

/* ---- failure classes ----------------------------------------------- */

enum fclass {
	F_STALE_READ, F_READ_UNMAPPED_OK, F_WRITE_RO_OK, F_LOST_WRITE,
	F_UNEXPECTED_ERRNO, F_SNAP_STALE, F_CROSS_PROCESS, F_MIGRATE_CHANGED,
	F_MODEL_ERROR, F_KILLED, F_NCLASSES
};
#define F_CRASH_BIT	(1u << 30)	/* a replay died of a signal */

/* ---- the model ------------------------------------------------------ */

struct vset {
	uint8_t n;
	uint64_t v[VSET_MAX];
};

/* mpage.flags */
#define PF_REAL		0x01	/* a real (not zero/none) anonymous page is there */
#define PF_MIG		0x02	/* migrated or made exclusive since last verified */
#define PF_DEVW		0x04	/* device-written since last verified */
#define PF_LAZY		0x08	/* MADV_FREE'd: the old value or zero */

struct mpage {
	uint8_t mapped, prot, kind;
	uint8_t cowed;		/* K_FILE_PRIV: 0 file page, 1 private copy, 2 either */
	uint8_t excl;		/* fd slots that may hold an exclusive grant */
	uint8_t flags;
	uint16_t obj;		/* object (file or shared anonymous) */
	uint32_t off;		/* page offset in the object */
	struct vset priv;	/* private content (anon, file copy; cowed 2: the copy) */
};

struct obj {
	int used, is_file, fd;
	uint32_t npages;
	struct vset *pages;
};

enum abi { ABI_NATIVE, ABI_COMPAT };

struct fdslot {
	int fd;			/* -1 when absent */
	int abi, dev;
	const char *name;
};

struct child {
	pid_t pid;
	int no;
};

struct shared;

#define INJ_NATTRS	4	/* failslab, fail_page_alloc, the layer's, the mock's */
#define INJ_NERR	10	/* ok ENOMEM EAGAIN EBUSY EFAULT EPERM EINVAL ENOENT ENODEV other */

/* One process under test (a run, a replay or a forked child). */
struct proc {
	uint64_t seed;
	int procid;		/* tag owner, 1..254 */
	int parent_procid;	/* a forked child: its parent's id */
	uint64_t parent_ctr;	/* ... and the parent's tag counter at fork */
	int is_child, replaying, verbose;
	int allow_crash, no_concurrent, nthreads, cpu_only;
	unsigned long win;	/* window base address */
	unsigned long npages;	/* window pages */
	struct mpage *pg;
	struct obj objs[MAX_OBJS];
	struct fdslot fds[MAX_FDS];
	int have_migrate, have_excl;
	uint64_t tagctr;
	long opi;		/* index of the op being executed */
	const struct op *cur;	/* the op being executed */
	char curtext[200];
	unsigned int fail_mask;
	long nfail, first_fail_op;
	unsigned int first_fail_class;
	int max_reports;
	struct child children[MAX_CHILDREN];
	unsigned int *child_mask;	/* shared page: children's failures */
	long budget_extra;	/* ops run inside fork/conc ops */
	int conc_active;	/* checks from threads: no model pinning */
	pthread_mutex_t report_lock;
};

struct shared {
	atomic_long ops_total;
	atomic_long opcount[OP_NTYPES][2];
	atomic_long optime_us[OP_NTYPES];
	atomic_long outcome[OP_NTYPES][8];	/* ok EFAULT EPERM EBUSY ENOENT EINVAL ENOMEM other */
	atomic_long failcount[F_NCLASSES];
	atomic_long seeds_failed;
	atomic_int compat_missing_said;
	atomic_long heartbeat;	/* ops executed anywhere, replays included */
	atomic_long torn_pages;	/* concurrent READs torn between allowed values */
	atomic_long inj_attr[INJ_NATTRS];	/* failures injected, by attribute */
	atomic_long inj_outcome[OP_NTYPES][INJ_NERR];	/* what calls that met one returned */
	atomic_long inj_pages_verified;	/* pages read back after such calls */
};

extern struct proc *P;
extern struct shared *SH;
extern unsigned long PS;	/* page size */
extern unsigned long HP;	/* pages per 2 MiB */
extern const char *class_names[F_NCLASSES];
extern const char *op_names[OP_NTYPES];
extern const char *kind_names[K_NKINDS];
extern const char *prot_names[3];
extern char compat_prefix[64];

/* ---- prng (splitmix64 seeding an xorshift64*) ------------------------ */

struct rng {
	uint64_t s;
};

static inline uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9E3779B97F4A7C15ULL);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

static inline void rng_seed(struct rng *r, uint64_t seed)
{
	uint64_t x = seed;

	r->s = splitmix64(&x) | 1;
}

static inline uint64_t rnd(struct rng *r)
{
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return r->s * 0x2545F4914F6CDD1DULL;
}

static inline uint32_t rn(struct rng *r, uint32_t n)	/* 0 .. n-1 */
{
	return n ? (uint32_t)((rnd(r) >> 11) % n) : 0;
}

static inline bool chance(struct rng *r, unsigned int pct)
{
	return rn(r, 100) < pct;
}

/* ---- tags: proc(8) dev(1) fd(3) page(16) counter(36) ------------------ */

#define TAG_POISON_PROC	0xff
#define TAG_CTR_MASK	((1ULL << 36) - 1)

static inline uint64_t mktag(int proc, int dev, int fd, uint32_t page,
			     uint64_t ctr)
{
	return (uint64_t)proc << 56 | (uint64_t)(dev & 1) << 55 |
	       (uint64_t)(fd & 7) << 52 | (uint64_t)(page & 0xffff) << 36 |
	       (ctr & TAG_CTR_MASK);
}

static inline int tag_proc(uint64_t t) { return t >> 56; }
static inline int tag_dev(uint64_t t) { return (t >> 55) & 1; }
static inline int tag_fd(uint64_t t) { return (t >> 52) & 7; }
static inline uint32_t tag_page(uint64_t t) { return (t >> 36) & 0xffff; }
static inline uint64_t tag_ctr(uint64_t t) { return t & TAG_CTR_MASK; }

/* ---- model.c --------------------------------------------------------- */

uint64_t fill_word(uint64_t tag, unsigned long i);
void fill_page(void *dst, uint64_t tag);
int decode_page(const void *src, uint64_t *tag);	/* 0 ok, -1 torn */
void poison_buf(void *buf, unsigned long npages);
bool is_poison(const void *page);
char *tagstr(uint64_t t, char *buf, size_t len);

static inline unsigned long pg_addr(unsigned long i)
{
	return P->win + i * PS;
}

void vset_one(struct vset *s, uint64_t v);
void vset_add(struct vset *s, uint64_t v);
bool vset_has(const struct vset *s, uint64_t v);
char *vset_str(const struct vset *s, char *buf, size_t len);

int model_init(struct proc *p);
void model_free_objs(struct proc *p);
int obj_new_anon(uint32_t npages);
void objs_gc(void);
struct vset *content_of(unsigned long i);
void allowed_of(unsigned long i, struct vset *out);
void pin_page(unsigned long i, uint64_t got);
bool readable(unsigned long i);
bool writable(unsigned long i);
void set_written(unsigned long i, uint64_t tag, int by_device);
void reset_page(unsigned long i, int kind, int prot, int obj, uint32_t off);

void report(int cls, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void classify_mismatch(unsigned long i, uint64_t got, int torn, int from_device,
		       int fdslot, const char *what);
int cpu_read_page(unsigned long i, uint64_t *got);	/* -1 on SIGSEGV */
int cpu_check_page(unsigned long i, const char *what);
void cpu_check_range(unsigned long p, unsigned long n, const char *what);
int cpu_write_page(unsigned long i, uint64_t tag);
void check_dev_snapshot(int slot, unsigned long p, unsigned long n, int strict_none,
			const char *why);
void check_dev_snapshots(unsigned long p, unsigned long n, int strict_none,
			 const char *why);
void check_cpu_snapshot(int slot, unsigned long p, unsigned long n);
void full_check(void);
void after_fork_check(void);

/* CPU mapping ops (model.c) */
void do_mmap(const struct op *o);
void do_munmap(const struct op *o);
void do_mremap(const struct op *o);
void do_mprotect(const struct op *o);
void do_madvise(const struct op *o);
void do_cpu_write(const struct op *o);
void do_cpu_read(const struct op *o);
int sys_munmap_pages(unsigned long p, unsigned long n);

/* ---- devops.c -------------------------------------------------------- */

int fds_open(struct proc *p);
void fds_close(struct proc *p);
int fd_open_slot(struct proc *p, int slot);
void do_dev_read(const struct op *o);
void do_dev_write(const struct op *o);
void do_migrate(const struct op *o);
void do_excl(const struct op *o);
void do_check_excl(const struct op *o);
void do_snap(const struct op *o);
void do_release(const struct op *o);
void do_prefetch(const struct op *o);
void do_reopen(const struct op *o);
void do_probe(const struct op *o);
void dev_verify_range(int slot, unsigned long p, unsigned long n);
void dev_verify_runs(int slot, unsigned long p, unsigned long n);
bool migrate_to_sys_safe(unsigned long p, unsigned long n);
int dev_rw_raw(int slot, int write, unsigned long addr, void *buf,
	       unsigned long n, unsigned long *cpages);
int dev_migrate_raw(int slot, unsigned long addr, unsigned long n, int to_dev,
		    void *buf, unsigned long *cpages);
int dev_excl_raw(int slot, unsigned long addr, unsigned long n, void *buf);
int dev_snap_raw(int slot, unsigned long addr, unsigned long n, uint8_t *out,
		 int device_view);
int dev_release_raw(int slot, unsigned long addr, unsigned long n);

/* ---- gen.c ----------------------------------------------------------- */

void gen_op(struct rng *r, struct op *o, int allow_fork_conc);
int op_format(const struct op *o, char *buf, size_t len);
int op_parse(const char *line, struct op *o);
void exec_op(const struct op *o);
void do_fork(const struct op *o);
void do_wait(const struct op *o);
void wait_all_children(void);
void do_conc(const struct op *o);

/* ---- inject.c -------------------------------------------------------- */

extern const char *inj_attr_names[INJ_NATTRS];
int inject_setup(int pct);
void inject_teardown(void);
void inject_begin(void);
long inject_end(int type, int ret);
bool inject_errno_ok(int ret);
void inject_verify(int slot, unsigned long p, unsigned long n);
void inject_print_stats(void);

/* ---- shrink.c --------------------------------------------------------- */

void shrink(const struct op *log, long nlog, uint64_t seed, int procid,
	    unsigned int cls);
void oplog_path(char *buf, size_t len, pid_t main_pid, uint64_t seed);
int load_replay(const char *path, struct op **ops, long *n, uint64_t *seed, int *procid);

/* ---- mnm-fuzz.c ------------------------------------------------------ */

struct options {
	uint64_t seed;
	long ops, seeds, procs, threads, check_every, shrink_time, stall_time;
	int verbose, no_concurrent, allow_crash, seed_given, cpu_only;
	int inject;		/* --inject: failure probability (%), 0 off */
	const char *replay;
};
extern struct options opt;

double now(void);
int procid_of(uint64_t seed);
void count_op(const struct op *o);
void count_outcome(int type, int ret);
int proc_setup(struct proc *p, uint64_t seed, int procid);
void proc_teardown(struct proc *p);

#endif /* MNM_FUZZ_H */
