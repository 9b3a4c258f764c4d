#include "vm/notify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"

#ifdef VPF_HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>

bool notify_wanted(void)
{
    const char *s = getenv("NOTIFY_SOCKET");
    return s && *s;
}

/* what ("READY=1", "STOPPING=1") and a STATUS= line, in one datagram. */
static int notify_send(const char *what, const char *status)
{
    if (!notify_wanted())
        return 0;
    char msg[512];
    snprintf(msg, sizeof(msg), "%s\nSTATUS=%s", what, status);
    int r = sd_notify(0, msg);
    if (r < 0) {
        log_warn("sd_notify %s to %s: %s", what, getenv("NOTIFY_SOCKET"), strerror(-r));
        return -1;
    }
    return 0;
}

#else

bool notify_wanted(void)
{
    const char *s = getenv("NOTIFY_SOCKET");
    if (s && *s)
        log_warn("NOTIFY_SOCKET is set, but this vpf was built without libsystemd: "
                 "the service manager will not hear that it is ready");
    return false;
}

static int notify_send(const char *what, const char *status)
{
    (void)what;
    (void)status;
    return 0;
}

#endif

int notify_ready(const char *status) { return notify_send("READY=1", status); }

int notify_stopping(const char *status) { return notify_send("STOPPING=1", status); }
