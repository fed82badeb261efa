#!/usr/bin/env python3
"""lg-ibt.py: every place the CPU can enter lg.ko's switcher indirectly starts with ENDBR64.

On a host kernel with indirect-branch tracking (CET IBT) on IBT hardware, an indirect
call, an IDT event or a SYSCALL that lands anywhere but an ENDBR64 raises #CP: lg.ko
would fault on its first world switch.  Neither QEMU TCG nor Bochs implements IBT, so
this test reads the built module instead: the 256 IDT stubs (one per 16 bytes of the
switcher's first page), the world switch C calls, the SYSCALL entry, and the 256 stubs
that replay host interrupts (one per 16 bytes of lg_host_vectors).  It parses the ELF
file itself (only the standard library is used).
"""

import os
import struct
import sys

ENDBR64 = bytes.fromhex("f30f1efa")


def read_elf(path):
    """{section name: bytes} and {symbol name: (section name, offset)} of an ELF64 file."""
    with open(path, "rb") as f:
        data = f.read()
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3a)
    headers = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize)
               for i in range(shnum)]
    names = headers[shstrndx]

    def string(table, offset):
        start = table[4] + offset
        return data[start:data.index(b"\0", start)].decode()

    sections = {string(names, h[0]): data[h[4]:h[4] + h[5]] for h in headers}
    section_names = [string(names, h[0]) for h in headers]
    symbols = {}
    for h in headers:
        if h[1] != 2:		# SHT_SYMTAB
            continue
        strtab = headers[h[6]]
        for off in range(h[4], h[4] + h[5], 24):
            name, _, _, shndx, value, _ = struct.unpack_from("<IBBHQQ", data, off)
            if name and 0 < shndx < len(headers):
                symbols[string(strtab, name)] = (section_names[shndx], value)
    return sections, symbols


def main():
    out = os.environ.get("O", "output")
    module = os.path.join(out, "build", "lg", "lg.ko")
    if not os.path.exists(module):
        print(f"XFAIL: lg-ibt: {module} was not built")
        return 0
    sections, symbols = read_elf(module)
    entries = [("IDT stub %d" % v, "lg_switcher_vectors", 16 * v) for v in range(256)]
    entries += [("host replay stub %d" % v, "lg_host_vectors", 16 * v) for v in range(256)]
    entries += [("lg_switch_to_guest", "lg_switch_to_guest", 0),
                ("lg_syscall_entry", "lg_syscall_entry", 0)]
    missing = []
    for what, symbol, offset in entries:
        if symbol not in symbols:
            print(f"FAIL: lg-ibt: {module} has no symbol {symbol}")
            return 1
        section, value = symbols[symbol]
        start = value + offset
        if sections[section][start:start + 4] != ENDBR64:
            missing.append(what)
    if missing:
        print("FAIL: lg-ibt: no ENDBR64 at %d entry points: %s" %
              (len(missing), ", ".join(missing[:8])))
        return 1
    print("PASS: lg-ibt: ENDBR64 at all %d indirect entry points of the switcher" % len(entries))
    return 0


if __name__ == "__main__":
    sys.exit(main())
