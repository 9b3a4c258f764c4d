/* The vhost-user wire protocol, front-end side (QEMU's docs/interop/vhost-user.rst): one
 * Unix stream socket, messages of a 12-byte header (request, flags, size) and a payload,
 * file descriptors in SCM_RIGHTS ancillary data. vpf sends requests; the back-end (the
 * peer: DPDK, OVS-DPDK, ...) sends only replies on this socket.
 *
 * Everything a peer sends is checked here before anyone uses it: the reply's version and
 * reply flag, that it answers the request just sent, its exact payload size, no file
 * descriptors (vpf asks for none: any that come are closed), a REPLY_ACK of 0, and the
 * values a reply may carry (a vring base fits 16 bits, for the index asked). The work a
 * peer can cause is bounded: one reply per request, at most VU_MAX_PAYLOAD bytes each, a
 * deadline (timeout_ms) for the whole reply, and a reply that fails any check ends the
 * connection (the caller closes it): nothing is read past a bad header.
 *
 * No state but the socket and the negotiated protocol features; no allocation. Any
 * thread; one request at a time per connection (the caller serialises). */
#ifndef VPF_BACKEND_VHOST_USER_PROTO_H
#define VPF_BACKEND_VHOST_USER_PROTO_H

#include <stddef.h>
#include <stdint.h>

enum vu_request {
    VU_GET_FEATURES = 1,
    VU_SET_FEATURES = 2,
    VU_SET_OWNER = 3,
    VU_RESET_OWNER = 4,
    VU_SET_MEM_TABLE = 5,
    VU_SET_VRING_NUM = 8,
    VU_SET_VRING_ADDR = 9,
    VU_SET_VRING_BASE = 10,
    VU_GET_VRING_BASE = 11,
    VU_SET_VRING_KICK = 12,
    VU_SET_VRING_CALL = 13,
    VU_SET_VRING_ERR = 14,
    VU_GET_PROTOCOL_FEATURES = 15,
    VU_SET_PROTOCOL_FEATURES = 16,
    VU_GET_QUEUE_NUM = 17,
    VU_SET_VRING_ENABLE = 18,
    VU_GET_CONFIG = 24,
    VU_RESET_DEVICE = 34,
    VU_SET_STATUS = 39,
    VU_GET_STATUS = 40,
};

/* Header flags. */
#define VU_VERSION 0x1u
#define VU_VERSION_MASK 0x3u
#define VU_FLAG_REPLY (1u << 2)
#define VU_FLAG_NEED_REPLY (1u << 3)

/* The virtio feature bit that says the peer speaks protocol features. */
#define VU_F_PROTOCOL_FEATURES 30

/* Protocol features (GET/SET_PROTOCOL_FEATURES). */
#define VU_PROTOCOL_F_MQ 0
#define VU_PROTOCOL_F_REPLY_ACK 3
#define VU_PROTOCOL_F_CONFIG 9
#define VU_PROTOCOL_F_RESET_DEVICE 13
#define VU_PROTOCOL_F_STATUS 16
/* The ones vpf implements (it negotiates no others). */
#define VU_PROTOCOL_SUPPORTED ((1ull << VU_PROTOCOL_F_MQ) | (1ull << VU_PROTOCOL_F_REPLY_ACK) | \
    (1ull << VU_PROTOCOL_F_RESET_DEVICE) | (1ull << VU_PROTOCOL_F_STATUS))

/* SET_VRING_KICK/CALL/ERR u64: ring index in bits 0-7, bit 8: no fd. */
#define VU_VRING_IDX_MASK 0xffull
#define VU_VRING_NOFD (1ull << 8)

#define VU_MAX_MEM_REGIONS 8
#define VU_MAX_FDS 8

struct vu_vring_state {
    uint32_t index;
    uint32_t num;
};

struct vu_vring_addr {
    uint32_t index;
    uint32_t flags;
    uint64_t desc, used, avail, log;    /* front-end (vpf) virtual addresses */
};

struct vu_mem_region {
    uint64_t guest_phys_addr;
    uint64_t memory_size;
    uint64_t userspace_addr;
    uint64_t mmap_offset;
};

struct vu_memory {
    uint32_t nregions;
    uint32_t padding;
    struct vu_mem_region regions[VU_MAX_MEM_REGIONS];
};

#define VU_HDR_SIZE 12
#define VU_MAX_PAYLOAD sizeof(struct vu_memory)

struct vu_msg {
    uint32_t request;
    uint32_t flags;
    uint32_t size;
    union {
        uint64_t u64;
        struct vu_vring_state state;
        struct vu_vring_addr addr;
        struct vu_memory memory;
        uint8_t raw[VU_MAX_PAYLOAD];
    } payload;
} __attribute__((packed));

/* One connection to a peer. */
struct vu_conn {
    int fd;                     /* connected socket (non-blocking), -1 if none */
    uint64_t protocol_features; /* negotiated; REPLY_ACK here makes vu_send wait for acks */
    int timeout_ms;             /* for a whole reply (and for a send that must wait);
                                 * SET_MEM_TABLE's ack gets three times as long */
    char err[160];              /* why the last call failed */
};

/* Sends request req with size payload bytes and nfds descriptors. With REPLY_ACK
 * negotiated, asks for and checks the peer's ack (unless the request has its own
 * reply, which the caller reads with vu_recv_reply). Returns 0, or -1 with c->err set
 * (the connection is then unusable). */
int vu_send(struct vu_conn *c, uint32_t req, const void *payload, uint32_t size, const int *fds,
            unsigned nfds);
/* Reads the reply to req into *m: header checked (version, reply flag, request),
 * payload exactly want bytes, no descriptors. Returns 0 or -1 with c->err set. */
int vu_recv_reply(struct vu_conn *c, uint32_t req, struct vu_msg *m, uint32_t want);

/* Requests with a u64 reply (GET_FEATURES, GET_PROTOCOL_FEATURES, GET_QUEUE_NUM). */
int vu_get_u64(struct vu_conn *c, uint32_t req, uint64_t *out);
/* A u64 request without a reply (SET_FEATURES, SET_PROTOCOL_FEATURES, SET_STATUS). */
int vu_set_u64(struct vu_conn *c, uint32_t req, uint64_t v);
/* A vring state request (SET_VRING_NUM, SET_VRING_BASE, SET_VRING_ENABLE). */
int vu_set_state(struct vu_conn *c, uint32_t req, uint32_t index, uint32_t num);
/* GET_VRING_BASE: the ring stops; *base is the next available index it would use. */
int vu_get_vring_base(struct vu_conn *c, uint32_t index, uint16_t *base);
/* SET_VRING_KICK/CALL/ERR with fd (-1: the no-fd flag). */
int vu_set_vring_fd(struct vu_conn *c, uint32_t req, uint32_t index, int fd);

/* Request name for logs ("SET_MEM_TABLE"), or "?" */
const char *vu_request_name(uint32_t req);

#endif
