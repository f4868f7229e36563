/* The event loop: epoll for file descriptors, a binary heap of timers, signals through
 * signalfd, and a cached monotonic clock read once per iteration. Single-threaded. */
#ifndef BRAID_LOOP_H
#define BRAID_LOOP_H

#include <stddef.h>
#include <stdint.h>

struct braid_loop;

typedef void (*braid_fd_cb)(struct braid_loop *loop, int fd, uint32_t events, void *arg);
typedef void (*braid_timer_cb)(struct braid_loop *loop, void *arg);
typedef void (*braid_signal_cb)(struct braid_loop *loop, int signo, void *arg);

/* A timer is owned by the caller and must stay valid while started. */
struct braid_timer {
	uint64_t deadline_us;
	size_t heap_index; /* SIZE_MAX when not started */
	braid_timer_cb cb;
	void *arg;
};

/* Monotonic microseconds (CLOCK_MONOTONIC). The only clock braid runs on. */
uint64_t braid_clock_now_us(void);
/* The wall clock (CLOCK_REALTIME, µs since 1970) at monotonic time mono_us: read once at
 * start, it anchors the cores' handshake freshness (they compute wall time from now). */
uint64_t braid_wall_clock_at(uint64_t mono_us);

struct braid_loop *braid_loop_new(void);
void braid_loop_free(struct braid_loop *loop);

/* The time cached at the start of this loop iteration. */
uint64_t braid_loop_now(const struct braid_loop *loop);
/* Re-reads the clock into the cache (after long work inside a callback). */
uint64_t braid_loop_update_time(struct braid_loop *loop);

/* events: EPOLLIN / EPOLLOUT. Returns 0 or a negative braid_error. */
int braid_loop_add_fd(struct braid_loop *loop, int fd, uint32_t events, braid_fd_cb cb, void *arg);
int braid_loop_mod_fd(struct braid_loop *loop, int fd, uint32_t events);
int braid_loop_del_fd(struct braid_loop *loop, int fd);

void braid_timer_init(struct braid_timer *t, braid_timer_cb cb, void *arg);
/* (Re)arms the timer for an absolute deadline; a started timer is moved. */
void braid_timer_start(struct braid_loop *loop, struct braid_timer *t, uint64_t deadline_us);
void braid_timer_stop(struct braid_loop *loop, struct braid_timer *t);

/* Blocks the listed signals for the process and delivers them through a signalfd.
 * signals: zero-terminated list, e.g. {SIGINT, SIGTERM, 0}. */
int braid_loop_watch_signals(struct braid_loop *loop, const int *signals, braid_signal_cb cb,
			     void *arg);

/* Runs until braid_loop_stop is called. Returns 0, or a negative braid_error. */
int braid_loop_run(struct braid_loop *loop);
void braid_loop_stop(struct braid_loop *loop);

#endif
