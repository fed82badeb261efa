#!/usr/bin/env python3
"""bochs.py: boot the built appliance under Bochs and collect init's test hook result.

QEMU's TCG, the usual host box of the tests, does not model global pages or PCID and
flushes its whole TLB on every CR3 or CR4 write, so a hypervisor bug that only a real
CPU's TLB would expose passes there.  Debian's Bochs emulates Intel CPU models that keep
global translations and PCID-tagged ones as hardware does; this boots the same images
there:

    from bochs import run_hook
    status, console = run_hook("/usr/lib/lgbox/tests/run", cmdline=["slub_debug=FZPU"])
    run_hook(script, disks=["debian.ext4"], megs=1024)   # /dev/sdb, writes thrown away

The disk is a FAT file system made without root (mkfs.vfat, mtools) holding bzImage and
the host initramfs, with SYSLINUX in its boot sector; Bochs's serial port goes to a
file, its display to a pseudo-terminal nobody reads (Debian's Bochs has no headless
display, and its term display wants a tty), and its debugger, where Debian's build
starts, is told to continue.  The kernel command line is the board's, plus
lgbox.guests=none, lgbox.test=SCRIPT and the extra words.  Extra disks are raw images
on the remaining ATA slots (the appliance sees them as /dev/sdb, /dev/sdc, /dev/sdd),
volatile: what the appliance writes to them goes to a redo log that is thrown away.  Only
the standard library is used.
"""

import os
import re
import shutil
import subprocess
import tempfile
import time

from appliance import TEST_END, ApplianceError, read_config

DEFAULT_CPU = "broadwell_ult"	# clean; the AVX-512 models report broken XSAVE sizes
BOCHS_IPS = 100000000		# emulated instructions per emulated second


def _run(*cmd):
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _make_disk(work, kernel, initrd, cmdline):
    """A whole-disk FAT image that SYSLINUX boots into kernel and initrd."""
    disk = os.path.join(work, "disk.img")
    size = os.path.getsize(kernel) + os.path.getsize(initrd) + (16 << 20)
    with open(disk, "wb") as f:
        f.truncate((size + (1 << 20) - 1) & ~((1 << 20) - 1))
    cfg = os.path.join(work, "syslinux.cfg")
    with open(cfg, "w") as f:
        f.write("DEFAULT lgbox\nPROMPT 0\nTIMEOUT 0\nLABEL lgbox\n  KERNEL bzImage\n"
                "  INITRD initrd\n  APPEND %s\n" % cmdline)
    _run("mkfs.vfat", "-n", "LGBOX", disk)
    for path, name in ((kernel, "bzImage"), (initrd, "initrd"), (cfg, "syslinux.cfg")):
        _run("mcopy", "-i", disk, path, "::" + name)
    _run("syslinux", "--install", disk)
    return disk


# the ATA slots after the boot disk's ata0-master, and the channel each needs enabled
EXTRA_DISK_SLOTS = ("ata0-slave", "ata1-master", "ata1-slave")
ATA1 = "ata1: enabled=1, ioaddr1=0x170, ioaddr2=0x370, irq=15\n"


def _extra_disks(work, disks):
    """bochsrc lines attaching DISKS (raw images) as volatile disks after the boot disk."""
    if len(disks) > len(EXTRA_DISK_SLOTS):
        raise ValueError(f"Bochs has ATA slots for {len(EXTRA_DISK_SLOTS)} extra disks, "
                         f"not {len(disks)}")
    lines = ATA1 if len(disks) > 1 else ""
    for slot, disk in zip(EXTRA_DISK_SLOTS, disks):
        lines += (f"{slot}: type=disk, path={os.path.abspath(disk)}, mode=volatile, "
                  f"journal={work}/{slot}.redolog\n")
    return lines


def _bochsrc(work, disk, megs, cpu, disks):
    path = os.path.join(work, "bochsrc")
    with open(path, "w") as f:
        f.write(f"""megs: {megs}
cpu: model={cpu}, count=1, ips={BOCHS_IPS}
romimage: file=/usr/share/bochs/BIOS-bochs-latest
vgaromimage: file=/usr/share/vgabios/vgabios.bin
ata0-master: type=disk, path={disk}, mode=flat
{_extra_disks(work, disks)}boot: disk
com1: enabled=1, mode=file, dev={work}/serial.txt
display_library: term
log: {work}/bochs.log
clock: sync=none, time0=local
""")
    with open(os.path.join(work, "continue.rc"), "w") as f:
        f.write("c\n")
    return path


def run_hook(script, cmdline=(), out=None, cpu=DEFAULT_CPU, timeout=1800, disks=(),
             megs=None):
    """Boots $O/images under Bochs with lgbox.test=SCRIPT, the extra DISKS and MEGS MiB of
    RAM (default: the board's); returns (status, console) once init prints its end
    marker.  Raises ApplianceError with the console's last lines if Bochs ends or the
    time runs out first."""
    out = os.path.abspath(out or os.environ.get("O") or "output")
    config = read_config(os.path.join(out, ".config"))
    images = os.path.join(out, "images")
    initrd = [f for f in sorted(os.listdir(images)) if f.startswith("host-initramfs.cpio")]
    if not initrd:
        raise ApplianceError(f"no host initramfs in {images} (run make)")
    words = [config.get("CONFIG_BOARD_CMDLINE", "console=ttyS0 panic=-1"),
             "lgbox.guests=none", "lgbox.test=" + script, *cmdline]
    work = tempfile.mkdtemp(prefix="lgbox-bochs.")
    proc = None
    try:
        disk = _make_disk(work, os.path.join(images, "bzImage"),
                          os.path.join(images, initrd[0]), " ".join(words))
        rc = _bochsrc(work, disk, megs or config.get("CONFIG_BOARD_MEMORY_MB", "512"), cpu,
                      disks)
        serial = os.path.join(work, "serial.txt")
        # script(1) gives Bochs's term display the terminal it insists on
        proc = subprocess.Popen(
            ["script", "-qfec", f"bochs -q -f {rc} -rc {work}/continue.rc", "/dev/null"],
            cwd=work, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True,
            env=dict(os.environ, TERM="xterm"))
        deadline = time.monotonic() + timeout
        console = ""
        while time.monotonic() < deadline:
            time.sleep(2)
            if os.path.exists(serial):
                with open(serial, "rb") as f:
                    console = f.read().decode("utf-8", "replace").replace("\r", "")
            match = TEST_END.search(console.encode())
            if match:
                return int(match.group(1)), console
            if proc.poll() is not None:
                break
        why = "ended" if proc.poll() is not None else f"did not finish within {timeout} s"
        tail = "\n".join(console.splitlines()[-30:])
        raise ApplianceError(f"Bochs ({cpu}) {why} before the test hook's end marker; "
                             f"last console lines:\n{tail}")
    finally:
        if proc and proc.poll() is None:
            os.killpg(proc.pid, 9)
            proc.wait()
        shutil.rmtree(work, ignore_errors=True)
