#include "ctl/client.h"
#include "ctl/ctl.h"
#include "ctl/json.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int looks_like_int(const char *s)
{
    if (*s == '-')
        s++;
    if (!*s || strlen(s) > 18)
        return 0;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return 0;
    return 1;
}

int ctl_client_build(int argc, char **argv, char *out, size_t cap)
{
    size_t len = 0;
    if (argc < 1 || cap < 16)
        return -1;
    strcpy(out, "{\"cmd\":");
    len = strlen(out);
    json_put_str(out, cap - 2, &len, argv[0]);
    for (int i = 1; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        if (!eq || eq == argv[i])
            return -1;
        char key[64];
        size_t klen = (size_t)(eq - argv[i]);
        if (klen >= sizeof(key))
            return -1;
        memcpy(key, argv[i], klen);
        key[klen] = '\0';
        const char *val = eq + 1;
        out[len++] = ',';
        out[len] = '\0';
        json_put_str(out, cap - 2, &len, key);
        out[len++] = ':';
        out[len] = '\0';
        if (!strcmp(val, "true") || !strcmp(val, "false") || looks_like_int(val)) {
            if (len + strlen(val) + 2 >= cap)
                return -1;
            strcpy(out + len, val);
            len += strlen(val);
        } else {
            json_put_str(out, cap - 2, &len, val);
        }
    }
    if (len + 2 >= cap)
        return -1;
    out[len++] = '}';
    out[len] = '\0';
    return 0;
}

int ctl_client_main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: vpf ctl SOCKET COMMAND [KEY=VALUE...]   (COMMAND help lists them)\n");
        return 1;
    }
    char req[4096];
    if (ctl_client_build(argc - 1, argv + 1, req, sizeof(req) - 1) < 0) {
        fprintf(stderr, "vpf ctl: arguments after the command must be KEY=VALUE\n");
        return 1;
    }
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    if (strlen(argv[0]) >= sizeof(addr.sun_path)) {
        fprintf(stderr, "vpf ctl: socket path too long\n");
        return 1;
    }
    strcpy(addr.sun_path, argv[0]);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
        fprintf(stderr, "vpf ctl: cannot connect to %s: %s\n", argv[0], strerror(errno));
        return 1;
    }
    strcat(req, "\n");
    if (write(fd, req, strlen(req)) != (ssize_t)strlen(req)) {
        fprintf(stderr, "vpf ctl: write: %s\n", strerror(errno));
        return 1;
    }
    static char reply[CTL_REPLY_MAX + 1024];   /* the largest line the server sends */
    size_t have = 0;
    while (have < sizeof(reply) - 1) {
        ssize_t r = read(fd, reply + have, sizeof(reply) - 1 - have);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        have += (size_t)r;
        if (memchr(reply, '\n', have))
            break;
    }
    close(fd);
    reply[have] = '\0';
    char *nl = strchr(reply, '\n');
    if (nl)
        *nl = '\0';
    if (!have) {
        fprintf(stderr, "vpf ctl: no reply from %s\n", argv[0]);
        return 1;
    }
    struct json_object obj;
    const char *err;
    bool ok = false;
    if (json_parse(reply, strlen(reply), &obj, &err) == 0 && json_get_bool(&obj, "ok", &ok) && !ok) {
        const char *msg = json_get_str(&obj, "error");
        fprintf(stderr, "vpf ctl: %s\n", msg ? msg : reply);
        return 1;
    }
    printf("%s\n", reply);
    return 0;
}
