"""Per-connection relay for QEMU's guestfwd: stdin/stdout <-> 127.0.0.1:PORT.

QEMU runs one relay per guest connection (`guestfwd=...-cmd:`). When the
server closes its side, the relay exits at once so the guest sees the close
too (netcat keeps the guest side open until the guest closes it, which turns a
server's close into a stall). Loopback only.
"""
from __future__ import annotations

import ipaddress
import os
import selectors
import socket
import sys


def main(host: str, port: int) -> int:
    if not ipaddress.ip_address(host).is_loopback:
        print(f"relay: {host} is not a loopback address", file=sys.stderr)
        return 2
    sock = socket.create_connection((host, port), timeout=10)
    sock.settimeout(None)
    sel = selectors.DefaultSelector()
    sel.register(0, selectors.EVENT_READ, "guest")
    sel.register(sock, selectors.EVENT_READ, "server")
    while True:
        for key, _ in sel.select():
            if key.data == "server":
                data = sock.recv(65536)
                if not data:
                    return 0
                os.write(1, data)
            else:
                data = os.read(0, 65536)
                if not data:
                    sel.unregister(0)
                    sock.shutdown(socket.SHUT_WR)
                else:
                    sock.sendall(data)


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1], int(sys.argv[2])))
    except (OSError, IndexError, ValueError) as e:
        print(f"relay: {e}", file=sys.stderr)
        sys.exit(1)
