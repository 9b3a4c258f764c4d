/* Logging and setup-time fatal errors.
 *
 * die() is for setup only (bad options, missing files, KVM refusing us). Paths a guest
 * can drive must return errors instead and mark the device broken (virtio 1.2 §2.1.2). */
#ifndef VPF_BASE_LOG_H
#define VPF_BASE_LOG_H

#include <stdarg.h>

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

/* Exit status of vpf for setup failures (bad options or input files). */
#define VPF_EXIT_SETUP 1

#endif
