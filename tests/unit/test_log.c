/* Rate-limited logging (base/log.h): the limiter's arithmetic with an injected clock, and
 * what reaches the log when a guest repeats itself. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_burst_then_silence_then_count),
        cmocka_unit_test(test_limiters_are_independent),
        cmocka_unit_test(test_storm_reaches_log_as_burst),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
