/* Event loop: timer heap order, timers changed from callbacks, fd readiness, fds deleted
 * within one epoll batch, signals through signalfd, and timer precision. */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>

#include "braid/error.h"
#include "io/loop.h"
#include "harness.h"

/* A local LCG (Knuth's MMIX constants) so the test never depends on rand(). */
static uint64_t lcg_next(uint64_t *state)
{
	*state = *state * 6364136223846793005u + 1442695040888963407u;
	return *state >> 33;
}

static void stop_loop_cb(struct braid_loop *loop, void *arg)
{
	(void)arg;
	braid_loop_stop(loop);
}

/* ---- heap order ---- */

enum { ORDER_TIMERS = 2000 };

struct order_log {
	uint64_t deadlines[ORDER_TIMERS];
	size_t fired;
	struct braid_timer *last;
};

struct order_timer {
	struct braid_timer timer;
	struct order_log *log;
	int fired;
};

static void order_cb(struct braid_loop *loop, void *arg)
{
	struct order_timer *ot = arg;

	(void)loop;
	ot->fired++;
	if (ot->log->fired < ORDER_TIMERS)
		ot->log->deadlines[ot->log->fired] = ot->timer.deadline_us;
	ot->log->fired++;
}

static void test_heap_order(void)
{
	static struct order_timer timers[ORDER_TIMERS];
	static struct order_log log;
	struct braid_loop *loop = braid_loop_new();
	struct braid_timer stopper;
	uint64_t seed = 12345;
	uint64_t base;
	size_t expected = 0;
	int sorted = 1;

	CHECK(loop != NULL);
	if (!loop)
		return;
	base = braid_loop_now(loop);
	memset(&log, 0, sizeof(log));
	/* Every deadline already passed, so all fire in one run, and only the order counts. */
	for (size_t i = 0; i < ORDER_TIMERS; i++) {
		timers[i].log = &log;
		timers[i].fired = 0;
		braid_timer_init(&timers[i].timer, order_cb, &timers[i]);
		CHECK_EQ_U64(timers[i].timer.heap_index, SIZE_MAX);
		braid_timer_start(loop, &timers[i].timer, lcg_next(&seed) % base);
		CHECK(timers[i].timer.heap_index != SIZE_MAX);
	}
	/* Moves (up and down) and removals from the middle of the heap. */
	for (size_t i = 0; i < ORDER_TIMERS; i += 3)
		braid_timer_start(loop, &timers[i].timer, lcg_next(&seed) % base);
	for (size_t i = 1; i < ORDER_TIMERS; i += 7)
		braid_timer_stop(loop, &timers[i].timer);
	for (size_t i = 0; i < ORDER_TIMERS; i++)
		expected += timers[i].timer.heap_index != SIZE_MAX;
	braid_timer_init(&stopper, stop_loop_cb, NULL);
	braid_timer_start(loop, &stopper, base + 1000);

	CHECK_EQ(braid_loop_run(loop), 0);
	CHECK_EQ_U64(log.fired, expected);
	for (size_t i = 1; i < log.fired && i < ORDER_TIMERS; i++)
		sorted &= log.deadlines[i - 1] <= log.deadlines[i];
	CHECK(sorted);
	for (size_t i = 0; i < ORDER_TIMERS; i++) {
		if (i % 7 == 1)
			CHECK_EQ(timers[i].fired, 0);
		else
			CHECK_EQ(timers[i].fired, 1);
		CHECK_EQ_U64(timers[i].timer.heap_index, SIZE_MAX);
	}
	braid_loop_free(loop);
}

/* ---- timers changed from callbacks ---- */

struct cb_timers {
	struct braid_timer periodic, killer, victim, moved, self_stop, stopper, zero_delay;
	int periodic_count, killer_count, victim_count, moved_count, self_stop_count;
	int zero_delay_count;
	uint64_t moved_fired_at;
};

static void periodic_cb(struct braid_loop *loop, void *arg)
{
	struct cb_timers *s = arg;

	if (++s->periodic_count < 5)
		braid_timer_start(loop, &s->periodic, braid_loop_now(loop) + 500);
}

static void killer_cb(struct braid_loop *loop, void *arg)
{
	struct cb_timers *s = arg;

	s->killer_count++;
	/* victim is due too (a later deadline in the past): it must not fire now. */
	braid_timer_stop(loop, &s->victim);
	braid_timer_start(loop, &s->moved, braid_loop_now(loop) + 1000);
}

static void count_cb(struct braid_loop *loop, void *arg)
{
	(void)loop;
	++*(int *)arg;
}

static void moved_cb(struct braid_loop *loop, void *arg)
{
	struct cb_timers *s = arg;

	s->moved_count++;
	s->moved_fired_at = braid_loop_now(loop);
}

static void self_stop_cb(struct braid_loop *loop, void *arg)
{
	struct cb_timers *s = arg;

	s->self_stop_count++;
	braid_timer_start(loop, &s->self_stop, braid_loop_now(loop));
	braid_timer_stop(loop, &s->self_stop);
}

/* Re-arms itself with no delay: must keep firing without starving the loop. */
static void zero_delay_cb(struct braid_loop *loop, void *arg)
{
	struct cb_timers *s = arg;

	if (++s->zero_delay_count < 100)
		braid_timer_start(loop, &s->zero_delay, braid_loop_now(loop));
}

static void test_callbacks_change_timers(void)
{
	static struct cb_timers s;
	struct braid_loop *loop = braid_loop_new();
	uint64_t base;

	CHECK(loop != NULL);
	if (!loop)
		return;
	memset(&s, 0, sizeof(s));
	base = braid_loop_now(loop);
	braid_timer_init(&s.periodic, periodic_cb, &s);
	braid_timer_init(&s.killer, killer_cb, &s);
	braid_timer_init(&s.victim, count_cb, &s.victim_count);
	braid_timer_init(&s.moved, moved_cb, &s);
	braid_timer_init(&s.self_stop, self_stop_cb, &s);
	braid_timer_init(&s.stopper, stop_loop_cb, NULL);
	braid_timer_init(&s.zero_delay, zero_delay_cb, &s);
	braid_timer_start(loop, &s.periodic, base + 500);
	braid_timer_start(loop, &s.killer, base - 20);
	braid_timer_start(loop, &s.victim, base - 10);
	braid_timer_start(loop, &s.moved, base + 60000000);
	braid_timer_start(loop, &s.self_stop, base);
	braid_timer_start(loop, &s.zero_delay, base);
	braid_timer_start(loop, &s.stopper, base + 20000);

	CHECK_EQ(braid_loop_run(loop), 0);
	CHECK_EQ(s.periodic_count, 5);
	CHECK_EQ(s.killer_count, 1);
	CHECK_EQ(s.victim_count, 0);
	CHECK_EQ(s.moved_count, 1);
	CHECK(s.moved_fired_at >= base + 1000);
	CHECK(s.moved_fired_at < base + 20000);
	CHECK_EQ(s.self_stop_count, 1);
	CHECK_EQ(s.zero_delay_count, 100);
	CHECK_EQ_U64(s.victim.heap_index, SIZE_MAX);
	CHECK_EQ_U64(s.self_stop.heap_index, SIZE_MAX);
	CHECK_EQ_U64(s.periodic.heap_index, SIZE_MAX);
	braid_loop_free(loop);
}

/* Stopped after its deadline passed but before the loop ran it. */
static void test_stop_while_due(void)
{
	struct braid_loop *loop = braid_loop_new();
	struct braid_timer due, stopper;
	int due_count = 0;

	CHECK(loop != NULL);
	if (!loop)
		return;
	braid_timer_init(&due, count_cb, &due_count);
	braid_timer_init(&stopper, stop_loop_cb, NULL);
	braid_timer_start(loop, &due, braid_loop_now(loop) - 1);
	usleep(1000);
	braid_timer_stop(loop, &due);
	braid_timer_stop(loop, &due); /* twice is harmless */
	CHECK_EQ_U64(due.heap_index, SIZE_MAX);
	braid_timer_start(loop, &stopper, braid_loop_update_time(loop) + 2000);
	CHECK_EQ(braid_loop_run(loop), 0);
	CHECK_EQ(due_count, 0);
	/* With nothing left to wait for, run returns instead of blocking forever. */
	CHECK_EQ(braid_loop_run(loop), 0);
	braid_loop_free(loop);
}

/* ---- file descriptors ---- */

struct fd_state {
	int count;
	uint32_t events;
	int stop_after;
};

static void fd_count_cb(struct braid_loop *loop, int fd, uint32_t events, void *arg)
{
	struct fd_state *st = arg;
	uint64_t value;

	st->count++;
	st->events = events;
	if (events & EPOLLIN)
		CHECK_EQ(read(fd, &value, sizeof(value)), (long)sizeof(value));
	if (st->count >= st->stop_after)
		braid_loop_stop(loop);
}

static void test_fd_readiness(void)
{
	struct braid_loop *loop = braid_loop_new();
	struct fd_state st = { .stop_after = 1 };
	struct braid_timer guard;
	uint64_t one = 1;
	int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

	CHECK(loop != NULL && efd >= 0);
	if (!loop || efd < 0)
		goto out;
	braid_timer_init(&guard, stop_loop_cb, NULL);
	braid_timer_start(loop, &guard, braid_loop_now(loop) + 1000000);
	CHECK_EQ(braid_loop_add_fd(loop, efd, EPOLLIN, fd_count_cb, &st), 0);
	CHECK_EQ(braid_loop_add_fd(loop, efd, EPOLLIN, fd_count_cb, &st), BRAID_ERR_EXISTS);
	CHECK_EQ(braid_loop_add_fd(loop, -1, EPOLLIN, fd_count_cb, &st), BRAID_ERR_INVAL);
	CHECK_EQ(write(efd, &one, sizeof(one)), (long)sizeof(one));
	CHECK_EQ(braid_loop_run(loop), 0);
	CHECK_EQ(st.count, 1);
	CHECK(st.events & EPOLLIN);

	/* An eventfd is always writable. */
	CHECK_EQ(braid_loop_mod_fd(loop, efd, EPOLLOUT), 0);
	CHECK_EQ(braid_loop_run(loop), 0);
	CHECK_EQ(st.count, 2);
	CHECK(st.events & EPOLLOUT);
	CHECK(!(st.events & EPOLLIN));
	CHECK(guard.heap_index != SIZE_MAX);

	CHECK_EQ(braid_loop_del_fd(loop, efd), 0);
	CHECK_EQ(braid_loop_del_fd(loop, efd), BRAID_ERR_INVAL);
	CHECK_EQ(braid_loop_mod_fd(loop, efd, EPOLLIN), BRAID_ERR_INVAL);
out:
	if (efd >= 0)
		close(efd);
	braid_loop_free(loop);
}

struct pair_state {
	int fds[2];
	int counts[2];
};

/* Whichever of the two runs first deletes the other, which is also ready in this batch. */
static void delete_other_cb(struct braid_loop *loop, int fd, uint32_t events, void *arg)
{
	struct pair_state *ps = arg;
	int self = fd == ps->fds[0] ? 0 : 1;
	uint64_t value;

	(void)events;
	ps->counts[self]++;
	CHECK_EQ(read(fd, &value, sizeof(value)), (long)sizeof(value));
	braid_loop_del_fd(loop, ps->fds[!self]);
}

static void test_delete_in_batch(void)
{
	struct braid_loop *loop = braid_loop_new();
	struct pair_state ps = { .fds = { -1, -1 } };
	struct braid_timer stopper;
	uint64_t one = 1;

	CHECK(loop != NULL);
	if (!loop)
		return;
	for (int i = 0; i < 2; i++) {
		ps.fds[i] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		CHECK(ps.fds[i] >= 0);
		if (ps.fds[i] < 0)
			goto out;
		CHECK_EQ(write(ps.fds[i], &one, sizeof(one)), (long)sizeof(one));
		CHECK_EQ(braid_loop_add_fd(loop, ps.fds[i], EPOLLIN, delete_other_cb, &ps), 0);
	}
	/* Stopping from the fd callbacks would end the batch early and hide the bug. */
	braid_timer_init(&stopper, stop_loop_cb, NULL);
	braid_timer_start(loop, &stopper, braid_loop_now(loop) + 20000);
	CHECK_EQ(braid_loop_run(loop), 0);
	CHECK_EQ(ps.counts[0] + ps.counts[1], 1);
	/* The deleted one is still readable but no longer watched. */
	CHECK_EQ(read(ps.fds[ps.counts[0] ? 1 : 0], &one, sizeof(one)), (long)sizeof(one));
out:
	for (int i = 0; i < 2; i++) {
		if (ps.fds[i] >= 0)
			close(ps.fds[i]);
	}
	braid_loop_free(loop);
}

/* ---- signals ---- */

struct signal_state {
	int count;
	int signo;
};

static void signal_cb(struct braid_loop *loop, int signo, void *arg)
{
	struct signal_state *ss = arg;

	ss->count++;
	ss->signo = signo;
	braid_loop_stop(loop);
}

static void test_signal(void)
{
	static const int signals[] = { SIGUSR1, 0 };
	static const int bad[] = { 1000, 0 };
	static const int empty[] = { 0 };
	struct braid_loop *loop = braid_loop_new();
	struct signal_state ss = { 0 };
	struct braid_timer guard;

	CHECK(loop != NULL);
	if (!loop)
		return;
	CHECK_EQ(braid_loop_watch_signals(loop, bad, signal_cb, &ss), BRAID_ERR_INVAL);
	CHECK_EQ(braid_loop_watch_signals(loop, empty, signal_cb, &ss), BRAID_ERR_INVAL);
	CHECK_EQ(braid_loop_watch_signals(loop, signals, signal_cb, &ss), 0);
	braid_timer_init(&guard, stop_loop_cb, NULL);
	braid_timer_start(loop, &guard, braid_loop_now(loop) + 2000000);
	/* Blocked now, so it waits in the signalfd instead of killing the process. */
	CHECK_EQ(raise(SIGUSR1), 0);
	CHECK_EQ(braid_loop_run(loop), 0);
	CHECK_EQ(ss.count, 1);
	CHECK_EQ(ss.signo, SIGUSR1);
	CHECK(guard.heap_index != SIZE_MAX);
	braid_loop_free(loop);
}

/* ---- precision ---- */

struct precision_state {
	struct braid_timer timer;
	uint64_t deadline;
	uint64_t fired_clock;
	uint64_t fired_cached;
};

static void precision_cb(struct braid_loop *loop, void *arg)
{
	struct precision_state *ps = arg;

	ps->fired_clock = braid_clock_now_us();
	ps->fired_cached = braid_loop_now(loop);
	braid_loop_stop(loop);
}

static void test_precision(void)
{
	static const uint64_t delays[] = { 2000, 1500, 2300, 700, 2000 };
	struct braid_loop *loop = braid_loop_new();

	CHECK(loop != NULL);
	if (!loop)
		return;
	for (size_t i = 0; i < sizeof(delays) / sizeof(delays[0]); i++) {
		struct precision_state ps = { 0 };

		braid_timer_init(&ps.timer, precision_cb, &ps);
		ps.deadline = braid_clock_now_us() + delays[i];
		braid_timer_start(loop, &ps.timer, ps.deadline);
		CHECK_EQ(braid_loop_run(loop), 0);
		CHECK(ps.fired_clock >= ps.deadline);
		CHECK(ps.fired_cached >= ps.deadline);
		/* Loose: the machine is shared, only grossly late firing is a bug. */
		CHECK(ps.fired_clock < ps.deadline + 100000);
	}
	{
		uint64_t before = braid_clock_now_us();

		CHECK(braid_loop_update_time(loop) >= before);
	}
	braid_loop_free(loop);
}

int main(void)
{
	RUN_TEST(test_heap_order);
	RUN_TEST(test_callbacks_change_timers);
	RUN_TEST(test_stop_while_due);
	RUN_TEST(test_fd_readiness);
	RUN_TEST(test_delete_in_batch);
	RUN_TEST(test_signal);
	RUN_TEST(test_precision);
	return braid_test_finish();
}
