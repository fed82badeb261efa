#!/usr/bin/env python3
"""console-peer: a stand-in for the console socket that `lgbox launch` serves.

Used by tests/console-attach.sh until launch can serve a real guest console.
It speaks the same protocol (common.md): unix stream socket, replay first,
then raw bytes both ways, several attachers at once.

  console-peer.py SOCKET LOG

- on every connection it first sends a replay banner;
- every byte received is appended to LOG (so a test can prove input arrived,
  byte for byte, including control characters);
- every complete input line (ended by CR or LF) is answered with
  "echo: LINE" so the test sees a round trip on the terminal;
- the line "quit" makes it close that connection (the guest went away).
"""
import os
import selectors
import socket
import sys

BANNER = b"REPLAY: console-peer banner\r\n"


def main():
    path, log_path = sys.argv[1], sys.argv[2]
    if os.path.exists(path):
        os.unlink(path)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path + ".tmp")
    server.listen(8)
    # Appear atomically so a test waiting for the path never sees a dead socket.
    os.rename(path + ".tmp", path)
    log = open(log_path, "ab", buffering=0)
    sel = selectors.DefaultSelector()
    sel.register(server, selectors.EVENT_READ)
    lines = {}
    while True:
        for key, _ in sel.select():
            if key.fileobj is server:
                conn, _ = server.accept()
                conn.sendall(BANNER)
                sel.register(conn, selectors.EVENT_READ)
                lines[conn] = b""
                continue
            conn = key.fileobj
            data = conn.recv(4096)
            if not data:
                sel.unregister(conn)
                conn.close()
                continue
            log.write(data)
            lines[conn] += data.replace(b"\r", b"\n")
            while b"\n" in lines[conn]:
                line, lines[conn] = lines[conn].split(b"\n", 1)
                if line == b"quit":
                    conn.sendall(b"bye\r\n")
                    sel.unregister(conn)
                    conn.close()
                    break
                if line:
                    conn.sendall(b"echo: " + line + b"\r\n")


if __name__ == "__main__":
    main()
