#include "base/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum log_level log_threshold = LOG_INFO;

static const char *const level_names[] = { "error", "warning", "info", "debug" };

static void log_vmsg(enum log_level level, const char *fmt, va_list ap, const char *suffix)
{
    /* One fprintf per line, so lines from different threads do not interleave. */
    char line[1024];
    vsnprintf(line, sizeof(line), fmt, ap);
    fprintf(stderr, "vpf: %s: %s%s%s\n", level_names[level], line,
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
