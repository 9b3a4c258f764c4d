#include "ctl/json.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cursor {
    const char *p, *end;
};

static void skip_ws(struct cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\r' || *c->p == '\n'))
        c->p++;
}

static int expect_char(struct cursor *c, char ch)
{
    skip_ws(c);
    if (c->p >= c->end || *c->p != ch)
        return -1;
    c->p++;
    return 0;
}

/* A string literal into out (NUL-terminated, at most cap - 1 bytes). ASCII escapes only. */
static int parse_string(struct cursor *c, char *out, size_t cap, const char **err)
{
    if (expect_char(c, '"')) {
        *err = "expected a string";
        return -1;
    }
    size_t n = 0;
    while (c->p < c->end && *c->p != '"') {
        char ch = *c->p++;
        if ((unsigned char)ch < 0x20) {
            *err = "control character in string";
            return -1;
        }
        if (ch == '\\') {
            if (c->p >= c->end)
                break;
            switch (*c->p++) {
            case '"': ch = '"'; break;
            case '\\': ch = '\\'; break;
            case '/': ch = '/'; break;
            case 'n': ch = '\n'; break;
            case 't': ch = '\t'; break;
            case 'r': ch = '\r'; break;
            default:
                *err = "unsupported escape in string";
                return -1;
            }
        }
        if (n + 1 >= cap) {
            *err = "string too long";
            return -1;
        }
        out[n++] = ch;
    }
    if (c->p >= c->end) {
        *err = "unterminated string";
        return -1;
    }
    c->p++;
    out[n] = '\0';
    return 0;
}

static int match_word(struct cursor *c, const char *w)
{
    size_t n = strlen(w);
    if ((size_t)(c->end - c->p) >= n && !memcmp(c->p, w, n)) {
        c->p += n;
        return 1;
    }
    return 0;
}

static int parse_value(struct cursor *c, struct json_field *f, const char **err)
{
    skip_ws(c);
    if (c->p >= c->end) {
        *err = "expected a value";
        return -1;
    }
    if (*c->p == '"') {
        f->type = JSON_STRING;
        return parse_string(c, f->str, sizeof(f->str), err);
    }
    if (match_word(c, "true")) {
        f->type = JSON_BOOL;
        f->boolean = true;
        return 0;
    }
    if (match_word(c, "false")) {
        f->type = JSON_BOOL;
        f->boolean = false;
        return 0;
    }
    if (match_word(c, "null")) {
        f->type = JSON_NULL;
        return 0;
    }
    if (*c->p == '-' || (*c->p >= '0' && *c->p <= '9')) {
        char num[32];
        size_t n = 0;
        while (c->p < c->end && n < sizeof(num) - 1 && (*c->p == '-' || (*c->p >= '0' && *c->p <= '9')))
            num[n++] = *c->p++;
        num[n] = '\0';
        char *end;
        errno = 0;
        f->num = strtoll(num, &end, 10);
        if (errno || *end != '\0') {
            *err = "bad integer";
            return -1;
        }
        f->type = JSON_INT;
        return 0;
    }
    *err = (*c->p == '{' || *c->p == '[') ? "nested values are not supported" : "unexpected character";
    return -1;
}

int json_parse(const char *text, size_t len, struct json_object *obj, const char **err)
{
    struct cursor c = { text, text + len };
    obj->n = 0;
    if (expect_char(&c, '{')) {
        *err = "expected a JSON object";
        return -1;
    }
    skip_ws(&c);
    if (c.p < c.end && *c.p == '}') {
        c.p++;
    } else {
        for (;;) {
            if (obj->n == JSON_MAX_FIELDS) {
                *err = "too many fields";
                return -1;
            }
            struct json_field *f = &obj->fields[obj->n];
            if (parse_string(&c, f->key, sizeof(f->key), err))
                return -1;
            if (expect_char(&c, ':')) {
                *err = "expected ':'";
                return -1;
            }
            if (parse_value(&c, f, err))
                return -1;
            obj->n++;
            skip_ws(&c);
            if (c.p < c.end && *c.p == ',') {
                c.p++;
                continue;
            }
            if (expect_char(&c, '}')) {
                *err = "expected ',' or '}'";
                return -1;
            }
            break;
        }
    }
    skip_ws(&c);
    if (c.p != c.end) {
        *err = "trailing characters after the object";
        return -1;
    }
    return 0;
}

static const struct json_field *json_find(const struct json_object *obj, const char *key, enum json_type t)
{
    for (unsigned i = 0; i < obj->n; i++)
        if (!strcmp(obj->fields[i].key, key))
            return obj->fields[i].type == t ? &obj->fields[i] : NULL;
    return NULL;
}

const char *json_get_str(const struct json_object *obj, const char *key)
{
    const struct json_field *f = json_find(obj, key, JSON_STRING);
    return f ? f->str : NULL;
}

bool json_get_int(const struct json_object *obj, const char *key, int64_t *out)
{
    const struct json_field *f = json_find(obj, key, JSON_INT);
    if (f)
        *out = f->num;
    return f != NULL;
}

bool json_get_bool(const struct json_object *obj, const char *key, bool *out)
{
    const struct json_field *f = json_find(obj, key, JSON_BOOL);
    if (f)
        *out = f->boolean;
    return f != NULL;
}

static void put_char(char *buf, size_t cap, size_t *len, char ch)
{
    if (*len + 1 < cap) {
        buf[(*len)++] = ch;
        buf[*len] = '\0';
    }
}

void json_put_str(char *buf, size_t cap, size_t *len, const char *s)
{
    put_char(buf, cap, len, '"');
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') {
            put_char(buf, cap, len, '\\');
            put_char(buf, cap, len, (char)ch);
        } else if (ch < 0x20) {
            char esc[8];
            snprintf(esc, sizeof(esc), "\\u%04x", ch);
            for (char *e = esc; *e; e++)
                put_char(buf, cap, len, *e);
        } else {
            put_char(buf, cap, len, (char)ch);
        }
    }
    put_char(buf, cap, len, '"');
}
