#!/usr/bin/env python3
"""A minimal vhost-user back-end for the host tests (tests/host/cli_test.sh): listens on
a socket path, accepts one front-end at a time and answers what a vhost-user-net
back-end answers (features, protocol features, queue count, acks, ring bases), closing
every descriptor it is sent. Appends one line per connection and per request to LOG.
Usage: vu_peer.py SOCKET LOG"""
import array
import os
import socket
import struct
import sys

FEATURES = (1 << 32) | (1 << 15) | (1 << 29) | (1 << 28) | (1 << 30)  # VERSION_1 MRG EVENT_IDX INDIRECT PROTOCOL
PROTOCOL = (1 << 0) | (1 << 3) | (1 << 16)                              # MQ REPLY_ACK STATUS
GET_FEATURES, GET_PROTOCOL_FEATURES, GET_QUEUE_NUM, GET_VRING_BASE = 1, 15, 17, 11


def recv_exact(conn, n, fds):
    buf = b""
    while len(buf) < n:
        data, anc, _, _ = conn.recvmsg(n - len(buf), socket.CMSG_SPACE(8 * 4))
        if not data:
            raise EOFError
        for level, kind, payload in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                a = array.array("i")
                a.frombytes(payload[: len(payload) - len(payload) % a.itemsize])
                fds.extend(a)
        buf += data
    return buf


def serve(conn, log):
    while True:
        fds = []
        req, flags, size = struct.unpack("<III", recv_exact(conn, 12, fds))
        payload = recv_exact(conn, size, fds) if size else b""
        for fd in fds:
            os.close(fd)
        log.write("request %d size %d fds %d\n" % (req, size, len(fds)))
        log.flush()
        body = None
        if req == GET_FEATURES:
            body = struct.pack("<Q", FEATURES)
        elif req == GET_PROTOCOL_FEATURES:
            body = struct.pack("<Q", PROTOCOL)
        elif req == GET_QUEUE_NUM:
            body = struct.pack("<Q", 1)
        elif req == GET_VRING_BASE:
            body = payload[:4] + struct.pack("<I", 0)
        elif flags & 8:
            body = struct.pack("<Q", 0)
        if body is not None:
            conn.sendall(struct.pack("<III", req, 1 | 4, len(body)) + body)


def main():
    path, logpath = sys.argv[1], sys.argv[2]
    if os.path.exists(path):
        os.unlink(path)
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(1)
    with open(logpath, "a") as log:
        while True:
            conn, _ = srv.accept()
            log.write("connected\n")
            log.flush()
            try:
                serve(conn, log)
            except (EOFError, ConnectionError):
                pass
            conn.close()


if __name__ == "__main__":
    main()
