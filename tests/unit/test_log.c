/* Logging (base/log.h): the limiter's arithmetic with an injected clock, what reaches
 * the log when a guest repeats itself, timestamps, --quiet, --log-file, whole lines from
 * many threads, and die()'s line on stderr. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/exit.h"
#include "base/log.h"

#define S 1000000000ull

static void test_burst_then_silence_then_count(void **state)
{
    struct log_ratelimit rl = { 0 };
    unsigned long sup = 99;
    uint64_t t = 7 * S;
    for (int i = 0; i < LOG_RATELIMIT_BURST; i++) {
        assert_true(log_ratelimit_check(&rl, t + (uint64_t)i, &sup));
        assert_int_equal(sup, 0);
    }
    for (int i = 0; i < 1000; i++)
        assert_false(log_ratelimit_check(&rl, t + S, &sup));
    /* Still inside the window: silent. */
    assert_false(log_ratelimit_check(&rl, t + LOG_RATELIMIT_WINDOW_NS - 1, &sup));
    /* A new window: the first message says how many were dropped before it. */
    assert_true(log_ratelimit_check(&rl, t + LOG_RATELIMIT_WINDOW_NS, &sup));
    assert_int_equal(sup, 1001);
    assert_true(log_ratelimit_check(&rl, t + LOG_RATELIMIT_WINDOW_NS + 1, &sup));
    assert_int_equal(sup, 0);
}

/* A limiter's own burst: room for one full VF Enable of a big PF. */
static void test_own_burst(void **state)
{
    struct log_ratelimit rl = { .burst = 258 };
    unsigned long sup;
    for (int i = 0; i < 258; i++)
        assert_true(log_ratelimit_check(&rl, S + (uint64_t)i, &sup));
    assert_false(log_ratelimit_check(&rl, 2 * S, &sup));
}

static void test_limiters_are_independent(void **state)
{
    struct log_ratelimit a = { 0 }, b = { 0 };
    unsigned long sup;
    for (int i = 0; i < 50; i++)
        log_ratelimit_check(&a, S, &sup);
    assert_true(log_ratelimit_check(&b, S, &sup));
    /* A clock at 0 (a fresh limiter's zero) still opens a window. */
    struct log_ratelimit z = { 0 };
    assert_true(log_ratelimit_check(&z, 0, &sup));
}

/* 10,000 messages through one limiter within a second: the burst, nothing else. */
static void test_storm_reaches_log_as_burst(void **state)
{
    FILE *f = tmpfile();
    assert_non_null(f);
    log_set_output(f);
    struct log_ratelimit rl = { 0 };
    for (int i = 0; i < 10000; i++)
        log_warn_rl(&rl, "guest did %d", i);
    log_set_output(NULL);
    rewind(f);
    char line[256];
    int lines = 0;
    while (fgets(line, sizeof(line), f))
        lines++;
    fclose(f);
    assert_int_equal(lines, LOG_RATELIMIT_BURST);
}

/* ---- timestamps ---- */

static void expect_stamp(int64_t sec, long nsec, const char *want)
{
    char buf[LOG_TIMESTAMP_MAX];
    size_t n = log_format_timestamp(buf, sizeof(buf), sec, nsec);
    assert_string_equal(buf, want);
    assert_int_equal(n, strlen(want));
}

static void test_timestamp_format(void **state)
{
    expect_stamp(0, 0, "1970-01-01T00:00:00.000Z");
    expect_stamp(1764755000, 120999999, "2025-12-03T09:43:20.120Z");
    expect_stamp(951782400, 5000000, "2000-02-29T00:00:00.005Z");      /* leap day */
    expect_stamp(253402300799, 999999999, "9999-12-31T23:59:59.999Z");
    expect_stamp(-1, 0, "1969-12-31T23:59:59.000Z");
    expect_stamp(-2203891200, 0, "1900-03-01T00:00:00.000Z");         /* not a leap year */
    char small[LOG_TIMESTAMP_MAX - 1];
    assert_int_equal(log_format_timestamp(small, sizeof(small), 0, 0), 0);
}

/* The log's lines so far (f rewound and read to the end), in buf. */
static size_t read_log(FILE *f, char *buf, size_t cap)
{
    fflush(f);
    rewind(f);
    size_t n = fread(buf, 1, cap - 1, f);
    buf[n] = '\0';
    return n;
}

static void assert_matches(const char *text, const char *re)
{
    regex_t r;
    assert_int_equal(regcomp(&r, re, REG_EXTENDED | REG_NOSUB), 0);
    int m = regexec(&r, text, 0, NULL, 0);
    regfree(&r);
    if (m != 0)
        fail_msg("'%s' does not match /%s/", text, re);
}

#define STAMP_RE "[0-9]{4}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9]\\.[0-9]{3}Z "

static void test_timestamps_on_and_off(void **state)
{
    FILE *f = tmpfile();
    assert_non_null(f);
    char buf[512];
    log_set_output(f);
    log_set_timestamps(LOG_TIMESTAMPS_ON);
    log_info("hello %d", 1);
    read_log(f, buf, sizeof(buf));
    assert_matches(buf, "^" STAMP_RE "vpf: info: hello 1\n$");
    /* auto: none on a stream that is not a --log-file (stderr) */
    log_set_timestamps(LOG_TIMESTAMPS_AUTO);
    log_warn("plain");
    log_set_timestamps(LOG_TIMESTAMPS_OFF);
    log_error("off");
    read_log(f, buf, sizeof(buf));
    assert_non_null(strstr(buf, "\nvpf: warning: plain\nvpf: error: off\n"));
    log_set_output(NULL);
    fclose(f);
}

static void test_timestamps_parse(void **state)
{
    enum log_timestamps t;
    assert_int_equal(log_parse_timestamps("on", &t), 0);
    assert_int_equal(t, LOG_TIMESTAMPS_ON);
    assert_int_equal(log_parse_timestamps("off", &t), 0);
    assert_int_equal(t, LOG_TIMESTAMPS_OFF);
    assert_int_equal(log_parse_timestamps("auto", &t), 0);
    assert_int_equal(t, LOG_TIMESTAMPS_AUTO);
    assert_int_equal(log_parse_timestamps("yes", &t), -1);
    assert_int_equal(log_parse_timestamps("", &t), -1);
}

/* --quiet: warnings and errors only. */
static void test_quiet_level(void **state)
{
    FILE *f = tmpfile();
    assert_non_null(f);
    char buf[512];
    log_set_output(f);
    log_threshold = LOG_WARN;
    log_info("not shown");
    log_debug("not shown either");
    struct log_ratelimit rl = { 0 };
    log_info_rl(&rl, "nor this");
    log_warn("shown");
    log_error("shown too");
    log_threshold = LOG_INFO;
    log_set_output(NULL);
    read_log(f, buf, sizeof(buf));
    fclose(f);
    assert_string_equal(buf, "vpf: warning: shown\nvpf: error: shown too\n");
}

static void test_long_message_is_cut(void **state)
{
    FILE *f = tmpfile();
    assert_non_null(f);
    static char big[4000], buf[5000];
    memset(big, 'x', sizeof(big) - 1);
    log_set_output(f);
    log_info("%s", big);
    log_set_output(NULL);
    size_t n = read_log(f, buf, sizeof(buf));
    fclose(f);
    assert_true(n > 1000 && n < 1100);
    assert_string_equal(buf + n - 5, "x...\n");
    assert_int_equal(strchr(buf, '\n') - buf, (long)n - 1);
}

/* ---- --log-file ---- */

static void temp_path(char *path, size_t cap)
{
    snprintf(path, cap, "%s/vpf-test-log-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "old line\n", 9), 9);
    close(fd);
}

static size_t read_path(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = fread(buf, 1, cap - 1, f);
    buf[n] = '\0';
    fclose(f);
    return n;
}

static void test_log_file_appends_with_timestamps(void **state)
{
    char path[256], buf[512];
    temp_path(path, sizeof(path));
    log_set_timestamps(LOG_TIMESTAMPS_AUTO);
    assert_int_equal(log_open_file(path), 0);
    log_info("to the file");
    log_set_output(NULL);       /* closes it */
    read_path(path, buf, sizeof(buf));
    unlink(path);
    assert_matches(buf, "^old line\n" STAMP_RE "vpf: info: to the file\n$");
}

static void test_log_file_error_changes_nothing(void **state)
{
    FILE *f = tmpfile();
    assert_non_null(f);
    char buf[256];
    log_set_output(f);
    errno = 0;
    assert_int_equal(log_open_file("/nonexistent-vpf-dir/vpf.log"), -1);
    assert_int_equal(errno, ENOENT);
    assert_int_equal(log_open_file("/"), -1);
    assert_int_equal(errno, EISDIR);
    log_info("still here");
    log_set_output(NULL);
    read_log(f, buf, sizeof(buf));
    fclose(f);
    assert_string_equal(buf, "vpf: info: still here\n");
}

/* ---- many threads, one file: every line whole ---- */

#define WRITERS 8
#define LINES_EACH 2000

static void *writer(void *arg)
{
    long id = (long)arg;
    char pad[301];
    memset(pad, 'a' + (int)id, 300);
    pad[300] = '\0';
    for (int i = 0; i < LINES_EACH; i++)
        log_info("w%ld %05d %s", id, i, pad);
    return NULL;
}

/* "vpf: info: wI NNNNN" and 300 times the writer's letter, nothing else. */
static void check_line(const char *line, size_t len, unsigned *count)
{
    assert_int_equal(len, strlen("vpf: info: w0 00000 ") + 300);
    assert_memory_equal(line, "vpf: info: w", 12);
    int id = line[12] - '0';
    assert_true(id >= 0 && id < WRITERS);
    for (size_t k = len - 300; k < len; k++)
        assert_int_equal(line[k], 'a' + id);
    count[id]++;
}

static void test_threads_write_whole_lines(void **state)
{
    char path[256];
    temp_path(path, sizeof(path));
    assert_int_equal(log_open_file(path), 0);
    log_set_timestamps(LOG_TIMESTAMPS_OFF);
    pthread_t t[WRITERS];
    for (long i = 0; i < WRITERS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, writer, (void *)i), 0);
    for (int i = 0; i < WRITERS; i++)
        pthread_join(t[i], NULL);
    log_set_output(NULL);
    log_set_timestamps(LOG_TIMESTAMPS_AUTO);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[1024];
    unsigned count[WRITERS] = { 0 };
    assert_non_null(fgets(line, sizeof(line), f));      /* "old line" */
    while (fgets(line, sizeof(line), f))
        check_line(line, strcspn(line, "\n"), count);
    fclose(f);
    unlink(path);
    for (int i = 0; i < WRITERS; i++)
        assert_int_equal(count[i], LINES_EACH);
}

/* ---- die() and the signal-safe line: the log, and stderr when the log is a file ---- */

static void test_die_with_log_file_also_on_stderr(void **state)
{
    char path[256], buf[512];
    temp_path(path, sizeof(path));
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(p[1], STDERR_FILENO);
        if (log_open_file(path) < 0)
            _exit(99);
        die("boom %d", 7);
    }
    close(p[1]);
    ssize_t n = read(p[0], buf, sizeof(buf) - 1);
    close(p[0]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), VPF_EXIT_SETUP);
    assert_true(n > 0);
    buf[n] = '\0';
    assert_string_equal(buf, "vpf: error: boom 7\n");
    read_path(path, buf, sizeof(buf));
    unlink(path);
    assert_matches(buf, "^old line\n" STAMP_RE "vpf: error: boom 7\n$");
}

/* Until setup is done every error line also reaches stderr (a failed start says why
 * there); afterwards only the fatal ones do. */
static void test_setup_errors_also_on_stderr(void **state)
{
    char path[256], buf[512];
    temp_path(path, sizeof(path));
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(p[1], STDERR_FILENO);
        if (log_open_file(path) < 0)
            _exit(99);
        log_set_timestamps(LOG_TIMESTAMPS_OFF);
        log_error("setup failed");
        log_warn("a warning stays in the file");
        log_setup_done();
        log_error("a guest broke something");
        log_error_signalsafe("seccomp: thread x made forbidden system call 1 (write)");
        _exit(0);
    }
    close(p[1]);
    ssize_t n = 0, r;
    while ((r = read(p[0], buf + n, sizeof(buf) - 1 - (size_t)n)) > 0)
        n += r;
    close(p[0]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    buf[n] = '\0';
    assert_string_equal(buf,
                        "vpf: error: setup failed\n"
                        "vpf: error: seccomp: thread x made forbidden system call 1 (write)\n");
    read_path(path, buf, sizeof(buf));
    unlink(path);
    assert_string_equal(
        buf, "old line\nvpf: error: setup failed\nvpf: warning: a warning stays in the file\n"
             "vpf: error: a guest broke something\n"
             "vpf: error: seccomp: thread x made forbidden system call 1 (write)\n");
}

static void test_signalsafe_line(void **state)
{
    FILE *f = tmpfile();
    assert_non_null(f);
    char buf[256];
    log_set_output(f);
    log_threshold = LOG_WARN;   /* errors are never dropped */
    log_error_signalsafe("seccomp: thread vcpu0 made forbidden system call 41 (socket)");
    log_threshold = LOG_INFO;
    log_set_output(NULL);
    read_log(f, buf, sizeof(buf));
    fclose(f);
    assert_string_equal(
        buf, "vpf: error: seccomp: thread vcpu0 made forbidden system call 41 (socket)\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_burst_then_silence_then_count),
        cmocka_unit_test(test_limiters_are_independent),
        cmocka_unit_test(test_own_burst),
        cmocka_unit_test(test_storm_reaches_log_as_burst),
        cmocka_unit_test(test_timestamp_format),
        cmocka_unit_test(test_timestamps_on_and_off),
        cmocka_unit_test(test_timestamps_parse),
        cmocka_unit_test(test_quiet_level),
        cmocka_unit_test(test_long_message_is_cut),
        cmocka_unit_test(test_log_file_appends_with_timestamps),
        cmocka_unit_test(test_log_file_error_changes_nothing),
        cmocka_unit_test(test_threads_write_whole_lines),
        cmocka_unit_test(test_die_with_log_file_also_on_stderr),
        cmocka_unit_test(test_setup_errors_also_on_stderr),
        cmocka_unit_test(test_signalsafe_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
