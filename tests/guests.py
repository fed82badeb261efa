#!/usr/bin/env python3
"""guests.py: Linux guests on lg.ko, inside the QEMU-booted appliance.

The appliance boots with its board's fixed guests (board/qemu-x86_64/guests: web and db,
the appliance's own kernel with the guest initramfs, each with a disk image and a tap on
bridge br0, restart = on-crash, user = lguest), which its init starts with lgbox launch
--daemon.  Commands reach the guests' shells through lgbox console-attach.  Cases, for each
guest: its guest process runs as lguest with no capabilities and the seccomp filter; it boots
to its shell; it knows it runs under lguest (/proc/cpuinfo flag, dmesg); its clock keeps
time (sleep 2 takes about 2 s of host time) and has the host's date; the rng device yields
bytes; its init formatted its empty disk (an image on the appliance's data partition) and
mounted it on /data; it pings the other guest and the host over the bridge, and the host
pings it.  Then a panic ends db only, with the reason in its
launcher's log, while web keeps running, and db is back within the restart backoff with
list saying so; db's poweroff (its init's) unmounts its ext4 disk, which the host finds
clean; lgbox start boots it again, and lgbox stop presses its power button: status 0 and a
clean file system once the guest kernel handles the button (a known failure until then);
the bare-metal test guest, which ignores the button, is ended after the grace time.  web
writes and syncs a file on its disk and powers off, its launcher logs exit status 0 and the
file's data is in the host's image file; the guests' memory comes back to the host (free
pages, counted with the per-CPU lists) and every page pinned for them is unpinned; the host
log stays clean and lg.ko unloads.  (tests/efi.py checks their services.)
"""

import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from appliance import Appliance, ApplianceError, read_config  # noqa: E402
from cases import Cases  # noqa: E402
from guestconsole import in_guest, wait_ready  # noqa: E402

OUT = os.path.abspath(os.environ.get("O", "output"))
# name -> address, as in board/qemu-x86_64/guests/NAME.conf and network
GUESTS = {"web": "10.0.2.11", "db": "10.0.2.12"}
HOST_ADDRESS = "10.0.2.1"
# the user the fixed guests' processes run as (overlay/common/etc/passwd)
GUEST_UID = 100
TEST_GUEST = "/usr/lib/lgbox/tests/testguest.elf"


def image(name):
    return f"/var/lib/lgbox/{name}.img"


def log(box, name):
    return box.run(f"cat /var/log/lgbox/{name}.log")[1]


def sha256(text):
    match = re.search(r"\b([0-9a-f]{64})\b", text or "")
    return match.group(1) if match else None


def check_identity(cases, box, name):
    flag = in_guest(box, name, "grep -o -w -m1 lguest /proc/cpuinfo")
    cases.check(f"{name}: /proc/cpuinfo shows lguest", flag is not None and "lguest" in flag,
                f"cpuinfo flags: {flag!r}")
    said = in_guest(box, name, "dmesg | grep -e 'Hypervisor detected' -e 'guest of lg.ko'")
    cases.check(f"{name}: dmesg shows lguest", said is not None and
                "Hypervisor detected: lguest" in said and "lguest: guest of lg.ko" in said,
                f"dmesg: {said!r}")


def check_clock_and_rng(cases, box, name):
    host_date = int(box.run("date +%s")[1])
    started = time.monotonic()
    clock = in_guest(box, name, "date +%s; sleep 2; date +%s")
    host = time.monotonic() - started
    seconds = [int(s) for s in clock.split()] if clock else []
    cases.check(f"{name}: sleep 2 takes 2 s of guest and host time",
                len(seconds) == 2 and seconds[1] - seconds[0] in (2, 3) and 2 <= host < 60,
                f"guest clock {clock!r}, host {host:.1f} s")
    cases.check(f"{name}: the guest's date is the host's",
                seconds and abs(seconds[0] - host_date) < 60,
                f"guest date +%s {seconds[:1]}, host {host_date}")
    rng = in_guest(box, name, "head -c 64 /dev/hwrng | wc -c")
    cases.check(f"{name}: rng yields bytes", rng is not None and rng.strip() == "64",
                f"bytes read from /dev/hwrng: {rng!r}")


def check_disk(cases, box, name):
    """The guest's init made an ext4 file system on its empty disk and mounted it."""
    out = in_guest(box, name, "grep '^/dev/vda ' /proc/mounts")
    _, host = box.run(f"mountpoint -q /var/lib/lgbox && test -f {image(name)} && echo on-data")
    cases.check(f"{name}: its disk, an image on the data partition, is formatted and "
                f"mounted on /data", out is not None and "/dev/vda /data ext4 " in out
                and host.strip() == "on-data", f"guest: {out!r}; host: {host!r}")


def check_pings(cases, box, name):
    for peer, address in [*((p, a) for p, a in GUESTS.items() if p != name),
                          ("the host", HOST_ADDRESS)]:
        out = in_guest(box, name, f"ping -c 3 -W 10 {address}", timeout=90)
        cases.check(f"{name}: pings {peer} over the bridge",
                    out is not None and " 0% packet loss" in out, f"ping said {out!r}")
    status, out = box.run(f"ping -c 3 -W 10 {GUESTS[name]}", timeout=90)
    cases.check(f"host pings {name} over the bridge", status == 0 and " 0% packet loss" in out,
                f"ping said {out!r}")


def guest_write(box, name):
    """The guest writes a random token into a file on its disk and syncs; the token or
    None."""
    out = in_guest(box, name, "head -c 32 /dev/urandom | sha256sum >/data/token && sync && "
                   "cat /data/token", timeout=120)
    return sha256(out)


def launchers_rss_kib(box):
    """KiB resident in the guests' launchers (guest RAM included)."""
    _, out = box.run("for p in /run/lguest/*/pid /run/lguest/*/guest-pid; do "
                     "grep VmRSS /proc/$(cat $p)/status; done")
    return sum(int(kib) for kib in re.findall(r"VmRSS:\s+(\d+)", out))


def listed(box, name):
    """NAME's entry in lgbox list --json, or None."""
    _, out = box.run("lgbox list --json")
    try:
        return next((g for g in json.loads(out) if g["name"] == name), None)
    except ValueError:
        return None


def wait_listed(box, name, state, timeout):
    """NAME's list entry once its state is STATE, or its last entry after TIMEOUT seconds."""
    deadline = time.monotonic() + timeout
    while True:
        entry = listed(box, name)
        if (entry and entry["state"] == state) or time.monotonic() > deadline:
            return entry
        time.sleep(0.5)


def check_sandbox(cases, box, name):
    """The guest process that runs NAME has given up root."""
    _, status = box.run(f"grep -e Uid -e CapEff -e CapBnd -e NoNewPrivs -e 'Seccomp:' "
                        f"/proc/$(cat /run/lguest/{name}/guest-pid)/status")
    fields = dict(re.findall(r"^(\w+):\s+(\S+)", status, re.M))
    cases.check(f"{name}: its guest process runs as lguest with no capabilities and the "
                f"seccomp filter", fields.get("Uid") == str(GUEST_UID) and
                fields.get("CapEff") == "0" * 16 and fields.get("CapBnd") == "0" * 16 and
                fields.get("NoNewPrivs") == "1" and fields.get("Seccomp") == "2",
                f"/proc/PID/status: {status!r}")


def image_is_clean(box, name):
    """Whether the ext4 file system on NAME's image says it was unmounted cleanly: s_state
    (2 bytes at 1024 + 58) is EXT2_VALID_FS and the RECOVER flag (4) of the incompatible
    features (at 1024 + 96), set while it is mounted, is clear."""
    _, out = box.run(f"hexdump -s 1082 -n 2 -e '1/2 \"%u \"' {image(name)}; "
                     f"hexdump -s 1120 -n 1 -e '1/1 \"%u\"' {image(name)}")
    words = out.split()
    return len(words) == 2 and words[0] == "1" and int(words[1]) & 4 == 0


def write_unsynced(box, name):
    """NAME writes to its disk (mounted on /data by its init) without syncing; whether the
    disk was mounted and the write done."""
    out = in_guest(box, name, "grep -q '^/dev/vda /data ' /proc/mounts && "
                   "echo unsynced >/data/unsynced && echo written", timeout=120)
    return out is not None and "written" in out


def check_restart(cases, box):
    """db panics; restart = on-crash boots it again after the 1 s backoff."""
    in_guest(box, "db", "echo c >/proc/sysrq-trigger", timeout=90)
    ended = wait_ended(box, "db")
    said = log(box, "db")
    cases.check("db: a panic ends the guest, the reason is in its launcher's log",
                ended is not None and "crashed (exit status 3)" in ended and
                re.search(r"guest db crashed: .*sysrq", said) is not None,
                f"/var/log/lgbox/db.log: {said!r}")
    started = time.monotonic()
    entry = wait_listed(box, "db", "running", 30)
    took = time.monotonic() - started
    cases.check("db: back within the restart backoff, and list says so",
                entry is not None and entry["state"] == "running" and entry["restarts"] == 1 and
                "crashed:" in (entry["last_end"] or "") and "restarting in 1s" in log(box, "db")
                and took < 15, f"after {took:.1f} s, list: {entry!r}; log: {log(box, 'db')!r}")
    cases.check("db: boots to its shell again after the restart", wait_ready(box, "db"),
                f"launcher log: {log(box, 'db')!r}")


def check_orderly_stops(cases, box):
    """db's own poweroff unmounts its disk; lgbox start boots it again; lgbox stop presses
    its power button."""
    mounted = write_unsynced(box, "db")
    box.run("echo 'kill -USR2 1' | lgbox console-attach -q --drain 2 db >/dev/null 2>&1")
    entry = wait_listed(box, "db", "stopped", 60)
    cases.check("db: its poweroff unmounts its disk first: exit status 0, a clean file system",
                mounted and entry is not None and (entry["last_end"] or "").startswith(
                    "powered off") and image_is_clean(box, "db"),
                f"mounted {mounted}, list {entry!r}, clean {image_is_clean(box, 'db')}")
    status, out = box.run("lgbox start db")
    cases.check("lgbox start boots a stopped fixed guest again",
                status == 0 and wait_ready(box, "db"), f"status {status}: {out!r}")
    mounted = write_unsynced(box, "db")
    started = time.monotonic()
    status, out = box.run("lgbox stop db", timeout=60)
    took = time.monotonic() - started
    entry = listed(box, "db")
    clean = image_is_clean(box, "db")
    ok = (mounted and status == 0 and entry is not None and entry["state"] == "stopped" and
          (entry["last_end"] or "").startswith("powered off") and clean)
    why = f"stop took {took:.1f} s, status {status}, list {entry!r}, clean {clean}"
    cases.check("db: lgbox stop presses its power button: exit status 0, a clean file system",
                ok, why)


def check_ignored_power_button(cases, box):
    """The bare-metal test guest ignores the power button: stop ends it after the grace time."""
    box.run(f"lgbox launch --daemon --name spin --kernel {TEST_GUEST} --memory 32M "
            f"--stop-grace 2 --cmdline case=spin --log /tmp/spin.log")
    started = time.monotonic()
    status, out = box.run("lgbox stop spin", timeout=60)
    took = time.monotonic() - started
    _, said = box.run("cat /tmp/spin.log")
    cases.check("a guest that ignores the power button is ended after the grace time",
                status == 0 and took >= 2 and "guest spin did not power off" in said and
                "ended: stopped by a signal (exit status 5)" in said,
                f"stop status {status} after {took:.1f} s: {out!r}; log {said!r}")


def free_kib(box):
    """KiB of free memory in the host, counted whole: MemFree plus the free pages on the
    per-CPU lists (the pagesets' count in /proc/zoneinfo), after sync and drop_caches have
    given back the clean page cache and reclaimable slab.

    Not MemAvailable: a freed page goes to its CPU's list first, and MemFree (hence
    MemAvailable) leaves it out until the list passes its high mark and is drained to the
    buddy lists, or memory runs short: on an idle UMA box nothing else drains it (not
    drop_caches, not compact_memory).  The mark is a share of the zone's low watermark,
    which THP raises with min_free_kbytes (khugepaged's recommendation, 44 MiB on the 1 GiB
    box, against int_sqrt(16 * lowmem KiB), about 4 MiB): 27.5 MiB per CPU instead of 2.4.
    What the lists held then moved by -13 to +20 MB between the two measurements, and
    MemAvailable with it.  MemAvailable also counts page cache (the 16 MiB of web's image
    read below) only at half while it is under twice the low watermark.  A page a guest
    leaves pinned or referenced is in neither MemFree nor the lists, so it still counts
    against the guest."""
    _, out = box.run("sync; echo 3 >/proc/sys/vm/drop_caches; grep MemFree /proc/meminfo; "
                     "awk '/^ +count:/ { pages += $2 } END { print \"pcp:\", pages }' "
                     "/proc/zoneinfo")
    mem_free = int(re.search(r"MemFree:\s+(\d+)", out).group(1))
    pcp_pages = int(re.search(r"pcp: (\d+)", out).group(1))
    return mem_free + pcp_pages * 4


def outstanding_pins(box):
    """Pages pinned with FOLL_PIN (as lg.ko pins guest memory) and not unpinned, host-wide,
    with the per-CPU deltas of the two counters folded first; and what /proc/vmstat said."""
    _, out = box.run("echo 1 >/proc/sys/vm/stat_refresh; grep foll_pin /proc/vmstat")
    counts = dict(re.findall(r"nr_foll_pin_(acquired|released) (\d+)", out))
    if len(counts) != 2:
        return None, out
    return int(counts["acquired"]) - int(counts["released"]), out


def wait_ended(box, name, timeout=60):
    """The last line of NAME's launcher log once it says how the guest ended."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ended = [line for line in log(box, name).splitlines() if " ended: " in line]
        if ended:
            return ended[-1]
        time.sleep(2)
    return None


def run(cases, box):
    entries = {name: listed(box, name) for name in GUESTS}
    cases.check("init started the fixed guests web and db",
                all(e and e["state"] in ("starting", "running") for e in entries.values()),
                f"lgbox list --json: {entries!r}")
    for name in GUESTS:
        check_sandbox(cases, box, name)
    ready = {name: wait_ready(box, name) for name in GUESTS}
    for name in GUESTS:
        cases.check(f"{name}: boots to its shell", ready[name],
                    f"no 'lgbox guest ready' on its console; launcher log: {log(box, name)!r}")
    if not all(ready.values()):
        return
    for name in GUESTS:
        check_identity(cases, box, name)
        check_clock_and_rng(cases, box, name)
        check_disk(cases, box, name)
    for name in GUESTS:
        check_pings(cases, box, name)

    guests_kib = launchers_rss_kib(box)
    free = free_kib(box)

    check_restart(cases, box)
    alive = in_guest(box, "web", "echo still here")
    cases.check("web: keeps running after db panicked",
                alive is not None and "still here" in alive, f"web answered {alive!r}")

    wrote = guest_write(box, "web")
    in_guest(box, "web", "poweroff -f", timeout=90)
    ended = wait_ended(box, "web")
    cases.check("web: poweroff ends the guest, its launcher exits 0",
                ended is not None and "powered off (exit status 0)" in ended,
                f"/var/log/lgbox/web.log: {log(box, 'web')!r}")
    # the image is mostly zeros, which grep would read as one huge line
    status, _ = box.run(f"tr -d '\\000' <{image('web')} | grep -q {wrote}", timeout=180)
    cases.check("web: data written and synced in the guest is in the host's image",
                wrote is not None and status == 0,
                f"guest wrote {wrote} into /data/token, not found in {image('web')}")

    check_orderly_stops(cases, box)
    check_ignored_power_button(cases, box)
    _, out = box.run("lgbox list --json")
    running = [g["name"] for g in json.loads(out) if g["state"] != "stopped"]
    freed = free_kib(box) - free
    # counted so, what comes back is about 105% of the launchers' RSS in every run (their
    # page tables, lg.ko's shadow tables and pin array beside it), so guest pages kept
    # past the guest's end (a leaked pin, say) fail the test from a tenth of them on
    cases.check("the guests' memory comes back to the host",
                not running and guests_kib > 0 and freed >= guests_kib * 0.9,
                f"launchers held {guests_kib} KiB, free memory (MemFree and the per-CPU "
                f"lists, caches dropped) rose by {freed} KiB after they ended; not stopped: "
                f"{running!r}")
    # nothing else in the appliance pins pages for longer than a system call
    pins, said = outstanding_pins(box)
    cases.check("every page pinned for the guests is unpinned once they are gone", pins == 0,
                f"/proc/vmstat: {said!r}")
    _, dmesg = box.run("dmesg | grep -e WARNING -e BUG -e Oops -e 'general protection' || true")
    cases.check("host log has no WARN/BUG/oops", dmesg.strip() == "", dmesg)
    status, out = box.run("rmmod lg")
    cases.check("lg.ko unloads once the guests are gone", status == 0, out)


def main():
    cases = Cases()
    if not os.path.exists(os.path.join(OUT, "images", "host-initramfs.cpio.gz")):
        cases.xfail("guests", f"no appliance images in {OUT}/images (run make first)")
        cases.finish()
    fixed = read_config(os.path.join(OUT, ".config")).get("CONFIG_ROOTFS_FIXED_GUESTS", "")
    if set(fixed.split()) != set(GUESTS):
        cases.xfail("guests", f"this build's fixed guests are {fixed!r}, not web and db "
                    "(build with make qemu-x86_64_defconfig)")
        cases.finish()
    console_log = os.path.join(OUT, "tests", "guests.console.log")
    try:
        with Appliance(out=OUT, log_path=console_log, qemu_args=("-m", "1024"),
                       fixed_guests=True) as box:
            run(cases, box)
    except ApplianceError as err:
        cases.check("guests", False, str(err))
    cases.finish()


if __name__ == "__main__":
    main()
