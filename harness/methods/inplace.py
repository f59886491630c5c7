"""In-place: apt and dpkg upgrade the running root package by package, then
the application restarts. No reboot, no boot counter, no rollback; the trial
also judges what dpkg left in the root."""
from __future__ import annotations

from ..images import disk_step, method_step
from .asymmetric import root_of
from .base import Judge, Judgement, Method, RootFacts


def dpkg_audit(root: RootFacts) -> Judgement:
    """What dpkg left in the root (its status file, as `dpkg --audit` reads it)."""
    facts = {"unsettled": list(root.unsettled),
             "brownout-app": next((p.split()[2] for p in root.packages if p.split()[0] == "brownout-app"), "none"),
             "bc": "installed" if root.has_package("bc") else "absent"}
    return Judgement(facts, tuple(f"dpkg: {line}" for line in root.unsettled))


# After a cut, one boot shows what dpkg left.
METHOD = Method("inplace",
                (method_step("inplace", "repo-inplace", "repo.sh", deps=("rootfs", "apt-key")),
                 disk_step("inplace", deps=("kernel", "initramfs", "rootfs"))),
                "disk-inplace", "inplace.img", root_of, phases=("pull", "deploy"),
                boot_limit=0, extra_boots=2, switch_reboots=0, request_path="{payload}",
                payload_steps=("repo-inplace",), judge=Judge(root=dpkg_audit))
