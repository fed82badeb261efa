#!/usr/bin/env python3
"""guests.py: Linux guests on lg.ko, inside the QEMU-booted appliance.

Two guests (the appliance's own kernel and guest initramfs) are started with lgbox launch
from fixed-guest config files and reached through their console sockets with
lgbox console-attach.  Cases: both boot to their shell; each knows it runs under lguest
(/proc/cpuinfo flag, dmesg); the guest clock keeps time (sleep 2 takes about 2 s of host
time); the rng device yields bytes; a panic ends only that guest, with the reason in its
launcher's output, while the other keeps running; poweroff ends the other with status 0;
the host log stays clean and lg.ko unloads once both are gone.
"""

import os
import re
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from appliance import Appliance, ApplianceError  # noqa: E402
from cases import Cases  # noqa: E402

OUT = os.path.abspath(os.environ.get("O", "output"))
GUESTS = ("web", "db")
CONFIG = """name = {name}
memory = 64M
kernel = /boot/bzImage
initrd = /usr/share/lgbox/guest-initramfs.cpio.gz
cmdline = console=hvc0
console = socket
rng = yes
"""


def start_guest(box, name):
    """Write NAME's config and run its launcher in the background; its exit status and
    messages land in /tmp/NAME.rc and /tmp/NAME.out."""
    config = CONFIG.format(name=name).replace("\n", "\\n")
    box.run(f"printf '{config}' >/tmp/{name}.conf")
    box.run(f"(lgbox launch --config /tmp/{name}.conf >/tmp/{name}.out 2>&1; "
            f"echo $? >/tmp/{name}.rc) </dev/null >/dev/null 2>&1 & true")


def in_guest(box, name, command, timeout=60):
    """Run a shell command on NAME's console; its output, or None if the markers never
    came back.  Each call has its own marker number, so the replay of earlier output never
    answers for it, and the markers are split by '' so that the echoed command line never
    matches."""
    in_guest.calls += 1
    tag = f"@@{in_guest.calls}"
    status, out = box.run(f"echo \"echo {tag}''S; {command}; echo {tag}''E\" | "
                          f"lgbox console-attach -q --drain 3 {name}", timeout)
    found = re.findall(tag + r"S\r?\n(.*?)" + tag + "E", out, re.S)
    return found[-1].replace("\r", "") if status == 0 and found else None


in_guest.calls = 0


def wait_ready(box, name, timeout=240):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, out = box.run(f"echo | lgbox console-attach -q --drain 2 {name} 2>&1")
        if "lgbox guest ready" in out:
            return True
        time.sleep(5)
    return False


def check_guest(cases, box, name):
    flag = in_guest(box, name, "grep -o -w -m1 lguest /proc/cpuinfo")
    cases.check(f"{name}: /proc/cpuinfo shows lguest", flag is not None and "lguest" in flag,
                f"cpuinfo flags: {flag!r}")
    log = in_guest(box, name, "dmesg | grep -e 'Hypervisor detected' -e 'guest of lg.ko'")
    cases.check(f"{name}: dmesg shows lguest", log is not None and
                "Hypervisor detected: lguest" in log and "lguest: guest of lg.ko" in log,
                f"dmesg: {log!r}")
    started = time.monotonic()
    clock = in_guest(box, name, "date +%s; sleep 2; date +%s")
    host = time.monotonic() - started
    seconds = [int(s) for s in clock.split()] if clock else []
    cases.check(f"{name}: sleep 2 takes 2 s of guest and host time",
                len(seconds) == 2 and seconds[1] - seconds[0] in (2, 3) and 2 <= host < 60,
                f"guest clock {clock!r}, host {host:.1f} s")
    rng = in_guest(box, name, "head -c 64 /dev/hwrng | wc -c")
    cases.check(f"{name}: rng yields bytes", rng is not None and rng.strip() == "64",
                f"bytes read from /dev/hwrng: {rng!r}")


def main():
    cases = Cases()
    if not os.path.exists(os.path.join(OUT, "images", "host-initramfs.cpio.gz")):
        cases.xfail("guests", f"no appliance images in {OUT}/images (run make first)")
        cases.finish()
    log = os.path.join(OUT, "tests", "guests.console.log")
    try:
        with Appliance(out=OUT, log_path=log, qemu_args=("-m", "1024")) as box:
            for name in GUESTS:
                start_guest(box, name)
            ready = {name: wait_ready(box, name) for name in GUESTS}
            for name in GUESTS:
                cases.check(f"{name}: boots to its shell", ready[name],
                            f"no 'lgbox guest ready' on its console; launcher said: "
                            f"{box.run(f'cat /tmp/{name}.out')[1]!r}")
            for name in GUESTS:
                if ready[name]:
                    check_guest(cases, box, name)

            in_guest(box, "db", "echo c >/proc/sysrq-trigger", timeout=90)
            time.sleep(5)
            status, rc = box.run("cat /tmp/db.rc")
            _, said = box.run("cat /tmp/db.out")
            cases.check("db: a panic ends the guest with the reason",
                        rc.strip() == "3" and "crashed" in said and "sysrq" in said,
                        f"launcher status {rc.strip()!r}, said {said!r}")
            alive = in_guest(box, "web", "echo still here")
            cases.check("web: keeps running after db panicked",
                        alive is not None and "still here" in alive, f"web answered {alive!r}")

            in_guest(box, "web", "poweroff -f", timeout=90)
            time.sleep(5)
            _, rc = box.run("cat /tmp/web.rc")
            cases.check("web: poweroff ends the guest, launcher exits 0", rc.strip() == "0",
                        f"launcher status {rc.strip()!r}")

            _, dmesg = box.run("dmesg | grep -e WARNING -e BUG -e Oops -e 'general protection'"
                               " || true")
            cases.check("host log has no WARN/BUG/oops", dmesg.strip() == "", dmesg)
            status, out = box.run("rmmod lg")
            cases.check("lg.ko unloads once the guests are gone", status == 0, out)
    except ApplianceError as err:
        cases.check("guests", False, str(err))
    cases.xfail("guests: virtio block", "not yet tested with Linux guests (this session)")
    cases.xfail("guests: ping over the bridge", "not yet tested with Linux guests (this session)")
    cases.xfail("guests: guest/native benchmark", "not yet written")
    cases.finish()


if __name__ == "__main__":
    main()
