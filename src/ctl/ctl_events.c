#include "ctl/ctl_events.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/time.h>
#include <unistd.h>

#include "base/log.h"

int ctl_events_init(struct ctl_server *s)
{
    s->events = NULL;
    s->events_tail = &s->events;
    s->nevents = 0;
    s->events_dropped = 0;
    s->events_on = false;
    s->event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (s->event_fd < 0)
        return -1;
    pthread_mutex_init(&s->event_lock, NULL);
    return 0;
}

void ctl_events_destroy(struct ctl_server *s)
{
    if (s->event_fd < 0)
        return;
    unsigned long dropped;
    for (struct ctl_event *e = ctl_events_take(s, &dropped), *next; e; e = next) {
        next = e->next;
        free(e);
    }
    close(s->event_fd);
    s->event_fd = -1;
    pthread_mutex_destroy(&s->event_lock);
}

void ctl_events_accept(struct ctl_server *s, bool on)
{
    pthread_mutex_lock(&s->event_lock);
    s->events_on = on;
    pthread_mutex_unlock(&s->event_lock);
}

struct ctl_event *ctl_event_new(const char *name, json_t *data)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    json_t *ev = json_pack("{s:s,s:{s:I,s:I},s:o}", "event", name, "timestamp", "seconds",
                           (json_int_t)tv.tv_sec, "microseconds", (json_int_t)tv.tv_usec, "data",
                           data ? data : json_object());
    char *text = ev ? json_dumps(ev, JSON_COMPACT) : NULL;
    json_decref(ev);
    size_t n = text ? strlen(text) : 0;
    struct ctl_event *e = text ? malloc(sizeof(*e) + n + 2) : NULL;
    if (e) {
        *e = (struct ctl_event){ .len = n + 1 };
        memcpy(e->line, text, n);
        e->line[n] = '\n';
        e->line[n + 1] = '\0';
    }
    free(text);
    return e;
}

void ctl_server_publish(struct ctl_server *s, const char *name, json_t *data)
{
    struct ctl_event *e = ctl_event_new(name, data);
    bool kept = false;
    pthread_mutex_lock(&s->event_lock);
    if (e && s->events_on && s->nevents < CTL_EVENTS_MAX) {
        *s->events_tail = e;
        s->events_tail = &e->next;
        s->nevents++;
        kept = true;
    } else if (s->events_on) {
        s->events_dropped++;
    }
    pthread_mutex_unlock(&s->event_lock);
    if (!kept) {
        free(e);
        return;
    }
    uint64_t one = 1;
    (void)!write(s->event_fd, &one, sizeof(one));
}

struct ctl_event *ctl_events_take(struct ctl_server *s, unsigned long *dropped)
{
    pthread_mutex_lock(&s->event_lock);
    struct ctl_event *list = s->events;
    s->events = NULL;
    s->events_tail = &s->events;
    s->nevents = 0;
    *dropped = s->events_dropped;
    s->events_dropped = 0;
    pthread_mutex_unlock(&s->event_lock);
    return list;
}
