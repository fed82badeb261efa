#!/usr/bin/env python3
"""appliance-hook.py: run one script inside the appliance through init's test hook.

    python3 kernel/tests/appliance-hook.py TIMEOUT SCRIPT [QEMU-ARG]...

Boots $O/images (qemu-x86_64 board, settings from $O/.config) with the kernel
command-line word lgbox.test=SCRIPT through tests/lib/appliance.py, prints the
serial console (carriage returns removed) and exits with SCRIPT's status, or
with 255 after the harness's complaint if the appliance never reached init's
end marker within TIMEOUT seconds.  Used by tests/lg-suite.sh and bench/lg.sh.
"""

import os
import sys

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))
from appliance import Appliance, ApplianceError  # noqa: E402


def main():
    if len(sys.argv) < 3:
        sys.exit("usage: appliance-hook.py TIMEOUT SCRIPT [QEMU-ARG]...")
    timeout, script, qemu_args = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
    try:
        with Appliance(board="qemu-x86_64", cmdline=["lgbox.test=" + script],
                       qemu_args=qemu_args, wait_banner=False) as box:
            status, console = box.test_hook_result(timeout=timeout)
    except ApplianceError as error:
        print(f"appliance-hook.py: {error}")
        return 255
    sys.stdout.write(console)
    return status


if __name__ == "__main__":
    sys.exit(main())
