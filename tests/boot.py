#!/usr/bin/env python3
"""boot.py: boot the default appliance in QEMU and check what a user would see on its console.

Cases: the ready banner, the kernel version, lgbox and its applet links, lg.ko loaded by
init, the guest images in place, and init's lgbox.test= hook (status reported, machine off).
"""

import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from appliance import Appliance, ApplianceError  # noqa: E402
from cases import Cases  # noqa: E402

OUT = os.path.abspath(os.environ.get("O", "output"))
LOGS = os.path.join(OUT, "tests")
LGBOX_BIN = os.path.join(OUT, "build", "lgbox", "lgbox")
LG_KO = os.path.join(OUT, "build", "lg", "lg.ko")


def host_applets():
    """The applets of the lgbox binary the build installed, asked on the build machine."""
    listing = subprocess.run([LGBOX_BIN, "--list"], capture_output=True, text=True, check=True)
    return listing.stdout.split()


def check_console(cases, box):
    status, out = box.run("cat /proc/version")
    cases.check("kernel version", status == 0 and "6.1." in out and "-lgbox" in out,
                f"cat /proc/version gave status {status}: {out.strip()!r}")

    if not os.path.exists(LGBOX_BIN):
        cases.xfail("lgbox --list", "lgbox is not built yet (no lgbox/Makefile)")
    else:
        status, out = box.run("lgbox --list")
        expected = host_applets()
        cases.check("lgbox --list", status == 0 and out.split() == expected,
                    f"status {status}, applets {out.split()}, built binary lists {expected}")
        status, out = box.run('for a in $(lgbox --list); do '
                              '[ "$(readlink /bin/$a)" = lgbox ] || echo "$a"; done')
        cases.check("one link per lgbox applet", status == 0 and out.strip() == "",
                    f"applets without a /bin link to lgbox: {out.split()}")

    if not os.path.exists(LG_KO):
        cases.xfail("lg.ko loaded at boot", "lg.ko is not built yet (no kernel/Makefile)")
    else:
        status, out = box.run("grep '^lg ' /proc/modules")
        cases.check("lg.ko loaded at boot", status == 0 and out.startswith("lg "),
                    f"lg is not in /proc/modules (status {status})")

    status, out = box.run("test -s /boot/bzImage && test -s /usr/share/lgbox/guest-initramfs.cpio.gz"
                          " && zcat /usr/share/lgbox/guest-initramfs.cpio.gz | cpio -t 2>/dev/null"
                          " | grep -x init")
    cases.check("guest kernel and initramfs in the host", status == 0 and out.strip() == "init",
                f"status {status}, output {out.strip()!r}")


def check_test_hook(cases):
    """lgbox.test=/bin/false: init must report status 1 and switch the machine off."""
    box = Appliance(cmdline=["lgbox.test=/bin/false"], wait_banner=False,
                    log_path=os.path.join(LOGS, "boot-test-hook.log"))
    try:
        with box:
            status, _ = box.test_hook_result(timeout=180)
            cases.check("lgbox.test= hook reports the script's status", status == 1,
                        f"lgbox-test-end status={status}, expected 1 from /bin/false")
            box.qemu.wait(timeout=30)
            cases.check("lgbox.test= hook switches the machine off", True, "")
    except ApplianceError as error:
        cases.check("lgbox.test= hook", False, str(error))
    except subprocess.TimeoutExpired:
        cases.check("lgbox.test= hook switches the machine off", False,
                    "QEMU still running 30s after the end marker")


def main():
    cases = Cases()
    try:
        with Appliance(log_path=os.path.join(LOGS, "boot.log")) as box:
            cases.check("ready banner on the serial console", True, "")
            check_console(cases, box)
    except ApplianceError as error:
        cases.check("boot", False, str(error))
    check_test_hook(cases)
    cases.finish()


if __name__ == "__main__":
    main()
