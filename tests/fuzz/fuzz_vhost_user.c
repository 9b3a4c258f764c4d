/* libFuzzer target: the vhost-user front-end's message handling (src/backend/
 * vhost_user_proto.c, vhost_user.c) against a peer whose every byte is the input.
 *
 * Input: byte 0 picks the operations after the handshake (a bit each: start, link down,
 * move a ring's call fd, link up, a service round, stop); the rest is written, as is,
 * into the peer's end of a socketpair, which is then shut for writing: the front-end reads
 * the input as the peer's replies, then EOF (no waiting), while what it sends piles up
 * unread. vpf must refuse whatever is malformed without crashing, leaking a descriptor
 * or reading past what it was sent; a well-formed input gets through the handshake, the
 * start sequence, link changes and the stop. Checked beyond the sanitizers: no fd leaks
 * (as many open descriptors after every input as before it). */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "backend/backend.h"
#include "base/log.h"

#define RAM_SIZE (64 * 1024)

static struct guest_mem mem;
static int kick[2], call[2], err_fd[2], other_call;

/* Open descriptors now (libFuzzer may hold one of its own during a callback: counted
 * at the start and the end of the same one). */
static int count_fds(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        abort();
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

static void init_once(void)
{
    log_threshold = LOG_ERROR + 1;      /* peers misbehave on every input here */
    int fd = memfd_create("fuzz-vu-ram", MFD_CLOEXEC);
    if (fd < 0 || ftruncate(fd, RAM_SIZE) < 0)
        abort();
    void *ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (ram == MAP_FAILED || guest_mem_add_fd(&mem, 0, RAM_SIZE, ram, fd, 0) < 0)
        abort();
    for (int i = 0; i < 2; i++) {
        kick[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        call[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        err_fd[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    }
    other_call = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!mem.nregions)
        init_once();
    if (size < 1 || size > 65536)
        return 0;
    uint8_t ops = data[0];
    data++;
    size--;
    int fds_before = count_fds();
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) < 0)
        abort();
    int big = 1 << 20;
    setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
    setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
    size_t off = 0;
    while (off < size) {
        ssize_t n = send(sv[1], data + off, size - off, MSG_NOSIGNAL);
        if (n <= 0)
            break;      /* the rest does not fit: the peer said less */
        off += (size_t)n;
    }
    shutdown(sv[1], SHUT_WR);

    char err[256];
    struct net_backend *be = vhost_user_open_fd(sv[0], "fuzz", &mem, 20, err, sizeof(err));
    if (be) {
        const struct net_backend_ops *o = be->ops;
        struct net_backend_offload cfg = { .mem = &mem,
                                           .features = ~0ull,
                                           .link_up = true,
                                           .nvrings = 2 };
        for (unsigned i = 0; i < 2; i++)
            cfg.vrings[i] = (struct net_backend_vring){
                .size = 256,
                .last_avail = (uint16_t)(i * 7),
                .desc_gpa = 0x1000 + 0x4000 * i,
                .avail_gpa = 0x2000 + 0x4000 * i,
                .used_gpa = 0x3000 + 0x4000 * i,
                .kick_fd = kick[i],
                .call_fd = call[i],
                .err_fd = err_fd[i],
            };
        (void)o->ring_features(be);
        if (ops & 1)
            o->start_offload(be, &cfg);
        if (ops & 2)
            o->set_link(be, false);
        if (ops & 4)
            o->set_call(be, 1, other_call);
        if (ops & 8)
            o->set_link(be, true);
        if (ops & 16) {
            o->service(be);
            (void)o->device_link(be);
            (void)o->peer_state(be);
            o->error(be, err, sizeof(err));
        }
        if (ops & 32) {
            uint16_t last[2];
            o->stop_offload(be, last, 2);
        }
        net_backend_close(be);
    }
    close(sv[1]);
    /* The backend owned sv[0] from the open on, and everything it opened: all closed
     * by now, whatever happened. */
    if (fcntl(sv[0], F_GETFD) != -1 || count_fds() != fds_before)
        abort();        /* a descriptor leaked (one the peer sent, or our own) */
    return 0;
}
