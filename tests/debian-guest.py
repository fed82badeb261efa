#!/usr/bin/env python3
"""debian-guest.py: real programs on a Debian root disk, in a Linux guest on lg.ko and
natively in the appliance for reference.

The disk is Debian bookworm made by support/debian-disk.sh (make debian-disk, cached in
the download cache).  The appliance boots under QEMU TCG (-cpu max) with it as /dev/vda
and init's test hook runs tests/debian/drive: it copies the battery (tests/debian) onto
the disk, builds its programs with the disk's own gcc, runs every case in a chroot of the
disk ("native/" cases), then boots a 512 MiB guest from the disk (root=/dev/vda,
init=/battery/guest-init) that runs them again ("guest/" cases) and powers off.  A guest
that dies in a case fails that case with the launcher's message, and a new guest runs the
rest.  tests/debian/run says what each case does: vector registers (SSE, AVX, AVX-512
where the CPU has it) kept per process and thread across yields and preemption and across
signal handlers that clobber them, strace, python3 threads with sqlite3, gcc, most of the
memory touched, transparent huge pages split, dropped and copied on write, disk writes
synced and read back, a kernel log without warnings, gdb breakpoints, stepi and a hardware
watchpoint.  The driver adds disk-persists (the synced data is on the disk once the chroot
or guest is gone) and, for the guest, poweroff (the last boot powered off cleanly) and
console-clean (no boot's console, even one that died, tells of a kernel warning, bug or
call trace).

A case the guest is known to fail today is in XFAIL below with what it shows; once it
passes the test fails until its entry is removed.  A case failing natively is a harness
bug and always fails.  A case the CPU or kernel does not offer (AVX-512 under QEMU TCG,
THP while the board's kernel leaves it out) prints a SKIP line.  Then the same runs under Bochs with an Intel CPU model (tests/lib/bochs.py),
the disk on its ATA controller, case names prefixed "bochs/".

Environment: O (output directory), DL (download cache), DEBIAN_GUEST_BOCHS=0 leaves out
the Bochs run.
"""

import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from appliance import TEST_END, Appliance, ApplianceError  # noqa: E402
from bochs import run_hook  # noqa: E402
from cases import Cases  # noqa: E402
from debiandisk import (APPLIANCE_MEMORY_MB, BOCHS_DEVICE, DRIVER, QEMU_DEVICE,  # noqa: E402
                        DiskMissing, debian_disk, qemu_args)

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.abspath(os.environ.get("O", os.path.join(TOP, "output")))

# Guest cases known to fail today (issue 10), with what the guest shows: "CASE" under
# every emulator, "bochs/CASE" under Bochs only.  Remove an entry once the case passes:
# until then the test fails, so the list only shrinks.
XFAIL = {}

# the driver's own cases after the battery's (tests/debian/drive); disk-persists only
# follows disk-write
DRIVER_CASES = {"native": ["disk-persists"],
                "guest": ["poweroff", "console-clean", "disk-persists"]}
RESULT = re.compile(r"(native|guest) battery-result (\S+) (PASS|FAIL|SKIP)(?:: (.*))?$")
OUTPUT = re.compile(r"(native|guest) battery-output (\S+) \| (.*)$")
# what the driver prints that the test reads, a whole line at a time
LINE = re.compile(rb"^((?:native|guest) battery-(?:result|output) [^\r\n]*|battery-finished)"
                  rb"\r?\n", re.M)
# a case's limit is at most 600 s (times the scale), the driver stops a guest silent for
# 900 s (times the scale): a longer wait for the next line means the appliance hung
LINE_TIMEOUT = 1800
BOCHS_SCALE = 6
# what runs under Bochs, several times slower than QEMU TCG (these take about 6 minutes
# there): the cases where an Intel CPU model that keeps its TLB as hardware does can
# differ (vector state, THP, the disk, a debug exception, the kernel log), not the
# programs that only take long.  memory-touch and avx-threads are left out: with them,
# one run in three stopped for good in the guest's disk-write right after memory-touch
# (no console output, Bochs idle); earlier a guest running them made no progress for 25
# minutes.  Not yet understood.
BOCHS_CASES = {"sse-processes", "avx-processes", "avx-signals", "thp", "disk-write",
               "gdb-breakpoint", "dmesg-clean"}


def battery_cases():
    """The battery's cases in its order (tests/debian/run --list, run here)."""
    return subprocess.run(["sh", os.path.join(TOP, "tests", "debian", "run"), "--list"],
                          check=True, capture_output=True, text=True).stdout.split()


def expected_cases(chosen):
    """{"native": [case, ...], "guest": [...]}: what a run of the CHOSEN battery cases
    reports."""
    return {where: chosen + [case for case in extra
                             if case != "disk-persists" or "disk-write" in chosen]
            for where, extra in DRIVER_CASES.items()}


class Report:
    """Turns the driver's lines into PASS/FAIL/XFAIL lines as they come; LABEL ("" or
    "bochs/") goes before each case name."""

    def __init__(self, cases, label):
        self.cases, self.label = cases, label
        self.seen = {}          # (where, case) -> PASS, FAIL or SKIP

    def line(self, text):
        result, output = RESULT.match(text), OUTPUT.match(text)
        if result:
            self.result(*result.groups())
        elif output:
            print(f"    | {self.label}{output.group(1)}/{output.group(2)}: {output.group(3)}")

    def known_failure(self, case):
        """Why CASE is expected to fail in the guest on this emulator, or None."""
        return XFAIL.get(self.label + case) or XFAIL.get(case)

    def result(self, where, case, verdict, why):
        name = f"{self.label}{where}/{case}"
        known = self.known_failure(case)
        self.seen[(where, case)] = verdict
        why = why or "(no reason given)"
        if verdict == "SKIP":
            print(f"SKIP: {name}: {why}", flush=True)
        elif where == "native":
            self.cases.check(name, verdict == "PASS", f"{why} (natively: a harness bug)")
        elif verdict == "PASS" and known:
            self.cases.check(name, False, f"passes now: remove its entry from XFAIL in "
                             f"tests/debian-guest.py (it said: {known})")
        elif verdict == "PASS":
            self.cases.check(name, True, "")
        elif self.seen.get(("native", case)) == "FAIL":
            self.cases.check(name, False, f"{why} (fails natively too: a harness bug)")
        elif known:
            self.cases.xfail(name, f"{known}; this run: {why}")
        else:
            self.cases.check(name, False, why)

    def finish(self, expected, trouble):
        """Fail every expected case that reported nothing, saying what went wrong."""
        for where, names in expected.items():
            for case in names:
                if (where, case) not in self.seen:
                    self.cases.check(f"{self.label}{where}/{case}", False,
                                     f"no result: {trouble}")


def run_qemu(cases, disk, expected):
    report = Report(cases, "")
    log = os.path.join(OUT, "tests", "debian-guest.console.log")
    trouble = "the driver finished without running it"
    started = time.monotonic()
    try:
        with Appliance(out=OUT, log_path=log, wait_banner=False, disk=None,
                       qemu_args=qemu_args(disk),
                       cmdline=[f"lgbox.test={DRIVER}", f"lgbox.debian={QEMU_DEVICE}"]) as box:
            while True:
                text = box.expect(LINE, LINE_TIMEOUT, "the next battery line").group(1)
                text = text.decode(errors="replace")
                if text == "battery-finished":
                    break
                report.line(text)
            box.expect(TEST_END, 60, "the test hook's end marker")
    except ApplianceError as err:
        trouble = f"the appliance failed: {err}"
    report.finish(expected, f"{trouble} (console log: {log})")
    print(f"QEMU TCG run: {time.monotonic() - started:.0f} s", flush=True)


def run_bochs(cases, disk, chosen):
    report = Report(cases, "bochs/")
    trouble = "the driver finished without running it"
    started = time.monotonic()
    try:
        _, console = run_hook(DRIVER, disks=[disk], megs=APPLIANCE_MEMORY_MB,
                              cmdline=[f"lgbox.debian={BOCHS_DEVICE}",
                                       f"lgbox.battery-scale={BOCHS_SCALE}",
                                       f"lgbox.battery-cases={','.join(chosen)}"],
                              timeout=LINE_TIMEOUT * 4)
        for text in console.splitlines():
            report.line(text)
    except ApplianceError as err:
        trouble = f"the appliance under Bochs failed: {err}"
    report.finish(expected_cases(chosen), trouble)
    print(f"Bochs run: {time.monotonic() - started:.0f} s", flush=True)


def main():
    cases = Cases()
    if not os.path.exists(os.path.join(OUT, "images", "host-initramfs.cpio.gz")):
        cases.xfail("debian-guest", f"no appliance images in {OUT}/images (run make first)")
        cases.finish()
    try:
        disk = debian_disk()
    except DiskMissing as err:
        cases.check("debian-guest: the Debian disk", False, str(err))
        cases.finish()
    run_qemu(cases, disk, expected_cases(battery_cases()))
    if os.environ.get("DEBIAN_GUEST_BOCHS", "1") != "0":
        run_bochs(cases, disk, [case for case in battery_cases() if case in BOCHS_CASES])
    cases.finish()


if __name__ == "__main__":
    main()
