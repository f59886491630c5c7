# brownout in-place boot script (U-Boot hush, made into boot.scr by mkimage).
#
# One root (virtio 0:2), mounted read-write: the in-place method updates the
# running root package by package. There is nothing to choose and no boot
# counter: no rollback exists for this method, and that is what it shows.
echo "BROWNOUT uboot-start script=inplace"
echo "BROWNOUT uboot-boot slot=root"
setenv bootargs "console=ttyAMA0 root=/dev/vda2 rw rootwait quiet panic=-1 init=/sbin/brownout-init brownout.method=inplace brownout.slot=root brownout.data=/dev/vda3"
if load virtio 0:1 ${kernel_addr_r} Image && load virtio 0:1 ${ramdisk_addr_r} initrd.img; then
	booti ${kernel_addr_r} ${ramdisk_addr_r}:${filesize} ${fdtcontroladdr}
fi
echo "BROWNOUT uboot-error reason=boot-failed slot=root"
poweroff
