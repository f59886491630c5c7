"""Run a command as root in a new user namespace with uids and gids 0-65535
mapped to themselves. Files keep their owners, but the kernel refuses the
command capabilities over the host's own file systems: libostree's FIFREEZE
of the file system holding /boot fails with EPERM (it falls back to syncfs)
instead of freezing the build machine's root file system.

usage: userns.py COMMAND [ARG...]
"""
import ctypes
import os
import sys

CLONE_NEWUSER = 0x10000000
RANGE = "0 0 65536\n"


def main() -> int:
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    ready_r, ready_w = os.pipe()
    mapped_r, mapped_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(ready_r)
        os.close(mapped_w)
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.unshare(CLONE_NEWUSER) != 0:
            print(f"userns: unshare: {os.strerror(ctypes.get_errno())}", file=sys.stderr)
            os._exit(126)
        os.write(ready_w, b"1")
        if os.read(mapped_r, 1) != b"1":
            os._exit(126)
        try:
            os.execvp(sys.argv[1], sys.argv[1:])
        except OSError as e:
            print(f"userns: {sys.argv[1]}: {e.strerror}", file=sys.stderr)
            os._exit(127)
    os.close(ready_w)
    os.close(mapped_r)
    ok = os.read(ready_r, 1) == b"1"
    if ok:
        for name in ("uid_map", "gid_map"):
            with open(f"/proc/{pid}/{name}", "w") as f:
                f.write(RANGE)
        os.write(mapped_w, b"1")
    os.close(mapped_w)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


if __name__ == "__main__":
    sys.exit(main())
