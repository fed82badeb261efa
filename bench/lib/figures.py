#!/usr/bin/env python3
"""figures.py: what the guest-against-native benchmarks share (bench/guest-native.py,
bench/debian-guest.py): reading a workload's figure, naming the build measured, and the
table of figures side by side with the ratio guest/native.

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
