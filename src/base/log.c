#include "base/log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* A line: timestamp, "vpf: warning: ", the message (truncated with "..."), newline. Far
 * below PIPE_BUF, so even a pipe takes it in one piece. */
#define LOG_MSG_MAX 1024
#define LOG_LINE_MAX (LOG_TIMESTAMP_MAX + 16 + LOG_MSG_MAX + 2)

#include "base/clock.h"
#include "base/exit.h"

enum log_level log_threshold = LOG_INFO;
static int log_fd = STDERR_FILENO;
static bool log_to_file;        /* --log-file: fatal lines go to stderr too, */
static atomic_bool log_in_setup = true;     /* until then, so do all error lines */
static enum log_timestamps log_stamps_when = LOG_TIMESTAMPS_AUTO;
static pthread_mutex_t ratelimit_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const level_names[] = { "error", "warning", "info", "debug" };

/* ---- setup ---- */

void log_set_output(FILE *f)
{
    if (log_to_file)
        close(log_fd);
    log_fd = f ? fileno(f) : STDERR_FILENO;
    log_to_file = false;
}

int log_open_file(const char *path)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
    if (fd < 0)
        return -1;
    if (log_to_file)
        close(log_fd);
    log_fd = fd;
    log_to_file = true;
    return 0;
}

int log_parse_timestamps(const char *s, enum log_timestamps *out)
{
    static const char *const names[] = {
        [LOG_TIMESTAMPS_AUTO] = "auto",
        [LOG_TIMESTAMPS_ON] = "on",
        [LOG_TIMESTAMPS_OFF] = "off",
    };
    for (int i = 0; i < 3; i++) {
        if (!strcmp(s, names[i])) {
            *out = (enum log_timestamps)i;
            return 0;
        }
    }
    return -1;
}

void log_setup_done(void) { atomic_store_explicit(&log_in_setup, false, memory_order_relaxed); }

void log_set_timestamps(enum log_timestamps when) { log_stamps_when = when; }

static bool log_stamped(void)
{
    return log_stamps_when == LOG_TIMESTAMPS_ON ||
           (log_stamps_when == LOG_TIMESTAMPS_AUTO && log_to_file);
}

/* ---- timestamps (no stdio, no locale, no time zone: also for signal handlers) ---- */

static size_t put_str(char *buf, size_t n, size_t cap, const char *s)
{
    while (*s && n < cap)
        buf[n++] = *s++;
    return n;
}

/* v in at least `width` digits, zero-padded. */
static size_t put_num(char *buf, size_t n, size_t cap, uint64_t v, int width)
{
    char digits[24];
    int k = 0;
    do
        digits[k++] = (char)('0' + v % 10);
    while ((v /= 10) && k < (int)sizeof(digits));
    while (k < width && k < (int)sizeof(digits))
        digits[k++] = '0';
    while (k > 0 && n < cap)
        buf[n++] = digits[--k];
    return n;
}

/* Days since 1970-01-01 -> year, month, day (H. Hinnant's civil_from_days). */
static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

size_t log_format_timestamp(char *buf, size_t cap, int64_t sec, long nsec)
{
    if (cap < LOG_TIMESTAMP_MAX)
        return 0;
    int64_t days = sec >= 0 ? sec / 86400 : -((-sec + 86399) / 86400);
    int64_t rem = sec - days * 86400, year;
    unsigned month, day;
    civil_from_days(days, &year, &month, &day);
    size_t n = 0, c = cap - 1;
    if (year < 0) {
        buf[n++] = '-';
        year = -year;
    }
    n = put_num(buf, n, c, (uint64_t)year, 4);
    n = put_str(buf, n, c, "-");
    n = put_num(buf, n, c, month, 2);
    n = put_str(buf, n, c, "-");
    n = put_num(buf, n, c, day, 2);
    n = put_str(buf, n, c, "T");
    n = put_num(buf, n, c, (uint64_t)(rem / 3600), 2);
    n = put_str(buf, n, c, ":");
    n = put_num(buf, n, c, (uint64_t)(rem / 60 % 60), 2);
    n = put_str(buf, n, c, ":");
    n = put_num(buf, n, c, (uint64_t)(rem % 60), 2);
    n = put_str(buf, n, c, ".");
    n = put_num(buf, n, c, (uint64_t)(nsec / 1000000) % 1000, 3);
    n = put_str(buf, n, c, "Z");
    buf[n] = '\0';
    return n;
}

/* ---- writing lines ---- */

/* One write() per line (O_APPEND, or a pipe below PIPE_BUF, keeps it whole); only a
 * signal or a full disk can split it, and then the rest follows at once. */
static void write_all(int fd, const char *buf, size_t len)
{
    while (len) {
        ssize_t n = write(fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;             /* nowhere left to say so */
        buf += n;
        len -= (size_t)n;
    }
}

/* "[timestamp ]vpf: LEVEL: msg\n" to fd. Async-signal-safe. */
static void emit_to(int fd, bool stamped, enum log_level level, const char *msg)
{
    char line[LOG_LINE_MAX];
    size_t n = 0, cap = sizeof(line) - 1;
    if (stamped) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        n = log_format_timestamp(line, sizeof(line), ts.tv_sec, ts.tv_nsec);
        line[n++] = ' ';
    }
    n = put_str(line, n, cap, "vpf: ");
    n = put_str(line, n, cap, level_names[level]);
    n = put_str(line, n, cap, ": ");
    n = put_str(line, n, cap, msg);
    line[n++] = '\n';
    write_all(fd, line, n);
}

/* The line to the log, and also to stderr if asked when the log is a file. */
static void emit(enum log_level level, const char *msg, bool to_stderr)
{
    emit_to(log_fd, log_stamped(), level, msg);
    if (to_stderr && log_to_file)
        emit_to(STDERR_FILENO, false, level, msg);
}

/* The message, with ": suffix" if given, cut to LOG_MSG_MAX bytes ending in "...". */
static void format_msg(char *msg, const char *fmt, va_list ap, const char *suffix)
{
    int n = vsnprintf(msg, LOG_MSG_MAX, fmt, ap);
    if (n < 0)
        n = snprintf(msg, LOG_MSG_MAX, "(unprintable message: %s)", fmt);
    if (suffix && n >= 0 && n < LOG_MSG_MAX)
        n += snprintf(msg + n, LOG_MSG_MAX - (size_t)n, ": %s", suffix);
    if (n >= LOG_MSG_MAX)
        memcpy(msg + LOG_MSG_MAX - 4, "...", 4);
}

static void log_vmsg(enum log_level level, const char *fmt, va_list ap, const char *suffix,
                     bool to_stderr)
{
    char msg[LOG_MSG_MAX];
    format_msg(msg, fmt, ap, suffix);
    emit(level, msg, to_stderr);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    if (level > log_threshold)
        return;
    bool setup_error = level == LOG_ERROR &&
                       atomic_load_explicit(&log_in_setup, memory_order_relaxed);
    va_list ap;
    va_start(ap, fmt);
    log_vmsg(level, fmt, ap, NULL, setup_error);
    va_end(ap);
}

void log_error_signalsafe(const char *msg) { emit(LOG_ERROR, msg, true); }

void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vmsg(LOG_ERROR, fmt, ap, NULL, true);
    va_end(ap);
    exit(VPF_EXIT_SETUP);
}

void die_errno(const char *fmt, ...)
{
    const char *err = strerror(errno);
    va_list ap;
    va_start(ap, fmt);
    log_vmsg(LOG_ERROR, fmt, ap, err, true);
    va_end(ap);
    exit(VPF_EXIT_SETUP);
}

/* ---- the limiter ---- */

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
    log_vmsg(level, fmt, ap, NULL, false);
    va_end(ap);
}
