#!/usr/bin/env python3
"""System test of `lgbox block-export` against real NBD clients.

QEMU's own NBD client (qemu-img, qemu-io) and libnbd's tools (nbdinfo,
nbdcopy) read and write an exported image over TCP and a unix socket; every
result is checked against the image file on the host.  A raw client written
here sends what well-behaved clients never do (garbage, oversized requests,
writes past the end, writes to a read-only export) to show that such a
client loses its connection, nobody else does, and the image keeps its size.
Finally a QEMU VM (TCG) with vhost-user-blk-pci boots the appliance kernel
($O/images/bzImage, or $BZIMAGE) with a generated busybox initramfs that
reads, writes and discards the exported disk, twice, to show that data,
queues, serial and reconnection work with a real virtio-blk driver.

Prints PASS/FAIL/XFAIL lines (see tests/run) and exits 1 if a case failed.
"""
import hashlib
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

IMAGE_SIZE = 64 << 20
MiB = 1 << 20

# NBD wire constants (protocol specification)
NBD_OPTS_MAGIC = 0x49484156454F5054
NBD_REP_MAGIC = 0x3E889045565A9
NBD_REQUEST_MAGIC = 0x25609513
NBD_REPLY_MAGIC = 0x67446698
NBD_OPT_GO = 7
NBD_REP_ACK = 1
NBD_CMD_READ, NBD_CMD_WRITE, NBD_CMD_FLUSH = 0, 1, 3
NBD_EPERM, NBD_ENOSPC = 1, 28


class RawNbdClient:
    """Minimal NBD client that can also misbehave on purpose."""

    def __init__(self, unix_path, name=b"disk"):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(10)
        self.sock.connect(unix_path)
        greeting = self.recv(18)
        assert greeting[:8] == b"NBDMAGIC", greeting
        self.sock.sendall(struct.pack(">I", 3))  # fixed newstyle, no zeroes
        data = struct.pack(">I", len(name)) + name + struct.pack(">H", 0)
        self.sock.sendall(struct.pack(">QII", NBD_OPTS_MAGIC, NBD_OPT_GO, len(data)) + data)
        while True:
            magic, _opt, rtype, length = struct.unpack(">QIII", self.recv(20))
            assert magic == NBD_REP_MAGIC
            payload = self.recv(length)
            if rtype == NBD_REP_ACK:
                break
            if rtype & 0x80000000:
                raise RuntimeError("NBD_OPT_GO refused: 0x%x" % rtype)
            if struct.unpack(">H", payload[:2])[0] == 0:  # NBD_INFO_EXPORT
                self.size, self.flags = struct.unpack(">QH", payload[2:12])

    def recv(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionResetError("server closed the connection")
            buf += chunk
        return buf

    def request(self, cmd, offset, length, payload=b"", cookie=1):
        """Sends one request; returns (error, data)."""
        self.sock.sendall(struct.pack(">IHHQQI", NBD_REQUEST_MAGIC, 0, cmd, cookie,
                                      offset, length) + payload)
        magic, error, got_cookie = struct.unpack(">IIQ", self.recv(16))
        assert magic == NBD_REPLY_MAGIC and got_cookie == cookie
        data = self.recv(length) if cmd == NBD_CMD_READ and error == 0 else b""
        return error, data

    def is_closed_by_server(self):
        """True if the server hung up (EOF or reset); False if nothing came for 10 s."""
        try:
            return self.sock.recv(1) == b""
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False

    def close(self):
        self.sock.close()


# ---- helpers ----

class Results:
    """Collects PASS/FAIL/XFAIL lines in the format tests/run expects."""

    def __init__(self):
        self.failed = 0

    def check(self, name, ok, why):
        if ok:
            print("PASS: " + name, flush=True)
        else:
            self.fail(name, why)

    def fail(self, name, why):
        self.failed += 1
        print("FAIL: %s: %s" % (name, " ".join(str(why).split())[:600]), flush=True)

    def xfail(self, name, reason):
        print("XFAIL: %s: %s" % (name, reason), flush=True)

    def exit_code(self):
        return 1 if self.failed else 0


def require_tools(tools):
    """Stops with a FAIL line naming the first missing tool of {tool: package}; make test
    installs them all with support/inputs.sh (group test)."""
    for tool, pkg in sorted(tools.items()):
        if not shutil.which(tool):
            print("FAIL: setup: %s is missing: run make packages-test as root (or apt-get "
                  "install %s; support/inputs.sh should list it)" % (tool, pkg), flush=True)
            sys.exit(1)


def lgbox_binary(tmp):
    """$LGBOX, else the top-level build's $O/build/lgbox/lgbox, else a block-export-only
    lgbox built here with make -C lgbox (so the test does not depend on other applets)."""
    path = os.environ.get("LGBOX") or os.path.join(os.environ.get("O", "output"),
                                                   "build", "lgbox", "lgbox")
    if os.access(path, os.X_OK):
        return os.path.abspath(path)
    build = os.path.join(tmp, "lgbox-build")
    config = os.path.join(tmp, "lgbox.config")
    with open(config, "w") as f:
        f.write("CONFIG_LGBOX_BLOCK_EXPORT=y\n")
    top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    made = subprocess.run(["make", "-s", "-C", os.path.join(top, "lgbox"), "O=" + build,
                           "CONFIG=" + config], capture_output=True, text=True)
    if made.returncode != 0:
        raise RuntimeError("cannot build lgbox (make -C lgbox): " + made.stderr[-800:])
    return os.path.join(build, "lgbox")


def free_tcp_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class BlockExport:
    """One `lgbox block-export --daemon` with its pid file and log in a temp dir."""

    def __init__(self, lgbox, image, tmp, tag, args):
        self.argv = [lgbox, "block-export", "--daemon"] + args + [image]
        self.pidfile = os.path.join(tmp, tag + ".pid")
        self.log = os.path.join(tmp, tag + ".log")
        self.argv[3:3] = ["--pidfile", self.pidfile, "--log", self.log]
        self.pid = None

    def start(self):
        subprocess.run(self.argv, check=True, timeout=30)
        with open(self.pidfile) as f:
            self.pid = int(f.read())

    def log_text(self):
        with open(self.log) as f:
            return f.read()

    def stop(self):
        """SIGTERM, then waits; returns the exit status, or None if it had to be killed."""
        if self.pid is None:
            return None
        pid, self.pid = self.pid, None
        os.kill(pid, signal.SIGTERM)
        for _ in range(100):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return 0 if not os.path.exists(self.pidfile) else 1
            time.sleep(0.05)
        os.kill(pid, signal.SIGKILL)
        return None


def run(*argv, check=True):
    # errors="replace": nbdinfo describes the export's first bytes (libmagic's
    # "content:" line) as they are, and a disk's first bytes need not be UTF-8
    return subprocess.run(argv, capture_output=True, text=True, errors="replace",
                          timeout=120, check=check)


def host_range(path, offset, length):
    with open(path, "rb") as f:
        f.seek(offset)
        return f.read(length)


def main():
    # busybox-static's /bin/busybox: the VM's initramfs needs a static busybox
    require_tools({"qemu-img": "qemu-utils", "qemu-io": "qemu-utils",
                   "nbdinfo": "libnbd-bin", "nbdcopy": "libnbd-bin", "cpio": "cpio",
                   "qemu-system-x86_64": "qemu-system-x86", "busybox": "busybox-static"})
    res = Results()
    tmp = tempfile.mkdtemp(prefix="lgbox-block-export.")
    image = os.path.join(tmp, "disk.img")
    with open(image, "wb") as f:
        f.write(os.urandom(IMAGE_SIZE))
    port = free_tcp_port()
    sock = os.path.join(tmp, "nbd.sock")
    tcp_url = "nbd://127.0.0.1:%d/disk" % port
    unix_url = "nbd+unix:///disk?socket=" + sock
    ro_sock = os.path.join(tmp, "ro.sock")
    daemon = ro_daemon = None
    try:
        lgbox = lgbox_binary(tmp)
        daemon = BlockExport(lgbox, image, tmp, "rw",
                             ["--nbd-tcp", str(port), "--nbd-unix", sock, "--name", "disk"])
        daemon.start()

        out = run("qemu-img", "info", "--output=json", tcp_url).stdout
        res.check("qemu-img info sees the image size", '"virtual-size": %d' % IMAGE_SIZE in out, out)

        copy = os.path.join(tmp, "copy.img")
        run("qemu-img", "convert", "-f", "raw", "-O", "raw", tcp_url, copy)
        res.check("qemu-img convert reads the image over TCP",
                  sha256_of(copy) == sha256_of(image), "checksums differ")

        digest = hashlib.sha256(subprocess.run(["nbdcopy", unix_url, "-"], capture_output=True,
                                               check=True, timeout=120).stdout).hexdigest()
        res.check("nbdcopy reads the image over a unix socket", digest == sha256_of(image),
                  "checksums differ")

        run("qemu-io", "-f", "raw", "-c", "write -P 0xab 1M 1M", unix_url)
        res.check("qemu-io write -P 0xab lands in the file",
                  host_range(image, MiB, MiB) == b"\xab" * MiB, "file bytes differ")

        new = os.path.join(tmp, "new.img")
        with open(new, "wb") as f:
            f.write(os.urandom(IMAGE_SIZE))
        run("qemu-img", "convert", "-n", "-f", "raw", "-O", "raw", new, tcp_url)
        res.check("qemu-img convert writes a whole image over TCP",
                  sha256_of(image) == sha256_of(new), "checksums differ")

        run("qemu-io", "-f", "raw", "-c", "discard 0 1M", "-c", "write -z 4M 1M",
            "-c", "flush", tcp_url)
        res.check("discard and write-zeroes read back as zeroes",
                  host_range(image, 0, MiB) == bytes(MiB) and
                  host_range(image, 4 * MiB, MiB) == bytes(MiB), "ranges not zero")

        out = run("nbdinfo", "--list", "nbd://127.0.0.1:%d" % port).stdout
        res.check("nbdinfo --list names the export", 'export="disk"' in out, out)
        out = run("nbdinfo", unix_url).stdout
        res.check("nbdinfo shows flush, trim and multi-conn",
                  all(k + ": true" in out for k in ("can_flush", "can_trim", "can_multi_conn")), out)

        bad = run("qemu-img", "info", "nbd://127.0.0.1:%d/nosuch" % port, check=False)
        res.check("an unknown export name is refused", bad.returncode != 0, bad.stdout)

        check_misbehaving_clients(res, daemon, sock, unix_url, image)

        ro_daemon = BlockExport(lgbox, image, tmp, "ro",
                                ["--read-only", "--nbd-unix", ro_sock, "--name", "disk"])
        ro_daemon.start()
        check_read_only(res, ro_sock, image)

        res.check("the image never changed size", os.path.getsize(image) == IMAGE_SIZE,
                  "size is now %d" % os.path.getsize(image))

        check_vhost_user(res, lgbox, tmp)

        code = daemon.stop()
        res.check("SIGTERM stops the daemon cleanly and removes its sockets and pid file",
                  code == 0 and not os.path.exists(sock) and not os.path.exists(daemon.pidfile),
                  "exit %s, socket left: %s" % (code, os.path.exists(sock)))
    except Exception as e:  # a broken step must show up as a failure, not a traceback only
        res.fail("block-export NBD test ran to the end", repr(e))
    finally:
        for d in (daemon, ro_daemon):
            if d:
                d.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return res.exit_code()


def check_misbehaving_clients(res, daemon, sock, unix_url, image):
    good = RawNbdClient(sock)

    garbage = RawNbdClient(sock)
    garbage.sock.sendall(b"this is not an NBD request at all")
    res.check("protocol garbage closes that connection", garbage.is_closed_by_server(),
              "connection still open")
    err, data = good.request(NBD_CMD_READ, 0, 4096)
    res.check("another client keeps working after the garbage",
              err == 0 and data == host_range(image, 0, 4096), "error %d" % err)

    big = RawNbdClient(sock)
    big.sock.sendall(struct.pack(">IHHQQI", NBD_REQUEST_MAGIC, 0, NBD_CMD_WRITE, 7, 0, 64 << 20))
    res.check("an oversized write (64 MiB) closes that connection", big.is_closed_by_server(),
              "connection still open")
    res.check("the daemon logs why it closed the connections",
              "bad request magic" in daemon.log_text() and "32 MiB" in daemon.log_text(),
              daemon.log_text())

    size = good.size
    before = host_range(image, size - 512, 512)
    err, _ = good.request(NBD_CMD_WRITE, size - 512, 4096, b"\xee" * 4096)
    res.check("a write past the end gets ENOSPC and writes nothing",
              err == NBD_ENOSPC and host_range(image, size - 512, 512) == before,
              "error %d" % err)
    err, _ = good.request(NBD_CMD_FLUSH, 0, 0)
    res.check("the connection stays usable after an out-of-range request", err == 0,
              "flush error %d" % err)
    out = run("qemu-io", "-f", "raw", "-c", "read 0 64k", unix_url).stdout
    res.check("qemu-io still connects after the misbehaving clients", "read 65536/65536" in out, out)
    for c in (good, garbage, big):
        c.close()


def check_read_only(res, ro_sock, image):
    url = "nbd+unix:///disk?socket=" + ro_sock
    before = sha256_of(image)
    w = run("qemu-io", "-f", "raw", "-c", "write -P 0x11 0 64k", url, check=False)
    res.check("qemu-io cannot write to a read-only export",
              w.returncode != 0 or "write failed" in w.stdout + w.stderr, w.stdout + w.stderr)
    raw = RawNbdClient(ro_sock)
    err, _ = raw.request(NBD_CMD_WRITE, 0, 4096, b"\x22" * 4096)
    res.check("a raw write to a read-only export gets EPERM", err == NBD_EPERM, "error %d" % err)
    err, data = raw.request(NBD_CMD_READ, 0, 4096)
    res.check("a read-only export still serves reads",
              err == 0 and data == host_range(image, 0, 4096), "error %d" % err)
    raw.close()
    res.check("the read-only export left the file unchanged", sha256_of(image) == before,
              "checksum changed")


# ---- vhost-user-blk with a real VM ----

VM_IMAGE_SIZE = 16 << 20
VM_PATTERN_OFFSET = 1 << 20
VM_DISCARD_OFFSET, VM_DISCARD_LEN = 4 << 20, 1 << 20
VM_SERIAL = "lgbox-test"

GUEST_INIT = """#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t devtmpfs dev /dev
mount -t proc proc /proc
mount -t sysfs sys /sys
echo "GUEST-CPUS $(grep -c ^processor /proc/cpuinfo)"
echo "GUEST-FEATURES $(cat /sys/block/vda/device/features)"
echo "GUEST-QUEUES $(ls /sys/block/vda/mq | wc -l)"
echo "GUEST-SERIAL $(cat /sys/block/vda/serial)"
echo "GUEST-READ $(sha256sum /dev/vda)"
if [ "$1" = write ]; then
    dd if=/pattern of=/dev/vda bs=65536 seek=%d conv=fsync 2>/dev/null && echo GUEST-WRITE-OK
    blkdiscard -o %d -l %d /dev/vda && echo GUEST-DISCARD-OK
fi
sync
echo GUEST-DONE
reboot -f
""" % (VM_PATTERN_OFFSET // 65536, VM_DISCARD_OFFSET, VM_DISCARD_LEN)


def kernel_image():
    path = os.environ.get("BZIMAGE") or os.path.join(os.environ.get("O", "output"), "images", "bzImage")
    return path if os.path.exists(path) else None


def make_initramfs(tmp, pattern):
    """A cpio (newc) of static busybox, the init script and the pattern to write."""
    root = os.path.join(tmp, "initramfs")
    os.makedirs(os.path.join(root, "bin"))
    for d in ("dev", "proc", "sys"):
        os.makedirs(os.path.join(root, d))
    shutil.copy("/bin/busybox", os.path.join(root, "bin", "busybox"))
    with open(os.path.join(root, "init"), "w") as f:
        f.write(GUEST_INIT)
    os.chmod(os.path.join(root, "init"), 0o755)
    with open(os.path.join(root, "pattern"), "wb") as f:
        f.write(pattern)
    out = os.path.join(tmp, "initramfs.cpio")
    names = subprocess.run(["find", "."], cwd=root, capture_output=True, check=True).stdout
    with open(out, "wb") as f:
        subprocess.run(["cpio", "-o", "-H", "newc", "--quiet"], cwd=root, input=names,
                       stdout=f, check=True)
    return out


def boot_vm(kernel, initramfs, vhost_sock, mode):
    """Boots QEMU (TCG) on the vhost-user disk; returns the guest's GUEST-* lines as a dict."""
    # -smp 2: Linux uses at most one virtio-blk queue per CPU
    argv = ["qemu-system-x86_64", "-accel", "tcg", "-m", "256", "-smp", "2", "-nodefaults", "-no-reboot",
            "-display", "none", "-serial", "stdio",
            "-object", "memory-backend-memfd,id=mem,size=256M,share=on",
            "-numa", "node,memdev=mem",
            "-chardev", "socket,id=c0,path=" + vhost_sock,
            "-device", "vhost-user-blk-pci,chardev=c0,num-queues=2",
            "-kernel", kernel, "-initrd", initramfs,
            # loglevel=4: no kernel info lines in the middle of the GUEST-* lines
            "-append", "console=ttyS0 panic=-1 loglevel=4 rdinit=/init -- " + mode]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=180).stdout
    lines = {}
    for line in out.splitlines():
        if line.startswith("GUEST-"):
            key, _, value = line.strip().partition(" ")
            lines[key] = value
    lines["console"] = out[-1500:]
    return lines


VHOST_USER_GET_FEATURES, VHOST_USER_SET_MEM_TABLE = 1, 5
VHOST_USER_VERSION, VHOST_USER_REPLY = 1, 4


def vhost_user_exchange(path, request, flags, payload=b"", size=None):
    """Sends one vhost-user message (no fds); returns the reply bytes, b"" if the daemon hung up."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(10)
        s.connect(path)
        s.sendall(struct.pack("<III", request, flags, len(payload) if size is None else size)
                  + payload)
        try:
            return s.recv(64)
        except ConnectionResetError:
            return b""


def check_vhost_user_protocol(res, daemon, sock):
    """Malformed messages cost the sender its connection; the socket keeps serving."""
    reply = vhost_user_exchange(sock, VHOST_USER_GET_FEATURES, 2)
    res.check("vhost-user: a message of an unknown protocol version closes the connection",
              reply == b"", repr(reply))
    reply = vhost_user_exchange(sock, VHOST_USER_GET_FEATURES, VHOST_USER_VERSION, size=1 << 20)
    res.check("vhost-user: an oversized message closes the connection", reply == b"", repr(reply))
    table = struct.pack("<II", 1, 0) + struct.pack("<QQQQ", 0, 1 << 20, 0x7f0000000000, 0)
    reply = vhost_user_exchange(sock, VHOST_USER_SET_MEM_TABLE, VHOST_USER_VERSION, table)
    res.check("vhost-user: a memory table without its fds closes the connection",
              reply == b"", repr(reply))
    res.check("vhost-user: the daemon logs why it closed those connections",
              "bad message" in daemon.log_text() and "1 regions and 0 fds" in daemon.log_text(),
              daemon.log_text())
    reply = vhost_user_exchange(sock, VHOST_USER_GET_FEATURES, VHOST_USER_VERSION)
    ok = len(reply) == 20 and struct.unpack("<III", reply[:12]) == (
        VHOST_USER_GET_FEATURES, VHOST_USER_VERSION | VHOST_USER_REPLY, 8)
    features = struct.unpack("<Q", reply[12:])[0] if ok else 0
    res.check("vhost-user: the next frontend gets its features (VERSION_1, PROTOCOL_FEATURES)",
              ok and features & (1 << 32) and features & (1 << 30), repr(reply))


def check_vhost_user(res, lgbox, tmp):
    image = os.path.join(tmp, "vm.img")
    with open(image, "wb") as f:
        f.write(os.urandom(VM_IMAGE_SIZE))
    vhost_sock = os.path.join(tmp, "vhost.sock")
    daemon = BlockExport(lgbox, image, tmp, "vhost",
                         ["--vhost-user", vhost_sock, "--serial", VM_SERIAL])
    try:
        daemon.start()
        check_vhost_user_protocol(res, daemon, vhost_sock)
        kernel = kernel_image()
        if kernel:
            check_vhost_user_vm(res, kernel, image, vhost_sock, tmp)
        else:
            res.xfail("a VM reads and writes the disk over vhost-user-blk",
                      "no appliance kernel at $O/images/bzImage yet (build it, or set BZIMAGE=)")
    finally:
        daemon.stop()


def check_vhost_user_vm(res, kernel, image, vhost_sock, tmp):
    pattern = os.urandom(256 << 10)
    initramfs = make_initramfs(tmp, pattern)
    before = sha256_of(image)
    g = boot_vm(kernel, initramfs, vhost_sock, "write")
    res.check("the VM's virtio-blk driver reads the image (checksums match)",
              g.get("GUEST-READ", "").split(" ")[0] == before, g["console"])
    features = g.get("GUEST-FEATURES", "")
    res.check("the VM negotiates multi-queue (VIRTIO_BLK_F_MQ)",
              len(features) > 12 and features[12] == "1", features)
    if g.get("GUEST-CPUS") == "1":
        # Linux gives virtio-blk at most one queue per CPU.
        res.xfail("the VM uses 2 queues", "the guest kernel sees 1 CPU (no ACPI in the "
                  "appliance kernel config), so Linux opens only one queue")
    else:
        res.check("the VM uses 2 queues", g.get("GUEST-QUEUES") == "2", g.get("GUEST-QUEUES"))
    res.check("the VM reads the serial through GET_ID", g.get("GUEST-SERIAL") == VM_SERIAL,
              g.get("GUEST-SERIAL"))
    res.check("the VM's write reaches the file",
              "GUEST-WRITE-OK" in g and
              host_range(image, VM_PATTERN_OFFSET, len(pattern)) == pattern, g["console"])
    res.check("the VM's discard reads back as zeroes on the host",
              "GUEST-DISCARD-OK" in g and
              host_range(image, VM_DISCARD_OFFSET, VM_DISCARD_LEN) == bytes(VM_DISCARD_LEN),
              g["console"])
    after = sha256_of(image)
    g = boot_vm(kernel, initramfs, vhost_sock, "read")
    res.check("a second VM reconnects to the same daemon and reads the new contents",
              g.get("GUEST-READ", "").split(" ")[0] == after, g["console"])
    res.check("the VM image never changed size", os.path.getsize(image) == VM_IMAGE_SIZE,
              "size is now %d" % os.path.getsize(image))


def exit_on_signal(signum, _frame):
    """Turns SIGTERM/SIGINT into SystemExit so the finally blocks stop the daemons."""
    sys.exit(128 + signum)


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, exit_on_signal)
    signal.signal(signal.SIGINT, exit_on_signal)
    sys.exit(main())
