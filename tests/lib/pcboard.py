"""pcboard.py: the pc-x86_64-efi board built beside the default build, for tests/efi.py and
bench/efi-boot.py.

    from pcboard import build
    pc, error = build(out)        # $O/pc, or None and the end of its build log

make pc-x86_64-efi_defconfig and make in $O/pc, sharing $O's extracted kernel source and
installed headers (no second extraction); the kernel itself is built again, with the
board's own fragment. make is incremental: a second call with nothing changed is quick.
"""

import os
import subprocess

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def build(out):
    pc = os.path.join(out, "pc")
    log = os.path.join(out, "pc-build.log")
    shared = [f"LINUX_SRC={out}/build/linux-source-6.1", f"LINUX_HEADERS={out}/build/linux-headers"]
    with open(log, "w") as f:
        for goal in (["pc-x86_64-efi_defconfig"], shared):
            done = subprocess.run(["make", "-s", "-C", TOP, f"O={pc}", *goal], stdout=f,
                                  stderr=subprocess.STDOUT)
            if done.returncode != 0:
                break
    if done.returncode == 0:
        return pc, None
    with open(log) as f:
        tail = "".join(f.readlines()[-15:])
    return None, f"make O={pc} failed (log: {log}):\n{tail}"
