# brownout asymmetric boot script (U-Boot hush, made into boot.scr by mkimage).
#
# One root slot (virtio 0:3) and a recovery system (virtio 0:4: kernel and an
# initramfs with the installer). The env is read exactly as images/boot/ab.cmd
# reads it (same region, same redundant layout); only the choice differs:
#   ASYM_RECOVERY=1                 boot recovery (it installs ASYM_URL)
#   else ASYM_ROOT_LEFT > 0         spend a try (saved first), boot the root
#   else                            the root spent its tries without confirming
#                                   itself: boot recovery (it reinstalls ASYM_GOOD_URL)
# Every save exports all four variables: env export writes only those named.
#
# The state lives in a raw env partition (virtio 0:2) as two copies in
# libubootenv's redundant layout: CRC32 (4 bytes), flag (1), data. The valid
# copy with the newer flag is current; every save goes to the other copy with
# the flag incremented, so a power cut during a save leaves the older copy
# valid. Slot choice follows RAUC's BOOT_ORDER scheme: the first slot in
# BOOT_ORDER with tries left is booted, and its try is spent (saved) first.
echo "BROWNOUT uboot-start script=asymmetric"

setenv env_size 0x4000
setenv env_blocks 0x20
setenv copy1 0x48000000
setenv copy2 0x48010000
setenv scratch 0x48020000
part start virtio 0 2 env_blk1
setexpr env_blk2 ${env_blk1} + ${env_blocks}
virtio read ${copy1} ${env_blk1} ${env_blocks}
virtio read ${copy2} ${env_blk2} ${env_blocks}

# Newer flag first; 255 -> 0 is the wrap-around; equal flags favour copy 1,
# as U-Boot's own redundant env does.
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
		if env import -c ${bufcrc} ${envsz} ASYM_RECOVERY ASYM_ROOT_LEFT ASYM_URL ASYM_GOOD_URL; then
			setenv current ${n}
			setenv curflag ${flag}
		fi
	fi
done

if test ${current} = none; then
	echo "BROWNOUT uboot-env state=default reason=no-valid-copy"
	setenv ASYM_RECOVERY 0
	setenv ASYM_ROOT_LEFT 3
	setenv current 2
	setenv curflag 0
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
	if test ${current} = 1; then setenv target ${env_blk2}; else setenv target ${env_blk1}; fi
	setexpr newflag ${curflag} + 1
	setexpr newflag ${newflag} \& ff
	mw.b ${scratch} 0 ${env_size}
	setexpr outcrc ${scratch} + 1
	setexpr envsz ${env_size} - 1
	env export -c -s ${envsz} ${outcrc} ASYM_RECOVERY ASYM_ROOT_LEFT ASYM_URL ASYM_GOOD_URL
	setexpr crcsave ${scratch} + ${env_size}
	cp.b ${outcrc} ${crcsave} 4
	cp.b ${crcsave} ${scratch} 4
	setexpr flagaddr ${scratch} + 4
	mw.b ${flagaddr} ${newflag} 1
	if virtio write ${scratch} ${target} ${env_blocks}; then
		echo "BROWNOUT uboot-save slot=root flag=${newflag} root_left=${ASYM_ROOT_LEFT}"
	else
		echo "BROWNOUT uboot-error reason=env-write-failed"
	fi
	echo "BROWNOUT uboot-boot slot=root"
	# cryptomgr.notests: the kernel's crypto self-tests take ~0.25 s of every
	# emulated boot and test the kernel, not the update method.
	setenv bootargs "console=ttyAMA0 root=/dev/vda3 ro rootwait quiet panic=-1 cryptomgr.notests init=/sbin/brownout-init brownout.method=asymmetric brownout.slot=root brownout.data=/dev/vda5"
	setenv bootpart 1
	setenv initrd initrd.img
else
	# Recovery spends nothing: it is never updated, so it always boots.
	echo "BROWNOUT uboot-boot slot=recovery reason=${reason}"
	setenv bootargs "console=ttyAMA0 quiet panic=-1 cryptomgr.notests brownout.slot=recovery brownout.data=/dev/vda5"
	setenv bootpart 4
	setenv initrd recovery.img
fi
if load virtio 0:${bootpart} ${kernel_addr_r} Image && load virtio 0:${bootpart} ${ramdisk_addr_r} ${initrd}; then
	booti ${kernel_addr_r} ${ramdisk_addr_r}:${filesize} ${fdtcontroladdr}
fi
echo "BROWNOUT uboot-error reason=boot-failed slot=${slot}"
poweroff
