"""What a trial's boots show, and the evidence a verdict needs.

Pure functions of the console markers each boot printed, so every rule here is
tested without a device. A boot's record says which version and slot it came
up in, how its confirmation or health check went, and what ended it; a trial
keeps these records in its journal entry, and the verdicts point at them:

- `rolled-back` needs a boot of v2-bad that failed its confirmation, followed
  by a boot of v1 that confirmed good (the boot counter or recovery at work);
- `refused` needs an update error whose reason is the verification the
  payload was made to fail (a signature, a hash), not a broken transfer;
- `committed-rolled-back` (a failure) needs a boot of the installed version
  that confirmed good, followed by a boot of another version with no update
  offered in between: the commit did not hold;
- anything broken the device booted on the way (a failed confirmation and the
  fallback after it, a boot that never reached its application, a root that
  is no version, an unhealthy settle) is an anomaly, and an anomaly keeps a
  trial out of the plain atomic+completes grade.
"""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote
from typing import Iterable

from ..machine.console import Marker

# What /etc/brownout/version holds in each built root tree.
VERSIONS = {"1": "v1", "2": "v2", "2-bad": "v2-bad", "3": "v3"}
BAD_VERSION = "2-bad"

# The update errors that are the refusal a payload was built to provoke:
# (reason, detail) as the clients print them.
REFUSALS: dict[str, frozenset[tuple[str, str]]] = {
    # Manifest signature (A/B, asymmetric), commit signature (OSTree),
    # InRelease signature (in-place).
    "v2-badsig": frozenset({("manifest", "bad-signature"), ("verify", "signature"),
                            ("verify", "repository-signature")}),
    # Image hash or size against the signed manifest (A/B, asymmetric), object
    # checksum (OSTree), package hash against the signed index (in-place).
    "v2-tampered": frozenset({("verify", "sha256"), ("verify", "size"), ("verify", "checksum"),
                              ("verify", "hash")}),
    # An older release, correctly signed or replayed, offered to a device on v2.
    "v1": frozenset({("verify", "downgrade")}),
}


@dataclass(frozen=True)
class BootRecord:
    """One power-on, as its console told it."""
    number: int
    version: str = ""            # init version=
    slot: str = ""               # init slot=
    confirm: str = ""            # confirm result= (good | bad | error), the last one
    settled: str = ""            # settled result= (healthy | unhealthy)
    settled_version: str = ""    # settled version=: an in-place switch changes the version within the boot
    ended_by: str = ""           # the marker event that ended the boot (reboot, cut, confirm, ...)
    failure: str = ""            # why it never reached an outcome (panic, timeout, exit)
    heartbeat: bool = False      # the application ran
    warnings: tuple[str, ...] = ()       # init-warning reasons
    # update-error (reason, detail), and the updater's own message when it gave one
    errors: tuple[tuple[str, ...], ...] = ()
    # file systems the boot had to repair before it could mount them ("root e2fsck=1")
    repairs: tuple[str, ...] = ()
    # The boot this one goes on from: held before the re-run, judged stopped, let
    # go on (its version and slot are that boot's). 0: a power-on of its own.
    resumes: int = 0

    def as_dict(self) -> dict:
        return {"number": self.number, "version": self.version, "slot": self.slot,
                "confirm": self.confirm, "settled": self.settled, "settled_version": self.settled_version,
                "ended_by": self.ended_by,
                "failure": self.failure, "heartbeat": self.heartbeat,
                "warnings": list(self.warnings), "errors": [list(e) for e in self.errors],
                "repairs": list(self.repairs), "resumes": self.resumes}

    @classmethod
    def from_dict(cls, d: dict) -> BootRecord:
        return cls(d["number"], d.get("version", ""), d.get("slot", ""), d.get("confirm", ""),
                   d.get("settled", ""), d.get("settled_version", ""), d.get("ended_by", ""), d.get("failure", ""),
                   bool(d.get("heartbeat")), tuple(d.get("warnings", ())),
                   tuple(tuple(e) for e in d.get("errors", ())),  # type: ignore[misc]
                   tuple(d.get("repairs", ())), d.get("resumes", 0))

    @property
    def is_root(self) -> bool:
        """A boot into a root system (recovery and a boot that never said are not)."""
        return bool(self.version) and self.slot not in ("recovery", "")

    def describe(self) -> str:
        where = f"version {self.version or '?'}" + (f" (slot {self.slot})" if self.slot else "")
        resumed = f", resuming boot {self.resumes}" if self.resumes else ""
        return f"boot {self.number}: {where}{resumed}"


def boot_record(number: int, markers: Iterable[Marker], ended_by: Marker | None = None,
                failure: str = "", resumes: int = 0) -> BootRecord:
    """The record of one boot from the markers it printed, in order."""
    version = slot = confirm = settled = settled_version = ""
    heartbeat = False
    warnings: list[str] = []
    errors: list[tuple[str, ...]] = []
    repairs: list[str] = []
    for m in markers:
        if m.event == "init":
            version, slot = m.get("version", ""), m.get("slot", "")
        elif m.event == "confirm":
            confirm = m.get("result", "")
        elif m.event == "settled":
            settled, settled_version = m.get("result", ""), m.get("version", "")
        elif m.event == "heartbeat":
            heartbeat = True
        elif m.event == "init-warning":
            warnings.append(m.get("reason", "unknown"))
        elif m.event in ("initramfs-repair", "init-repair"):
            repairs.append(" ".join([m.get("what", "?")] + [f"{k}={v}" for k, v in m.fields.items() if k != "what"]))
        elif m.event == "update-error":
            message = unquote(m.get("message", ""))
            errors.append((m.get("reason", ""), m.get("detail", "")) + ((message,) if message else ()))
    return BootRecord(number, version, slot, confirm, settled, settled_version, ended_by.event if ended_by else "",
                      failure, heartbeat, tuple(warnings), tuple(errors), tuple(repairs), resumes)


def _expected_failure(boot: BootRecord, payload: str) -> bool:
    """v2-bad is built to fail its health check: its own failed confirmations are
    the rollback's evidence, not an anomaly (in-place switches to it within a boot)."""
    return payload == "v2-bad" and BAD_VERSION in (boot.version, boot.settled_version)


def anomalies(boots: list[BootRecord], payload: str) -> list[str]:
    """Every broken thing the device booted, one line each."""
    out: list[str] = []
    for b in boots:
        if b.failure:
            out.append(f"boot {b.number}: never reached an outcome ({b.failure})")
        elif b.is_root and not b.heartbeat and b.ended_by not in ("cut", "record-done"):
            out.append(f"{b.describe()}: the application never ran")
        if b.is_root and b.version not in VERSIONS:
            out.append(f"{b.describe()}: a root that is no built version")
        if b.confirm in ("bad", "error") and not _expected_failure(b, payload):
            out.append(f"{b.describe()}: confirm result={b.confirm}, the device fell back or rebooted")
        if b.settled == "unhealthy" and not _expected_failure(b, payload):
            out.append(f"{b.describe()}: settled unhealthy")
        out += [f"{b.describe()}: init warning {w}" for w in b.warnings]
    return out


def rollback_evidence(boots: list[BootRecord]) -> str | None:
    """How v2-bad was undone, or None when the boots do not show a rollback: v2-bad
    booted and failed its confirmation, and a later boot confirmed v1 good."""
    bad = [b for b in boots if b.version == BAD_VERSION and b.is_root
           and (b.confirm in ("bad", "error") or b.settled == "unhealthy" or not b.heartbeat)]
    if not bad:
        return None
    back = next((b for b in boots if b.number > bad[-1].number and b.version == "1" and b.is_root
                 and b.confirm == "good"), None)
    if back is None:
        return None
    between = [b for b in boots if bad[-1].number < b.number < back.number]
    via = "recovery" if any(b.slot == "recovery" for b in between) else "the boot counter"
    return (f"v2-bad booted {len(bad)} time(s) (boot {', '.join(str(b.number) for b in bad)}) and failed its "
            f"confirmation; {via} brought v1 back ({back.describe()}, confirmed good)")


def commit_undone(boots: list[BootRecord], installed: str) -> str | None:
    """How a committed update was lost, or None: a boot of `installed` (as
    /etc/brownout/version holds it) confirmed good, and a later boot came up
    in another version. The caller passes only boots no update was offered to
    after the commit."""
    committed = next((b for b in boots if b.is_root and b.version == installed and b.confirm == "good"), None)
    if committed is None:
        return None
    back = next((b for b in boots if b.number > committed.number and b.is_root and b.version
                 and b.version != installed), None)
    if back is None:
        return None
    return (f"{committed.describe()} confirmed good (committed); {back.describe()} came up "
            f"in another version: the commit did not hold")


def update_errors(boots: list[BootRecord]) -> list[tuple[str, ...]]:
    return [e for b in boots for e in b.errors]


def error_fields(error: tuple[str, ...]) -> dict[str, str]:
    """An update error as the trial's result shows it: reason, detail, and the
    updater's own message when it gave one."""
    fields = {"reason": error[0], "detail": error[1]}
    if len(error) > 2:
        fields["message"] = error[2]
    return fields


def refusal_evidence(payload: str, boots: list[BootRecord]) -> str | None:
    """The update error that is `payload`'s refusal, or None when there is none
    (no error, or an error of another kind, such as a broken download)."""
    wanted = REFUSALS.get(payload, frozenset())
    for b in boots:
        for reason, detail, *message in b.errors:
            if (reason, detail) in wanted:
                said = f": {message[0]}" if message else ""
                return f"boot {b.number}: update-error reason={reason} detail={detail}{said}"
    return None
