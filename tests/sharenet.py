#!/usr/bin/env python3
"""sharenet.py: guests on one lgbox launch --sharenet file, inside the QEMU-booted appliance.

Two Linux guests (the appliance's own kernel and guest initramfs) whose launchers name the
same network file, in a host with no bridge and no tap: they ping each other (ARP is
broadcast), and a multicast ping (224.0.0.1) is answered.  Then one guest's launcher is
killed: the other keeps working, and a third guest started on the same file (taking the
dead one's port over) is reachable.  The host never gets a bridge or a tap.
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from appliance import Appliance, ApplianceError  # noqa: E402
from cases import Cases  # noqa: E402
from guestconsole import GUEST_CONFIG, in_guest, start_guest, wait_ready  # noqa: E402

OUT = os.path.abspath(os.environ.get("O", "output"))
NET_FILE = "/run/lgnet"
ADDRESSES = {"a": "10.0.3.1", "b": "10.0.3.2", "c": "10.0.3.3"}


def config(name):
    return GUEST_CONFIG.format(name=name, cmdline=f"console=hvc0 lgbox.ip={ADDRESSES[name]}/24") + \
        f"sharenet = {NET_FILE}\n"


def host_bridges_and_taps(box):
    """The host's bridges and tun/tap devices, by name."""
    _, out = box.run("for d in /sys/class/net/*; do [ -e $d/bridge ] || [ -e $d/tun_flags ] && "
                     "echo ${d##*/}; done; true")
    return out.split()


def pings(box, name, address, count=3):
    out = in_guest(box, name, f"ping -c {count} -W 10 {address}", timeout=90)
    return out is not None and f"{count} packets received" in out, out


def run(cases, box):
    # init made br0 for the fixed guests (which stay off here): undo that first
    box.run("lgbox net-setup teardown")
    cases.check("the host has no bridge and no tap", host_bridges_and_taps(box) == [],
                f"bridges and taps: {host_bridges_and_taps(box)}")
    for name in ("a", "b"):
        start_guest(box, name, config(name))
    ready = {name: wait_ready(box, name) for name in ("a", "b")}
    _, files = box.run(f"ls -l {NET_FILE}")
    cases.check("both guests boot, the network file is created", all(ready.values()) and
                NET_FILE in files, f"ready {ready}, {files!r}; launch said: "
                f"{box.run('cat /tmp/a.out /tmp/b.out')[1]!r}")
    if not all(ready.values()):
        return
    ok, out = pings(box, "a", ADDRESSES["b"])
    cases.check("a pings b over the shared file (ARP broadcasts included)", ok, f"ping: {out!r}")
    ok, out = pings(box, "b", ADDRESSES["a"])
    cases.check("b pings a", ok, f"ping: {out!r}")
    in_guest(box, "b", "echo 0 >/proc/sys/net/ipv4/icmp_echo_ignore_broadcasts")
    out = in_guest(box, "a", "ip route add 224.0.0.0/4 dev eth0; ping -c 3 -W 10 224.0.0.1",
                   timeout=90)
    cases.check("a multicast ping (224.0.0.1) reaches b", out is not None and
                f"from {ADDRESSES['b']}" in out, f"ping: {out!r}")

    box.run("kill -9 $(cat /run/lguest/b/pid); sleep 1")
    alive = in_guest(box, "a", "echo still here")
    cases.check("a keeps running when b's launcher is killed", alive is not None and
                "still here" in alive, f"a answered {alive!r}")
    start_guest(box, "c", config("c"))
    ready_c = wait_ready(box, "c")
    ok, out = pings(box, "a", ADDRESSES["c"]) if ready_c else (False, "c did not boot")
    cases.check("a guest started after b died (on b's port) is reachable from a", ok,
                f"ping: {out!r}; c said: {box.run('cat /tmp/c.out')[1]!r}")
    cases.check("the host still has no bridge and no tap", host_bridges_and_taps(box) == [],
                f"bridges and taps: {host_bridges_and_taps(box)}")
    box.run("lgbox stop --all --timeout 30", timeout=90)


def main():
    cases = Cases()
    if not os.path.exists(os.path.join(OUT, "images", "host-initramfs.cpio.gz")):
        cases.xfail("sharenet", f"no appliance images in {OUT}/images (run make first)")
        cases.finish()
    console_log = os.path.join(OUT, "tests", "sharenet.console.log")
    try:
        with Appliance(out=OUT, log_path=console_log, qemu_args=("-m", "1024")) as box:
            run(cases, box)
    except ApplianceError as err:
        cases.check("sharenet", False, str(err))
    cases.finish()


if __name__ == "__main__":
    main()
