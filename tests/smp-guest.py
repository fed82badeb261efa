#!/usr/bin/env python3
"""smp-guest.py: a Linux guest with two vCPUs (lgbox launch, config key cpus = 2) inside
the QEMU-booted appliance, which runs on two CPUs (the board's default -smp 2).

The guest is the appliance's own kernel with the guest initramfs.  Cases: it boots to its
shell; lgbox list shows its two vCPUs; it has two CPUs (nproc, /sys/devices/system/cpu/online)
and says so in dmesg, with no firmware-bug, WARN or BUG line; two busy loops run on both
CPUs at once (each CPU's user time in /proc/stat advances); both CPUs took reschedule and
call-function IPIs (/proc/interrupts); a busy loop on each host CPU shows as steal time in
the guest's /proc/stat (and an idle host much less); a TLB shootdown check (tests/smp/remap.c, a static
musl program handed to the guest as a raw virtio disk) finds no stale read in a thread on
CPU 1 while a thread on CPU 0 replaces the page it reads 2000 times with mremap; offlining a
CPU is refused and both stay online; poweroff ends the guest and its launcher exits 0; the
host log stays clean.
"""

import os
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from appliance import Appliance, ApplianceError  # noqa: E402
from cases import Cases  # noqa: E402
from guestconsole import GUEST_CONFIG, in_guest, start_guest, wait_ready  # noqa: E402

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.abspath(os.environ.get("O", os.path.join(TOP, "output")))
NAME = "smp"
REMAP_SOURCE = os.path.join(TOP, "tests", "smp", "remap.c")


def build_remap(directory):
    """tests/smp/remap.c as a static binary in a raw disk image (padded to a sector): its
    path and the binary's size."""
    binary = os.path.join(directory, "remap")
    subprocess.run(["musl-gcc", "-static", "-Os", "-s", "-o", binary, REMAP_SOURCE,
                    "-lpthread"], check=True)
    size = os.path.getsize(binary)
    disk = os.path.join(directory, "remap.img")
    with open(binary, "rb") as src, open(disk, "wb") as dst:
        dst.write(src.read())
        dst.write(b"\0" * (-size % 512))
    return disk, size


def cpu_user_ticks(stat):
    """{cpu number: user + system ticks} from /proc/stat text."""
    return {int(m.group(1)): int(m.group(2)) + int(m.group(3))
            for m in re.finditer(r"^cpu(\d+) (\d+) \d+ (\d+)", stat, re.M)}


def steal_ticks(stat):
    """The steal column (the 8th number) of the all-CPU line of /proc/stat text, or None."""
    match = re.search(r"^cpu +((?:\d+ +){7}\d+)", stat, re.M)
    return int(match.group(1).split()[7]) if match else None


def steal_while_busy(box, host_load):
    """Steal ticks the guest's /proc/stat counts over 3 s of two busy loops in the guest,
    with (HOST_LOAD) or without a busy loop on each host CPU beside it; None if unread."""
    if host_load:
        box.run("rm -f /tmp/hogs; for mask in 1 2; do "
                "taskset $mask sh -c 'while :; do :; done' & echo $! >>/tmp/hogs; done")
    out = in_guest(box, NAME, "(while :; do :; done) & (while :; do :; done) & "
                   "head -1 /proc/stat; sleep 3; head -1 /proc/stat; kill %1 %2", timeout=90)
    if host_load:     # by pid: a pattern could match the shell the harness types into
        box.run("kill $(cat /tmp/hogs); rm -f /tmp/hogs")
    lines = [line for line in (out or "").splitlines() if line.startswith("cpu ")]
    if len(lines) != 2 or None in map(steal_ticks, lines):
        return None
    return steal_ticks(lines[1]) - steal_ticks(lines[0])


def irq_counts(interrupts, label):
    """The per-CPU counts of the /proc/interrupts line LABEL (e.g. RES)."""
    match = re.search(rf"^\s*{label}:((?:\s+\d+)+)", interrupts, re.M)
    return [int(n) for n in match.group(1).split()] if match else []


def run(cases, box, remap_size):
    # the appliance's second virtio disk is the remap image: the guest's first
    status, out = box.run("cat /dev/vdb >/tmp/remap.img")
    config = GUEST_CONFIG.format(name=NAME, cmdline="console=hvc0") + \
        "cpus = 2\nblock = /tmp/remap.img\n"
    start_guest(box, NAME, config)
    ready = wait_ready(box, NAME)
    _, launched = box.run(f"cat /tmp/{NAME}.out")
    if not cases.check(f"{NAME}: a guest with two vCPUs boots to its shell", ready,
                       f"launch says {launched!r}"):
        return
    _, listing = box.run("lgbox list")
    row = [line.split() for line in listing.splitlines() if line.startswith(NAME + " ")]
    header = listing.splitlines()[0].split() if listing.strip() else []
    vcpus = row[0][header.index("VCPUS")] if row and "VCPUS" in header else None
    cases.check(f"{NAME}: lgbox list shows its 2 vCPUs", vcpus == "2", listing)

    out = in_guest(box, NAME, "nproc; cat /sys/devices/system/cpu/online") or ""
    cases.check(f"{NAME}: nproc says 2, CPUs 0-1 online", out.split() == ["2", "0-1"],
                repr(out))
    dmesg = in_guest(box, NAME, "dmesg") or ""
    cases.check(f"{NAME}: dmesg says 2 CPUs came up", "Brought up 1 node, 2 CPUs" in dmesg,
                "no 'Brought up 1 node, 2 CPUs' line")
    bad = [line for line in dmesg.splitlines()
           if re.search(r"Firmware Bug|WARNING|BUG|Call Trace|Oops", line)]
    cases.check(f"{NAME}: its dmesg has no firmware-bug, WARN or BUG line", not bad,
                "\n".join(bad[:10]))

    out = in_guest(box, NAME, "(while :; do :; done) & (while :; do :; done) & "
                   "head -3 /proc/stat; sleep 3; head -3 /proc/stat; kill %1 %2", timeout=90)
    stats = (out or "").split("cpu ")
    before, after = (cpu_user_ticks("cpu " + s) for s in stats[1:3]) if len(stats) >= 3 \
        else ({}, {})
    advanced = {cpu: after[cpu] - before.get(cpu, 0) for cpu in after}
    cases.check(f"{NAME}: two busy loops run on both CPUs at once",
                len(advanced) == 2 and min(advanced.values()) >= 100,
                f"ticks per CPU in 3 s: {advanced} ({out!r})")

    # steal time: lg.ko's steal_ns through the guest's steal clock (guest/0013)
    quiet, loaded = steal_while_busy(box, False), steal_while_busy(box, True)
    cases.check(f"{NAME}: host load on its CPUs shows as steal time in the guest",
                quiet is not None and loaded is not None and loaded >= 30 and loaded > quiet,
                f"steal ticks over 3 s of two busy loops: {quiet} with an idle host, {loaded} "
                "with a busy loop on each host CPU (expected at least 30, and more)")

    interrupts = in_guest(box, NAME, "cat /proc/interrupts") or ""
    res, cal = irq_counts(interrupts, "RES"), irq_counts(interrupts, "CAL")
    cases.check(f"{NAME}: both CPUs took reschedule and call-function IPIs",
                len(res) == 2 and len(cal) == 2 and min(res) > 0 and min(cal) > 0,
                interrupts)

    out = in_guest(box, NAME, f"head -c {remap_size} /dev/vda >/tmp/remap; "
                   "chmod +x /tmp/remap; /tmp/remap", timeout=300) or ""
    cases.check(f"{NAME}: a TLB shootdown keeps a reader on the other CPU from stale pages",
                "PASS:" in out, repr(out))

    out = in_guest(box, NAME, "echo 0 >/sys/devices/system/cpu/cpu1/online && echo offlined; "
                   "cat /sys/devices/system/cpu/online") or ""
    cases.check(f"{NAME}: offlining a CPU is refused, both stay online",
                "offlined" not in out and out.split()[-1:] == ["0-1"], repr(out))

    in_guest(box, NAME, "poweroff -f", timeout=90)
    deadline = time.monotonic() + 60
    rc = ""
    while time.monotonic() < deadline and not rc:
        _, rc = box.run(f"cat /tmp/{NAME}.rc 2>/dev/null || true")
        rc = rc.strip()
        time.sleep(2)
    _, launched = box.run(f"cat /tmp/{NAME}.out")
    cases.check(f"{NAME}: poweroff ends the guest, its launcher exits 0", rc == "0",
                f"exit status {rc!r}: {launched!r}")

    _, dmesg = box.run("dmesg | grep -e WARNING -e BUG -e Oops -e 'general protection' || true")
    cases.check("host log has no WARN/BUG/oops", dmesg.strip() == "", dmesg)


def main():
    cases = Cases()
    if not os.path.exists(os.path.join(OUT, "images", "host-initramfs.cpio.gz")):
        cases.xfail("smp-guest", f"no appliance images in {OUT}/images (run make first)")
        cases.finish()
    console_log = os.path.join(OUT, "tests", "smp-guest.console.log")
    os.makedirs(os.path.dirname(console_log), exist_ok=True)
    with tempfile.TemporaryDirectory() as directory:
        disk, size = build_remap(directory)
        try:
            with Appliance(out=OUT, log_path=console_log,
                           qemu_args=("-m", "1024", "-smp", "2", "-drive",
                                      f"file={disk},if=virtio,format=raw,snapshot=on")) as box:
                run(cases, box, size)
        except ApplianceError as err:
            cases.check("smp-guest", False, str(err))
    cases.finish()


if __name__ == "__main__":
    main()
