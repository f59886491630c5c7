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
# state in the raw env partition (virtio 0:2) in the same redundant layout as
# the A/B script (images/boot/ab.cmd): CRC32, flag, data, the newer valid copy
# is current and every save goes to the other copy. Variables:
#   OSTREE_PENDING  1 while a new deployment has not been confirmed good
#   OSTREE_LEFT     tries the new deployment has left
# While pending, each boot spends a try first (saved before the kernel
# starts); with none left, the previous deployment (kernel_image2) boots.
echo "BROWNOUT uboot-start script=ostree"

setenv env_size 0x4000
setenv env_blocks 0x20
setenv copy1 0x48000000
setenv copy2 0x48010000
setenv scratch 0x48020000
setenv uenv_addr 0x48100000
part start virtio 0 2 env_blk1
setexpr env_blk2 ${env_blk1} + ${env_blocks}
virtio read ${copy1} ${env_blk1} ${env_blocks}
virtio read ${copy2} ${env_blk2} ${env_blocks}

# Newer flag first; 255 -> 0 is the wrap-around; equal flags favour copy 1.
setexpr flagaddr ${copy1} + 4
setexpr.b flag1 *${flagaddr}
setexpr flagaddr ${copy2} + 4
setexpr.b flag2 *${flagaddr}
setenv first 1
if test ${flag1} = ff && test ${flag2} = 0; then setenv first 2; fi
if itest ${flag2} -gt ${flag1}; then
	if test ${flag2} != ff || test ${flag1} != 0; then setenv first 2; fi
fi

# 'env import -c' wants the CRC right before the data: move it over the flag.
setenv current none
for n in ${first} 1 2; do
	if test ${current} = none; then
		if test ${n} = 1; then setenv buf ${copy1}; setenv flag ${flag1}; else setenv buf ${copy2}; setenv flag ${flag2}; fi
		cp.b ${buf} ${scratch} 4
		setexpr bufcrc ${buf} + 1
		cp.b ${scratch} ${bufcrc} 4
		setexpr envsz ${env_size} - 1
		if env import -c ${bufcrc} ${envsz} OSTREE_PENDING OSTREE_LEFT; then
			setenv current ${n}
			setenv curflag ${flag}
		fi
	fi
done

if test ${current} = none; then
	echo "BROWNOUT uboot-env state=default reason=no-valid-copy"
	setenv OSTREE_PENDING 0
	setenv OSTREE_LEFT 3
	setenv current 2
	setenv curflag 0
else
	echo "BROWNOUT uboot-env state=ok copy=${current} flag=${curflag} pending=${OSTREE_PENDING} left=${OSTREE_LEFT}"
fi

# Entry 1 is the default deployment, entry 2 the previous one.
setenv entry 1
if test "${OSTREE_PENDING}" = 1; then
	if itest ${OSTREE_LEFT} -gt 0; then
		setexpr OSTREE_LEFT ${OSTREE_LEFT} - 1
		# Spend the try before booting: save to the other copy, next flag.
		if test ${current} = 1; then setenv target ${env_blk2}; else setenv target ${env_blk1}; fi
		setexpr newflag ${curflag} + 1
		setexpr newflag ${newflag} \& ff
		mw.b ${scratch} 0 ${env_size}
		setexpr outcrc ${scratch} + 1
		setexpr envsz ${env_size} - 1
		env export -c -s ${envsz} ${outcrc} OSTREE_PENDING OSTREE_LEFT
		setexpr crcsave ${scratch} + ${env_size}
		cp.b ${outcrc} ${crcsave} 4
		cp.b ${crcsave} ${scratch} 4
		setexpr flagaddr ${scratch} + 4
		mw.b ${flagaddr} ${newflag} 1
		if virtio write ${scratch} ${target} ${env_blocks}; then
			echo "BROWNOUT uboot-save flag=${newflag} pending=${OSTREE_PENDING} left=${OSTREE_LEFT}"
		else
			echo "BROWNOUT uboot-error reason=env-write-failed"
		fi
	else
		setenv entry 2
	fi
fi

# The deployments, as libostree last wrote them (the symlink is followed).
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
