#include "ctl/client_show.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/util.h"

#define CELL_MAX 256
#define COLS_MAX 24                  /* the widest table: vfs */

/* How a column shows its values, beyond strings and numbers as they are. */
enum col_fmt {
    COL_TEXT,           /* booleans as true/false */
    COL_NUM0,           /* 0 as "-" (no VLAN, no rate limit, no VFs) */
    COL_LINK,           /* booleans as up/down */
    COL_ONOFF,          /* booleans as on/off */
    COL_ARGS,           /* a command's "args": dev [mac] ... */
};

struct col {
    const char *head;
    const char *key;
    const char *alt;    /* shown when key is absent or empty (a vDPA device for a tap);
                         * "a|b": a, else b (a vhost-user socket) */
    enum col_fmt fmt;
};

/* ---- cells ---- */

/* A command's arguments: required ones bare, optional ones in brackets. */
static void args_text(json_t *args, char *buf, size_t cap)
{
    const char *key;
    json_t *spec;
    size_t n = 0;
    buf[0] = '\0';
    json_object_foreach(args, key, spec) {
        bool req = json_is_true(json_object_get(spec, "required"));
        int w = snprintf(buf + n, cap - n, "%s%s%s%s", n ? " " : "", req ? "" : "[", key,
                         req ? "" : "]");
        if (w < 0 || (size_t)w >= cap - n)
            break;
        n += (size_t)w;
    }
}

static void value_text(json_t *v, enum col_fmt fmt, char *buf, size_t cap);

/* A list: strings, or the "dev" of each object (VFs in an event), comma-separated. */
static void list_text(json_t *list, char *buf, size_t cap)
{
    size_t i, n = 0;
    json_t *v;
    buf[0] = '\0';
    json_array_foreach(list, i, v) {
        char one[CELL_MAX];
        json_t *dev = json_object_get(v, "dev");
        value_text(json_is_object(v) && dev ? dev : v, COL_TEXT, one, sizeof(one));
        int w = snprintf(buf + n, cap - n, "%s%s", n ? "," : "", one);
        if (w < 0 || (size_t)w >= cap - n)
            break;
        n += (size_t)w;
    }
    if (!n)
        snprintf(buf, cap, "-");
}

static void value_text(json_t *v, enum col_fmt fmt, char *buf, size_t cap)
{
    if (fmt == COL_ARGS && json_is_object(v)) {
        args_text(v, buf, cap);
    } else if (json_is_string(v)) {
        snprintf(buf, cap, "%s", *json_string_value(v) ? json_string_value(v) : "-");
    } else if (json_is_integer(v)) {
        if (fmt == COL_NUM0 && json_integer_value(v) == 0)
            snprintf(buf, cap, "-");
        else
            snprintf(buf, cap, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    } else if (json_is_real(v)) {
        snprintf(buf, cap, "%g", json_real_value(v));
    } else if (json_is_boolean(v)) {
        bool t = json_is_true(v);
        snprintf(buf, cap, "%s",
                 fmt == COL_LINK    ? (t ? "up" : "down")
                 : fmt == COL_ONOFF ? (t ? "on" : "off")
                                    : (t ? "true" : "false"));
    } else if (json_is_array(v)) {
        list_text(v, buf, cap);
    } else if (json_is_object(v)) {
        char *s = json_dumps(v, JSON_COMPACT);
        snprintf(buf, cap, "%s", s ? s : "{...}");
        free(s);
    } else {
        snprintf(buf, cap, "-");    /* absent, or null */
    }
}

static void cell_text(json_t *row, const struct col *c, char *buf, size_t cap)
{
    json_t *v = json_object_get(row, c->key);
    for (const char *a = c->alt; a && (!v || (json_is_string(v) && !*json_string_value(v)));) {
        const char *bar = strchr(a, '|');
        char key[32];
        snprintf(key, sizeof(key), "%.*s", bar ? (int)(bar - a) : (int)strlen(a), a);
        v = json_object_get(row, key);
        a = bar ? bar + 1 : NULL;
    }
    value_text(v, c->fmt, buf, cap);
}

/* ---- tables and fields ---- */

/* One line per object in rows, columns as wide as their widest cell, two spaces apart
 * (the last one not padded). Nothing for an empty list. */
static void show_table(FILE *out, json_t *rows, const struct col *cols, size_t ncols)
{
    size_t nrows = json_array_size(rows), width[COLS_MAX];
    if (!nrows || ncols > COLS_MAX)
        return;
    char(*cells)[CELL_MAX] = calloc(nrows * ncols, CELL_MAX);
    if (!cells) {
        fprintf(stderr, "vpf ctl: out of memory\n");
        return;
    }
    for (size_t c = 0; c < ncols; c++)
        width[c] = strlen(cols[c].head);
    for (size_t r = 0; r < nrows; r++) {
        for (size_t c = 0; c < ncols; c++) {
            char *cell = cells[r * ncols + c];
            cell_text(json_array_get(rows, r), &cols[c], cell, CELL_MAX);
            if (strlen(cell) > width[c])
                width[c] = strlen(cell);
        }
    }
    for (size_t r = 0; r <= nrows; r++) {
        for (size_t c = 0; c < ncols; c++) {
            const char *s = r ? cells[(r - 1) * ncols + c] : cols[c].head;
            if (c + 1 < ncols)
                fprintf(out, "%-*s  ", (int)width[c], s);
            else
                fprintf(out, "%s\n", s);
        }
    }
    free(cells);
}

/* "key: value" for every field but "ok", the values aligned. */
static void show_fields(FILE *out, json_t *obj)
{
    const char *key;
    json_t *v;
    int width = 0;
    json_object_foreach(obj, key, v)
        if (strcmp(key, "ok") && (int)strlen(key) > width)
            width = (int)strlen(key);
    json_object_foreach(obj, key, v) {
        if (!strcmp(key, "ok"))
            continue;
        char text[1024];
        value_text(v, COL_TEXT, text, sizeof(text));
        fprintf(out, "%s:%*s %s\n", key, width - (int)strlen(key), "", text);
    }
}

/* ---- the listing commands ---- */

static const struct col device_cols[] = {
    { "DEV", "dev", NULL, COL_TEXT },         { "PCI", "pci", NULL, COL_TEXT },
    { "MAC", "mac", NULL, COL_TEXT },         { "LINK", "link", NULL, COL_LINK },
    { "BACKEND", "backend", NULL, COL_TEXT }, { "PORT", "tap", "vdpa|socket", COL_TEXT },
    { "VFS", "total_vfs", NULL, COL_NUM0 },   { "VF-BACKEND", "vf_backend", NULL, COL_TEXT },
};

/* As `ip link show` prints a PF's "vf N ..." lines: every VF the PF allows, up or down. */
static const struct col vf_cols[] = {
    { "VF", "vf", NULL, COL_TEXT },
    { "UP", "up", NULL, COL_TEXT },
    { "DEV", "dev", NULL, COL_TEXT },
    { "PCI", "pci", NULL, COL_TEXT },
    { "MAC", "mac", NULL, COL_TEXT },
    { "LINK", "link", NULL, COL_LINK },
    { "STATE", "link_state", NULL, COL_TEXT },
    { "BACKEND", "backend", NULL, COL_TEXT },
    { "PORT", "tap", "vdpa|socket", COL_TEXT },
    { "VLAN", "vlan", NULL, COL_NUM0 },
    { "QOS", "qos", NULL, COL_NUM0 },
    { "PROTO", "proto", NULL, COL_TEXT },
    { "SPOOFCHK", "spoofchk", NULL, COL_ONOFF },
    { "TRUST", "trust", NULL, COL_ONOFF },
    { "MAX-TX", "max_tx_rate", NULL, COL_NUM0 },
    { "RX-PKTS", "rx_packets", NULL, COL_TEXT },
    { "TX-PKTS", "tx_packets", NULL, COL_TEXT },
    { "TX-DROP", "tx_dropped", NULL, COL_TEXT },
    { "SPOOFED", "tx_spoofed", NULL, COL_TEXT },
    { "COUNTERS", "counters", NULL, COL_TEXT },
    { "ERROR", "error", NULL, COL_TEXT },
};

_Static_assert(ARRAY_SIZE(vf_cols) <= COLS_MAX, "show_table takes at most COLS_MAX columns");

static const struct col stats_cols[] = {
    { "", "dir", NULL, COL_TEXT },
    { "PACKETS", "packets", NULL, COL_TEXT },
    { "BYTES", "bytes", NULL, COL_TEXT },
    { "DROPPED", "dropped", NULL, COL_TEXT },
    { "ERRORS", "errors", NULL, COL_TEXT },
    { "SPOOFED", "spoofed", NULL, COL_TEXT },
    { "IRQ-USECS", "usecs", NULL, COL_TEXT },
    { "IRQ-FRAMES", "max_packets", NULL, COL_TEXT },
};

static const struct col queue_cols[] = {
    { "PAIR", "pair", NULL, COL_TEXT },         { "RX-PACKETS", "rx_packets", NULL, COL_TEXT },
    { "RX-BYTES", "rx_bytes", NULL, COL_TEXT }, { "TX-PACKETS", "tx_packets", NULL, COL_TEXT },
    { "TX-BYTES", "tx_bytes", NULL, COL_TEXT },
};

static const struct col help_cols[] = {
    { "COMMAND", "name", NULL, COL_TEXT },
    { "ARGUMENTS", "args", NULL, COL_ARGS },
    { "DESCRIPTION", "help", NULL, COL_TEXT },
};

/* "net0: 2 of 8 VFs enabled", then the table. */
static void show_vfs(FILE *out, json_t *r)
{
    char dev[CELL_MAX], num[32], total[32];
    value_text(json_object_get(r, "dev"), COL_TEXT, dev, sizeof(dev));
    value_text(json_object_get(r, "num_vfs"), COL_TEXT, num, sizeof(num));
    value_text(json_object_get(r, "total_vfs"), COL_TEXT, total, sizeof(total));
    fprintf(out, "%s: %s of %s VFs enabled\n", dev, num, total);
    show_table(out, json_object_get(r, "vfs"), vf_cols, ARRAY_SIZE(vf_cols));
}

/* The RX or TX half of a stats answer as a row: rx_packets -> packets, ... */
static json_t *stats_row(json_t *r, const char *dir, const char *prefix)
{
    static const char *const keys[] = {
        "packets", "bytes", "dropped", "errors", "spoofed", "usecs", "max_packets",
    };
    json_t *row = json_pack("{s:s}", "dir", dir);
    for (size_t i = 0; row && i < ARRAY_SIZE(keys); i++) {
        char name[32];
        snprintf(name, sizeof(name), "%s_%s", prefix, keys[i]);
        json_t *v = json_object_get(r, name);
        if (v)
            json_object_set(row, keys[i], v);
    }
    return row;
}

/* With more than one queue pair: "queue pairs: 2 of 4 in use" and a row per pair. */
static void show_queues(FILE *out, json_t *r)
{
    json_t *qs = json_object_get(r, "queues");
    if (!json_is_array(qs) || json_array_size(qs) < 2)
        return;
    char active[32], total[32];
    value_text(json_object_get(r, "active_pairs"), COL_TEXT, active, sizeof(active));
    value_text(json_object_get(r, "queue_pairs"), COL_TEXT, total, sizeof(total));
    fprintf(out, "queue pairs: %s of %s in use\n", active, total);
    json_t *rows = json_array();
    size_t i;
    json_t *q;
    json_array_foreach(qs, i, q) {
        json_t *row = json_is_object(q) ? json_deep_copy(q) : json_object();
        json_object_set_new(row, "pair", json_integer((json_int_t)i));
        json_array_append_new(rows, row);
    }
    show_table(out, rows, queue_cols, ARRAY_SIZE(queue_cols));
    json_decref(rows);
}

/* "net0  link up  backend tap  counters vpf", an RX and a TX row, the queue pairs'
 * counters, then the error if there is one. */
static void show_stats(FILE *out, json_t *r)
{
    static const struct col head[] = {
        { "link", "link", NULL, COL_LINK },         { "backend", "backend", NULL, COL_TEXT },
        { "counters", "counters", NULL, COL_TEXT }, { "vdpa", "vdpa", NULL, COL_TEXT },
        { "socket", "socket", NULL, COL_TEXT },     { "peer", "peer", NULL, COL_TEXT },
    };
    char text[CELL_MAX];
    value_text(json_object_get(r, "dev"), COL_TEXT, text, sizeof(text));
    fputs(text, out);
    for (size_t i = 0; i < ARRAY_SIZE(head); i++) {
        cell_text(r, &head[i], text, sizeof(text));
        if (strcmp(text, "-"))
            fprintf(out, "  %s %s", head[i].head, text);
    }
    fputc('\n', out);
    json_t *rows = json_pack("[oo]", stats_row(r, "RX", "rx"), stats_row(r, "TX", "tx"));
    show_table(out, rows, stats_cols, ARRAY_SIZE(stats_cols));
    json_decref(rows);
    show_queues(out, r);
    value_text(json_object_get(r, "error"), COL_TEXT, text, sizeof(text));
    if (strcmp(text, "-"))
        fprintf(out, "error: %s\n", text);
}

void ctl_show_reply(FILE *out, const char *cmd, json_t *reply)
{
    json_t *devices = json_object_get(reply, "devices");
    json_t *commands = json_object_get(reply, "commands");
    if (!strcmp(cmd, "devices") && json_is_array(devices))
        show_table(out, devices, device_cols, ARRAY_SIZE(device_cols));
    else if (!strcmp(cmd, "vfs") && json_is_array(json_object_get(reply, "vfs")))
        show_vfs(out, reply);
    else if (!strcmp(cmd, "stats") && json_object_get(reply, "rx_packets"))
        show_stats(out, reply);
    else if (!strcmp(cmd, "help") && json_is_array(commands))
        show_table(out, commands, help_cols, ARRAY_SIZE(help_cols));
    else
        show_fields(out, reply);
}

/* ---- events ---- */

void ctl_show_event(FILE *out, const char *line)
{
    json_t *ev = json_loads(line, 0, NULL);
    json_t *name = json_object_get(ev, "event"), *data = json_object_get(ev, "data");
    json_t *ts = json_object_get(ev, "timestamp");
    json_t *sec = json_object_get(ts, "seconds"), *usec = json_object_get(ts, "microseconds");
    if (!json_is_string(name) || !json_is_integer(sec) || !json_is_integer(usec)) {
        fprintf(out, "%s\n", line);
        json_decref(ev);
        return;
    }
    char stamp[LOG_TIMESTAMP_MAX];
    log_format_timestamp(stamp, sizeof(stamp), json_integer_value(sec),
                         (long)(json_integer_value(usec) % 1000000) * 1000);
    fprintf(out, "%s %s", stamp, json_string_value(name));
    const char *key;
    json_t *v;
    json_object_foreach(data, key, v) {
        char text[1024];
        value_text(v, COL_TEXT, text, sizeof(text));
        bool quote = json_is_string(v) && strpbrk(text, " \"=");
        fprintf(out, quote ? " %s=\"%s\"" : " %s=%s", key, text);
    }
    fputc('\n', out);
    json_decref(ev);
}
