// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests of the mock GPU's device page table, built as mnm_pt_test.ko
 * on kernels with KUnit.  It includes mnm_pt.c itself: no device, no mm, the
 * table alone.
 *
 * Locking: each test owns its table; no concurrency.
 */
#include <kunit/test.h>
#include <linux/mm.h>

#include "mnm_pt.c"

#define BASE	0x7f0000000000UL	/* 1 GiB aligned */

static u64 pte(unsigned long pfn, bool write)
{
	return PFN_PHYS(pfn) | MNM_PTE_VALID | (write ? MNM_PTE_WRITE : 0);
}

static void mnm_pt_setup(struct kunit *test, struct mnm_pt *pt)
{
	KUNIT_ASSERT_EQ(test, mnm_pt_init(pt, NULL, NULL), 0);
	KUNIT_EXPECT_EQ(test, atomic64_read(&pt->pt_pages), 1);
}

static int map_one(struct mnm_pt *pt, unsigned long addr, u64 e)
{
	int ret = mnm_pt_reserve(pt, MNM_PT_BATCH_TABLES);

	return ret ? ret : mnm_pt_map(pt, addr, e);
}

static void mnm_pt_test_map_lookup_zap(struct kunit *test)
{
	struct mnm_pt pt;

	mnm_pt_setup(test, &pt);
	KUNIT_EXPECT_EQ(test, mnm_pt_lookup(&pt, BASE), 0);
	KUNIT_ASSERT_EQ(test, map_one(&pt, BASE, pte(100, true)), 0);
	KUNIT_ASSERT_EQ(test, map_one(&pt, BASE + PAGE_SIZE, pte(200, false)), 0);
	KUNIT_EXPECT_EQ(test, mnm_pt_lookup(&pt, BASE), pte(100, true));
	KUNIT_EXPECT_EQ(test, mnm_pt_lookup(&pt, BASE + PAGE_SIZE), pte(200, false));
	KUNIT_EXPECT_EQ(test, mnm_pt_lookup(&pt, BASE + 2 * PAGE_SIZE), 0);
	/* Root + levels 2, 1, 0. */
	KUNIT_EXPECT_EQ(test, atomic64_read(&pt.pt_pages), 4);
	KUNIT_EXPECT_EQ(test, atomic64_read(&pt.mapped_pages), 2);
	/* Remapping a page does not count it twice. */
	KUNIT_ASSERT_EQ(test, map_one(&pt, BASE, pte(101, true)), 0);
	KUNIT_EXPECT_EQ(test, atomic64_read(&pt.mapped_pages), 2);
	/* Exactly the zapped entry goes. */
	mnm_pt_zap(&pt, BASE + PAGE_SIZE, BASE + 2 * PAGE_SIZE);
	KUNIT_EXPECT_EQ(test, mnm_pt_lookup(&pt, BASE), pte(101, true));
	KUNIT_EXPECT_EQ(test, mnm_pt_lookup(&pt, BASE + PAGE_SIZE), 0);
	KUNIT_EXPECT_EQ(test, atomic64_read(&pt.mapped_pages), 1);
	mnm_pt_fini(&pt);
	KUNIT_EXPECT_EQ(test, atomic64_read(&pt.mapped_pages), 0);
	KUNIT_EXPECT_EQ(test, atomic64_read(&pt.pt_pages), 0);
}

static void mnm_pt_test_huge(struct kunit *test)
{
	unsigned long addr = BASE + SZ_2M;
	struct mnm_pt pt;
	u64 e;

	mnm_pt_setup(test, &pt);
	KUNIT_ASSERT_EQ(test, mnm_pt_reserve(&pt, MNM_PT_BATCH_TABLES), 0);
	KUNIT_ASSERT_EQ(test, mnm_pt_map_huge(&pt, addr, pte(512 * 7, true)), 0);
	KUNIT_EXPECT_EQ(test, atomic64_read(&pt.mapped_pages), 512);
	/* Root + levels 2, 1: a 2 MiB entry needs no level-0 table. */
	KUNIT_EXPECT_EQ(test, atomic64_read(&pt.pt_pages), 3);
	e = mnm_pt_lookup(&pt, addr + 5 * PAGE_SIZE);
	KUNIT_EXPECT_TRUE(test, e & MNM_PTE_HUGE);
	KUNIT_EXPECT_EQ(test, PHYS_PFN(e & MNM_PTE_ADDR), 512 * 7 + 5);
	/* A zap of one page drops the whole 2 MiB entry. */
	mnm_pt_zap(&pt, addr + PAGE_SIZE, addr + 2 * PAGE_SIZE);
	KUNIT_EXPECT_EQ(test, mnm_pt_lookup(&pt, addr), 0);
	KUNIT_EXPECT_EQ(test, atomic64_read(&pt.mapped_pages), 0);
	mnm_pt_fini(&pt);
}

static void mnm_pt_test_huge_replaces_table(struct kunit *test)
{
	unsigned long addr = BASE + SZ_4M;
	struct mnm_pt pt;
	int i;

	mnm_pt_setup(test, &pt);
	for (i = 0; i < 3; i++)
		KUNIT_ASSERT_EQ(test, map_one(&pt, addr + i * PAGE_SIZE,
					      pte(10 + i, false)), 0);
	KUNIT_EXPECT_EQ(test, atomic64_read(&pt.pt_pages), 4);
	KUNIT_ASSERT_EQ(test, mnm_pt_reserve(&pt, MNM_PT_BATCH_TABLES), 0);
	KUNIT_ASSERT_EQ(test, mnm_pt_map_huge(&pt, addr, pte(512 * 9, true)), 0);
	/* The level-0 table was freed and its 3 pages replaced by 512. */
	KUNIT_EXPECT_EQ(test, atomic64_read(&pt.pt_pages), 3);
	KUNIT_EXPECT_EQ(test, atomic64_read(&pt.mapped_pages), 512);
	/* And a 4 KiB map inside it splits it again (the rest refaults). */
	KUNIT_ASSERT_EQ(test, map_one(&pt, addr + PAGE_SIZE, pte(77, true)), 0);
	KUNIT_EXPECT_EQ(test, atomic64_read(&pt.mapped_pages), 1);
	KUNIT_EXPECT_EQ(test, mnm_pt_lookup(&pt, addr), 0);
	KUNIT_EXPECT_EQ(test, mnm_pt_lookup(&pt, addr + PAGE_SIZE), pte(77, true));
	mnm_pt_fini(&pt);
}

static void mnm_pt_test_zap_frees_covered_tables(struct kunit *test)
{
	struct mnm_pt pt;
	unsigned long i;

	mnm_pt_setup(test, &pt);
	/* One page in each of 4 consecutive 2 MiB blocks. */
	for (i = 0; i < 4; i++)
		KUNIT_ASSERT_EQ(test, map_one(&pt, BASE + i * SZ_2M, pte(i + 1, true)), 0);
	KUNIT_EXPECT_EQ(test, atomic64_read(&pt.pt_pages), 1 + 1 + 1 + 4);
	/* Covering blocks 1 and 2 entirely frees their level-0 tables. */
	mnm_pt_zap(&pt, BASE + SZ_2M, BASE + 3 * SZ_2M);
	KUNIT_EXPECT_EQ(test, atomic64_read(&pt.pt_pages), 1 + 1 + 1 + 2);
	KUNIT_EXPECT_EQ(test, atomic64_read(&pt.mapped_pages), 2);
	KUNIT_EXPECT_NE(test, mnm_pt_lookup(&pt, BASE), 0);
	KUNIT_EXPECT_NE(test, mnm_pt_lookup(&pt, BASE + 3 * SZ_2M), 0);
	/* Zapping everything frees all but the root. */
	mnm_pt_zap(&pt, 0, TASK_SIZE_MAX);
	KUNIT_EXPECT_EQ(test, atomic64_read(&pt.pt_pages), 1);
	KUNIT_EXPECT_EQ(test, atomic64_read(&pt.mapped_pages), 0);
	mnm_pt_fini(&pt);
}

static void mnm_pt_test_zap_frees_emptied_tables(struct kunit *test)
{
	struct mnm_pt pt;

	mnm_pt_setup(test, &pt);
	KUNIT_ASSERT_EQ(test, map_one(&pt, BASE, pte(1, true)), 0);
	KUNIT_ASSERT_EQ(test, map_one(&pt, BASE + PAGE_SIZE, pte(2, true)), 0);
	KUNIT_EXPECT_EQ(test, atomic64_read(&pt.pt_pages), 4);
	/* One entry left in the level-0 table: it stays. */
	mnm_pt_zap(&pt, BASE, BASE + PAGE_SIZE);
	KUNIT_EXPECT_EQ(test, atomic64_read(&pt.pt_pages), 4);
	/* The last one goes: levels 0, 1 and 2 are empty now, the root stays. */
	mnm_pt_zap(&pt, BASE + PAGE_SIZE, BASE + 2 * PAGE_SIZE);
	KUNIT_EXPECT_EQ(test, atomic64_read(&pt.pt_pages), 1);
	KUNIT_EXPECT_EQ(test, mnm_pt_lookup(&pt, BASE + PAGE_SIZE), 0);
	/* And the table comes back on the next map. */
	KUNIT_ASSERT_EQ(test, map_one(&pt, BASE, pte(3, true)), 0);
	KUNIT_EXPECT_EQ(test, mnm_pt_lookup(&pt, BASE), pte(3, true));
	KUNIT_EXPECT_EQ(test, atomic64_read(&pt.pt_pages), 4);
	mnm_pt_fini(&pt);
}

static void mnm_pt_test_reserve_runs_dry(struct kunit *test)
{
	struct mnm_pt pt;

	mnm_pt_setup(test, &pt);
	/* Without a reserve a map that needs tables fails cleanly. */
	KUNIT_EXPECT_EQ(test, mnm_pt_map(&pt, BASE, pte(1, true)), -EAGAIN);
	KUNIT_EXPECT_EQ(test, atomic64_read(&pt.mapped_pages), 0);
	KUNIT_ASSERT_EQ(test, map_one(&pt, BASE, pte(1, true)), 0);
	mnm_pt_fini(&pt);
}

static struct kunit_case mnm_pt_cases[] = {
	KUNIT_CASE(mnm_pt_test_map_lookup_zap),
	KUNIT_CASE(mnm_pt_test_huge),
	KUNIT_CASE(mnm_pt_test_huge_replaces_table),
	KUNIT_CASE(mnm_pt_test_zap_frees_covered_tables),
	KUNIT_CASE(mnm_pt_test_zap_frees_emptied_tables),
	KUNIT_CASE(mnm_pt_test_reserve_runs_dry),
	{}
};

static struct kunit_suite mnm_pt_suite = {
	.name = "mnm_pt",
	.test_cases = mnm_pt_cases,
};

kunit_test_suite(mnm_pt_suite);

MODULE_DESCRIPTION("KUnit tests of the mnmirror device page table");
MODULE_LICENSE("GPL");
