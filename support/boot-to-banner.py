#!/usr/bin/env python3
"""boot-to-banner.py TIMEOUT COMMAND...: run an interactive boot command (such as
"make run") with its console on a pipe, pass its output through, and stop it once the
appliance prints its ready banner.  Exit status 0 when the banner came within TIMEOUT
seconds, 1 when the command ended or the time ran out first."""

import os
import re
import select
import signal
import subprocess
import sys
import time

BANNER = re.compile(rb"lgbox appliance ready")


def main():
    if len(sys.argv) < 3:
        sys.exit("usage: boot-to-banner.py TIMEOUT COMMAND...")
    deadline = time.monotonic() + float(sys.argv[1])
    # stdin stays an open pipe: the serial console must not see end-of-file
    proc = subprocess.Popen(sys.argv[2:], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    seen = b""
    found = False
    try:
        while not found and time.monotonic() < deadline:
            ready, _, _ = select.select([proc.stdout], [], [], 1)
            if not ready:
                continue
            chunk = os.read(proc.stdout.fileno(), 4096)
            if not chunk:
                break
            sys.stdout.buffer.write(chunk)
            sys.stdout.flush()
            seen = (seen + chunk)[-4096:]
            found = bool(BANNER.search(seen))
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    if found:
        print("\nboot-to-banner: the ready banner came; stopped %s" % " ".join(sys.argv[2:]))
        return 0
    print("\nboot-to-banner: no ready banner from %s within %s s" %
          (" ".join(sys.argv[2:]), sys.argv[1]))
    return 1


if __name__ == "__main__":
    sys.exit(main())
