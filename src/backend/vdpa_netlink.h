/* The kernel's vdpa generic netlink family (Linux drivers/vdpa/vdpa.c, uapi linux/vdpa.h):
 * creating and deleting vDPA devices on a management device, as iproute2's
 * `vdpa dev add name NAME mgmtdev MGMTDEV mac MAC` and `vdpa dev del NAME` do, and
 * finding the vhost-vdpa character device the vhost_vdpa driver made for one.
 *
 * Plain AF_NETLINK sockets (no library): one short-lived socket per call, so any
 * thread may call these; they share no state. The kernel needs CAP_NET_ADMIN for
 * DEV_NEW and DEV_DEL (GENL_ADMIN_PERM). The message builders are separate and pure,
 * for the unit tests. */
#ifndef VPF_BACKEND_VDPA_NETLINK_H
#define VPF_BACKEND_VDPA_NETLINK_H

#include <stddef.h>
#include <stdint.h>

#define VDPA_NL_NAME_MAX 64     /* vpf's limit on device and mgmtdev names */

/* Builds a CTRL_CMD_GETFAMILY request for "vdpa" into buf. Returns its length, or 0
 * if buf is too small. */
size_t vdpa_nl_build_getfamily(void *buf, size_t len, uint32_t seq);
/* Builds VDPA_CMD_DEV_NEW (NLM_F_ACK): VDPA_ATTR_DEV_NAME name, the management device
 * ("BUS/DEV", e.g. pci/0000:03:00.1, is split into VDPA_ATTR_MGMTDEV_BUS_NAME and
 * _DEV_NAME; a name without '/' is DEV_NAME alone, e.g. vdpasim_net) and, when mac is
 * not NULL, VDPA_ATTR_DEV_NET_CFG_MACADDR. Returns the length, or 0 if a name is empty
 * or too long or buf too small. */
size_t vdpa_nl_build_dev_new(void *buf, size_t len, uint16_t family, uint32_t seq, const char *name,
                             const char *mgmtdev, const uint8_t mac[6]);
/* VDPA_CMD_DEV_DEL (NLM_F_ACK) of the device name. Same returns. */
size_t vdpa_nl_build_dev_del(void *buf, size_t len, uint16_t family, uint32_t seq,
                             const char *name);
/* Parses the answer to GETFAMILY: the family id, or -1. */
int vdpa_nl_parse_family(const void *buf, size_t len);
/* Parses an NLMSG_ERROR ack: 0 (ok), a negative errno, or -EBADMSG if buf holds none. */
int vdpa_nl_parse_ack(const void *buf, size_t len);

/* Creates the vDPA device name on mgmtdev with mac (NULL: the mgmtdev's default).
 * Returns 0, or -1 with the reason (one line) in err: e.g. no vdpa support in the
 * kernel (family unknown), a management device that does not exist, a name in use. */
int vdpa_nl_dev_new(const char *name, const char *mgmtdev, const uint8_t mac[6], char *err,
                    size_t errlen);
/* Deletes the vDPA device name. Returns 0 or -1 (reason in err). The kernel's answer
 * waits until every open /dev/vhost-vdpa fd of the device is closed. */
int vdpa_nl_dev_del(const char *name, char *err, size_t errlen);
/* The /dev path of the vhost-vdpa device bound to vDPA device name (from
 * /sys/bus/vdpa/devices/NAME/vhost-vdpa-N). Returns 0, or -1 with the reason in err
 * (e.g. bound to virtio_vdpa instead, or vhost_vdpa not loaded). */
int vdpa_dev_vhost_path(const char *name, char *path, size_t pathlen, char *err, size_t errlen);

#endif
