#!/usr/bin/env python3
"""debian-guest.py: real programs from the Debian disk in a Linux guest on lg.ko against
the same programs natively in the appliance (make bench runs it).

In ONE boot of the appliance under QEMU TCG, with the Debian disk (make debian-disk) as
/dev/vda, tests/debian/drive mounts the disk and the workloads of tests/debian/bench run
in a chroot of it ("native"); then the disk is unmounted, a 512 MiB guest boots from it
(root=/dev/vda) and runs the same workloads on its console.  Each prints its own figure,
measured with its own clock:

    compile        s to compile 32 generated C files with gcc -O2 and link them
    fork-exec      ms per fork + exec of /bin/true from a shell loop
    python-loop    s for a CPU-bound python3 loop (10^6 rounds)
    pipe           us per 1-byte pipe round trip between two processes
    gzip           ms to gzip -6 a 10 MiB stream from dd

Both sides run under the same QEMU, so the ratios, not the absolute figures, are what to
read.  A workload that fails or never finishes prints FAILED (then the guest's console
tail); the exit status is then 1.  Environment: O (output directory), DL (download cache).
"""

import os
import sys

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))
sys.path.insert(0, os.path.join(TOP, "bench", "lib"))
from appliance import Appliance, ApplianceError  # noqa: E402
from debiandisk import DRIVER, QEMU_DEVICE, DiskMissing, debian_disk, qemu_args  # noqa: E402
from figures import (FAILED, NOT_RUN, build, counter_delta, figure,  # noqa: E402
                     lguest_counters, print_counters, print_table)
from guestconsole import in_guest, wait_ready  # noqa: E402

OUT = os.path.abspath(os.environ.get("O", os.path.join(TOP, "output")))
GUEST = "debian"        # the guest's name in tests/debian/drive
# (workload of tests/debian/bench, rounds as shown in the table, what lg.ko's counters
# are shown per: a name and how many in one run of the workload)
WORKLOADS = (
    ("compile", "32 files, once", ("file", 32)),
    ("fork-exec", "200 rounds", ("round", 200)),
    ("python-loop", "10^6 rounds", ("run", 1)),
    ("pipe", "1000 round trips", ("trip", 1000)),
    ("gzip", "10 MiB, once", ("MiB", 10)),
)
WORKLOAD_TIMEOUT = 1200


def native_figures(box):
    """{workload: (value, unit)} in the appliance's chroot of the disk."""
    status, out = box.run(f"{DRIVER} mount {QEMU_DEVICE}", timeout=600)
    if status:
        raise ApplianceError(f"{DRIVER} mount {QEMU_DEVICE} failed: {out}")
    figures = {}
    for name, _, _ in WORKLOADS:
        _, out = box.run(f"{DRIVER} chroot /battery/bench {name} 2>&1", WORKLOAD_TIMEOUT)
        figures[name] = figure(name, out) or (FAILED, "-")
    box.run(f"{DRIVER} unmount")
    return figures


def guest_figures(box):
    """{workload: (value, unit)} in a guest booted from the disk, {workload: {counter:
    delta}} from /proc/lguest, and what went wrong (if anything): after a failure the
    remaining workloads are not run."""
    figures = {name: (NOT_RUN, "-") for name, _, _ in WORKLOADS}
    counts = {}
    status, out = box.run(f"{DRIVER} shell {QEMU_DEVICE}", timeout=300)
    if status or not wait_ready(box, GUEST, timeout=600):
        return figures, counts, f"the guest never printed its ready banner: {out}"
    for name, _, _ in WORKLOADS:
        before = lguest_counters(box)
        out = in_guest(box, GUEST, f"/battery/bench {name} 2>&1", WORKLOAD_TIMEOUT)
        delta = counter_delta(before, lguest_counters(box))
        if delta:
            counts[name] = delta
        figures[name] = figure(name, out) or (FAILED, "-")
        if figures[name][0] == FAILED:
            _, tail = box.run(f"echo | lgbox console-attach -q --drain 2 {GUEST} | tail -n 30")
            return (figures, counts,
                    f"/battery/bench {name} in the guest printed {out!r}; console:\n{tail}")
    return figures, counts, ""


def main():
    try:
        disk = debian_disk()
    except DiskMissing as err:
        print(f"bench/debian-guest.py: {err}", file=sys.stderr)
        return 1
    log = os.path.join(OUT, "bench", "debian-guest.console.log")
    try:
        with Appliance(out=OUT, log_path=log, disk=None, qemu_args=qemu_args(disk)) as box:
            native = native_figures(box)
            guest, counts, trouble = guest_figures(box)
    except ApplianceError as err:
        print(f"bench/debian-guest.py: the appliance failed: {err}", file=sys.stderr)
        return 1
    print_table(f"Debian programs in a guest on lg.ko against native (chroot), one appliance "
                f"boot under QEMU TCG ({build(OUT)})",
                [(name, rounds, native[name], guest[name]) for name, rounds, _ in WORKLOADS])
    print_counters([(name, per, rounds, counts[name])
                    for name, _, (per, rounds) in WORKLOADS if name in counts])
    if trouble:
        print(f"bench/debian-guest.py: {trouble}", file=sys.stderr)
    failed = any(value == FAILED for value, _ in [*native.values(), *guest.values()])
    return 1 if failed or trouble else 0


if __name__ == "__main__":
    sys.exit(main())
