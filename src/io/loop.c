/* The event loop: level-triggered epoll, a binary min-heap of caller-owned timers, signals
 * through signalfd and a monotonic clock cached once per iteration. */
#include "io/loop.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>

#include "base/heap.h"
#include "braid/error.h"

/* glibc wraps epoll_pwait2 since 2.35; older headers only get the millisecond path. */
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 35))
#define BRAID_HAVE_EPOLL_PWAIT2 1
#else
#define BRAID_HAVE_EPOLL_PWAIT2 0
#endif

enum { BRAID_LOOP_BATCH = 64 };

struct fd_entry {
	braid_fd_cb cb;
	void *arg;
	/* Ties an epoll event to one registration: an fd deleted and re-added while a batch
	 * is being dispatched must not receive the events meant for its old owner. */
	uint32_t generation;
	bool used;
};

struct braid_loop {
	int epfd;
	bool stopping;
	bool pwait2_missing;
	int deferred_error; /* from functions that cannot report one (braid_timer_start) */
	uint64_t now_us;

	struct fd_entry *fds; /* indexed by fd */
	size_t fds_cap;
	size_t fds_used;
	uint32_t next_generation;

	struct braid_heap timers; /* of struct braid_timer *, the earliest deadline first */

	int sigfd;
	sigset_t sigmask;
	braid_signal_cb signal_cb;
	void *signal_arg;
};

/* The timer heap holds pointers; each timer keeps its index for O(log n) stop and restart. */
static bool timer_before(const void *a, const void *b)
{
	return (*(struct braid_timer *const *)a)->deadline_us <
	       (*(struct braid_timer *const *)b)->deadline_us;
}

static void timer_moved(void *element, size_t index)
{
	(*(struct braid_timer **)element)->heap_index = index;
}

static struct braid_timer *timer_at(const struct braid_loop *loop, size_t index)
{
	return *(struct braid_timer **)braid_heap_at(&loop->timers, index);
}

uint64_t braid_clock_now_us(void)
{
	struct timespec ts;

	/* CLOCK_MONOTONIC cannot fail with a valid pointer on Linux. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t braid_wall_clock_at(uint64_t mono_us)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	uint64_t wall = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
	uint64_t mono = braid_clock_now_us();
	return wall - (mono > mono_us ? mono - mono_us : 0);
}

struct braid_loop *braid_loop_new(void)
{
	struct braid_loop *loop = calloc(1, sizeof(*loop));

	if (!loop)
		return NULL;
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epfd < 0) {
		free(loop);
		return NULL;
	}
	braid_heap_init(&loop->timers, sizeof(struct braid_timer *), timer_before, timer_moved);
	loop->sigfd = -1;
	sigemptyset(&loop->sigmask);
	loop->now_us = braid_clock_now_us();
	return loop;
}

void braid_loop_free(struct braid_loop *loop)
{
	if (!loop)
		return;
	/* Timers outlive the loop: leave them visibly stopped. */
	for (size_t i = 0; i < braid_heap_len(&loop->timers); i++)
		timer_at(loop, i)->heap_index = SIZE_MAX;
	/* Watched signals stay blocked: unblocking now would let a pending SIGTERM kill the
	 * process with its default action while it shuts down. */
	if (loop->sigfd >= 0)
		close(loop->sigfd);
	close(loop->epfd);
	braid_heap_free(&loop->timers);
	free(loop->fds);
	free(loop);
}

uint64_t braid_loop_now(const struct braid_loop *loop)
{
	return loop->now_us;
}

uint64_t braid_loop_update_time(struct braid_loop *loop)
{
	loop->now_us = braid_clock_now_us();
	return loop->now_us;
}

/* ---- file descriptors ---- */

static int error_from_errno(int err)
{
	return err == ENOMEM || err == ENOSPC ? BRAID_ERR_NOMEM : BRAID_ERR_IO;
}

static int grow_fd_table(struct braid_loop *loop, size_t fd)
{
	size_t cap = loop->fds_cap ? loop->fds_cap : 16;
	struct fd_entry *fds;

	while (cap <= fd)
		cap *= 2;
	fds = realloc(loop->fds, cap * sizeof(*fds));
	if (!fds)
		return BRAID_ERR_NOMEM;
	memset(fds + loop->fds_cap, 0, (cap - loop->fds_cap) * sizeof(*fds));
	loop->fds = fds;
	loop->fds_cap = cap;
	return 0;
}

static struct fd_entry *find_fd(struct braid_loop *loop, int fd)
{
	if (fd < 0 || (size_t)fd >= loop->fds_cap || !loop->fds[fd].used)
		return NULL;
	return &loop->fds[fd];
}

static uint64_t event_tag(int fd, uint32_t generation)
{
	return (uint64_t)generation << 32 | (uint32_t)fd;
}

int braid_loop_add_fd(struct braid_loop *loop, int fd, uint32_t events, braid_fd_cb cb, void *arg)
{
	struct epoll_event ev = { .events = events };
	struct fd_entry *entry;
	int err;

	if (!loop || fd < 0 || !cb)
		return BRAID_ERR_INVAL;
	if (find_fd(loop, fd))
		return BRAID_ERR_EXISTS;
	if ((size_t)fd >= loop->fds_cap) {
		err = grow_fd_table(loop, (size_t)fd);
		if (err)
			return err;
	}
	entry = &loop->fds[fd];
	ev.data.u64 = event_tag(fd, loop->next_generation);
	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return errno == EEXIST ? BRAID_ERR_EXISTS : error_from_errno(errno);
	entry->cb = cb;
	entry->arg = arg;
	entry->generation = loop->next_generation++;
	entry->used = true;
	loop->fds_used++;
	return 0;
}

int braid_loop_mod_fd(struct braid_loop *loop, int fd, uint32_t events)
{
	struct fd_entry *entry = loop ? find_fd(loop, fd) : NULL;
	struct epoll_event ev = { .events = events };

	if (!entry)
		return BRAID_ERR_INVAL;
	ev.data.u64 = event_tag(fd, entry->generation);
	if (epoll_ctl(loop->epfd, EPOLL_CTL_MOD, fd, &ev) < 0)
		return error_from_errno(errno);
	return 0;
}

int braid_loop_del_fd(struct braid_loop *loop, int fd)
{
	struct fd_entry *entry = loop ? find_fd(loop, fd) : NULL;

	if (!entry)
		return BRAID_ERR_INVAL;
	/* A closed fd has already left the epoll set (EBADF/ENOENT): the caller's intent holds,
	 * so the registration is forgotten either way. */
	epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL);
	memset(entry, 0, sizeof(*entry));
	loop->fds_used--;
	return 0;
}

/* ---- timers: a min-heap of pointers on deadline_us, each timer knowing its index ---- */

static bool timer_in_heap(const struct braid_loop *loop, const struct braid_timer *t)
{
	return t->heap_index < braid_heap_len(&loop->timers) && timer_at(loop, t->heap_index) == t;
}

void braid_timer_init(struct braid_timer *t, braid_timer_cb cb, void *arg)
{
	t->deadline_us = 0;
	t->heap_index = SIZE_MAX;
	t->cb = cb;
	t->arg = arg;
}

void braid_timer_start(struct braid_loop *loop, struct braid_timer *t, uint64_t deadline_us)
{
	t->deadline_us = deadline_us;
	if (timer_in_heap(loop, t)) {
		braid_heap_update(&loop->timers, t->heap_index);
		return;
	}
	if (braid_heap_push(&loop->timers, &t) < 0) {
		/* No way to report it here: braid_loop_run returns it instead. */
		t->heap_index = SIZE_MAX;
		loop->deferred_error = BRAID_ERR_NOMEM;
	}
}

void braid_timer_stop(struct braid_loop *loop, struct braid_timer *t)
{
	if (timer_in_heap(loop, t))
		braid_heap_remove(&loop->timers, t->heap_index, NULL);
	t->heap_index = SIZE_MAX;
}

/* Fires due timers in deadline order. At most as many firings as there were timers when
 * the pass began: a callback that re-arms a timer in the past then waits for the next
 * iteration, so file descriptors are polled in between instead of being starved. */
static void run_due_timers(struct braid_loop *loop)
{
	size_t budget = braid_heap_len(&loop->timers);

	while (budget-- > 0 && braid_heap_len(&loop->timers) > 0 && !loop->stopping) {
		struct braid_timer *t = timer_at(loop, 0);

		if (t->deadline_us > loop->now_us)
			break;
		braid_timer_stop(loop, t);
		if (t->cb)
			t->cb(loop, t->arg);
	}
}

/* ---- signals ---- */

static void on_signalfd(struct braid_loop *loop, int fd, uint32_t events, void *arg)
{
	struct signalfd_siginfo info;

	(void)events;
	(void)arg;
	/* Drained completely because the loop is level-triggered. */
	while (read(fd, &info, sizeof(info)) == (ssize_t)sizeof(info)) {
		if (loop->signal_cb)
			loop->signal_cb(loop, (int)info.ssi_signo, loop->signal_arg);
	}
}

static int build_sigset(const int *signals, const sigset_t *base, sigset_t *out)
{
	*out = *base;
	if (!signals || signals[0] == 0)
		return BRAID_ERR_INVAL;
	for (size_t i = 0; signals[i] != 0; i++) {
		if (signals[i] < 0 || signals[i] >= NSIG || signals[i] == SIGKILL ||
		    signals[i] == SIGSTOP || sigaddset(out, signals[i]) < 0)
			return BRAID_ERR_INVAL;
	}
	return 0;
}

int braid_loop_watch_signals(struct braid_loop *loop, const int *signals, braid_signal_cb cb,
			     void *arg)
{
	sigset_t mask;
	int fd;
	int err;

	if (!loop || !cb)
		return BRAID_ERR_INVAL;
	err = build_sigset(signals, &loop->sigmask, &mask);
	if (err)
		return err;
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
		return BRAID_ERR_IO;
	/* Passing the existing fd widens its mask in place. */
	fd = signalfd(loop->sigfd, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0)
		return error_from_errno(errno);
	if (loop->sigfd < 0) {
		err = braid_loop_add_fd(loop, fd, EPOLLIN, on_signalfd, NULL);
		if (err) {
			close(fd);
			return err;
		}
		loop->sigfd = fd;
	}
	loop->sigmask = mask;
	loop->signal_cb = cb;
	loop->signal_arg = arg;
	return 0;
}

/* ---- running ---- */

static int wait_ms(struct braid_loop *loop, struct epoll_event *events, uint64_t timeout_us)
{
	int ms;

	if (timeout_us == UINT64_MAX)
		ms = -1;
	else if (timeout_us >= (uint64_t)24 * 3600 * 1000000)
		ms = 24 * 3600 * 1000; /* re-evaluated on wake-up */
	else
		ms = (int)((timeout_us + 999) / 1000); /* rounding down would wake up early */
	return epoll_wait(loop->epfd, events, BRAID_LOOP_BATCH, ms);
}

/* timeout_us: UINT64_MAX waits without limit. */
static int wait_events(struct braid_loop *loop, struct epoll_event *events, uint64_t timeout_us)
{
#if BRAID_HAVE_EPOLL_PWAIT2
	if (!loop->pwait2_missing) {
		struct timespec ts = {
			.tv_sec = (time_t)(timeout_us / 1000000u),
			.tv_nsec = (long)(timeout_us % 1000000u) * 1000,
		};
		int n = epoll_pwait2(loop->epfd, events, BRAID_LOOP_BATCH,
				     timeout_us == UINT64_MAX ? NULL : &ts, NULL);

		/* EPERM: some seccomp filters refuse system calls they do not know. */
		if (n >= 0 || (errno != ENOSYS && errno != EPERM))
			return n;
		loop->pwait2_missing = true;
	}
#endif
	return wait_ms(loop, events, timeout_us);
}

/* Measured from a fresh clock reading, not the cached one: the callbacks that ran since
 * the cache was filled would otherwise make every wake-up late by their duration. */
static uint64_t next_timeout_us(const struct braid_loop *loop)
{
	uint64_t deadline, now;

	if (braid_heap_len(&loop->timers) == 0)
		return UINT64_MAX;
	deadline = timer_at(loop, 0)->deadline_us;
	now = braid_clock_now_us();
	return deadline > now ? deadline - now : 0;
}

static void dispatch(struct braid_loop *loop, const struct epoll_event *events, int n)
{
	for (int i = 0; i < n && !loop->stopping; i++) {
		int fd = (int)(uint32_t)events[i].data.u64;
		uint32_t generation = (uint32_t)(events[i].data.u64 >> 32);
		struct fd_entry *entry = find_fd(loop, fd);

		/* Deleted (or deleted and re-added) by an earlier callback of this batch. */
		if (!entry || entry->generation != generation)
			continue;
		entry->cb(loop, fd, events[i].events, entry->arg);
	}
}

int braid_loop_run(struct braid_loop *loop)
{
	struct epoll_event events[BRAID_LOOP_BATCH];
	int result = 0;

	if (!loop)
		return BRAID_ERR_INVAL;
	while (!loop->stopping) {
		int n;

		braid_loop_update_time(loop);
		run_due_timers(loop);
		if (loop->deferred_error) {
			result = loop->deferred_error;
			loop->deferred_error = 0;
			break;
		}
		if (loop->stopping)
			break;
		/* Nothing could ever wake the loop up again. */
		if (braid_heap_len(&loop->timers) == 0 && loop->fds_used == 0)
			break;
		n = wait_events(loop, events, next_timeout_us(loop));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			result = BRAID_ERR_IO;
			break;
		}
		braid_loop_update_time(loop);
		dispatch(loop, events, n);
	}
	loop->stopping = false;
	return result;
}

void braid_loop_stop(struct braid_loop *loop)
{
	loop->stopping = true;
}
