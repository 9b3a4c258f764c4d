/* Logging and setup-time fatal errors.
 *
 * Threads and locks: log_msg(), the log_*() macros, log_limited_msg() and die() may be
 * called from any thread; each line goes out in one write() (no lock is needed for
 * that, and lines from different threads never interleave). The limiter's state is
 * guarded by one mutex inside log.c. log_error_signalsafe() is async-signal-safe. The
 * setters (log_threshold, log_open_file, log_set_timestamps, log_set_output) are for
 * the main thread during setup, before any other thread exists (tests: between tests).
 *
 * A line is "vpf: LEVEL: message", preceded with timestamps on by an ISO 8601 UTC time
 * with milliseconds and a space: "2026-12-03T10:15:30.123Z vpf: info: ...".
 *
 * die() is for setup only (bad options, missing files, KVM refusing us): it exits with
 * VPF_EXIT_SETUP (base/exit.h). Paths a guest can drive must return errors instead and
 * mark the device broken (virtio 1.2 §2.1.2); docs/architecture.md, "Errors". */
#ifndef VPF_BASE_LOG_H
#define VPF_BASE_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "base/clock.h"

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

/* Lines above it are dropped: LOG_INFO by default, LOG_WARN with --quiet, LOG_DEBUG
 * with --verbose. */
extern enum log_level log_threshold;

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* An error line, then exit(VPF_EXIT_SETUP). With a log file the line also goes to
 * stderr (without a timestamp), as every error line does until log_setup_done(): a
 * failed start always says why where it was started. */
_Noreturn void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* die() with ": strerror(errno)" appended. */
_Noreturn void die_errno(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* From a signal handler: msg as an error line, like die()'s (log and, with a log file,
 * stderr too), built without stdio or locks. The caller exits. */
void log_error_signalsafe(const char *msg);
/* Setup is over (the guest runs): from now on only die() and log_error_signalsafe()
 * copy their line to stderr when the log is a file. Main thread. */
void log_setup_done(void);

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

/* --log-timestamps: AUTO puts them on lines to a --log-file and not on stderr (a
 * terminal, or a service manager's journal, which stamps lines itself). */
enum log_timestamps { LOG_TIMESTAMPS_AUTO, LOG_TIMESTAMPS_ON, LOG_TIMESTAMPS_OFF };

/* "auto", "on", "off" -> *out; -1 for anything else. */
int log_parse_timestamps(const char *s, enum log_timestamps *out);
void log_set_timestamps(enum log_timestamps when);

/* --log-file: lines are appended to path (created with mode 0640 if missing) instead of
 * going to stderr. Returns 0, or -1 with errno set (nothing changed). Setup only. */
int log_open_file(const char *path);

/* Where log lines go (default stderr; tests capture them; NULL: back to stderr). Its
 * file descriptor is written to directly, bypassing f's buffer; a --log-file it
 * replaces is closed. Setup only. */
void log_set_output(FILE *f);

/* The timestamp of a line: "YYYY-MM-DDTHH:MM:SS.mmmZ" (UTC, proleptic Gregorian) for
 * sec/nsec since the epoch, NUL-terminated. Returns its length, 0 if cap is below
 * LOG_TIMESTAMP_MAX. Pure arithmetic: async-signal-safe, needs no time zone file. */
#define LOG_TIMESTAMP_MAX 32
size_t log_format_timestamp(char *buf, size_t cap, int64_t sec, long nsec);

#endif
