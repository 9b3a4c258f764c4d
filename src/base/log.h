/* Logging and setup-time fatal errors.
 *
 * die() is for setup only (bad options, missing files, KVM refusing us): it exits with
 * VPF_EXIT_SETUP (base/exit.h). Paths a guest can drive must return errors instead and
 * mark the device broken (virtio 1.2 §2.1.2); docs/architecture.md, "Errors". */
#ifndef VPF_BASE_LOG_H
#define VPF_BASE_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "base/clock.h"

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

extern enum log_level log_threshold;

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
_Noreturn void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* die() with ": strerror(errno)" appended. */
_Noreturn void die_errno(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) do { if (log_threshold >= LOG_DEBUG) log_msg(LOG_DEBUG, __VA_ARGS__); } while (0)

/* Messages a guest (or a client) can trigger again and again go through a limiter: at
 * most LOG_RATELIMIT_BURST per LOG_RATELIMIT_WINDOW_NS, then silence; the first message
 * let through afterwards is preceded by how many were suppressed. A limiter is a
 * zero-initialised struct, one per device or call site (static), so one noisy function
 * does not silence another. Thread-safe (one lock in log.c). */
struct log_ratelimit {
    unsigned burst;             /* messages per window; 0: LOG_RATELIMIT_BURST */
    uint64_t window_start_ns;
    unsigned printed;           /* in this window */
    unsigned long suppressed;   /* since the last message let through */
};
#define LOG_RATELIMIT_BURST 10
#define LOG_RATELIMIT_WINDOW_NS (5 * NSEC_PER_SEC)

/* The limiter's decision for a message at now_ns (no lock: log_limited_msg takes it):
 * true to print; then *suppressed says how many were dropped before it. */
bool log_ratelimit_check(struct log_ratelimit *rl, uint64_t now_ns, unsigned long *suppressed);
void log_limited_msg(struct log_ratelimit *rl, enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
#define log_error_rl(rl, ...) log_limited_msg((rl), LOG_ERROR, __VA_ARGS__)
#define log_warn_rl(rl, ...)  log_limited_msg((rl), LOG_WARN, __VA_ARGS__)
#define log_info_rl(rl, ...)  log_limited_msg((rl), LOG_INFO, __VA_ARGS__)
#define log_debug_rl(rl, ...) do { if (log_threshold >= LOG_DEBUG) log_limited_msg((rl), LOG_DEBUG, __VA_ARGS__); } while (0)

/* Where log lines go (default stderr; tests capture them). Setup only. */
void log_set_output(FILE *f);

#endif
