#!/usr/bin/env python3
"""guestconsole.py: Linux guests inside a running appliance (see appliance.py), for system
tests and benchmarks: start one with lgbox launch, wait for its shell, run commands on its
console through lgbox console-attach.

    from guestconsole import GUEST_CONFIG, start_guest, wait_ready, in_guest
    start_guest(box, "web", GUEST_CONFIG.format(name="web", cmdline="console=hvc0"))
    if wait_ready(box, "web"):
        out = in_guest(box, "web", "uname -r")     # output, or None if no answer came
"""

import re
import time

# a launch config for a small guest running the appliance's own kernel and guest initramfs
GUEST_CONFIG = """name = {name}
memory = 64M
kernel = /boot/bzImage
initrd = /usr/share/lgbox/guest-initramfs.cpio.gz
cmdline = {cmdline}
console = socket
rng = yes
"""


def start_guest(box, name, config):
    """Write the launch config text CONFIG to /tmp/NAME.conf and run its launcher in the
    background; its exit status and messages land in /tmp/NAME.rc and /tmp/NAME.out."""
    text = config.replace("\n", "\\n")
    box.run(f"printf '{text}' >/tmp/{name}.conf")
    box.run(f"(lgbox launch --config /tmp/{name}.conf >/tmp/{name}.out 2>&1; "
            f"echo $? >/tmp/{name}.rc) </dev/null >/dev/null 2>&1 & true")


def in_guest(box, name, command, timeout=60, drain=3):
    """Run a shell command on NAME's console; its output, or None if the end marker did not
    come back within TIMEOUT seconds.  The command is sent with one console-attach, which
    returns once the console has been quiet for DRAIN seconds; a slower command is waited
    for by attaching again (each attach replays the recent output) until its end marker
    shows.  Each call has its own marker number, so the replay of earlier output never
    answers for it, and the markers are split by '' so that the echoed command line never
    matches."""
    in_guest.calls += 1
    tag = f"@@{in_guest.calls}"
    answer = re.compile(tag + r"S\r?\n(.*?)" + tag + "E", re.S)
    deadline = time.monotonic() + timeout
    status, out = box.run(f"echo \"echo {tag}''S; {command}; echo {tag}''E\" | "
                          f"lgbox console-attach -q --drain {drain} {name}", timeout)
    found = answer.findall(out)
    while status == 0 and not found and time.monotonic() < deadline:
        time.sleep(1)
        status, out = box.run(f"lgbox console-attach -q --drain 1 {name} </dev/null",
                              timeout)
        found = answer.findall(out)
    return found[-1].replace("\r", "") if status == 0 and found else None


in_guest.calls = 0


def wait_ready(box, name, timeout=240):
    """Whether NAME's console shows the guest init's ready banner within TIMEOUT seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, out = box.run(f"echo | lgbox console-attach -q --drain 2 {name} 2>&1")
        if "lgbox guest ready" in out:
            return True
        time.sleep(5)
    return False
