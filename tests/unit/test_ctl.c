#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "ctl/client.h"
#include "ctl/ctl.h"
#include "ctl/json.h"

static void test_json_parse_flat_object(void **state)
{
    struct json_object o;
    const char *err = NULL;
    const char *t = " {\"cmd\": \"link\", \"dev\":\"net0\", \"up\": false, \"n\": -42, \"x\": null,"
                    " \"s\": \"a\\\"b\\\\c\\n\"} ";
    assert_int_equal(json_parse(t, strlen(t), &o, &err), 0);
    assert_string_equal(json_get_str(&o, "cmd"), "link");
    assert_string_equal(json_get_str(&o, "dev"), "net0");
    bool up = true;
    assert_true(json_get_bool(&o, "up", &up));
    assert_false(up);
    int64_t n = 0;
    assert_true(json_get_int(&o, "n", &n));
    assert_int_equal(n, -42);
    assert_string_equal(json_get_str(&o, "s"), "a\"b\\c\n");
    assert_null(json_get_str(&o, "up"));      /* wrong type */
    assert_null(json_get_str(&o, "missing"));
}

static void test_json_rejects_malformed(void **state)
{
    static const char *bad[] = {
        "", "[]", "{", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "{\"a\":{\"b\":1}}", "{\"a\":[1]}",
        "{\"a\":\"unterminated}", "{\"a\":1} trailing", "{\"a\":\"\\q\"}", "{a:1}",
        "{\"a\":99999999999999999999999}", "{\"a\":tru}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct json_object o;
        const char *err = NULL;
        assert_int_equal(json_parse(bad[i], strlen(bad[i]), &o, &err), -1);
        assert_non_null(err);
    }
    /* Too many fields and over-long strings are refused, not truncated. */
    char big[4096] = "{";
    for (int i = 0; i < JSON_MAX_FIELDS + 1; i++)
        sprintf(big + strlen(big), "%s\"k%d\":1", i ? "," : "", i);
    strcat(big, "}");
    struct json_object o;
    const char *err;
    assert_int_equal(json_parse(big, strlen(big), &o, &err), -1);
    char longstr[JSON_MAX_STR + 32] = "{\"a\":\"";
    memset(longstr + 6, 'x', JSON_MAX_STR);
    strcpy(longstr + 6 + JSON_MAX_STR, "\"}");
    assert_int_equal(json_parse(longstr, strlen(longstr), &o, &err), -1);
}

static int calls;

static void echo_handler(void *opaque, const struct json_object *req, struct ctl_reply *reply)
{
    calls++;
    const char *dev = json_get_str(req, "dev");
    if (!dev) {
        ctl_reply_error(reply, "need \"dev\"");
        return;
    }
    ctl_reply_str(reply, "dev", dev);
    ctl_reply_int(reply, "n", 7);
    ctl_reply_bool(reply, "up", true);
}

static void test_server_dispatch(void **state)
{
    struct ctl_server s;
    memset(&s, 0, sizeof(s));
    ctl_server_register(&s, "echo", "test", echo_handler, NULL);
    char out[1024];
    const char *req = "{\"cmd\":\"echo\",\"dev\":\"net\\\"0\"}";
    ctl_server_handle(&s, req, strlen(req), out, sizeof(out));
    assert_string_equal(out, "{\"ok\":true,\"dev\":\"net\\\"0\",\"n\":7,\"up\":true}");

    req = "{\"cmd\":\"echo\"}";
    ctl_server_handle(&s, req, strlen(req), out, sizeof(out));
    assert_string_equal(out, "{\"ok\":false,\"error\":\"need \\\"dev\\\"\"}");

    req = "{\"cmd\":\"nope\"}";
    ctl_server_handle(&s, req, strlen(req), out, sizeof(out));
    assert_non_null(strstr(out, "unknown command"));

    req = "not json";
    ctl_server_handle(&s, req, strlen(req), out, sizeof(out));
    assert_non_null(strstr(out, "\"ok\":false"));

    req = "{\"cmd\":\"help\"}";
    ctl_server_handle(&s, req, strlen(req), out, sizeof(out));
    assert_non_null(strstr(out, "\"commands\":[\"echo\"]"));
    assert_int_equal(calls, 2);
}

static void test_client_build(void **state)
{
    char out[256];
    char *argv[] = { "link", "dev=net0", "up=false", "rate=100", "name=a b" };
    assert_int_equal(ctl_client_build(5, argv, out, sizeof(out)), 0);
    assert_string_equal(out, "{\"cmd\":\"link\",\"dev\":\"net0\",\"up\":false,\"rate\":100,\"name\":\"a b\"}");
    char *bad[] = { "link", "noequals" };
    assert_int_equal(ctl_client_build(2, bad, out, sizeof(out)), -1);
    char *empty_key[] = { "link", "=1" };
    assert_int_equal(ctl_client_build(2, empty_key, out, sizeof(out)), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_parse_flat_object),
        cmocka_unit_test(test_json_rejects_malformed),
        cmocka_unit_test(test_server_dispatch),
        cmocka_unit_test(test_client_build),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
