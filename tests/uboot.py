#!/usr/bin/env python3
"""uboot.py: boot the FIT image through U-Boot (Debian's u-boot-qemu) and check the result.

Cases: U-Boot verifies the FIT hashes and the appliance reaches its ready banner with the
command line baked into the boot script; a FIT whose kernel was altered is refused.
Needs CONFIG_IMAGE_FIT=y (the default qemu-x86_64 defconfig has it).
"""

import os
import re
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from appliance import Appliance, ApplianceError, read_config  # noqa: E402
from cases import Cases  # noqa: E402

OUT = os.path.abspath(os.environ.get("O", "output"))
IMAGES = os.path.join(OUT, "images")
LOGS = os.path.join(OUT, "tests")
BOARD = "qemu-x86_64-uboot"
# U-Boot prints "Hash(es) for Image 0 (kernel): sha256+" for each verified image
HASH_OK = re.compile(r"Hash\(es\) for Image \d \((kernel|ramdisk)\): \w+\+")


def check_boot(cases):
    cmdline = read_config(os.path.join(OUT, ".config")).get("CONFIG_BOARD_CMDLINE")
    try:
        with Appliance(board=BOARD, boot_timeout=300,
                       log_path=os.path.join(LOGS, "uboot.log")) as box:
            console = box.console.decode(errors="replace")
            verified = sorted(set(m.group(1) for m in HASH_OK.finditer(console)))
            cases.check("U-Boot verifies the FIT hashes", verified == ["kernel", "ramdisk"],
                        f"images U-Boot reported as verified: {verified}")
            cases.check("ready banner after U-Boot", True, "")
            status, out = box.run("cat /proc/cmdline")
            cases.check("command line from the boot script", status == 0 and out.strip() == cmdline,
                        f"/proc/cmdline is {out.strip()!r}, BOARD_CMDLINE is {cmdline!r}")
    except ApplianceError as error:
        cases.check("boot through U-Boot", False, str(error))


def corrupt_copy(workdir):
    """A copy of the images with one byte of the FIT's kernel data changed."""
    images = os.path.join(workdir, "images")
    os.makedirs(images)
    for name in ("lgbox.itb", "boot.scr.uimg"):
        shutil.copy(os.path.join(IMAGES, name), images)
    with open(os.path.join(images, "lgbox.itb"), "r+b") as fit:
        data = fit.read()
        # the bzImage header magic "HdrS" lies inside the kernel image's data
        offset = data.index(b"HdrS") + 64
        fit.seek(offset)
        fit.write(bytes([data[offset] ^ 0xff]))
    shutil.copy(os.path.join(OUT, ".config"), workdir)


def check_corrupt_refused(cases):
    with tempfile.TemporaryDirectory() as workdir:
        corrupt_copy(workdir)
        box = Appliance(out=workdir, board=BOARD, wait_banner=False,
                        log_path=os.path.join(LOGS, "uboot-corrupt.log"))
        with box:
            try:
                box.expect(re.compile(rb"Bad hash value|lgbox appliance ready"), 300,
                           "U-Boot's verdict on the altered FIT")
                console = box.console.decode(errors="replace")
                cases.check("altered FIT is refused", "Bad hash value" in console
                            and "lgbox appliance ready" not in console,
                            "U-Boot booted a FIT whose kernel hash does not match")
            except ApplianceError as error:
                cases.check("altered FIT is refused", False, str(error))


def main():
    cases = Cases()
    if not os.path.exists(os.path.join(IMAGES, "lgbox.itb")):
        cases.check("FIT image built", False,
                    f"{IMAGES}/lgbox.itb is missing (CONFIG_IMAGE_FIT=y is needed)")
        cases.finish()
    check_boot(cases)
    check_corrupt_refused(cases)
    cases.finish()


if __name__ == "__main__":
    main()
