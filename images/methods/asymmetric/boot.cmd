# brownout asymmetric boot script (U-Boot hush, made into boot.scr by mkimage).
#
# One root slot (virtio 0:3) and a recovery system (virtio 0:4: kernel and an
# initramfs with the installer). The state lives in the env region, read by
# env-load.cmd and written by env-save.cmd exactly as for A/B (put in at the
# "#include" lines by images/disk.sh boot_script); only the choice differs:
#   ASYM_RECOVERY=1                 boot recovery (it installs ASYM_URL)
#   else ASYM_ROOT_LEFT > 0         spend a try (saved first), boot the root
#   else                            the root spent its tries without confirming
#                                   itself: boot recovery (it reinstalls ASYM_GOOD_URL)
# Every save exports all four variables: env export writes only those named.
echo "BROWNOUT uboot-start script=asymmetric"

# The state, as env-load.cmd reads it and env-save.cmd writes it.
setenv env_vars "ASYM_RECOVERY ASYM_ROOT_LEFT ASYM_URL ASYM_GOOD_URL"
#include env-load.cmd
if test ${env_state} = default; then
	# No valid copy: no recovery requested, 3 tries for the root, no URLs.
	setenv ASYM_RECOVERY 0
	setenv ASYM_ROOT_LEFT 3
else
	echo "BROWNOUT uboot-env state=ok copy=${current} flag=${curflag} recovery=${ASYM_RECOVERY} root_left=${ASYM_ROOT_LEFT}"
fi

setenv slot
if test "${ASYM_RECOVERY}" = 1; then
	setenv slot recovery
	setenv reason requested
elif itest ${ASYM_ROOT_LEFT} -gt 0; then
	setexpr ASYM_ROOT_LEFT ${ASYM_ROOT_LEFT} - 1
	setenv slot root
else
	setenv slot recovery
	setenv reason no-tries-left
fi

if test ${slot} = root; then
	# Spend the try first: save to the other copy with the next flag.
	#include env-save.cmd
	if test ${env_saved} = 1; then
		echo "BROWNOUT uboot-save slot=root flag=${newflag} root_left=${ASYM_ROOT_LEFT}"
	fi
	echo "BROWNOUT uboot-boot slot=root"
	setenv bootargs "console=ttyAMA0 root=/dev/vda3 ro rootwait quiet panic=-1 init=/sbin/brownout-init brownout.method=asymmetric brownout.slot=root brownout.data=/dev/vda5"
	setenv bootpart 1
	setenv initrd initrd.img
else
	# Recovery spends nothing: it is never updated, so it always boots.
	echo "BROWNOUT uboot-boot slot=recovery reason=${reason}"
	setenv bootargs "console=ttyAMA0 quiet panic=-1 brownout.slot=recovery brownout.data=/dev/vda5"
	setenv bootpart 4
	setenv initrd recovery.img
fi
if load virtio 0:${bootpart} ${kernel_addr_r} Image && load virtio 0:${bootpart} ${ramdisk_addr_r} ${initrd}; then
	booti ${kernel_addr_r} ${ramdisk_addr_r}:${filesize} ${fdtcontroladdr}
fi
echo "BROWNOUT uboot-error reason=boot-failed slot=${slot}"
poweroff
