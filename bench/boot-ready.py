#!/usr/bin/env python3
"""boot-ready.py: how big the appliance's images are, and how long a box takes from power-on
to "all fixed guests ready" (make bench runs it; it prints figures and asserts nothing).

For the default build ($O, the qemu-x86_64 board) and the pc-x86_64-efi board ($O/pc, built
by tests/lib/pcboard.py when needed) it prints the size of bzImage, the host and guest
initramfs and disk.img (the file's length, and the space it takes: the image is sparse),
then boots a fresh copy of the board's disk twice, with its fixed guests:

    first boot    the data partition and the guests' disks are formatted
    second boot   after an orderly reboot; what every later boot costs

and for each prints the seconds from starting QEMU to the appliance's ready banner, and to
the moment both web and db printed "lgbox guest ready" and web's notes page came back with
db's notes. Under QEMU TCG, so the figures say where time goes, not what a PC takes.
Environment: O (output directory, default output).
"""

import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "tests", "lib"))
from appliance import Appliance, ApplianceError, copy_disk  # noqa: E402
import pcboard  # noqa: E402

OUT = os.path.abspath(os.environ.get("O", "output"))
GUESTS = ("web", "db")
NOTES = "http://10.0.2.11/cgi-bin/notes"


def sizes(images):
    for name in sorted(os.listdir(images)):
        if name in ("bzImage", "disk.img") or "initramfs" in name:
            st = os.stat(os.path.join(images, name))
            print(f"  {name:28} {st.st_size / 2**20:8.1f} MiB  "
                  f"(on disk {st.st_blocks * 512 / 2**10:.0f} KiB)")


def all_ready(box, deadline):
    """Whether, before DEADLINE, every fixed guest's console log showed its ready banner and
    web's notes page answered with db's notes."""
    logs = " ".join(f"/var/log/lgbox/console/{g}.log" for g in GUESTS)
    while time.monotonic() < deadline:
        _, out = box.run(f"grep -l 'lgbox guest ready' {logs} 2>/dev/null | wc -l")
        if out.strip() == str(len(GUESTS)):
            status, page = box.run(f"wget -q -T 10 -O - {NOTES}", timeout=30)
            if status == 0 and "kept by db" in page:
                return True
        time.sleep(1)
    return False


def boot_times(out, disk, name):
    started = time.monotonic()
    box = Appliance(out=out, disk=disk, fixed_guests=True, boot_timeout=900,
                    qemu_args=("-m", "1024"),
                    log_path=os.path.join(OUT, "bench", f"boot-ready-{name}.log"))
    with box:
        banner = time.monotonic() - started
        ready = all_ready(box, started + 900)
        total = time.monotonic() - started
        box.shut_down("reboot", timeout=180)
    return banner, total if ready else None


def board(out, label):
    print(f"{label} ({out}):")
    sizes(os.path.join(out, "images"))
    with tempfile.TemporaryDirectory(prefix="lgbox-bench.") as work:
        disk = os.path.join(work, "disk.img")
        copy_disk(os.path.join(out, "images", "disk.img"), disk)
        for which in ("first boot", "second boot"):
            try:
                banner, ready = boot_times(out, disk, f"{label}-{which.split()[0]}")
            except ApplianceError as error:
                print(f"  {which}: FAILED: {error}")
                return 1
            shown = f"{ready:.0f} s" if ready else "FAILED (not within 900 s)"
            print(f"  {which:12} ready banner {banner:5.0f} s   all fixed guests ready {shown}")
    return 0


def main():
    failed = board(OUT, "qemu-x86_64")
    pc, error = pcboard.build(OUT)
    if not pc:
        print(f"pc-x86_64-efi: FAILED: {error}")
        return 1
    return failed | board(pc, "pc-x86_64-efi")


if __name__ == "__main__":
    sys.exit(main())
