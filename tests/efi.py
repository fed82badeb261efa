#!/usr/bin/env python3
"""efi.py: the pc-x86_64-efi disk image booted as a PC boots it, three times on one disk.

The board is built in $O/pc (tests/lib/pcboard.py). Its run script starts QEMU (TCG) with
Debian's OVMF firmware, a q35 machine, the image on the SATA (AHCI) controller and an
e1000e NIC; OVMF starts systemd-boot from the EFI system partition, whose default entry
starts the appliance. Cases:

  first boot: the kernel has the boot entry's command line; the empty data partition is
  formatted and mounted; the fixed guests web and db run and formatted their disks; wget
  on the host gets web's notes page, built from what web fetched from db (a note the host
  stored in db itself shows on it); a note posted to web is stored in db's file; web logs
  the requests on its disk. Then reboot (orderly: guests stopped, data partition unmounted).

  second boot: the data partition needs no repair; the page still shows both notes; the
  guests' console logs of the first boot are kept. A third note is posted, then the power
  is cut (QEMU killed).

  third boot: init says the data partition was not unmounted cleanly and e2fsck replays
  its journal, db's init does the same with its disk, and the page shows all three notes.
"""

import os
import secrets
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from appliance import Appliance, ApplianceError, copy_disk, read_config  # noqa: E402
from cases import Cases  # noqa: E402
from guestconsole import in_guest, wait_ready  # noqa: E402
import pcboard  # noqa: E402

OUT = os.path.abspath(os.environ.get("O", "output"))
LOGS = os.path.join(OUT, "tests")
WEB, DB = "10.0.2.11", "10.0.2.12:7000"
NOTES = f"http://{WEB}/cgi-bin/notes"
# OVMF, systemd-boot and a kernel with more drivers take longer to boot under TCG
BOOT_TIMEOUT = 600


def boot(pc, disk, name):
    return Appliance(out=pc, disk=disk, fixed_guests=True, boot_timeout=BOOT_TIMEOUT,
                     qemu_args=("-m", "1024"), log_path=os.path.join(LOGS, f"efi-{name}.log"))


def console(box):
    return box.console.decode(errors="replace").replace("\r", "")


def init_lines(box):
    return "\n".join(line for line in console(box).splitlines() if "lgbox init:" in line)


def notes_page(box, timeout=120):
    """web's notes page as the host's wget gets it, retried while the services start;
    None if it never came."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, page = box.run(f"wget -q -T 20 -O - {NOTES}", timeout=60)
        if status == 0 and "kept by db" in page:
            return page
        time.sleep(5)
    return None


def post_note(box, text):
    status, page = box.run(f"wget -q -T 20 -O - --post-data 'text={text}' {NOTES}", timeout=60)
    return page if status == 0 else None


def guests_ready(cases, box, boot_name):
    ready = {name: wait_ready(box, name, timeout=BOOT_TIMEOUT) for name in ("web", "db")}
    cases.check(f"{boot_name}: web and db run", all(ready.values()),
                f"ready: {ready}; lgbox list: {box.run('lgbox list')[1]!r}")
    return all(ready.values())


def check_hostile_clients(cases, box, notes):
    """What a compromised web could send db, and what anyone could send web: refused, and
    both keep serving."""
    db = DB.replace(":", " ")
    box.run("head -c 700 /dev/zero | tr '\\000' a >/tmp/long && "
            "head -c 8192 /dev/zero | tr '\\000' a | sed 's/^/text=/' >/tmp/big")
    _, out = box.run(f"head -c 65536 /dev/urandom | timeout 30 nc {db} | head -c 200; echo; "
                     f"printf 'PUT ../../etc/x y\\nPUT k %s\\n' \"$(cat /tmp/long)\" | "
                     f"timeout 30 nc {db}; printf 'GET note-0-host\\n' | timeout 30 nc {db}",
                     timeout=120)
    stray = in_guest(box, "db", "ls /data/kv | grep -v '^note-'; ls /etc/x 2>&1")
    cases.check("db refuses a compromised client's requests and keeps serving",
                "ERR usage: PUT KEY VALUE" in out and "ERR line too long" in out and
                f"OK {notes[0]}" in out and stray is not None and "No such file" in stray,
                f"db answered {out!r}; stray files: {stray!r}")
    _, out = box.run(f"wget -q -T 20 -O - --post-file /tmp/big {NOTES} 2>&1; echo; "
                     f"wget -q -T 20 -O - http://{WEB}/../../etc/passwd 2>&1", timeout=120)
    page = notes_page(box)
    cases.check("web refuses an oversized note and paths outside its content, keeps serving",
                "root:" not in out and page is not None and f"<li>{notes[0]}</li>" in page and
                "a" * 500 not in page, f"answers: {out[-500:]!r}; page after: {page!r}")


def first_boot(cases, pc, disk, notes):
    cmdline = read_config(os.path.join(pc, ".config")).get("CONFIG_BOARD_CMDLINE")
    with boot(pc, disk, "first") as box:
        _, words = box.run("cat /proc/cmdline")
        # systemd-boot may name the initrd it passed (initrd=\lgbox\initramfs)
        kept = [w for w in words.split() if not w.startswith("initrd=")]
        cases.check("OVMF and systemd-boot start the appliance with the entry's command line",
                    kept == ["console=tty0", "console=ttyS0,115200", *cmdline.split()],
                    f"/proc/cmdline: {words!r}")
        _, data = box.run("awk '$2 == \"/var/lib/lgbox\" { print $1, $3 }' /proc/mounts")
        cases.check("first boot: the data partition on the SATA disk is formatted and mounted",
                    "/dev/sda2 is empty: making an ext4 file system" in console(box) and
                    data.split() == ["/dev/sda2", "ext4"], f"{data!r}\n{init_lines(box)}")
        if not guests_ready(cases, box, "first boot"):
            return
        disks = {name: in_guest(box, name, "grep ' /data ' /proc/mounts") for name in ("web", "db")}
        cases.check("web and db formatted their empty disks and mounted them on /data",
                    all(d is not None and "/dev/vda /data ext4 " in d for d in disks.values()) and
                    all("/dev/vda is empty: making an ext4 file system" in
                        box.run(f"cat /var/log/lgbox/console/{name}.log")[1]
                        for name in ("web", "db")), f"{disks}")
        # a note put into db by the host itself shows on web's page: web fetched it from db
        box.run(f"printf 'PUT note-0-host {notes[0]}\\n' | nc {DB.replace(':', ' ')}")
        page = notes_page(box)
        cases.check("wget on the host gets web's page, built from what web fetched from db",
                    page is not None and f"<li>{notes[0]}</li>" in page, f"page: {page!r}")
        page = post_note(box, notes[1])
        stored = in_guest(box, "db", "cat /data/kv/note-*")
        cases.check("a note posted to web is on the page and in db's store on its disk",
                    page is not None and f"<li>{notes[1]}</li>" in page and
                    stored is not None and notes[1] in stored,
                    f"page: {page!r}; db's store: {stored!r}")
        check_hostile_clients(cases, box, notes)
        logged = in_guest(box, "web", "cat /data/log/web/current")
        cases.check("web logs the requests on its disk",
                    logged is not None and "url:/cgi-bin/notes" in logged, f"log: {logged!r}")
        cases.check("first boot: reboot stops the guests and unmounts the data partition",
                    box.shut_down("reboot", timeout=180), f"QEMU still runs:\n{box.tail()}")


def second_boot(cases, pc, disk, notes):
    with boot(pc, disk, "second") as box:
        cases.check("second boot: the data partition needs no repair",
                    "/dev/sda2 was not unmounted cleanly" not in console(box) and
                    "data partition /dev/sda2 mounted" in console(box), init_lines(box))
        if not guests_ready(cases, box, "second boot"):
            return
        page = notes_page(box)
        cases.check("the notes survive the appliance's reboot (db's disk on the data partition)",
                    page is not None and all(f"<li>{n}</li>" in page for n in notes[:2]),
                    f"page: {page!r}")
        _, logs = box.run("grep -c 'lgbox guest ready' /var/log/lgbox/console/web.log")
        cases.check("the guests' console logs are kept across the reboot",
                    logs.strip().isdigit() and int(logs) >= 2,
                    f"'lgbox guest ready' lines in web's console log: {logs!r}")
        page = post_note(box, notes[2])
        cases.check("a third note is stored", page is not None and f"<li>{notes[2]}</li>" in page,
                    f"page: {page!r}")
        box.power_cut()


def third_boot(cases, pc, disk, notes):
    with boot(pc, disk, "third") as box:
        cases.check("after the power cut: the data partition's journal is replayed",
                    "/dev/sda2 was not unmounted cleanly" in console(box) and
                    "e2fsck -p /dev/sda2: lgbox-data: recovering journal" in console(box) and
                    "data partition /dev/sda2 mounted" in console(box), init_lines(box))
        if not guests_ready(cases, box, "third boot"):
            return
        # db's console log from its kernel's last "Linux version" line on: this boot's
        _, said = box.run("awk '/Linux version/ { n = 0 } { line[++n] = $0 } "
                          "END { for (i = 1; i <= n; i++) print line[i] }' "
                          "/var/log/lgbox/console/db.log | grep 'lgbox init:'")
        cases.check("db's init finds its disk unclean too and replays its journal",
                    "/dev/vda was not unmounted cleanly" in said and
                    "e2fsck -p /dev/vda: db: recovering journal" in said, f"db's init: {said!r}")
        page = notes_page(box)
        cases.check("every note db synced before the power cut is kept",
                    page is not None and all(f"<li>{n}</li>" in page for n in notes),
                    f"page: {page!r}")


def main():
    cases = Cases()
    pc, error = pcboard.build(OUT)
    if not pc:
        cases.check("build pc-x86_64-efi", False, error)
        cases.finish()
    notes = [f"note{i}-{secrets.token_hex(4)}" for i in range(3)]
    with tempfile.TemporaryDirectory(prefix="lgbox-efi.") as work:
        disk = os.path.join(work, "disk.img")
        copy_disk(os.path.join(pc, "images", "disk.img"), disk)
        try:
            first_boot(cases, pc, disk, notes)
            second_boot(cases, pc, disk, notes)
            third_boot(cases, pc, disk, notes)
        except ApplianceError as err:
            cases.check("efi", False, str(err))
    cases.finish()


if __name__ == "__main__":
    main()
