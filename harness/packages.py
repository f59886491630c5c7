"""The Debian packages of a root tree, read from its dpkg status file: which
of them a smaller root can go without (images/rootfs-base.sh's lean root).

    python3 -m harness.packages removable STATUS PACKAGE...

prints, one a line, the installed packages that neither the essential set nor
PACKAGE... needs, through Depends and Pre-Depends: what mmdebstrap would not
have installed had it been asked for PACKAGE... alone (it installs no
Recommends). dpkg --purge of that list then refuses if anything left still
depends on one of them, so a wrong answer here fails the build."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def read_status(path: Path) -> dict[str, dict[str, str]]:
    """Each installed package's fields (continuation lines dropped), by name."""
    installed: dict[str, dict[str, str]] = {}
    for paragraph in path.read_text().split("\n\n"):
        fields: dict[str, str] = {}
        for line in paragraph.splitlines():
            if line and not line[0].isspace() and ": " in line:
                name, value = line.split(": ", 1)
                fields[name] = value
        if fields.get("Status", "").endswith(" installed") and "Package" in fields:
            installed[fields["Package"]] = fields
    return installed


def _needs(fields: dict[str, str], installed: dict[str, dict[str, str]],
           provided_by: dict[str, list[str]]) -> list[str]:
    """The installed packages that satisfy a package's Depends and Pre-Depends:
    of alternatives (a | b), the first one installed, by name or by Provides."""
    out = []
    for relation in ("Pre-Depends", "Depends"):
        for clause in fields.get(relation, "").split(","):
            for alternative in clause.split("|"):
                name = alternative.split("(")[0].strip().split(":")[0]
                if name in installed:
                    out.append(name)
                    break
                if provided_by.get(name):
                    out.append(provided_by[name][0])
                    break
    return out


def needed(installed: dict[str, dict[str, str]], wanted: list[str]) -> set[str]:
    """The essential packages, `wanted`, and everything they depend on."""
    provided_by: dict[str, list[str]] = {}
    for name, fields in sorted(installed.items()):
        for provide in fields.get("Provides", "").split(","):
            virtual = provide.split("(")[0].strip()
            if virtual:
                provided_by.setdefault(virtual, []).append(name)
    missing = [w for w in wanted if w not in installed]
    if missing:
        raise ValueError(f"not installed: {' '.join(missing)}")
    todo = [n for n, f in installed.items() if f.get("Essential") == "yes"] + list(wanted)
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(_needs(installed[name], installed, provided_by))
    return seen


def removable(status: Path, wanted: list[str]) -> list[str]:
    installed = read_status(status)
    return sorted(set(installed) - needed(installed, wanted))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m harness.packages",
                                     description="What a root tree's packages can go without.")
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("removable", help="installed packages neither the essential set nor PACKAGE... needs")
    r.add_argument("status", type=Path, help="the tree's var/lib/dpkg/status")
    r.add_argument("packages", nargs="+", metavar="PACKAGE")
    args = parser.parse_args(argv)
    try:
        print("\n".join(removable(args.status, args.packages)))
    except (OSError, ValueError) as e:
        print(f"harness.packages: {args.status}: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
