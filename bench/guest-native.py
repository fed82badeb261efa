#!/usr/bin/env python3
"""guest-native.py: what a Linux guest on lg.ko pays against the appliance host itself
(make bench runs it).

In ONE boot of the appliance under QEMU TCG it runs lgbox-workload (bench/workload.c,
installed in both root filesystems) first on the appliance host ("native"), then inside a
64 MiB Linux guest started with lgbox launch (the appliance's own kernel and guest
initramfs), with the same round counts, and prints each figure side by side with the ratio
guest/native:

    getpid            ns per null system call
    fork-exit-wait    us per fork + child _exit + waitpid
    page-fault        ns per first touch of a page of a fresh 16 MiB anonymous mapping
    pipe-round-trip   us per 1-byte token ping-pong between two processes
    context-switch    us per switch between two processes on one CPU (the same
                      ping-pong with both pinned to one CPU: two switches a round)
    gzip              ms of wall time for gzip -c of 4 MiB of generated text
    boot-to-init      s from kernel start to "Run /init as init process" (printk time)
    launch-to-ready   s from writing the guest's config, just before lgbox launch, to
                      its "lgbox guest ready" banner (and shell prompt); guest only
    NAME/no-fast      getpid, fork-exit-wait, pipe-round-trip and context-switch again
                      in the same guest with lg.ko's fast paths off (module parameter
                      fast_paths=0): what the switcher's fast paths buy

Both sides run under the same QEMU, so the ratios, not the absolute figures, are what to
read.  Beside them it prints what each guest workload made lg.ko do, per round, from the
counters in /proc/lguest read before and after it: world switches into the guest, and the
exits to lg.ko's C code by kind.  Those counts are the same on every emulator and on
hardware.  (They include what the guest does meanwhile on its own, such as timer ticks:
a few hundred a second.)  While the guest measures, the host does nothing but wait, blocked (see
guestconsole.in_guest), so that host work does not take the one emulated CPU from it.  A workload that fails or never finishes
in the guest (a guest crash is a hypervisor bug) is printed as FAILED with the guest's
console; the exit status is then 1.
Environment: O (output directory, default output).
"""

import calendar
from functools import partial
import os
import re
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))
sys.path.insert(0, os.path.join(TOP, "bench", "lib"))
from appliance import Appliance, ApplianceError  # noqa: E402
from figures import (FAILED, NOT_RUN, build, counter_delta, figure,  # noqa: E402
                     images_missing, lguest_counters, print_counters, print_table, shown)
from guestconsole import GUEST_CONFIG, in_guest, start_guest  # noqa: E402

OUT = os.path.abspath(os.environ.get("O", os.path.join(TOP, "output")))
GUEST = "bench"
# a second console of the guest, for the time of its ready banner and failure reports
CONSOLE_LOG = f"/tmp/{GUEST}.console"
INIT_LINE = "Run /init as init process"
READY_LINE = "lgbox guest ready"

# (figure printed by lgbox-workload, its arguments, the rounds as shown in the table, the
# number of operations the counters are divided by).  The guest side sets the counts:
# they keep its part of the run near a minute.
WORKLOADS = (
    ("getpid", "getpid 50000", "50000 calls", 50000),
    ("fork-exit-wait", "fork 100", "100 rounds", 100),
    ("page-fault", "fault 16 4", "4 x 16 MiB", 4 * 16 * 256),     # pages touched
    ("pipe-round-trip", "pipe 1000", "1000 round trips", 1000),
    ("context-switch", "switch 1000", "2000 switches", 2000),
    ("gzip", "gzip 4", "4 MiB, once", 1),
)
WORKLOAD_TIMEOUT = 300
# the system-call-bound workloads once more with lg.ko's fast paths off (its fast_paths
# parameter: user syscalls and returns to user mode through host C, as before the
# switcher took them), in rows named NAME/no-fast, to show what the fast paths buy
NO_FAST = ("getpid", "fork-exit-wait", "page-fault", "pipe-round-trip", "context-switch")
FAST_PATHS = "/sys/module/lg/parameters/fast_paths"


def init_time(dmesg):
    """(printk time, "s") of the kernel's "Run /init" line in dmesg output, or None."""
    match = re.search(rf"\[\s*([0-9.]+)\] {INIT_LINE}", dmesg or "")
    return (float(match.group(1)), "s") if match else None


def console_has(box, text, timeout, poll):
    """Whether TEXT shows in the guest's console log within TIMEOUT seconds (False as soon
    as the launcher has exited), looking every POLL seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _, out = box.run(f"if grep -q '{text}' {CONSOLE_LOG} 2>/dev/null; then echo seen; "
                         f"elif [ -e /tmp/{GUEST}.rc ]; then echo launcher-exited; fi")
        if out.strip():
            return out.strip() == "seen"
        time.sleep(poll)
    return False


def guest_trouble(box):
    """What the launcher said and the end of the guest's console, for a failed figure."""
    _, out = box.run(f"echo \"launcher exit status: $(cat /tmp/{GUEST}.rc 2>/dev/null ||"
                     f" echo '(still running)')\"; echo 'launcher output:'; "
                     f"cat /tmp/{GUEST}.out; echo 'guest console (last 40 lines):'; "
                     f"tail -n 40 {CONSOLE_LOG} | tr -d '\\r'")
    return out


def modified(box, path):
    """PATH's modification time in the appliance (s, nanosecond resolution), or None."""
    _, out = box.run(f"stat {path}")
    match = re.search(r"^Modify: (\S+ \d+:\d+):([0-9.]+)", out, re.M)
    if not match:
        return None
    minute = calendar.timegm(time.strptime(match.group(1), "%Y-%m-%d %H:%M"))
    return minute + float(match.group(2))


def launch_guest(box):
    """Start the guest and wait for its ready banner: seconds from writing its config, just
    before lgbox launch, to the banner, or None if it never came.  The banner's time is
    the console log's modification time, as the banner and the shell's greeting and prompt
    right after it are the guest's last output: so the host looks for the banner only
    every few seconds, as each look takes the one emulated CPU from the booting guest."""
    config = GUEST_CONFIG.format(name=GUEST, cmdline="console=hvc0")
    start_guest(box, GUEST, config + f"console = log:{CONSOLE_LOG}\n")
    if not console_has(box, READY_LINE, 300, poll=3):
        return None
    _, after = box.run(f"sed -n '/{READY_LINE}/,$p' {CONSOLE_LOG}")
    if re.search(r"^\[ *[0-9]+\.[0-9]+\]", after, re.M):
        return None     # a kernel message came later: the log's time is not the banner's
    begin, ready = modified(box, f"/tmp/{GUEST}.conf"), modified(box, CONSOLE_LOG)
    return ready - begin if begin and ready else None


def native_figures(box):
    """{figure: (value, unit)} on the appliance host; a failed figure is (FAILED, "-")."""
    _, dmesg = box.run(f"dmesg | grep '{INIT_LINE}'")
    found = {"boot-to-init": init_time(dmesg)}
    for name, args, _, _ in WORKLOADS:
        _, out = box.run(f"lgbox-workload {args} 2>&1", WORKLOAD_TIMEOUT)
        found[name] = figure(name, out)
    return {name: value or (FAILED, "-") for name, value in found.items()}


def guest_figures(box):
    """{figure: (value, unit)} in the guest, {figure: {counter: delta}} from /proc/lguest,
    the launch-to-ready time and, if something failed, what the launcher and the guest's
    console said.  After a failure the remaining figures are not run: the guest may be
    gone or still busy."""
    figures = {name: (NOT_RUN, "-") for name in [w[0] for w in WORKLOADS] + ["boot-to-init"]
               + [f"{name}/no-fast" for name in NO_FAST]}
    launch_ready = launch_guest(box)
    if launch_ready is None:
        return (figures, {}, None,
                "the guest never printed its ready banner\n" + guest_trouble(box))
    commands = [("boot-to-init", f"dmesg | grep '{INIT_LINE}'", init_time, True)]
    commands += [(name, f"lgbox-workload {args} 2>&1", partial(figure, name), True)
                 for name, args, _, _ in WORKLOADS]
    commands += [(f"{name}/no-fast", f"lgbox-workload {args} 2>&1", partial(figure, name),
                  False) for name, args, _, _ in WORKLOADS if name in NO_FAST]
    counts, fast_now = {}, True
    for name, command, parse, fast in commands:
        if fast != fast_now:
            box.run(f"echo {int(fast)} > {FAST_PATHS}")
            fast_now = fast
        before = lguest_counters(box)
        out = in_guest(box, GUEST, command, WORKLOAD_TIMEOUT)
        delta = counter_delta(before, lguest_counters(box))
        if delta:
            counts[name] = delta
        figures[name] = parse(out) if out is not None else None
        if figures[name] is None:
            figures[name] = (FAILED, "-")
            return figures, counts, launch_ready, (
                f"{command} in the guest: {'no end marker' if out is None else 'no figure'}"
                f"; it printed:\n{out}\n" + guest_trouble(box))
    return figures, counts, launch_ready, ""


def report(native, guest, launch_ready):
    rounds = {name: text for name, _, text, _ in WORKLOADS}
    rounds["boot-to-init"] = "1 boot"
    rows = [(name, rounds[name], native[name], guest[name]) for name in rounds]
    rows += [(f"{name}/no-fast", rounds[name], native[name], guest[f"{name}/no-fast"])
             for name in NO_FAST]
    print_table(f"Linux guest on lg.ko against native, one appliance boot under QEMU TCG "
                f"({build(OUT)})", rows)
    print(f"{'launch-to-ready':<17} {'1 boot':<17} {'s':<14} {'-':>10} "
          f"{shown(FAILED if launch_ready is None else launch_ready):>10} {'-':>12}")


def counter_rows(counts):
    """The rows print_counters shows: each workload, then its no-fast run."""
    rows = []
    for name, _, _, operations in WORKLOADS:
        per = {"page-fault": "page", "context-switch": "switch"}.get(name, "round")
        rows += [(row, per, operations, counts[row]) for row in (name, f"{name}/no-fast")
                 if row in counts]
    return rows


def main():
    if images_missing(OUT, "bench/guest-native.py"):
        return 1
    log = os.path.join(OUT, "bench", "guest-native.console.log")
    try:
        with Appliance(out=OUT, log_path=log) as box:    # no fixed guests: lgbox.guests=none
            native = native_figures(box)
            guest, counts, launch_ready, trouble = guest_figures(box)
            _, oops = box.run("dmesg | grep -e WARNING -e BUG -e Oops "
                              "-e 'general protection' || true")
    except ApplianceError as err:
        print(f"bench/guest-native.py: the appliance failed: {err}", file=sys.stderr)
        return 1
    report(native, guest, launch_ready)
    print_counters(counter_rows(counts))
    if oops.strip():
        print(f"host kernel log has warnings:\n{oops}")
    if trouble:
        print(f"bench/guest-native.py: {trouble}", file=sys.stderr)
    failed = any(value == FAILED for value, _ in [*native.values(), *guest.values()])
    return 1 if failed or trouble or oops.strip() else 0


if __name__ == "__main__":
    sys.exit(main())
