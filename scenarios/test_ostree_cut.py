"""A smoke campaign for OSTree: power cuts at the points that decide which
deployment boots, and one in each long phase. The bootloader's cuts start as
a campaign's do, from one snapshot held where their phase starts (a lone cut
in a phase would pay for a snapshot of its own). The full campaign is
`./brownout campaign --method ostree`."""
from __future__ import annotations

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.qemu, pytest.mark.timeout(1200)]


@pytest.mark.parametrize("cut", [
    # libostree renames /boot/loader.tmp over /boot/loader: U-Boot does not read it.
    "phase=bootloader,syscall=renameat,path=/boot/loader,n=1,edge=before",
    "phase=bootloader,syscall=renameat,path=/boot/loader,n=1,edge=after",
    # The loader made durable (fsync of /boot): libostree lists v2 first, the
    # env still names v1's slot; confirm makes v1 the default again.
    "phase=bootloader,syscall=fsync,path=/boot,n=1,edge=after",
    # The new boot slot whole and flushed, the env not yet switched to it.
    "phase=bootloader,syscall=fsync,path=/dev/vda6,n=2,edge=after",
    # The switch itself, the env store torn half-way.
    "phase=bootloader,path=/dev/vda2,n=1,torn=8192",
    "phase=pull,n=250,edge=after",          # objects half fetched
    "phase=deploy,n=2500,edge=after",       # the new deployment half checked out
], ids=["ostree-bootloader-loader-rename-before", "ostree-bootloader-loader-rename-after",
        "ostree-bootloader-boot-fsync-after", "ostree-bootloader-slot-flushed", "ostree-bootloader-torn-env",
        "ostree-pull-250-after", "ostree-deploy-2500-after"])
def test_ostree_survives_the_cut(trial, cut: str) -> None:
    held = cut.startswith("phase=bootloader")
    result = trial(method="ostree", payload="v2", cut=cut, held=held)
    assert result.started == ("snapshot:bootloader" if held else "cold"), result.summary()
    assert result.cut is not None and result.cut["phase"] == cut.split(",")[0].split("=")[1]
    assert {"atomic", "completes"} <= set(result.verdicts), result.summary()
