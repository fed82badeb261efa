#!/usr/bin/env python3
"""make_seeds.py DIR - writes seed inputs for fuzz_virtio: one well-formed
request per device (direct and indirect chains, with and without event
index), so the fuzzer starts from rings that reach the device code instead
of having to discover the ring layout from zeros.  Layout as fuzz_virtio.c:
16 control bytes, then guest memory (desc table at 0, avail at 0x4000, used
at 0x6000)."""
import os
import struct
import sys

DESC, AVAIL, USED = 0x0000, 0x4000, 0x6000
F_NEXT, F_WRITE, F_INDIRECT = 1, 2, 4


def ram_with_chain(bufs, indirect=False, size=0xc000):
    """bufs: (gpa, len, writable, payload) tuples."""
    ram = bytearray(size)
    table = 0x2000 if indirect else DESC
    for i, (gpa, length, writable, payload) in enumerate(bufs):
        flags = (F_WRITE if writable else 0) | (F_NEXT if i + 1 < len(bufs) else 0)
        struct.pack_into("<QIHH", ram, table + 16 * i, gpa, length, flags, i + 1)
        ram[gpa:gpa + len(payload)] = payload
    if indirect:
        struct.pack_into("<QIHH", ram, DESC, table, 16 * len(bufs), F_INDIRECT, 0)
    struct.pack_into("<HHH", ram, AVAIL, 0, 1, 0)   # flags, idx = 1, ring[0] = 0
    return ram


def control(device, features=0x30, qsize_log2=3):
    ctl = bytearray(16)
    ctl[0], ctl[1], ctl[2] = device, qsize_log2, features
    return ctl


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    blk_read = [(0x8000, 16, False, struct.pack("<IIQ", 0, 0, 1)),
                (0x9000, 512, True, b""), (0xa000, 1, True, b"")]
    blk_write = [(0x8000, 16, False, struct.pack("<IIQ", 1, 0, 2)),
                 (0x9000, 1024, False, b"x" * 1024), (0xa000, 1, True, b"")]
    console = [(0x8000, 12, False, b"hello guest\n"), (0x9000, 64, True, b"")]
    rng = [(0x9000, 256, True, b"")]
    net = [(0x8000, 12, False, bytes(12)), (0x8100, 60, False, b"\xab" * 60),
           (0x9000, 1526, True, b"")]
    seeds = {
        "console": (0, console), "rng": (1, rng), "blk-read": (2, blk_read),
        "blk-write": (2, blk_write), "net": (3, net),
    }
    for name, (device, bufs) in seeds.items():
        for indirect in (False, True):
            for features in (0x00, 0x30):
                data = control(device, features) + ram_with_chain(bufs, indirect)
                path = os.path.join(out, "seed-%s-%s-%02x" %
                                    (name, "ind" if indirect else "dir", features))
                with open(path, "wb") as f:
                    f.write(data)


if __name__ == "__main__":
    main()
