#!/usr/bin/env python3
"""appliance.py: boot the built lgbox appliance in QEMU (TCG) and drive its serial console.

System tests use it to run commands inside the appliance:

    from appliance import Appliance
    with Appliance() as box:                      # boots $O/images, waits for the banner
        status, out = box.run("lgbox --list")     # one shell line; output and exit status
    # leaving the block powers the machine off and always kills QEMU

    with Appliance(cmdline=["lgbox.test=/usr/lib/lgbox/tests/run"], wait_banner=False) as box:
        status, out = box.test_hook_result(timeout=600)   # init runs the script, then reboots

It starts the board's own run script (board/NAME/run, the one "make run" uses) with the
settings of $O/.config, so tests boot exactly what a user boots. qemu_args are appended to
QEMU's command line, where a later option wins: qemu_args=["-cpu", "qemu64"] tests a plainer
CPU than the default -cpu max. The board's fixed guests stay off (lgbox.guests=none) unless
fixed_guests=True. The box's disk (LGBOX_DISK of the run scripts: the data disk of the QEMU
boards, the whole boot disk of pc-x86_64-efi) is by default a fresh copy of the build's
$O/images/disk.img, removed afterwards; disk=PATH boots PATH instead (to boot the same disk
twice), disk=None boots without one. Only the standard library is used.
Command line: python3 tests/lib/appliance.py [--cmdline WORD]... COMMAND
prints the command's output and exits with its status.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BANNER = re.compile(rb"lgbox appliance ready")
TEST_END = re.compile(rb"lgbox-test-end status=(\d+)")
# the one board whose kernel command line the run script passes; the others have it in
# their images
DIRECT_KERNEL_BOARD = "qemu-x86_64"
FRESH = "fresh"


def copy_disk(image, path):
    """A copy of the disk image IMAGE at PATH that stays sparse, as the build made it."""
    subprocess.run(["cp", "--sparse=always", image, path], check=True)


class ApplianceError(Exception):
    """The appliance did not do what was expected; the message ends with recent console output."""


def read_config(path):
    """The CONFIG_* settings of a Kconfig .config file, quotes removed."""
    settings = {}
    try:
        with open(path) as config:
            for line in config:
                match = re.match(r'(CONFIG_\w+)=(.*)$', line.strip())
                if match:
                    settings[match.group(1)] = match.group(2).strip('"')
    except FileNotFoundError:
        raise ApplianceError(f"{path} does not exist: build the appliance first (make)")
    return settings


class Appliance:
    """One QEMU run of the appliance with its serial console on a pipe."""

    def __init__(self, out=None, board=None, cmdline=(), qemu_args=(), boot_timeout=180,
                 wait_banner=True, log_path=None, fixed_guests=False, disk=FRESH):
        self.out = os.path.abspath(out or os.environ.get("O") or os.path.join(TOP, "output"))
        config = read_config(os.path.join(self.out, ".config"))
        self.board = board or config.get("CONFIG_BOARD_NAME", DIRECT_KERNEL_BOARD)
        direct_kernel = self.board == DIRECT_KERNEL_BOARD
        if cmdline and not direct_kernel:
            raise ValueError(f"board {self.board} has its kernel command line in its images; "
                             f"extra cmdline words need the {DIRECT_KERNEL_BOARD} board")
        if not fixed_guests and direct_kernel:
            # a test of something else should not share the machine with booting guests
            cmdline = [*cmdline, "lgbox.guests=none"]
        self.disk = disk
        self.disk_dir = None        # holds the fresh copy of the disk, if one is made
        self.env = dict(os.environ,
                        LGBOX_IMAGES=os.path.join(self.out, "images"),
                        LGBOX_MEMORY=config.get("CONFIG_BOARD_MEMORY_MB", "512"),
                        LGBOX_CMDLINE=" ".join([config.get("CONFIG_BOARD_CMDLINE",
                                                           "console=ttyS0 panic=-1"),
                                                *cmdline]))
        self.argv = [os.path.join(TOP, "board", self.board, "run"), *qemu_args]
        self.boot_timeout = boot_timeout
        self.wait_banner = wait_banner
        self.log_path = log_path
        self.console = b""          # everything read from the serial console so far
        self.seen = 0               # console offset up to which expect() has consumed
        self.commands = 0
        self.eof = False            # QEMU closed the console: it exited
        self.lock = threading.Condition()
        self.qemu = None

    # -- lifetime -----------------------------------------------------------------------

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def start(self):
        image = os.path.join(self.out, "images", "disk.img")
        if self.disk == FRESH and os.path.exists(image):
            self.disk_dir = tempfile.mkdtemp(prefix="lgbox-disk.")
            self.env["LGBOX_DISK"] = os.path.join(self.disk_dir, "disk.img")
            copy_disk(image, self.env["LGBOX_DISK"])
        elif self.disk != FRESH:
            self.env["LGBOX_DISK"] = self.disk or ""
        self.qemu = subprocess.Popen(self.argv, env=self.env, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        threading.Thread(target=self._read_console, daemon=True).start()
        if self.wait_banner:
            self.expect(BANNER, self.boot_timeout, "the ready banner")
            # plain line input (no echo, no line editing) and no kernel messages in between
            self.run("stty -echo; dmesg -n 1")

    def stop(self):
        """Reboot (which ends QEMU, started with -no-reboot) and kill QEMU if it lingers."""
        if self.qemu is None:
            return
        try:
            if self.qemu.poll() is None:
                self.send("reboot -f")
                self.qemu.wait(timeout=20)
        except (subprocess.TimeoutExpired, OSError):
            pass
        finally:
            if self.qemu.poll() is None:
                self.qemu.kill()
                self.qemu.wait()
            self._save_log()
            self.qemu = None
            if self.disk_dir:
                shutil.rmtree(self.disk_dir, ignore_errors=True)

    def power_cut(self):
        """Kill QEMU at once, as a power cut would (nothing is synced or unmounted)."""
        self.qemu.kill()
        self.qemu.wait()

    def shut_down(self, command="reboot", timeout=120):
        """Run COMMAND (reboot or poweroff: init's orderly way down, which stops the guests
        and unmounts the data partition); whether QEMU ended within TIMEOUT seconds."""
        self.send(command)
        try:
            self.qemu.wait(timeout=timeout)
            return True
        except subprocess.TimeoutExpired:
            return False

    def _read_console(self):
        while True:
            data = self.qemu.stdout.read1(4096)
            with self.lock:
                if not data:
                    self.eof = True
                    self.lock.notify_all()
                    return
                self.console += data
                self.lock.notify_all()

    def _save_log(self):
        if self.log_path:
            os.makedirs(os.path.dirname(self.log_path), exist_ok=True)
            with open(self.log_path, "wb") as log:
                log.write(self.console)

    # -- console ------------------------------------------------------------------------

    def tail(self, lines=25):
        """The last lines of console output, for error messages."""
        text = self.console.decode(errors="replace").replace("\r", "")
        return "\n".join(text.splitlines()[-lines:])

    def send(self, line):
        self.qemu.stdin.write(line.encode() + b"\n")
        self.qemu.stdin.flush()

    def expect(self, pattern, timeout, what):
        """Wait for pattern in the console output after what was already consumed."""
        deadline = time.monotonic() + timeout
        with self.lock:
            while True:
                match = pattern.search(self.console, self.seen)
                if match:
                    self.seen = match.end()
                    return match
                if self.eof:
                    raise ApplianceError(f"QEMU exited (status {self.qemu.wait()}) "
                                         f"before {what}; console:\n{self.tail()}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise ApplianceError(f"no {what} after {timeout}s; console:\n{self.tail()}")
                self.lock.wait(min(left, 1.0))

    def run(self, command, timeout=60):
        """Run one shell line (no trailing ';' or '&'); returns (exit status, output with
        \\n line ends). The markers around the output are printed with an empty '' inside them, so the
        command line itself (should the terminal echo it) never looks like a marker."""
        self.commands += 1
        tag = f"@@LGB{self.commands}"
        self.send(f"echo '{tag}''B@@'; {command}; echo '{tag}''E'$?'@@'")
        match = self.expect(re.compile(re.escape(tag.encode()) + rb"B@@\r?\n(.*?)"
                                       + re.escape(tag.encode()) + rb"E(\d+)@@", re.S),
                            timeout, f"end of command {command!r}")
        output = match.group(1).decode(errors="replace").replace("\r\n", "\n")
        return int(match.group(2)), output

    def test_hook_result(self, timeout=600):
        """With lgbox.test=SCRIPT on the command line: (SCRIPT's status, console output)."""
        match = self.expect(TEST_END, timeout, "lgbox-test-end marker")
        return int(match.group(1)), self.console.decode(errors="replace").replace("\r", "")


def main():
    parser = argparse.ArgumentParser(description="Run a command in the lgbox appliance.")
    parser.add_argument("--cmdline", action="append", default=[],
                        help="extra kernel command-line word (repeatable)")
    parser.add_argument("--timeout", type=int, default=120, help="seconds for the command")
    parser.add_argument("command", nargs="+", help="shell command line to run")
    args = parser.parse_args()
    try:
        with Appliance(cmdline=args.cmdline) as box:
            status, output = box.run(" ".join(args.command), timeout=args.timeout)
    except ApplianceError as error:
        print(f"appliance.py: {error}", file=sys.stderr)
        return 1
    sys.stdout.write(output)
    return status


if __name__ == "__main__":
    sys.exit(main())
