#!/usr/bin/env python3
"""figures.py: what the guest-against-native benchmarks share (bench/guest-native.py,
bench/debian-guest.py): reading a workload's figure, naming the build measured, the
table of figures side by side with the ratio guest/native, and lg.ko's counters
(/proc/lguest) per round of each workload.

    from figures import FAILED, figure, print_table
    value = figure("pipe", "pipe 12.5 us\\n") or (FAILED, "-")      # (12.5, "us")
    print_table("title", [("pipe", "1000 round trips", native, guest)])
"""

import os
import re
import subprocess
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# a figure's value when its workload failed, or when it was not run after an earlier failure
FAILED, NOT_RUN = "FAILED", "not run"


def figure(name, output):
    """(value, unit) of the "NAME VALUE UNIT" line in a workload's output, or None."""
    match = re.search(rf"^{re.escape(name)} ([0-9.]+) (\S+)$", output or "", re.M)
    return (float(match.group(1)), match.group(2)) if match else None


def images_missing(out, script):
    """Why SCRIPT cannot run (no appliance images in OUT), printed, or "" when it can."""
    if os.path.exists(os.path.join(out, "images", "host-initramfs.cpio.gz")):
        return ""
    why = f"{script}: no appliance images in {out}/images (run make first)"
    print(why, file=sys.stderr)
    return why


def build(out):
    """Which tree and when the images in OUT were built, for telling runs apart."""
    try:
        commit = subprocess.run(["git", "-C", TOP, "describe", "--always", "--dirty"],
                                capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    built = os.path.getmtime(os.path.join(out, "images", "host-initramfs.cpio.gz"))
    return f"tree {commit}, images built {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(built))}"


def shown(value):
    if isinstance(value, str):
        return value
    return f"{value:.3f}" if value < 10 else f"{value:.1f}"


def print_table(title, rows):
    """TITLE, then one line per (figure, rounds, native, guest) row, where native and guest
    are (value, unit) with a string value (FAILED, NOT_RUN, "-") when there is no number."""
    print(title)
    print(f"{'figure':<17} {'rounds':<17} {'unit':<14} {'native':>10} {'guest':>10} "
          f"{'guest/native':>12}")
    for name, rounds, (n, unit), (g, guest_unit) in rows:
        both = not isinstance(n, str) and not isinstance(g, str) and n > 0
        ratio = f"{g / n:.1f}x" if both else "-"
        print(f"{name:<17} {rounds:<17} {unit if unit != '-' else guest_unit:<14} "
              f"{shown(n):>10} {shown(g):>10} {ratio:>12}")


# /proc/lguest counters shown per round, with their column titles
COUNTERS = (("entries", "entries"), ("exit_hypercall", "hcalls"),
            ("exit_user_syscall", "user-sc"), ("exit_shadow_fill", "fills"),
            ("exit_page_fault", "pf-refl"), ("exit_host", "host-ev"),
            ("cr3_loads", "cr3"), ("fast_user_syscalls", "fast-sc"),
            ("fast_irets", "fast-iret"), ("fast_page_faults", "fast-pf"),
            ("fast_exceptions", "fast-exc"), ("fast_cr3_loads", "fast-cr3"))
# LHCALL_* by number (include/uapi/linux/lguest.h), for the hypercall breakdown
HCALL_NAMES = ("NOP", "INIT", "CONSOLE_WRITE", "SHUTDOWN", "SET_TRAP", "SET_KERNEL_STACK",
               "LOAD_CR3", "FLUSH_TLB", "INVLPG", "IRET", "SET_TIMER", "HALT", "NOTIFY",
               "SET_SEGMENT_BASE", "SET_DEBUGREG", "START_VCPU", "SEND_IPI")


def lguest_counters(box):
    """{counter: value} of the one guest in the appliance's /proc/lguest, or None if there
    is not exactly one."""
    _, out = box.run("cat /proc/lguest")
    lines = [line for line in out.splitlines() if line.startswith("pid=")]
    if len(lines) != 1:
        return None
    return {key: int(value) for key, value in
            (word.split("=", 1) for word in lines[0].split()[1:])}


def counter_delta(before, after):
    """{counter: after - before}, or None if either reading failed."""
    if not before or not after:
        return None
    return {key: after[key] - before.get(key, 0) for key in after}


def print_counters(rows):
    """rows: (name, what a round is, rounds, {counter: delta}) for each workload.  Prints
    what lg.ko counted per round, then which hypercalls (those made at least once every
    twenty rounds)."""
    print("lg.ko's counters per round (/proc/lguest; the same on any CPU): world switches "
          "into the guest, exits to lg.ko's C code by kind")
    print(f"{'figure':<17} {'per':<10}" + "".join(f"{title:>10}" for _, title in COUNTERS))
    for name, per, rounds, counts in rows:
        print(f"{name:<17} {per:<10}" + "".join(
            f"{counts.get(key, 0) / rounds:>10.2f}" for key, _ in COUNTERS))
    print("hypercalls per round by kind (fast IRETs included)")
    for name, _, rounds, counts in rows:
        calls = [(call, counts.get(f"hcall{i}", 0) / rounds)
                 for i, call in enumerate(HCALL_NAMES)]
        print(f"{name:<17} " + ", ".join(f"{call} {per:.2f}" for call, per in calls
                                        if per >= 0.05))
