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


def in_guest(box, name, command, timeout=60):
    """Run a shell command on NAME's console; its output, or None if its end marker did not
    come back within TIMEOUT seconds (or the guest closed its console first).

    One console-attach types the command and feeds a fifo; the appliance's shell reads the
    fifo line by line, blocked, until the end marker, so the host does nothing while the
    guest works (and slow commands are waited for, silent or not).  The shell's read, unlike
    sed or grep, takes no line beyond the end marker (the prompt after it has no newline).
    No child of the shell may end while it opens the fifo (the signal would fail the open):
    hence no echo pipeline, and wait after kill.  Each call has its own marker number, so
    the replay of earlier output never answers for it, and the markers are split by '' so
    that the echoed command line never matches them."""
    in_guest.calls += 1
    tag = f"@@{in_guest.calls}"
    typed, fifo = f"/tmp/{name}.typed", f"/tmp/{name}.fifo"
    _, out = box.run(f"printf '%s\\n' \"echo {tag}''S; {command}; echo {tag}''E\" >{typed}; "
                     f"rm -f {fifo}; mkfifo {fifo}; "
                     f"lgbox console-attach -q --drain {timeout} {name} <{typed} >{fifo} & "
                     f"on=; while read -r line; do case $line in "
                     f"*{tag}E*) echo {tag}''E; break ;; *{tag}S*) on=1 ;; "
                     f"*) [ -z \"$on\" ] || echo \"$line\" ;; esac; done <{fifo}; "
                     f"kill $! 2>/dev/null; wait $!; rm -f {fifo} {typed}", timeout + 30)
    out = out.replace("\r", "")
    return out[:out.rindex(f"{tag}E")] if f"{tag}E" in out else None


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
