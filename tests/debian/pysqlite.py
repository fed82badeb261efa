#!/usr/bin/env python3
"""pysqlite.py: python3 threads sharing an sqlite3 database file.

Four threads each compute a chain of sha256 digests and insert a row per step into one
database (a connection each, so sqlite's file locking arbitrates); then the main thread
checks that every row is there and that each thread's digests match a computation of its
own.  Prints one line; exit status 0 when all rows match, 1 otherwise.
"""

import hashlib
import os
import sqlite3
import sys
import threading

THREADS, STEPS = 4, 50
DB = "/var/tmp/battery.db"


def chain(seed):
    digest = seed.encode()
    for _ in range(STEPS):
        digest = hashlib.sha256(digest).digest()
        yield digest.hex()


def worker(number, errors):
    try:
        db = sqlite3.connect(DB, timeout=60)
        for step, digest in enumerate(chain(f"thread {number}")):
            with db:
                db.execute("INSERT INTO steps VALUES (?, ?, ?)", (number, step, digest))
        db.close()
    except sqlite3.Error as error:
        errors.append(f"thread {number}: {error}")


def main():
    if os.path.exists(DB):
        os.remove(DB)
    db = sqlite3.connect(DB)
    db.execute("CREATE TABLE steps (thread INTEGER, step INTEGER, digest TEXT)")
    db.commit()
    errors = []
    threads = [threading.Thread(target=worker, args=(n, errors)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        print("sqlite errors: " + "; ".join(errors))
        return 1
    for number in range(THREADS):
        rows = [digest for (digest,) in db.execute(
            "SELECT digest FROM steps WHERE thread = ? ORDER BY step", (number,))]
        if rows != list(chain(f"thread {number}")):
            print(f"thread {number}: {len(rows)} rows in the database, not its {STEPS} digests")
            return 1
    print(f"{THREADS} threads wrote {THREADS * STEPS} rows to {DB}, all read back "
          f"(sqlite {sqlite3.sqlite_version})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
