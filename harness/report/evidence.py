"""The evidence bundle: everything needed to check a campaign's claims later.

One tar.gz holding the report, the journal, the plan it ran, the digests of
the images it ran on (every file of every built step, with the step's key),
the versions of the host tools, the seeds, the console logs of the failing
trials and a SHA256SUMS over all of it, checkable with `sha256sum -c` once
unpacked or with verify_bundle() as it is.
"""
from __future__ import annotations

import datetime
import hashlib
import io
import json
import logging
import os
import subprocess
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

from .. import HarnessError
from .. import images
from ..campaign.journal import load_journal
from .filehash import regular_files, sha256_of
from .html import label
from ..trial.runlogs import console_logs

log = logging.getLogger(__name__)

SUMS = "SHA256SUMS"
PACKAGES = ("qemu-system-arm", "u-boot-qemu", "gcc", "e2fsprogs", "mmdebstrap", "libostree-1-1", "python3")
# Where the kernel and the firmware the devices booted live among the steps' files.
BOOT_FILES = {"kernel": "kernel/Image", "u-boot": "firmware/u-boot.bin"}


def image_digests() -> dict[str, dict]:
    """step -> {key, files: {path under the step: sha256}} for every built step.
    The files are some GB of images and tens of thousands of small files (the
    root trees, the OSTree repository): filehash.sha256_of hashes them side by side."""
    built = [(step, key) for step in images.steps() if (key := images.built_key(step)) is not None]
    listed = {step.name: regular_files(step.out) for step, _ in built}
    everything = [f for files in listed.values() for f in files]
    log.info("evidence: hashing the files of %d image steps (%d files)", len(built), len(everything))
    sums = sha256_of(everything)
    return {step.name: {"key": key, "files": {str(p.relative_to(step.out)): sums[p] for p, _ in listed[step.name]}}
            for step, key in built}


def tool_versions() -> dict[str, str]:
    versions = {}
    for package in PACKAGES:
        result = subprocess.run(["dpkg-query", "-W", "-f=${Version}", package], capture_output=True, text=True)
        versions[package] = result.stdout.strip() if result.returncode == 0 else "not installed"
    try:
        result = subprocess.run(["qemu-system-aarch64", "--version"], capture_output=True, text=True, timeout=30)
        versions["qemu-system-aarch64 --version"] = result.stdout.splitlines()[0] if result.stdout else "no output"
    except FileNotFoundError:
        versions["qemu-system-aarch64 --version"] = "not installed"
    return versions


@dataclass
class Bundle:
    """Files to pack, by their name inside the bundle's top directory."""
    top: str
    files: dict[str, bytes | Path] = field(default_factory=dict)

    def add(self, name: str, content: bytes | Path) -> None:
        self.files[name] = content

    def write(self, out: Path) -> None:
        sums = []
        tmp = out.with_name(out.name + ".tmp")
        with tarfile.open(tmp, "w:gz") as tar:
            for name, content in self.files.items():
                data = content.read_bytes() if isinstance(content, Path) else content
                sums.append(f"{hashlib.sha256(data).hexdigest()}  {name}\n")
                _add(tar, f"{self.top}/{name}", data)
            _add(tar, f"{self.top}/{SUMS}", "".join(sums).encode())
            # The compressed stream is complete only once the tarfile is closed.
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        tmp.rename(out)


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    info.mtime = int(datetime.datetime.now().timestamp())
    tar.addfile(info, io.BytesIO(data))


def write_bundle(journal: Path, report: Path, out: Path | None = None) -> Path:
    """Pack the evidence of `journal` (whose report is `report`) into <stem>-evidence.tar.gz
    next to the report, or `out`."""
    journal, report = Path(journal), Path(report)
    entries = load_journal(journal)
    out = Path(out) if out else report.with_name(f"{journal.stem}-evidence.tar.gz")
    bundle = Bundle(f"{journal.stem}-evidence")
    bundle.add(report.name, report)
    bundle.add(journal.name, journal)
    plan = journal.with_suffix(".plan.json")
    if plan.is_file():
        bundle.add(plan.name, plan)

    digests = image_digests()
    bundle.add("images.sha256", "".join(f"{sha}  {step}/{name}\n" for step, d in digests.items()
                                        for name, sha in d["files"].items()).encode())
    failing = []
    for e in entries:
        why = e.failure
        if why is None:
            continue
        name = e.id or f"{label(e)}-{e.kind}-{e.time}"
        logs = []
        for path in console_logs(e.log_dir):
            logs.append(f"logs/{name}/{path.relative_to(e.log_dir)}")
            bundle.add(logs[-1], path)
        failing.append({"id": e.id, "why": why, "reproduce": e.reproduce,
                        "logs": logs or "log not available"})
    manifest = {
        "journal": str(journal.resolve()),
        "made": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "trials": len(entries),
        "seeds": sorted({e.seed for e in entries if e.seed is not None}),
        "configuration": plan.name if plan.is_file() else "no plan file next to the journal",
        "images": {step: d["key"] for step, d in digests.items()} or f"no image step is built in {images.IMAGES}",
        "boot files": {what: _digest_of(digests, path) for what, path in BOOT_FILES.items()},
        "tools": tool_versions(),
        "failing trials": failing,
    }
    bundle.add("manifest.json", (json.dumps(manifest, indent=1) + "\n").encode())
    bundle.write(out)
    log.info("evidence bundle: %d files in %s", len(bundle.files) + 1, out)
    return out


def _digest_of(digests: dict[str, dict], path: str) -> str:
    step, name = path.split("/", 1)
    return digests.get(step, {}).get("files", {}).get(name, "not built")


def verify_bundle(path: Path) -> int:
    """Check every file of a bundle against its SHA256SUMS, and that none is unlisted.
    Returns the number of files checked; raises HarnessError naming what differs."""
    try:
        with tarfile.open(path, "r:gz") as tar:
            contents = {m.name: tar.extractfile(m).read()  # type: ignore[union-attr]
                        for m in tar.getmembers() if m.isfile()}
    except (OSError, tarfile.TarError) as e:
        raise HarnessError(f"{path} is not a readable evidence bundle: {e}") from None
    sums_name = next((n for n in contents if n.rsplit("/", 1)[-1] == SUMS), None)
    if sums_name is None:
        raise HarnessError(f"{path} has no {SUMS}")
    top = sums_name.rsplit("/", 1)[0]
    listed = {}
    for line in contents.pop(sums_name).decode().splitlines():
        sha, _, name = line.partition("  ")
        listed[f"{top}/{name}"] = sha
    problems = [f"{name}: missing" for name in listed if name not in contents]
    problems += [f"{name}: not listed in {SUMS}" for name in contents if name not in listed]
    problems += [f"{name}: SHA-256 differs" for name, data in contents.items()
                 if name in listed and hashlib.sha256(data).hexdigest() != listed[name]]
    if problems:
        raise HarnessError(f"evidence bundle {path} does not verify: {'; '.join(problems)}")
    return len(listed)
