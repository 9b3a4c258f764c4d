/* libFuzzer target: the control socket's request handling (ctl_dispatch.c), as a client
 * reaches it: any bytes as one request line, through commands that take every argument
 * type, required and optional. Every answer must be one valid JSON object with "ok" (and
 * "error" and "class" when not ok), and
 * a handler must only ever see requests that passed the argument check. */
#include <assert.h>
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/ctl.h"

static const struct ctl_arg args_all[] = { { "dev", CTL_ARG_STR, true },
                                           { "vf", CTL_ARG_INT, false },
                                           { "up", CTL_ARG_BOOL, false },
                                           { "mac", CTL_ARG_STR, false },
                                           { NULL } };

static void handler(void *opaque, const struct ctl_request *req, struct ctl_reply *reply)
{
    const char *dev = ctl_arg_str(req, "dev");
    assert(dev);                            /* required: the server checked it */
    int64_t vf;
    bool up;
    const char *key;
    json_t *v;
    json_object_foreach(req->obj, key, v)   /* only declared keys of declared types */
        assert(!strcmp(key, "cmd") || !strcmp(key, "id") ||
               (!strcmp(key, "dev") && json_is_string(v)) ||
               (!strcmp(key, "vf") && json_is_integer(v)) ||
               (!strcmp(key, "up") && json_is_boolean(v)) ||
               (!strcmp(key, "mac") && json_is_string(v)));
    if (ctl_arg_int(req, "vf", &vf) && vf < 0) {
        ctl_reply_error(reply, "vf %lld: %s", (long long)vf, dev);
        return;
    }
    ctl_reply_str(reply, "dev", dev);
    if (ctl_arg_bool(req, "up", &up))
        ctl_reply_bool(reply, "up", up);
    json_t *list = json_array();
    for (size_t i = 0; i < strlen(dev) % 8; i++)
        json_array_append_new(list, ctl_json_str(dev + i));
    ctl_reply_set(reply, "list", list);
}

static const struct ctl_arg args_none[] = { { NULL } };

static void noargs(void *opaque, const struct ctl_request *req, struct ctl_reply *reply)
{
    /* cmd, and the request's id if it has one: the only keys a handler without
     * arguments may see. */
    assert(json_object_size(req->obj) == 1 + (json_object_get(req->obj, "id") != NULL));
    ctl_reply_int(reply, "n", 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct ctl_server s;
    if (!s.ncommands) {
        ctl_server_register(&s, "set", "all types", args_all, handler, NULL);
        ctl_server_register(&s, "list", "no arguments", args_none, noargs, NULL);
    }
    static struct ctl_session session;
    bool was = session.subscribed;
    char *out = ctl_server_handle(&s, (const char *)data, size, &session);
    assert(out);
    assert(!memchr(out, '\n', strlen(out)));  /* one line */
    json_t *o = json_loads(out, 0, NULL);
    assert(json_is_object(o) && json_is_boolean(json_object_get(o, "ok")));
    assert(json_is_true(json_object_get(o, "ok")) || (json_is_string(json_object_get(o, "error")) &&
                                                      json_is_string(json_object_get(o, "class"))));
    /* Only a successful (un)subscribe changes the session. */
    assert(session.subscribed == was || json_is_boolean(json_object_get(o, "subscribed")));
    json_decref(o);
    free(out);
    return 0;
}
