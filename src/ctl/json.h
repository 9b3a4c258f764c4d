/* The control protocol's JSON subset: one flat object per line, whose values are strings,
 * integers, booleans or null. Enough for commands like
 *   {"cmd": "link", "dev": "net0", "up": false}
 * and small enough to audit: the socket is host-admin input, still validated. */
#ifndef VPF_CTL_JSON_H
#define VPF_CTL_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JSON_MAX_FIELDS 16
#define JSON_MAX_STR 256

enum json_type { JSON_STRING, JSON_INT, JSON_BOOL, JSON_NULL };

struct json_field {
    char key[64];
    enum json_type type;
    char str[JSON_MAX_STR];
    int64_t num;
    bool boolean;
};

struct json_object {
    struct json_field fields[JSON_MAX_FIELDS];
    unsigned n;
};

/* Parses text[0..len) as one object. Returns 0, or -1 with a reason in *err. */
int json_parse(const char *text, size_t len, struct json_object *obj, const char **err);
/* Field lookups; NULL / false if absent or of another type. */
const char *json_get_str(const struct json_object *obj, const char *key);
bool json_get_int(const struct json_object *obj, const char *key, int64_t *out);
bool json_get_bool(const struct json_object *obj, const char *key, bool *out);

/* Appends s to buf (of size cap, already holding *len bytes) as a JSON string literal.
 * Output is truncated, never overflowed. */
void json_put_str(char *buf, size_t cap, size_t *len, const char *s);

#endif
