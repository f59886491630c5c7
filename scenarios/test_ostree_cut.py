"""A smoke campaign for OSTree: power cuts at the points that decide which
deployment boots, and one in each long phase. The full campaign is
`./brownout campaign --method ostree`."""
from __future__ import annotations

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.qemu, pytest.mark.timeout(1200)]


@pytest.mark.parametrize("cut", [
    # The switch: libostree renames /boot/loader.tmp over /boot/loader.
    "phase=bootloader,syscall=renameat,path=/boot/loader,n=1,edge=before",
    "phase=bootloader,syscall=renameat,path=/boot/loader,n=1,edge=after",
    # The rename made durable (fsync of /boot): Linux sees the new loader;
    # U-Boot, which does not replay the ext4 journal, may still see the old.
    "phase=bootloader,syscall=fsync,path=/boot,n=1,edge=after",
    # The boot counter armed, torn half-way, before the loader moves.
    "phase=bootloader,n=1,torn=8192",
    "phase=pull,n=250,edge=after",          # objects half fetched
    "phase=deploy,n=2500,edge=after",       # the new deployment half checked out
], ids=["ostree-bootloader-loader-rename-before", "ostree-bootloader-loader-rename-after",
        "ostree-bootloader-boot-fsync-after", "ostree-bootloader-torn-env",
        "ostree-pull-250-after", "ostree-deploy-2500-after"])
def test_ostree_survives_the_cut(trial, cut: str) -> None:
    result = trial(method="ostree", payload="v2", cut=cut)
    assert result.cut is not None and result.cut["phase"] == cut.split(",")[0].split("=")[1]
    assert {"atomic", "completes"} <= set(result.verdicts), result.summary()
