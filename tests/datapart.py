#!/usr/bin/env python3
"""datapart.py: the appliance's data partition, on the QEMU board's data disk
($O/images/disk.img, a GPT partition named lgbox-data), booted without fixed guests.

Cases: the first boot formats the empty partition and mounts it on /var/lib/lgbox, with
/etc and /var/log on it; what the operator changes in /etc (the host name) and writes
there survives an orderly reboot, after which the file system is clean; after a power cut
the next boot repairs it (journal replay by e2fsck) and keeps what was synced.  A box
without a data partition, with one holding something else, and with an ext4 file system
that e2fsck -p will not repair alone each says so in one line, reaches its banner and
serves a working shell, with /var/lib/lgbox in RAM.
"""

import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from appliance import Appliance, ApplianceError, copy_disk  # noqa: E402
from cases import Cases  # noqa: E402

OUT = os.path.abspath(os.environ.get("O", "output"))
IMAGE = os.path.join(OUT, "images", "disk.img")
LOGS = os.path.join(OUT, "tests")
DATA = "/var/lib/lgbox"
DEVICE = "/dev/vda1"


def boot(name, disk, **kwargs):
    return Appliance(out=OUT, disk=disk, log_path=os.path.join(LOGS, f"datapart-{name}.log"),
                     **kwargs)


def console(box):
    return box.console.decode(errors="replace").replace("\r", "")


def said(box, text):
    """Whether init said TEXT (a line starting "lgbox init: ") during the boot."""
    return f"lgbox init: {text}" in console(box)


def init_lines(box):
    return "\n".join(line for line in console(box).splitlines() if "lgbox init:" in line)


def mounted(box, path):
    """The file system type mounted on PATH, or None."""
    _, out = box.run(f"awk '$2 == \"{path}\" {{ print $3 }}' /proc/mounts")
    return out.strip() or None


def data_partition(disk):
    """(offset, size) in bytes of the partition named lgbox-data in the image DISK."""
    table = json.loads(subprocess.run(["sfdisk", "-J", disk], check=True,
                                      capture_output=True, text=True).stdout)["partitiontable"]
    part = next(p for p in table["partitions"] if p.get("name") == "lgbox-data")
    return part["start"] * table["sectorsize"], part["size"] * table["sectorsize"]


def check_usable(cases, box, what):
    """The box that could not use its data partition still works, from RAM."""
    status, out = box.run(f"mountpoint -q {DATA} || echo in-ram; echo x >{DATA}/probe && "
                          f"cat {DATA}/probe")
    cases.check(f"{what}: the box is usable, /var/lib/lgbox in RAM",
                status == 0 and out.split() == ["in-ram", "x"], f"status {status}: {out!r}")


def first_boots(cases, disk):
    """First boot, orderly reboot, power cut: the partition's life."""
    with boot("first", disk) as box:
        cases.check("first boot formats the empty data partition",
                    said(box, f"{DEVICE} is empty: making an ext4 file system labelled "
                              f"lgbox-data") and
                    said(box, f"data partition {DEVICE} mounted on {DATA}"), init_lines(box))
        kinds = {path: mounted(box, path) for path in (DATA, "/etc", "/var/log")}
        cases.check("data partition on /var/lib/lgbox, /etc overlaid, /var/log on it",
                    kinds == {DATA: "ext4", "/etc": "overlay", "/var/log": "ext4"},
                    f"mounted: {kinds}")
        box.run(f"echo box42 >/etc/hostname && echo kept >{DATA}/kept")
        cases.check("reboot stops cleanly (the data partition is unmounted)",
                    box.shut_down("reboot"), f"QEMU still running; console:\n{box.tail()}")

    with boot("second", disk) as box:
        _, name = box.run("hostname")
        _, kept = box.run(f"cat {DATA}/kept")
        cases.check("a change to /etc (the host name) and data survive a reboot",
                    name.strip() == "box42" and kept.strip() == "kept",
                    f"hostname {name.strip()!r}, {DATA}/kept {kept.strip()!r}")
        cases.check("after an orderly reboot the file system needs no repair",
                    not said(box, f"{DEVICE} was not unmounted cleanly") and
                    said(box, f"data partition {DEVICE} mounted"), init_lines(box))
        box.run(f"echo synced >{DATA}/synced && sync && echo lost >{DATA}/unsynced")
        box.power_cut()

    with boot("after-power-cut", disk) as box:
        cases.check("the boot after a power cut says so and replays the journal (e2fsck)",
                    said(box, f"{DEVICE} was not unmounted cleanly") and
                    said(box, f"e2fsck -p {DEVICE}: lgbox-data: recovering journal") and
                    said(box, f"data partition {DEVICE} mounted"), init_lines(box))
        _, synced = box.run(f"cat {DATA}/synced")
        cases.check("what was synced before the power cut is kept", synced.strip() == "synced",
                    f"{DATA}/synced: {synced!r}")
        status, out = box.run(f"umount /var/log /etc {DATA} && e2fsck -n {DEVICE}")
        cases.check("the repaired file system checks clean", status == 0,
                    f"e2fsck -n {DEVICE} (status {status}): {out!r}")


def check_missing(cases):
    with boot("missing", None) as box:
        cases.check("no data partition: init says so",
                    said(box, "no partition named lgbox-data: the guests' disks, logs and "
                              "changes to /etc last until power-off"), init_lines(box))
        check_usable(cases, box, "no data partition")


def check_foreign(cases, work):
    """A data partition that holds something else than ext4 is left alone."""
    disk = os.path.join(work, "foreign.img")
    copy_disk(IMAGE, disk)
    offset, _ = data_partition(disk)
    foreign = b"not a file system, and not empty\n" * 64
    with open(disk, "r+b") as f:
        f.seek(offset)
        f.write(foreign)
    with boot("foreign", disk) as box:
        cases.check("a data partition holding something else is left alone, and init says so",
                    said(box, f"{DEVICE} holds neither an ext4 file system nor data lgbox "
                              f"recognises as empty: left alone"), init_lines(box))
        check_usable(cases, box, "data partition holding something else")
    with open(disk, "rb") as f:
        f.seek(offset)
        intact = f.read(len(foreign)) == foreign
    cases.check("the foreign data is not overwritten", intact, "its first bytes changed")


def check_broken(cases, disk):
    """An ext4 file system whose root directory is gone, marked as having errors (as the
    kernel marks one it found broken): e2fsck -p does not repair that alone."""
    offset, _ = data_partition(disk)
    out = subprocess.run(["debugfs", "-w", "-f", "-", f"{disk}?offset={offset}"],
                         input="clri <2>\nssv state 2\n", capture_output=True, text=True)
    if out.returncode != 0:
        cases.check("broken ext4 data partition", False, f"debugfs clri: {out.stderr!r}")
        return
    with boot("broken", disk) as box:
        cases.check("an ext4 data partition e2fsck -p will not repair: init says so",
                    said(box, f"{DEVICE} has file system errors that e2fsck -p does not "
                              f"repair alone"), init_lines(box))
        check_usable(cases, box, "broken data partition")


def main():
    cases = Cases()
    if not os.path.exists(IMAGE):
        cases.check("data disk built", False, f"{IMAGE} is missing (IMAGE_DISK_LAYOUT is empty?)")
        cases.finish()
    with tempfile.TemporaryDirectory(prefix="lgbox-datapart.") as work:
        disk = os.path.join(work, "disk.img")
        copy_disk(IMAGE, disk)
        try:
            first_boots(cases, disk)
            check_broken(cases, disk)
            check_missing(cases)
            check_foreign(cases, work)
        except ApplianceError as error:
            cases.check("datapart", False, str(error))
    cases.finish()


if __name__ == "__main__":
    main()
