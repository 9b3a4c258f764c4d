#!/usr/bin/env python3
"""Seeds for fuzz_vhost_user: a well-behaved peer's replies to vpf's handshake, start,
link down, call move, link up and stop (byte 0: every operation), and shorter ones.
Usage: seeds_vhost_user.py CORPUS_DIR"""
import os
import struct
import sys

REPLY = 1 | 4


def reply(req, body):
    return struct.pack("<III", req, REPLY, len(body)) + body


def u64(req, v):
    return reply(req, struct.pack("<Q", v))


def ack(req):
    return u64(req, 0)


FEATURES = (1 << 32) | (1 << 15) | (1 << 29) | (1 << 28) | (1 << 30)
handshake = [u64(1, FEATURES), u64(15, (1 << 0) | (1 << 3) | (1 << 16)), u64(17, 1), ack(3)]
start = [ack(2), ack(5)]
for ring in range(2):
    start += [ack(8), ack(10), ack(9), ack(12), ack(13)]
start += [ack(18), ack(18), ack(39)]
link_down = [ack(18), ack(18)]
move_call = [ack(13)]
link_up = [ack(18), ack(18)]
stop = [ack(39), reply(11, struct.pack("<II", 0, 5)), reply(11, struct.pack("<II", 1, 9))]

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
seeds = {
    "full": bytes([0x3f]) + b"".join(handshake + start + link_down + move_call + link_up + stop),
    "handshake": bytes([0x10]) + b"".join(handshake),
    "start-stop": bytes([0x21]) + b"".join(handshake + start + stop),
    "no-protocol": bytes([0x21]) + u64(1, FEATURES & ~(1 << 30)) + ack(3),
    "no-ack": bytes([0x3f]) + u64(1, FEATURES) + u64(15, 1) + u64(17, 1),
}
for name, data in seeds.items():
    with open(os.path.join(out, "seed-" + name), "wb") as f:
        f.write(data)
