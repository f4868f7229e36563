/* A small test harness for braid's C tests: checks record failures and go on, so one run
 * reports every broken expectation. Each test program ends with
 * `return braid_test_finish();`, which prints "N passed, N failed" for its checks. */
#ifndef BRAID_TEST_HARNESS_H
#define BRAID_TEST_HARNESS_H

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static unsigned braid_test_passed;
static unsigned braid_test_failed;
static const char *braid_test_current = "";

#define CHECK(cond)                                                                      \
	do {                                                                                 \
		if (cond) {                                                                      \
			braid_test_passed++;                                                         \
		} else {                                                                         \
			braid_test_failed++;                                                         \
			fprintf(stderr, "%s:%d: %s: check failed: %s\n", __FILE__, __LINE__,        \
				braid_test_current, #cond);                                              \
		}                                                                                \
	} while (0)

#define CHECK_EQ(a, b)                                                                   \
	do {                                                                                 \
		long long braid_a_ = (long long)(a), braid_b_ = (long long)(b);                  \
		if (braid_a_ == braid_b_) {                                                      \
			braid_test_passed++;                                                         \
		} else {                                                                         \
			braid_test_failed++;                                                         \
			fprintf(stderr, "%s:%d: %s: %s == %s failed: %lld != %lld\n", __FILE__,      \
				__LINE__, braid_test_current, #a, #b, braid_a_, braid_b_);               \
		}                                                                                \
	} while (0)

#define CHECK_EQ_U64(a, b)                                                               \
	do {                                                                                 \
		uint64_t braid_a_ = (uint64_t)(a), braid_b_ = (uint64_t)(b);                     \
		if (braid_a_ == braid_b_) {                                                      \
			braid_test_passed++;                                                         \
		} else {                                                                         \
			braid_test_failed++;                                                         \
			fprintf(stderr, "%s:%d: %s: %s == %s failed: %" PRIu64 " != %" PRIu64 "\n",  \
				__FILE__, __LINE__, braid_test_current, #a, #b, braid_a_, braid_b_);     \
		}                                                                                \
	} while (0)

/* |a - b| <= tol */
#define CHECK_NEAR(a, b, tol)                                                            \
	do {                                                                                 \
		double braid_a_ = (double)(a), braid_b_ = (double)(b);                           \
		if (fabs(braid_a_ - braid_b_) <= (double)(tol)) {                                \
			braid_test_passed++;                                                         \
		} else {                                                                         \
			braid_test_failed++;                                                         \
			fprintf(stderr, "%s:%d: %s: %s ~ %s failed: %g vs %g (tolerance %g)\n",      \
				__FILE__, __LINE__, braid_test_current, #a, #b, braid_a_, braid_b_,      \
				(double)(tol));                                                          \
		}                                                                                \
	} while (0)

#define RUN_TEST(fn)                                                                     \
	do {                                                                                 \
		braid_test_current = #fn;                                                        \
		fn();                                                                            \
	} while (0)

static inline int braid_test_finish(void)
{
	printf("%u passed, %u failed\n", braid_test_passed, braid_test_failed);
	return braid_test_failed == 0 && braid_test_passed > 0 ? 0 : 1;
}

#endif
