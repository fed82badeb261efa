#!/usr/bin/env python3
"""debiandisk.py: the Debian root disk (support/debian-disk.sh, make debian-disk) given to
the appliance, for tests/debian-guest.py and bench/debian-guest.py.

    from debiandisk import DRIVER, QEMU_DEVICE, debian_disk, qemu_args
    disk = debian_disk()                     # path in the download cache, or DiskMissing
    Appliance(disk=None, qemu_args=qemu_args(disk))   # QEMU_DEVICE in the appliance

Under QEMU the disk is a virtio disk opened with snapshot=on (the appliance's first: it
gets no data disk), under Bochs a volatile ATA
disk (bochs.run_hook(disks=...)): the appliance and its guests write to it freely and the
cached image never changes.  DRIVER (tests/debian/drive, installed in the appliance) mounts
it, runs the battery and starts guests on it.
"""

import os
import subprocess

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DRIVER = "/usr/lib/lgbox/debian-battery/drive"
QEMU_DEVICE = "/dev/vda"
BOCHS_DEVICE = "/dev/sdb"	# after the boot disk, sda
# the guest gets 512 MiB (tests/debian/drive), the appliance's page cache the rest
APPLIANCE_MEMORY_MB = 1024


class DiskMissing(Exception):
    """The Debian disk is not in the download cache; the message says how to build it."""


def debian_disk():
    """The path of the Debian disk in the download cache ($DL, default dl/)."""
    dl = os.environ.get("DL") or os.path.join(TOP, "dl")
    script = os.path.join(TOP, "support", "debian-disk.sh")
    path = subprocess.run([script, "path", dl], check=True, capture_output=True,
                          text=True).stdout.strip()
    if not os.path.exists(path):
        raise DiskMissing(f"no Debian disk {path}: build it with make debian-disk "
                          f"(or {script} build {dl})")
    return path


def qemu_args(disk):
    """QEMU options giving the appliance the disk as QEMU_DEVICE, writes thrown away."""
    return ("-m", str(APPLIANCE_MEMORY_MB),
            "-drive", f"file={disk},if=virtio,format=raw,snapshot=on")
