/* Control requests: parse a line, check it against the command's arguments, run the
 * handler, write the answer (ctl.h). */
#include "ctl/ctl.h"
#include "base/version.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void ctl_server_register(struct ctl_server *s, const char *name, const char *help,
                         const struct ctl_arg *args, ctl_handler_fn handler, void *opaque)
{
    if (s->ncommands < CTL_MAX_COMMANDS)
        s->commands[s->ncommands++] = (struct ctl_command){
            name, help, args, handler, opaque, false
        };
}

void ctl_server_register_fd(struct ctl_server *s, const char *name, const char *help,
                            const struct ctl_arg *args, ctl_handler_fn handler, void *opaque)
{
    ctl_server_register(s, name, help, args, handler, opaque);
    if (s->ncommands && s->commands[s->ncommands - 1].handler == handler)
        s->commands[s->ncommands - 1].takes_fd = true;
}

json_t *ctl_json_str(const char *s)
{
    json_t *j = json_string(s);
    if (j)
        return j;
    char *copy = strdup(s);
    if (!copy)
        return NULL;
    for (char *p = copy; *p; p++)
        if ((unsigned char)*p >= 0x80)
            *p = '?';
    j = json_string(copy);
    free(copy);
    return j;
}

static const char *const class_names[] = {
    [CTL_ERR_FAILED] = "failed",
    [CTL_ERR_BAD_REQUEST] = "bad-request",
    [CTL_ERR_UNKNOWN_COMMAND] = "unknown-command",
    [CTL_ERR_BAD_ARGUMENT] = "bad-argument",
    [CTL_ERR_NOT_FOUND] = "not-found",
    [CTL_ERR_NOT_SUPPORTED] = "not-supported",
    [CTL_ERR_CONFLICT] = "conflict",
    [CTL_ERR_INTERNAL] = "internal",
};

const char *ctl_error_class_name(enum ctl_error_class class)
{
    return (unsigned)class < sizeof(class_names) / sizeof(class_names[0]) ? class_names[class]
                                                                          : "failed";
}

static void reply_vfail(struct ctl_reply *r, enum ctl_error_class class, const char *fmt,
                        va_list ap)
{
    vsnprintf(r->error, sizeof(r->error), fmt, ap);
    r->failed = true;
    r->class = class;
}

void ctl_reply_fail(struct ctl_reply *r, enum ctl_error_class class, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    reply_vfail(r, class, fmt, ap);
    va_end(ap);
}

void ctl_reply_error(struct ctl_reply *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    reply_vfail(r, CTL_ERR_FAILED, fmt, ap);
    va_end(ap);
}

void ctl_reply_set(struct ctl_reply *r, const char *key, json_t *value)
{
    if (!value || json_object_set_new(r->obj, key, value) < 0)
        ctl_reply_fail(r, CTL_ERR_INTERNAL, "out of memory");
}

void ctl_reply_str(struct ctl_reply *r, const char *key, const char *value)
{
    ctl_reply_set(r, key, ctl_json_str(value));
}

void ctl_reply_int(struct ctl_reply *r, const char *key, int64_t value)
{
    ctl_reply_set(r, key, json_integer(value));
}

void ctl_reply_bool(struct ctl_reply *r, const char *key, bool value)
{
    ctl_reply_set(r, key, json_boolean(value));
}

const char *ctl_arg_str(const struct ctl_request *r, const char *key)
{
    return json_string_value(json_object_get(r->obj, key));
}

bool ctl_arg_int(const struct ctl_request *r, const char *key, int64_t *out)
{
    json_t *v = json_object_get(r->obj, key);
    if (!json_is_integer(v))
        return false;
    *out = json_integer_value(v);
    return true;
}

bool ctl_arg_bool(const struct ctl_request *r, const char *key, bool *out)
{
    json_t *v = json_object_get(r->obj, key);
    if (!json_is_boolean(v))
        return false;
    *out = json_is_true(v);
    return true;
}

static const char *const type_names[] = {
    [CTL_ARG_STR] = "a string",
    [CTL_ARG_INT] = "an integer",
    [CTL_ARG_BOOL] = "true or false",
};

static const struct ctl_command *command_find(const struct ctl_server *s, const char *name)
{
    for (unsigned i = 0; i < s->ncommands; i++)
        if (!strcmp(s->commands[i].name, name))
            return &s->commands[i];
    return NULL;
}

static const struct ctl_arg *arg_find(const struct ctl_command *c, const char *key)
{
    for (const struct ctl_arg *a = c->args; a && a->name; a++)
        if (!strcmp(a->name, key))
            return a;
    return NULL;
}

/* "dev, vf, mac" for error messages. */
static void args_list(const struct ctl_command *c, char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = '\0';
    for (const struct ctl_arg *a = c->args; a && a->name && len < cap; a++)
        len += (size_t)snprintf(buf + len, cap - len, "%s%s", len ? ", " : "", a->name);
    if (!len)
        snprintf(buf, cap, "no arguments");
}

/* A boolean may be given as "on"/"off" (iproute2): replaced by true/false in place. */
static bool value_fits(json_t *obj, const char *key, json_t *v, enum ctl_arg_type type)
{
    switch (type) {
    case CTL_ARG_STR:
        return json_is_string(v);
    case CTL_ARG_INT:
        return json_is_integer(v);
    case CTL_ARG_BOOL:
        if (json_is_boolean(v))
            return true;
        if (json_is_string(v) &&
            (!strcmp(json_string_value(v), "on") || !strcmp(json_string_value(v), "off")))
            return json_object_set_new(obj, key,
                                       json_boolean(!strcmp(json_string_value(v), "on"))) == 0;
        return false;
    }
    return false;
}

/* Unknown keys, values of the wrong type and missing required arguments are errors. */
static bool request_check(const struct ctl_command *c, json_t *obj, struct ctl_reply *reply)
{
    const char *key;
    json_t *v, *tmp;
    char names[256];
    json_object_foreach_safe(obj, tmp, key, v) {
        if (!strcmp(key, "cmd") || !strcmp(key, "id"))
            continue;
        const struct ctl_arg *a = arg_find(c, key);
        if (!a) {
            args_list(c, names, sizeof(names));
            ctl_reply_fail(reply, CTL_ERR_BAD_ARGUMENT, "%s does not take \"%.64s\" (it takes: %s)",
                           c->name, key, names);
            return false;
        }
        if (!value_fits(obj, key, v, a->type)) {
            ctl_reply_fail(reply, CTL_ERR_BAD_ARGUMENT, "\"%s\" must be %s", key,
                           type_names[a->type]);
            return false;
        }
    }
    for (const struct ctl_arg *a = c->args; a && a->name; a++) {
        if (a->required && !json_object_get(obj, a->name)) {
            ctl_reply_fail(reply, CTL_ERR_BAD_ARGUMENT, "%s needs \"%s\" (%s)", c->name, a->name,
                           type_names[a->type]);
            return false;
        }
    }
    return true;
}

/* help: every command with its arguments. */
static void ctl_help(const struct ctl_server *s, struct ctl_reply *reply)
{
    json_t *list = json_array();
    for (unsigned i = 0; list && i < s->ncommands; i++) {
        const struct ctl_command *c = &s->commands[i];
        json_t *args = json_object();
        for (const struct ctl_arg *a = c->args; args && a && a->name; a++) {
            json_object_set_new(args, a->name,
                                json_pack("{s:s,s:b}", "type", type_names[a->type], "required",
                                          a->required));
        }
        json_t *cmd = json_pack("{s:s,s:s,s:o*}", "name", c->name, "help", c->help, "args", args);
        if (cmd && c->takes_fd)     /* needs a descriptor sent with the request */
            json_object_set_new(cmd, "fd", json_true());
        json_array_append_new(list, cmd);
    }
    ctl_reply_set(reply, "commands", list);
}

/* The built-in commands (help, subscribe, unsubscribe; nargs: keys besides cmd and id):
 * true if cmd is one. */
static bool builtin_run(struct ctl_server *s, const char *cmd, size_t nargs,
                        struct ctl_session *session, struct ctl_reply *reply)
{
    bool help = !strcmp(cmd, "help"), sub = !strcmp(cmd, "subscribe");
    if (!help && !sub && strcmp(cmd, "unsubscribe"))
        return false;
    if (nargs)
        ctl_reply_fail(reply, CTL_ERR_BAD_ARGUMENT, "%s takes no arguments", cmd);
    else if (help)
        ctl_help(s, reply);
    else {
        session->subscribed = sub;
        ctl_reply_bool(reply, "subscribed", sub);
    }
    return true;
}

/* A command gets a descriptor only if it takes one, and then exactly one. */
static bool fds_check(const struct ctl_command *c, unsigned nfds, struct ctl_reply *reply)
{
    if (nfds && !c->takes_fd)
        ctl_reply_fail(reply, CTL_ERR_BAD_ARGUMENT, "%s takes no file descriptor", c->name);
    else if (nfds > 1)
        ctl_reply_fail(reply, CTL_ERR_BAD_ARGUMENT, "%s takes one file descriptor, not %u", c->name,
                       nfds);
    else if (!nfds && c->takes_fd)
        ctl_reply_fail(reply, CTL_ERR_BAD_ARGUMENT,
                       "%s needs a file descriptor sent with the "
                       "request line (SCM_RIGHTS)",
                       c->name);
    return !reply->failed;
}

/* Runs the request; returns its "id" (a new reference), if it had a valid one. */
static json_t *request_run(struct ctl_server *s, const char *line, size_t len,
                           struct ctl_session *session, int *fds, unsigned nfds,
                           struct ctl_reply *reply)
{
    json_error_t jerr;
    json_t *obj = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!obj) {
        ctl_reply_fail(reply, CTL_ERR_BAD_REQUEST, "bad request: %s", jerr.text);
        return NULL;
    }
    json_t *id = json_object_get(obj, "id");
    if (id && !json_is_string(id) && !json_is_integer(id)) {
        ctl_reply_fail(reply, CTL_ERR_BAD_REQUEST,
                       "bad request: \"id\" must be a string or an integer");
        json_decref(obj);
        return NULL;
    }
    json_incref(id);
    const char *cmd = json_string_value(json_object_get(obj, "cmd"));
    const struct ctl_command *c = cmd ? command_find(s, cmd) : NULL;
    if (!json_is_object(obj) || !cmd)
        ctl_reply_fail(reply, CTL_ERR_BAD_REQUEST,
                       "bad request: want an object with a \"cmd\" string");
    else if (nfds && !c &&
             (!strcmp(cmd, "help") || !strcmp(cmd, "subscribe") || !strcmp(cmd, "unsubscribe")))
        ctl_reply_fail(reply, CTL_ERR_BAD_ARGUMENT, "%s takes no file descriptor", cmd);
    else if (builtin_run(s, cmd, json_object_size(obj) - 1 - (id != NULL), session, reply))
        ;
    else if (!c)
        ctl_reply_fail(reply, CTL_ERR_UNKNOWN_COMMAND, "unknown command \"%.64s\" (try \"help\")",
                       cmd);
    else if (request_check(c, obj, reply) && fds_check(c, nfds, reply))
        c->handler(c->opaque, &(struct ctl_request){ obj, session->uid, c->takes_fd ? fds : NULL },
                   reply);
    json_decref(obj);
    return id;
}

static void fds_close(int *fds, unsigned nfds)
{
    for (unsigned i = 0; i < nfds; i++)
        if (fds[i] >= 0)
            close(fds[i]);
}

char *ctl_server_handle(struct ctl_server *s, const char *line, size_t len,
                        struct ctl_session *session)
{
    return ctl_server_handle_fds(s, line, len, session, NULL, 0);
}

char *ctl_server_handle_fds(struct ctl_server *s, const char *line, size_t len,
                            struct ctl_session *session, int *fds, unsigned nfds)
{
    struct ctl_reply reply = { .obj = json_object() };
    if (!reply.obj) {
        fds_close(fds, nfds);
        return NULL;
    }
    json_t *id = request_run(s, line, len, session, fds, nfds, &reply);
    fds_close(fds, nfds);           /* what no handler kept */
    json_t *out = json_pack("{s:b,s:o*}", "ok", !reply.failed, "id", id);
    if (out && reply.failed) {
        json_object_set_new(out, "error", ctl_json_str(reply.error));
        json_object_set_new(out, "class", json_string(ctl_error_class_name(reply.class)));
    } else if (out) {
        json_object_update(out, reply.obj);
    }
    json_decref(reply.obj);
    char *text = out ? json_dumps(out, JSON_COMPACT) : NULL;
    json_decref(out);
    return text;
}

char *ctl_server_greeting(const struct ctl_server *s)
{
    json_t *cmds = json_array();
    json_array_append_new(cmds, json_string("help"));
    json_array_append_new(cmds, json_string("subscribe"));
    json_array_append_new(cmds, json_string("unsubscribe"));
    for (unsigned i = 0; cmds && i < s->ncommands; i++)
        json_array_append_new(cmds, json_string(s->commands[i].name));
    json_t *g = json_pack("{s:{s:s,s:s,s:s,s:i,s:o*}}", "greeting", "name", "vpf", "version",
                          VPF_VERSION, "revision", VPF_GIT_REVISION, "protocol", CTL_PROTOCOL,
                          "commands", cmds);
    char *text = g ? json_dumps(g, JSON_COMPACT) : NULL;
    json_decref(g);
    return text;
}
