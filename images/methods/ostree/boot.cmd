# brownout OSTree boot script (U-Boot hush, made into boot.scr by mkimage).
#
# libostree's U-Boot backend writes /boot/loader/uEnv.txt on the OSTree
# partition (virtio 0:3): kernel_image, ramdisk_image, bootargs for the
# default deployment, and the same with a "2" suffix for the previous one.
# /boot/loader is a symlink to loader.0 or loader.1; libostree writes the new
# directory in full and then renames a new symlink over the old one, so this
# script reads either the old pair of deployments or the new one.
#
# Boot counting, in the style of Torizon's bootcount/altbootcmd, keeps its
# state in the env region, read by env-load.cmd and written by env-save.cmd
# as for A/B (put in at the "#include" lines by images/disk.sh boot_script):
# the newer valid copy is current and every save goes to the other copy.
# Variables:
#   OSTREE_PENDING  1 while a new deployment has not been confirmed good
#   OSTREE_LEFT     tries the new deployment has left
# While pending, each boot spends a try first (saved before the kernel
# starts); with none left, the previous deployment (kernel_image2) boots.
echo "BROWNOUT uboot-start script=ostree"

# The state, as env-load.cmd reads it and env-save.cmd writes it.
setenv env_vars "OSTREE_PENDING OSTREE_LEFT"
#include env-load.cmd
if test ${env_state} = default; then
	# No valid copy: nothing pending, 3 tries.
	setenv OSTREE_PENDING 0
	setenv OSTREE_LEFT 3
else
	echo "BROWNOUT uboot-env state=ok copy=${current} flag=${curflag} pending=${OSTREE_PENDING} left=${OSTREE_LEFT}"
fi

# Entry 1 is the default deployment, entry 2 the previous one.
setenv entry 1
if test "${OSTREE_PENDING}" = 1; then
	if itest ${OSTREE_LEFT} -gt 0; then
		setexpr OSTREE_LEFT ${OSTREE_LEFT} - 1
		# Spend the try before booting: save to the other copy, next flag.
		#include env-save.cmd
		if test ${env_saved} = 1; then
			echo "BROWNOUT uboot-save flag=${newflag} pending=${OSTREE_PENDING} left=${OSTREE_LEFT}"
		fi
	else
		setenv entry 2
	fi
fi

# The deployments, as libostree last wrote them (the symlink is followed).
setenv uenv_addr 0x48100000
setenv kernel_image
setenv ramdisk_image
setenv bootargs
setenv kernel_image2
setenv ramdisk_image2
setenv bootargs2
if load virtio 0:3 ${uenv_addr} /boot/loader/uEnv.txt; then
	env import -t ${uenv_addr} ${filesize}
else
	echo "BROWNOUT uboot-error reason=no-uenv"
fi
if test ${entry} = 2 && test -z "${kernel_image2}"; then
	# The bad deployment was already removed: the default one is the old one.
	echo "BROWNOUT uboot-env state=no-previous-deployment"
	setenv entry 1
fi
if test ${entry} = 2; then
	setenv kimage ${kernel_image2}
	setenv rimage ${ramdisk_image2}
	setenv oargs ${bootargs2}
else
	setenv kimage ${kernel_image}
	setenv rimage ${ramdisk_image}
	setenv oargs ${bootargs}
fi

echo "BROWNOUT uboot-boot entry=${entry}"
setenv bootargs "console=ttyAMA0 root=/dev/vda3 rw rootwait quiet panic=-1 cryptomgr.notests init=/sbin/brownout-init brownout.method=ostree brownout.data=/dev/vda4 brownout.entry=${entry} ${oargs}"
if load virtio 0:3 ${kernel_addr_r} ${kimage} && load virtio 0:3 ${ramdisk_addr_r} ${rimage}; then
	booti ${kernel_addr_r} ${ramdisk_addr_r}:${filesize} ${fdtcontroladdr}
fi
echo "BROWNOUT uboot-error reason=boot-failed entry=${entry}"
poweroff
