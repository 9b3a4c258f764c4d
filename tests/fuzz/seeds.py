#!/usr/bin/env python3
"""Writes seed inputs for fuzz_virtio_net into DIR: well-formed rings (TX chain, RX
buffers, control commands) so the fuzzer starts deep in the data path, on devices of
1 to 4 queue pairs (the input's first byte), with VIRTIO_NET_F_MQ negotiated or not and
scripts that change the pairs in use (VQ_PAIRS_SET), kick any queue, reset and toggle
DRIVER_OK while pairs run."""
import os
import struct
import sys

VERSION_1, MRG, CTRL_VQ, CTRL_RX, CTRL_MAC = 32, 15, 17, 18, 23
CSUM, GUEST_CSUM, EVENT_IDX, INDIRECT, NOTF_COAL = 0, 1, 29, 28, 53
MQ = 22
WINDOW = 0x2000   # pair k's rings and buffers: k * WINDOW (fuzz_virtio_net.c)
WRITE, NEXT, IND = 2, 1, 4


def desc(ram, table, i, addr, length, flags, nxt):
    struct.pack_into('<QIHH', ram, table + 16 * i, addr, length, flags, nxt)


def data_pair(ram, k):
    """Pair k's RX buffers and a TX frame, in its window (rings at the offsets of pair 0's)."""
    b = k * WINDOW
    for i in range(8):
        desc(ram, b, i, b + 0x1000 + 0x100 * i, 256, WRITE, 0)
        struct.pack_into('<H', ram, b + 0x080 + 4 + 2 * i, i)
    struct.pack_into('<H', ram, b + 0x080 + 2, 8)
    ram[b + 0x1810:b + 0x1810 + 60] = bytes(range(60))
    desc(ram, b + 0x200, 0, b + 0x1800, 12, NEXT, 1)
    desc(ram, b + 0x200, 1, b + 0x1810, 60, 0, 0)
    struct.pack_into('<HH', ram, b + 0x280 + 2, 1, 0)


def seed(features, script, indirect=False, pairs=1):
    ram = bytearray(WINDOW * pairs)
    for k in range(1, pairs):
        data_pair(ram, k)
    q = [(0x000, 0x080, 0x0c0), (0x200, 0x280, 0x2c0), (0x400, 0x500, 0x540)]
    # rx: 8 buffers of 256 bytes
    for i in range(8):
        desc(ram, q[0][0], i, 0x1000 + 0x100 * i, 256, WRITE, 0)
        struct.pack_into('<H', ram, q[0][1] + 4 + 2 * i, i)
    struct.pack_into('<H', ram, q[0][1] + 2, 8)
    # tx: header + payload, directly or through an indirect table
    ram[0x1810:0x1810 + 100] = bytes(range(100))
    if indirect:
        desc(ram, 0x1900, 0, 0x1800, 12, NEXT, 1)
        desc(ram, 0x1900, 1, 0x1810, 100, 0, 0)
        desc(ram, q[1][0], 0, 0x1900, 32, IND, 0)
    else:
        desc(ram, q[1][0], 0, 0x1800, 12, NEXT, 1)
        desc(ram, q[1][0], 1, 0x1810, 100, 0, 0)
    struct.pack_into('<HH', ram, q[1][1] + 2, 1, 0)
    # ctrl: promisc on, then MAC_ADDR_SET, then NOTF_COAL_RX_SET (4 packets, 50 us)
    ram[0x1c00:0x1c03] = bytes([0, 0, 1])
    desc(ram, q[2][0], 0, 0x1c00, 2, NEXT, 1)
    desc(ram, q[2][0], 1, 0x1c02, 1, NEXT, 2)
    desc(ram, q[2][0], 2, 0x1c10, 1, WRITE, 0)
    ram[0x1c20:0x1c28] = bytes([1, 1, 2, 0, 0, 0, 0, 1])
    desc(ram, q[2][0], 3, 0x1c20, 2, NEXT, 4)
    desc(ram, q[2][0], 4, 0x1c22, 6, NEXT, 5)
    desc(ram, q[2][0], 5, 0x1c30, 1, WRITE, 0)
    ram[0x1c40:0x1c42] = bytes([6, 1])             # class, command and data in one buffer
    struct.pack_into('<II', ram, 0x1c42, 4, 50)
    desc(ram, q[2][0], 6, 0x1c40, 10, NEXT, 7)
    desc(ram, q[2][0], 7, 0x1c50, 1, WRITE, 0)
    if MQ in features:      # and VQ_PAIRS_SET(pairs)
        ram[0x1c60:0x1c64] = bytes([4, 0, pairs, 0])
        desc(ram, q[2][0], 8, 0x1c60, 4, NEXT, 9)
        desc(ram, q[2][0], 9, 0x1c70, 1, WRITE, 0)
        struct.pack_into('<HHHHH', ram, q[2][1] + 2, 4, 0, 3, 6, 8)
    else:
        struct.pack_into('<HHHH', ram, q[2][1] + 2, 3, 0, 3, 6)
    f = sum(1 << b for b in features)
    hdr = bytes([pairs - 1]) + struct.pack('<Q3BB9I', f, 3, 3, 4, len(script),
                      q[0][0], q[1][0], q[2][0], q[0][1], q[1][1], q[2][1],
                      q[0][2], q[1][2], q[2][2])
    return hdr + bytes(script) + bytes(ram)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    base = [VERSION_1, CTRL_VQ, CTRL_RX, CTRL_MAC]
    seeds = {
        'mrg_all': seed(base + [MRG, CSUM, GUEST_CSUM, EVENT_IDX, INDIRECT],
                        [0, 3 | (5 << 3), 1, 2, 7]),
        'plain': seed(base, [0, 3 | (2 << 3), 1, 2, 5, 3, 1, 5 | 8, 1]),
        'indirect': seed(base + [INDIRECT, EVENT_IDX], [7, 0, 4, 1, 6], indirect=True),
        'coal': seed(base + [MRG, EVENT_IDX, NOTF_COAL], [2, 3 | (5 << 3), 1, 0, 1]),
    }
    # op 6 (with an argument byte): (op >> 3) & 3 = 0 VQ_PAIRS_SET on the ring (op >> 5 =
    # 4, 5: drain the backends instead; 6, 7: the backends' queue attach fails from now, or
    # works again), 1 straight into the handler, 2 a kick of queue arg, 3 status (op >> 5:
    # 0 reset and init, 1 DRIVER_OK off and on, 3 reset, 4 a late queue setup, 5+ every
    # queue run).
    def ring(k):
        return [6, k]

    def direct(k):
        return [6 | 1 << 3, k]

    def kick(q):
        return [6 | 2 << 3 | 1 << 5, q]

    def status(a, arg=0):
        return [6 | 3 << 3 | a << 5, arg]
    def refuse():       # the backend's queue attach fails (again: works)
        return [6 | 6 << 5, 0]
    mq = base + [MQ, MRG, EVENT_IDX]
    for n in (2, 3, 4):
        seeds['mq%d' % n] = seed(mq, [2, 7] + ring(n) + [0 | 8, 1 | 8, 3, 3 | 8, 7] +
                                 ring(1) + [7] + ring(n) + kick(2 * n - 1) + kick(2 * n) +
                                 kick(9) + [7], pairs=n)
        seeds['mq%d_reset' % n] = seed(mq, ring(n) + [3, 7] + status(0) + ring(n) + [7] +
                                       status(1) + direct(n) + status(4, 3) + [7] + direct(0) +
                                       direct(n + 1) + status(3) + ring(n) + status(0) + [7],
                                       pairs=n)
        seeds['nomq%d' % n] = seed(base + [MRG], [7] + ring(2) + direct(2) + kick(3) +
                                   status(4, 3) + kick(4) + [7, 2] + status(1) + [7], pairs=n)
    seeds['mq3_refuse'] = seed(mq, [7] + ring(2) + refuse() + ring(3) + direct(3) + [7] +
                               refuse() + ring(3) + [7], pairs=3)
    for name, data in seeds.items():
        with open(os.path.join(out, 'seed_' + name), 'wb') as fh:
            fh.write(data)


if __name__ == '__main__':
    main()
