"""cases.py: the system-test report convention for Python tests.

Each case prints one line, "PASS: name", "FAIL: name: why" or "XFAIL: name: reason"
(a known failure, not counted as failed); finish() exits non-zero iff a case failed.
tests/run counts these lines.
"""

import sys


class Cases:
    def __init__(self):
        self.failed = 0

    def check(self, name, ok, why):
        """Report name as passed when ok, else as failed because of why."""
        if ok:
            print(f"PASS: {name}", flush=True)
        else:
            self.failed += 1
            print(f"FAIL: {name}: {why}", flush=True)
        return ok

    def xfail(self, name, reason):
        print(f"XFAIL: {name}: {reason}", flush=True)

    def known_failure(self, name, ok, why, reason):
        """A case known to fail for reason: XFAIL while it fails, FAIL once it passes, so
        that the mark cannot outlive the bug (as TEST_XFAIL in lgbox/tests/test.h)."""
        if ok:
            self.failed += 1
            print(f"FAIL: {name}: passes now although marked as a known failure ({reason}): "
                  "make it an ordinary check", flush=True)
        else:
            print(f"XFAIL: {name}: {reason} ({why})", flush=True)

    def finish(self):
        sys.exit(1 if self.failed else 0)
