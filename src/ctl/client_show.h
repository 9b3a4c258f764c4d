/* What `vpf ctl` prints for people (without --json): the listing commands' answers as
 * tables (devices, vfs, stats, help), any other answer as aligned "key: value" lines,
 * and each event as one line. Fields a newer vpf adds to an answer are left out of the
 * tables (--json shows everything); a field an older vpf lacks shows as "-".
 *
 * Single-threaded (the vpf ctl process); no locks. */
#ifndef VPF_CTL_CLIENT_SHOW_H
#define VPF_CTL_CLIENT_SHOW_H

#include <jansson.h>
#include <stdio.h>

/* An ok answer to the command cmd, as people read it. */
void ctl_show_reply(FILE *out, const char *cmd, json_t *reply);

/* An event line {"event":...,"timestamp":{...},"data":{...}} as
 * "2026-12-03T10:15:30.120Z EVENT key=value ...": scalars as they are (a string with a
 * space, quote or '=' in double quotes), a list of objects as their "dev" names,
 * comma-separated. A line that is not such an event is printed as it came. */
void ctl_show_event(FILE *out, const char *line);

#endif
