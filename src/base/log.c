#include "base/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "base/exit.h"

enum log_level log_threshold = LOG_INFO;
static FILE *log_out;
static pthread_mutex_t ratelimit_lock = PTHREAD_MUTEX_INITIALIZER;

void log_set_output(FILE *f)
{
    log_out = f;
}

static const char *const level_names[] = { "error", "warning", "info", "debug" };

static void log_vmsg(enum log_level level, const char *fmt, va_list ap, const char *suffix)
{
    /* One fprintf per line, so lines from different threads do not interleave. */
    char line[1024];
    vsnprintf(line, sizeof(line), fmt, ap);
    fprintf(log_out ? log_out : stderr, "vpf: %s: %s%s%s\n", level_names[level], line,
            suffix ? ": " : "", suffix ? suffix : "");
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    if (level > log_threshold)
        return;
    va_list ap;
    va_start(ap, fmt);
    log_vmsg(level, fmt, ap, NULL);
    va_end(ap);
}

void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vmsg(LOG_ERROR, fmt, ap, NULL);
    va_end(ap);
    exit(VPF_EXIT_SETUP);
}

void die_errno(const char *fmt, ...)
{
    const char *err = strerror(errno);
    va_list ap;
    va_start(ap, fmt);
    log_vmsg(LOG_ERROR, fmt, ap, err);
    va_end(ap);
    exit(VPF_EXIT_SETUP);
}

bool log_ratelimit_check(struct log_ratelimit *rl, uint64_t now_ns, unsigned long *suppressed)
{
    if (!rl->window_start_ns || now_ns - rl->window_start_ns >= LOG_RATELIMIT_WINDOW_NS) {
        rl->window_start_ns = now_ns ? now_ns : 1;
        rl->printed = 0;
    }
    if (rl->printed >= (rl->burst ? rl->burst : LOG_RATELIMIT_BURST)) {
        rl->suppressed++;
        return false;
    }
    rl->printed++;
    *suppressed = rl->suppressed;
    rl->suppressed = 0;
    return true;
}

void log_limited_msg(struct log_ratelimit *rl, enum log_level level, const char *fmt, ...)
{
    if (level > log_threshold)
        return;
    uint64_t now = monotonic_ns();
    unsigned long suppressed = 0;
    pthread_mutex_lock(&ratelimit_lock);
    bool print = log_ratelimit_check(rl, now, &suppressed);
    pthread_mutex_unlock(&ratelimit_lock);
    if (!print)
        return;
    if (suppressed)
        log_msg(level, "(%lu similar messages suppressed)", suppressed);
    va_list ap;
    va_start(ap, fmt);
    log_vmsg(level, fmt, ap, NULL);
    va_end(ap);
}
