/* vDPA device management over generic netlink (see vdpa_netlink.h). Message layout:
 * struct nlmsghdr, struct genlmsghdr, then attributes (NLA_ALIGN'd), as
 * Documentation/userspace-api/netlink/intro.rst describes; the family id comes from
 * the generic netlink controller (CTRL_CMD_GETFAMILY, "vdpa" = VDPA_GENL_NAME). */
#include "backend/vdpa_netlink.h"

#include <dirent.h>
#include <errno.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <linux/vdpa.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define NL_BUF 4096
#define NL_TIMEOUT_S 10         /* DEV_DEL waits for the device's users: bound it */

struct nl_msg {
    char *buf;
    size_t len, cap;
    bool overflow;
};

static void *nl_put(struct nl_msg *m, size_t n)
{
    size_t a = NLMSG_ALIGN(n);
    if (m->overflow || m->len + a > m->cap) {
        m->overflow = true;
        return NULL;
    }
    void *p = m->buf + m->len;
    memset(p, 0, a);
    m->len += a;
    return p;
}

static void nl_attr(struct nl_msg *m, uint16_t type, const void *data, size_t n)
{
    struct nlattr *a = nl_put(m, NLA_HDRLEN + n);
    if (!a)
        return;
    a->nla_type = type;
    a->nla_len = (uint16_t)(NLA_HDRLEN + n);
    memcpy((char *)a + NLA_HDRLEN, data, n);
}

static void nl_attr_str(struct nl_msg *m, uint16_t type, const char *s, size_t n)
{
    char tmp[VDPA_NL_NAME_MAX + 1];
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    nl_attr(m, type, tmp, n + 1);
}

/* Starts a message: nlmsghdr + genlmsghdr. */
static void nl_begin(struct nl_msg *m, void *buf, size_t len, uint16_t type, uint16_t flags,
                     uint32_t seq, uint8_t cmd, uint8_t version)
{
    *m = (struct nl_msg){ .buf = buf, .cap = len };
    struct nlmsghdr *h = nl_put(m, NLMSG_HDRLEN);
    struct genlmsghdr *g = nl_put(m, GENL_HDRLEN);
    if (!h || !g)
        return;
    h->nlmsg_type = type;
    h->nlmsg_flags = flags;
    h->nlmsg_seq = seq;
    g->cmd = cmd;
    g->version = version;
}

static size_t nl_end(struct nl_msg *m)
{
    if (m->overflow)
        return 0;
    ((struct nlmsghdr *)m->buf)->nlmsg_len = (uint32_t)m->len;
    return m->len;
}

static bool name_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    return n > 0 && n <= VDPA_NL_NAME_MAX;
}

size_t vdpa_nl_build_getfamily(void *buf, size_t len, uint32_t seq)
{
    struct nl_msg m;
    nl_begin(&m, buf, len, GENL_ID_CTRL, NLM_F_REQUEST, seq, CTRL_CMD_GETFAMILY, 1);
    nl_attr_str(&m, CTRL_ATTR_FAMILY_NAME, VDPA_GENL_NAME, strlen(VDPA_GENL_NAME));
    return nl_end(&m);
}

size_t vdpa_nl_build_dev_new(void *buf, size_t len, uint16_t family, uint32_t seq, const char *name,
                             const char *mgmtdev, const uint8_t mac[6])
{
    if (!name_ok(name) || !name_ok(mgmtdev))
        return 0;
    struct nl_msg m;
    nl_begin(&m, buf, len, family, NLM_F_REQUEST | NLM_F_ACK, seq, VDPA_CMD_DEV_NEW,
             VDPA_GENL_VERSION);
    /* iproute2 vdpa.c vdpa_argv_handle: "bus/dev" or a bus-less "dev". */
    const char *slash = strchr(mgmtdev, '/');
    if (slash) {
        if (slash == mgmtdev || !slash[1])
            return 0;
        nl_attr_str(&m, VDPA_ATTR_MGMTDEV_BUS_NAME, mgmtdev, (size_t)(slash - mgmtdev));
        nl_attr_str(&m, VDPA_ATTR_MGMTDEV_DEV_NAME, slash + 1, strlen(slash + 1));
    } else {
        nl_attr_str(&m, VDPA_ATTR_MGMTDEV_DEV_NAME, mgmtdev, strlen(mgmtdev));
    }
    nl_attr_str(&m, VDPA_ATTR_DEV_NAME, name, strlen(name));
    if (mac)
        nl_attr(&m, VDPA_ATTR_DEV_NET_CFG_MACADDR, mac, 6);
    return nl_end(&m);
}

size_t vdpa_nl_build_dev_del(void *buf, size_t len, uint16_t family, uint32_t seq, const char *name)
{
    if (!name_ok(name))
        return 0;
    struct nl_msg m;
    nl_begin(&m, buf, len, family, NLM_F_REQUEST | NLM_F_ACK, seq, VDPA_CMD_DEV_DEL,
             VDPA_GENL_VERSION);
    nl_attr_str(&m, VDPA_ATTR_DEV_NAME, name, strlen(name));
    return nl_end(&m);
}

/* The first message of buf if it is complete, else NULL. */
static const struct nlmsghdr *first_msg(const void *buf, size_t len)
{
    const struct nlmsghdr *h = buf;
    if (len < NLMSG_HDRLEN || h->nlmsg_len < NLMSG_HDRLEN || h->nlmsg_len > len)
        return NULL;
    return h;
}

int vdpa_nl_parse_ack(const void *buf, size_t len)
{
    const struct nlmsghdr *h = first_msg(buf, len);
    if (!h || h->nlmsg_type != NLMSG_ERROR || h->nlmsg_len < NLMSG_LENGTH(sizeof(struct nlmsgerr)))
        return -EBADMSG;
    const struct nlmsgerr *e = NLMSG_DATA(h);
    return e->error > 0 ? -EBADMSG : e->error;
}

int vdpa_nl_parse_family(const void *buf, size_t len)
{
    const struct nlmsghdr *h = first_msg(buf, len);
    if (!h || h->nlmsg_type != GENL_ID_CTRL || h->nlmsg_len < NLMSG_LENGTH(GENL_HDRLEN))
        return -1;
    const char *p = (const char *)h + NLMSG_HDRLEN + GENL_HDRLEN;
    const char *end = (const char *)h + h->nlmsg_len;
    while (p + NLA_HDRLEN <= end) {
        const struct nlattr *a = (const struct nlattr *)p;
        if (a->nla_len < NLA_HDRLEN || p + a->nla_len > end)
            return -1;
        if ((a->nla_type & NLA_TYPE_MASK) == CTRL_ATTR_FAMILY_ID && a->nla_len >= NLA_HDRLEN + 2) {
            uint16_t id;
            memcpy(&id, p + NLA_HDRLEN, 2);
            return id;
        }
        p += NLA_ALIGN(a->nla_len);
    }
    return -1;
}

static int nl_open(void)
{
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
    if (fd < 0)
        return -1;
    struct timeval tv = { .tv_sec = NL_TIMEOUT_S };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Sends msg and receives the answer with the same sequence number. Returns the
 * answer's length or -errno. */
static ssize_t nl_talk(int fd, const void *msg, size_t len, void *ans, size_t anslen)
{
    struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
    if (sendto(fd, msg, len, 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0)
        return -errno;
    uint32_t seq = ((const struct nlmsghdr *)msg)->nlmsg_seq;
    for (;;) {
        ssize_t n = recv(fd, ans, anslen, 0);
        if (n < 0)
            return errno == EAGAIN ? -ETIMEDOUT : -errno;
        const struct nlmsghdr *h = first_msg(ans, (size_t)n);
        if (h && h->nlmsg_seq == seq)
            return n;
    }
}

static int family_id(int fd, char *err, size_t errlen)
{
    char req[128], ans[NL_BUF];
    size_t len = vdpa_nl_build_getfamily(req, sizeof(req), 1);
    ssize_t n = nl_talk(fd, req, len, ans, sizeof(ans));
    int id = n > 0 ? vdpa_nl_parse_family(ans, (size_t)n) : -1;
    if (id < 0) {
        int e = n < 0 ? (int)-n : n > 0 ? -vdpa_nl_parse_ack(ans, (size_t)n) : EBADMSG;
        snprintf(err, errlen,
                 "no vdpa netlink family in the kernel (%s; is the vdpa module loaded?)",
                 strerror(e));
    }
    return id;
}

static uint32_t next_seq(void)
{
    static uint32_t seq = 1;
    return __atomic_add_fetch(&seq, 1, __ATOMIC_RELAXED);
}

/* Runs one DEV_NEW/DEV_DEL: build(family) then the ack. */
static int vdpa_nl_request(const char *what, const char *name, const char *mgmtdev,
                           const uint8_t mac[6], bool del, char *err, size_t errlen)
{
    int fd = nl_open();
    if (fd < 0) {
        snprintf(err, errlen, "vdpa %s %s: netlink socket: %s", what, name, strerror(errno));
        return -1;
    }
    char req[512], ans[NL_BUF];
    int ret = -1;
    int fam = family_id(fd, err, errlen);
    if (fam < 0)
        goto out;
    uint32_t seq = next_seq();
    size_t len = del ? vdpa_nl_build_dev_del(req, sizeof(req), (uint16_t)fam, seq, name)
                     : vdpa_nl_build_dev_new(req, sizeof(req), (uint16_t)fam, seq, name, mgmtdev,
                                             mac);
    if (!len) {
        snprintf(err, errlen, "vdpa %s %s: invalid name", what, name);
        goto out;
    }
    ssize_t n = nl_talk(fd, req, len, ans, sizeof(ans));
    int r = n < 0 ? (int)n : vdpa_nl_parse_ack(ans, (size_t)n);
    if (r == 0) {
        ret = 0;
    } else if (!del && r == -ENODEV) {
        snprintf(err, errlen, "vdpa dev add %s: no management device %s", name, mgmtdev);
    } else if (!del) {
        snprintf(err, errlen, "vdpa dev add %s mgmtdev %s: %s", name, mgmtdev, strerror(-r));
    } else {
        snprintf(err, errlen, "vdpa dev del %s: %s", name, strerror(-r));
    }
out:
    close(fd);
    return ret;
}

int vdpa_nl_dev_new(const char *name, const char *mgmtdev, const uint8_t mac[6], char *err,
                    size_t errlen)
{
    return vdpa_nl_request("dev add", name, mgmtdev, mac, false, err, errlen);
}

int vdpa_nl_dev_del(const char *name, char *err, size_t errlen)
{
    return vdpa_nl_request("dev del", name, NULL, NULL, true, err, errlen);
}

int vdpa_dev_vhost_path(const char *name, char *path, size_t pathlen, char *err, size_t errlen)
{
    char dir[160];
    snprintf(dir, sizeof(dir), "/sys/bus/vdpa/devices/%s", name);
    DIR *d = opendir(dir);
    if (!d) {
        snprintf(err, errlen, "vDPA device %s: %s: %s", name, dir, strerror(errno));
        return -1;
    }
    int ret = -1;
    struct dirent *e;
    while ((e = readdir(d))) {
        unsigned idx;
        char extra;
        if (sscanf(e->d_name, "vhost-vdpa-%u%c", &idx, &extra) == 1) {
            snprintf(path, pathlen, "/dev/vhost-vdpa-%u", idx);
            ret = 0;
            break;
        }
    }
    closedir(d);
    if (ret < 0)
        snprintf(err, errlen,
                 "vDPA device %s has no vhost-vdpa device (is the vhost_vdpa module "
                 "loaded, and the device not bound to virtio_vdpa?)",
                 name);
    return ret;
}
