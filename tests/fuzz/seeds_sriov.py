#!/usr/bin/env python3
"""Writes seed inputs for fuzz_sriov into DIR: well-behaved sequences (driver init of the
PF and of VFs, VF Enable/Disable as Linux's iov.c does it, FLR, MSI-X setup, frames
posted) so the fuzzer starts from the states a real guest reaches. Record layout as in
fuzz_sriov.c: op, function | width << 3 | flags << 6, offset (LE16), value (LE64)."""
import os
import struct
import sys

(CFG_WR, CFG_RD, BAR_WR, BAR_RD, STATUS, SRIOV, FLR, INIT, KICK, QUEUE, RAM, MSIX,
 SYNC) = range(13)
PF, VF0, VF1, VF2, VF3 = range(5)
W1, W2, W4, W8 = 0, 1, 2, 3           # width codes
F1, F2 = 0x40, 0x80                   # flags

CTRL_VQ, MAC, MRG, EVENT_IDX, MQ = 17, 5, 15, 29, 22
PF_CTRLQ = 6                          # the PF's 3 pairs with MQ: control queue at 2N


def rec(op, fn=PF, off=0, val=0, width=W1, flags=0):
    return bytes([op, fn | width << 3 | flags]) + struct.pack('<HQ', off, val)


def init(fn, features=(1 << CTRL_VQ) | (1 << MAC)):
    """The whole driver init (flag): VERSION_1 + features, 256-entry queues."""
    return rec(INIT, fn, 0, features << 8, flags=F1 | F2)


def post(fn, q, length, doorbell=True):
    return rec(RAM, fn, q, length, flags=F1 | (F2 if doorbell else 0))


def pairs_set(fn, q, k, doorbell=True):
    """VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET(k) posted on queue q (any value, any queue)."""
    return rec(RAM, fn, 0x8000 | q, k, flags=F1 | (F2 if doorbell else 0))


def sriov_enable(n):
    return rec(SRIOV, PF, 2, n - 1)


def sriov_disable():
    return rec(SRIOV, PF, 3, 0)


def status(fn, s):
    return rec(STATUS, fn, 0, s)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    seeds = {
        # PF up, a frame each way posted, kicks through the doorbell and the eventfd.
        'pf_init_tx': [init(PF, (1 << CTRL_VQ) | (1 << MAC) | (1 << MRG) | (1 << EVENT_IDX)),
                       post(PF, 1, 72), post(PF, 0, 2048), rec(KICK, PF, 1, 0, flags=F1),
                       rec(SYNC, PF), rec(BAR_RD, PF, 2 | 6 << 3, 0, flags=F1)],
        # Reset and initialise again, as a driver reload does.
        'pf_reinit': [init(PF), post(PF, 1, 72), rec(SYNC, PF), status(PF, 0), init(PF),
                      post(PF, 1, 72), rec(SYNC, PF)],
        # Two VFs as Linux enables them, both driven, one reset by FLR and re-initialised.
        'vfs_init_flr': [init(PF), sriov_enable(2), init(VF0), init(VF1), post(VF1, 1, 72),
                         rec(SYNC, VF1), rec(FLR, VF0), init(VF0), post(VF0, 1, 72),
                         rec(SYNC, VF0), sriov_disable()],
        # NumVFs and VF Enable / VF MSE written one by one; MSI-X enabled and programmed on
        # the PF and a VF; a VF half-initialised; the PF's reset takes the VFs down.
        'numvfs_msix': [rec(SRIOV, PF, 0, 4), rec(SRIOV, PF, 1, 0x9),
                        rec(MSIX, PF, 1, 0x8000), rec(MSIX, PF, 0, 0xfee00000),
                        rec(MSIX, PF, 2, 0), rec(MSIX, PF, 4, 0x41), rec(MSIX, PF, 6, 0),
                        rec(MSIX, VF2, 1, 0x8000), rec(MSIX, VF2, 0, 0xfee00000),
                        rec(MSIX, VF2, 6, 0),
                        rec(INIT, VF3, 0, (1 << CTRL_VQ << 8) | 4 | 8 << 40 | 3 << 48),
                        rec(QUEUE, VF3, 2, 6 << 8 | 7), rec(SRIOV, PF, 0, 2),
                        rec(SRIOV, PF, 1, 0x1), rec(SRIOV, PF, 1, 0x9), status(PF, 0)],
        # Queue setup by hand (select, size, addresses, vector, enable) on the PF.
        'pf_by_hand': [status(PF, 0), status(PF, 1), status(PF, 3),
                       rec(BAR_WR, PF, 0 << 3, 1, flags=F1),        # device_feature_select 1
                       rec(BAR_RD, PF, 1 << 3, 0, flags=F1),        # device_feature
                       rec(BAR_WR, PF, 2 << 3, 1, flags=F1),        # driver_feature_select 1
                       rec(BAR_WR, PF, 3 << 3, 1, flags=F1),        # VERSION_1 (bit 32)
                       status(PF, 0xb), rec(QUEUE, PF, 0, 8), rec(QUEUE, PF, 1, 8),
                       status(PF, 0xf), post(PF, 1, 72), rec(SYNC, PF)],
        # The PF's 3 pairs: MQ negotiated, all pairs then one then all in use, frames on
        # pairs 1 and 2, kicks of every doorbell and one past, reset while pairs run.
        'pf_mq': [init(PF, (1 << CTRL_VQ) | (1 << MAC) | (1 << MQ) | (1 << EVENT_IDX)),
                  pairs_set(PF, PF_CTRLQ, 3), rec(SYNC, PF), post(PF, 3, 72), post(PF, 5, 72),
                  post(PF, 4, 2048), rec(SYNC, PF), pairs_set(PF, PF_CTRLQ, 1), rec(SYNC, PF),
                  post(PF, 5, 72), pairs_set(PF, PF_CTRLQ, 3), rec(SYNC, PF),
                  rec(KICK, PF, 6, 0), rec(KICK, PF, 7, 0), rec(KICK, PF, 5, 0, flags=F1),
                  status(PF, 0), rec(SYNC, PF)],
        # Out-of-range and refused values, DRIVER_OK off and on with pairs changed, a late
        # queue enable of an unused pair, and MQ not negotiated (control queue at 2).
        'pf_mq_bad': [init(PF, (1 << CTRL_VQ) | (1 << MQ)), pairs_set(PF, PF_CTRLQ, 0),
                      pairs_set(PF, PF_CTRLQ, 4), pairs_set(PF, PF_CTRLQ, 0xffff),
                      pairs_set(PF, PF_CTRLQ, 2), rec(SYNC, PF), status(PF, 0xb),
                      status(PF, 0xf), pairs_set(PF, PF_CTRLQ, 3), rec(SYNC, PF),
                      rec(QUEUE, PF, 5, 6 << 8 | 7), rec(QUEUE, PF, 7, 7), init(PF),
                      pairs_set(PF, 2, 2), rec(SYNC, PF), post(PF, 3, 72), rec(SYNC, PF)],
        # A VF next to the multi-queue PF: VQ_PAIRS_SET refused (one pair, no MQ).
        'vf_mq': [init(PF, (1 << CTRL_VQ) | (1 << MQ)), pairs_set(PF, PF_CTRLQ, 3),
                  sriov_enable(1), init(VF0, (1 << CTRL_VQ) | (1 << MQ)),
                  pairs_set(VF0, 2, 1), rec(SYNC, VF0), rec(FLR, VF0), rec(SYNC, PF),
                  sriov_disable()],
    }
    for name, recs in seeds.items():
        with open(os.path.join(out, 'seed_' + name), 'wb') as fh:
            fh.write(b''.join(recs))


if __name__ == '__main__':
    main()
