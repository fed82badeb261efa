#!/usr/bin/env python3
"""appliance-hook.py: run one script inside the appliance through init's test hook.

    python3 kernel/tests/appliance-hook.py [--cmdline WORD]... [--bochs CPU] TIMEOUT SCRIPT
                                           [QEMU-ARG]...

Boots $O/images (qemu-x86_64 board, settings from $O/.config) with the kernel
command-line word lgbox.test=SCRIPT (and each WORD) through tests/lib/appliance.py, or
with --bochs under Bochs's CPU model CPU (tests/lib/bochs.py), prints the
serial console (carriage returns removed) and exits with SCRIPT's status, or
with 255 after the harness's complaint if the appliance never reached init's
end marker within TIMEOUT seconds.  Used by tests/lg-suite.sh and bench/lg.sh.
"""

import os
import sys

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))
from appliance import Appliance, ApplianceError  # noqa: E402
import bochs  # noqa: E402


def main():
    args, words, bochs_cpu = sys.argv[1:], [], None
    while len(args) >= 2 and args[0] in ("--cmdline", "--bochs"):
        if args[0] == "--cmdline":
            words.append(args[1])
        else:
            bochs_cpu = args[1]
        args = args[2:]
    if len(args) < 2:
        sys.exit("usage: appliance-hook.py [--cmdline WORD]... [--bochs CPU] TIMEOUT SCRIPT "
                 "[QEMU-ARG]...")
    timeout, script, qemu_args = int(args[0]), args[1], args[2:]
    try:
        if bochs_cpu:
            status, console = bochs.run_hook(script, cmdline=words, cpu=bochs_cpu,
                                             timeout=timeout)
        else:
            with Appliance(board="qemu-x86_64", cmdline=["lgbox.test=" + script, *words],
                           qemu_args=qemu_args, wait_banner=False) as box:
                status, console = box.test_hook_result(timeout=timeout)
    except ApplianceError as error:
        print(f"appliance-hook.py: {error}")
        return 255
    sys.stdout.write(console)
    return status


if __name__ == "__main__":
    sys.exit(main())
