/* Scheduler policies: which link indices each mode picks as links change state. */
#include "harness.h"

#include <stdint.h>
#include <string.h>

#include "core/sched.h"

#define MAX_LINKS 8

static void set_links(struct braid_sched_link *links, size_t n)
{
	size_t i;

	memset(links, 0, n * sizeof(*links));
	for (i = 0; i < n; i++) {
		links[i].id = (uint16_t)(100 + i);
		links[i].state = BRAID_LINK_HEALTHY;
		links[i].weight = 1;
	}
}

/* Picks once and returns the single index chosen, or MAX_LINKS when not exactly one. */
static size_t pick_one(struct braid_sched *sched, struct braid_sched_link *links, size_t n)
{
	size_t out[MAX_LINKS];
	size_t count = braid_sched_pick(sched, links, n, out, MAX_LINKS);

	return count == 1 ? out[0] : MAX_LINKS;
}

static void test_mode_names(void)
{
	int mode;

	CHECK(strcmp(braid_mode_name(BRAID_MODE_BROADCAST), "broadcast") == 0);
	CHECK(strcmp(braid_mode_name(BRAID_MODE_ROUNDROBIN), "roundrobin") == 0);
	CHECK(strcmp(braid_mode_name(BRAID_MODE_WEIGHTED), "weighted") == 0);
	CHECK(strcmp(braid_mode_name(BRAID_MODE_BACKUP), "backup") == 0);
	CHECK(braid_mode_name(BRAID_MODE_COUNT) != NULL);
	for (mode = 0; mode < BRAID_MODE_COUNT; mode++)
		CHECK_EQ(braid_mode_parse(braid_mode_name((enum braid_mode)mode)),
			 mode);
	CHECK_EQ(braid_mode_parse("backup"), BRAID_MODE_BACKUP);
	CHECK_EQ(braid_sched_policy_for(BRAID_MODE_ADAPTIVE), BRAID_SCHED_ROUNDROBIN);
	CHECK_EQ(braid_sched_policy_for(BRAID_MODE_BACKUP), BRAID_SCHED_BACKUP);
	CHECK_EQ(braid_mode_parse("round-robin"), -1);
	CHECK_EQ(braid_mode_parse("Broadcast"), -1);
	CHECK_EQ(braid_mode_parse(""), -1);
	CHECK_EQ(braid_mode_parse(NULL), -1);
}

static void test_broadcast(void)
{
	struct braid_sched sched;
	struct braid_sched_link links[4];
	size_t out[MAX_LINKS];
	size_t count;

	braid_sched_init(&sched, BRAID_SCHED_BROADCAST);
	CHECK_EQ(sched.policy, BRAID_SCHED_BROADCAST);
	set_links(links, 4);
	links[1].state = BRAID_LINK_DOWN;
	links[3].state = BRAID_LINK_DEGRADED;
	count = braid_sched_pick(&sched, links, 4, out, MAX_LINKS);
	CHECK_EQ(count, 3);
	CHECK_EQ(out[0], 0);
	CHECK_EQ(out[1], 2);
	CHECK_EQ(out[2], 3);

	count = braid_sched_pick(&sched, links, 4, out, 2);
	CHECK_EQ(count, 2);
	CHECK_EQ(out[0], 0);
	CHECK_EQ(out[1], 2);

	CHECK_EQ(braid_sched_pick(&sched, links, 0, out, MAX_LINKS), 0);
}

static void test_roundrobin(void)
{
	struct braid_sched sched;
	struct braid_sched_link links[4];
	int i;

	braid_sched_init(&sched, BRAID_SCHED_ROUNDROBIN);
	set_links(links, 3);
	for (i = 0; i < 7; i++)
		CHECK_EQ(pick_one(&sched, links, 3), i % 3);

	/* Down links are skipped; the cursor carries on from where it was. */
	braid_sched_init(&sched, BRAID_SCHED_ROUNDROBIN);
	links[1].state = BRAID_LINK_DOWN;
	CHECK_EQ(pick_one(&sched, links, 3), 0);
	CHECK_EQ(pick_one(&sched, links, 3), 2);
	CHECK_EQ(pick_one(&sched, links, 3), 0);
	links[1].state = BRAID_LINK_DEGRADED;
	CHECK_EQ(pick_one(&sched, links, 3), 1);
	CHECK_EQ(pick_one(&sched, links, 3), 2);

	/* Only the last link is live. */
	links[0].state = BRAID_LINK_DOWN;
	links[1].state = BRAID_LINK_DOWN;
	for (i = 0; i < 3; i++)
		CHECK_EQ(pick_one(&sched, links, 3), 2);
}

static void test_roundrobin_removal(void)
{
	struct braid_sched sched;
	struct braid_sched_link links[4];

	braid_sched_init(&sched, BRAID_SCHED_ROUNDROBIN);
	set_links(links, 4);
	CHECK_EQ(pick_one(&sched, links, 4), 0);
	CHECK_EQ(pick_one(&sched, links, 4), 1);
	CHECK_EQ(pick_one(&sched, links, 4), 2);
	/* Two links removed: the cursor (3) is past the end and starts over. */
	CHECK_EQ(pick_one(&sched, links, 2), 0);
	CHECK_EQ(pick_one(&sched, links, 2), 1);
	CHECK_EQ(pick_one(&sched, links, 2), 0);
	/* Down to one link, then back to four. */
	CHECK_EQ(pick_one(&sched, links, 1), 0);
	CHECK_EQ(pick_one(&sched, links, 1), 0);
	CHECK_EQ(pick_one(&sched, links, 4), 0);
	CHECK_EQ(pick_one(&sched, links, 4), 1);
}

static void test_weighted_exact_shares(void)
{
	struct braid_sched sched;
	struct braid_sched_link links[3];
	size_t picks[600];
	unsigned counts[3] = { 0, 0, 0 };
	unsigned window[3];
	size_t i, j;

	braid_sched_init(&sched, BRAID_SCHED_WEIGHTED);
	set_links(links, 3);
	links[0].weight = 1;
	links[1].weight = 2;
	links[2].weight = 3;
	for (i = 0; i < 600; i++) {
		picks[i] = pick_one(&sched, links, 3);
		CHECK(picks[i] < 3);
		if (picks[i] < 3)
			counts[picks[i]]++;
	}
	CHECK_EQ(counts[0], 100);
	CHECK_EQ(counts[1], 200);
	CHECK_EQ(counts[2], 300);
	/* Any six consecutive picks hold exactly the weights. */
	for (i = 0; i + 6 <= 600; i++) {
		memset(window, 0, sizeof(window));
		for (j = i; j < i + 6; j++)
			if (picks[j] < 3)
				window[picks[j]]++;
		if (window[0] != 1 || window[1] != 2 || window[2] != 3) {
			CHECK(!"window of 6 picks does not match the weights");
			break;
		}
	}
	/* Smooth: the heaviest link is never picked three times in a row. */
	for (i = 0; i + 3 <= 600; i++) {
		if (picks[i] == 2 && picks[i + 1] == 2 && picks[i + 2] == 2) {
			CHECK(!"weight 3 link picked three times in a row");
			break;
		}
	}
}

static void test_weighted_zero_and_down(void)
{
	struct braid_sched sched;
	struct braid_sched_link links[3];
	unsigned counts[MAX_LINKS + 1];
	int i;

	/* Weight 0 counts as 1. */
	braid_sched_init(&sched, BRAID_SCHED_WEIGHTED);
	set_links(links, 2);
	links[0].weight = 0;
	links[1].weight = 1;
	memset(counts, 0, sizeof(counts));
	for (i = 0; i < 100; i++)
		counts[pick_one(&sched, links, 2)]++;
	CHECK_EQ(counts[0], 50);
	CHECK_EQ(counts[1], 50);

	/* A down link gets nothing; the others keep their ratio. */
	braid_sched_init(&sched, BRAID_SCHED_WEIGHTED);
	set_links(links, 3);
	links[0].weight = 1;
	links[1].weight = 2;
	links[2].weight = 3;
	links[2].state = BRAID_LINK_DOWN;
	memset(counts, 0, sizeof(counts));
	for (i = 0; i < 300; i++)
		counts[pick_one(&sched, links, 3)]++;
	CHECK_EQ(counts[0], 100);
	CHECK_EQ(counts[1], 200);
	CHECK_EQ(counts[2], 0);

	/* When it comes back, shares over whole rounds are exact again. */
	links[2].state = BRAID_LINK_HEALTHY;
	for (i = 0; i < 60; i++) /* let credits settle */
		pick_one(&sched, links, 3);
	memset(counts, 0, sizeof(counts));
	for (i = 0; i < 600; i++)
		counts[pick_one(&sched, links, 3)]++;
	CHECK_EQ(counts[0], 100);
	CHECK_EQ(counts[1], 200);
	CHECK_EQ(counts[2], 300);
}

static void test_backup(void)
{
	struct braid_sched sched;
	struct braid_sched_link links[4];
	int i;

	braid_sched_init(&sched, BRAID_SCHED_BACKUP);
	set_links(links, 4);
	links[0].priority = 2;
	links[1].priority = 1;
	links[2].priority = 1;
	links[3].priority = 3;
	for (i = 0; i < 3; i++)
		CHECK_EQ(pick_one(&sched, links, 4), 1); /* tie with 2: the earlier link */
	links[1].state = BRAID_LINK_DOWN;
	CHECK_EQ(pick_one(&sched, links, 4), 2);
	links[2].state = BRAID_LINK_DOWN;
	CHECK_EQ(pick_one(&sched, links, 4), 0);
	links[0].state = BRAID_LINK_DOWN;
	CHECK_EQ(pick_one(&sched, links, 4), 3);
	/* A degraded link is still usable, and the preferred one wins again on recovery. */
	links[0].state = BRAID_LINK_DEGRADED;
	CHECK_EQ(pick_one(&sched, links, 4), 0);
	links[1].state = BRAID_LINK_HEALTHY;
	CHECK_EQ(pick_one(&sched, links, 4), 1);
}

static void test_no_live_links(void)
{
	struct braid_sched sched;
	struct braid_sched_link links[3];
	size_t out[MAX_LINKS];
	size_t count;
	int mode, i;

	for (mode = 0; mode < BRAID_SCHED_POLICY_COUNT; mode++) {
		braid_sched_init(&sched, (enum braid_sched_policy)mode);
		set_links(links, 3);
		for (i = 0; i < 3; i++)
			links[i].state = BRAID_LINK_DOWN;
		count = braid_sched_pick(&sched, links, 3, out, MAX_LINKS);
		CHECK_EQ(count, 3);
		for (i = 0; i < 3 && i < (int)count; i++)
			CHECK_EQ(out[i], i);
		count = braid_sched_pick(&sched, links, 3, out, 2);
		CHECK_EQ(count, 2);
		CHECK_EQ(out[0], 0);
		CHECK_EQ(out[1], 1);
		CHECK_EQ(braid_sched_pick(&sched, links, 0, out, MAX_LINKS), 0);
	}
}

int main(void)
{
	RUN_TEST(test_mode_names);
	RUN_TEST(test_broadcast);
	RUN_TEST(test_roundrobin);
	RUN_TEST(test_roundrobin_removal);
	RUN_TEST(test_weighted_exact_shares);
	RUN_TEST(test_weighted_zero_and_down);
	RUN_TEST(test_backup);
	RUN_TEST(test_no_live_links);
	return braid_test_finish();
}
