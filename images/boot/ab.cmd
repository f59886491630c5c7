# brownout A/B boot script (U-Boot hush, made into boot.scr by mkimage).
#
# The A/B state lives in a raw env partition (virtio 0:2) as two copies in
# libubootenv's redundant layout: CRC32 (4 bytes), flag (1), data. The valid
# copy with the newer flag is current; every save goes to the other copy with
# the flag incremented, so a power cut during a save leaves the older copy
# valid. Slot choice follows RAUC's BOOT_ORDER scheme: the first slot in
# BOOT_ORDER with tries left is booted, and its try is spent (saved) first.
echo "BROWNOUT uboot-start script=ab"

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
		if env import -c ${bufcrc} ${envsz} BOOT_ORDER BOOT_A_LEFT BOOT_B_LEFT; then
			setenv current ${n}
			setenv curflag ${flag}
		fi
	fi
done

if test ${current} = none; then
	echo "BROWNOUT uboot-env state=default reason=no-valid-copy"
	setenv BOOT_ORDER "A B"
	setenv BOOT_A_LEFT 3
	setenv BOOT_B_LEFT 3
	setenv current 2
	setenv curflag 0
else
	# Marker values carry no spaces: "A B" is shown as "A,B".
	setexpr order gsub " " "," "${BOOT_ORDER}"
	echo "BROWNOUT uboot-env state=ok copy=${current} flag=${curflag} order=${order} a_left=${BOOT_A_LEFT} b_left=${BOOT_B_LEFT}"
fi

setenv slot
for s in ${BOOT_ORDER}; do
	if test -z "${slot}"; then
		if test ${s} = A && itest ${BOOT_A_LEFT} -gt 0; then
			setexpr BOOT_A_LEFT ${BOOT_A_LEFT} - 1
			setenv slot A
			setenv rootpart 3
		fi
		if test ${s} = B && itest ${BOOT_B_LEFT} -gt 0; then
			setexpr BOOT_B_LEFT ${BOOT_B_LEFT} - 1
			setenv slot B
			setenv rootpart 4
		fi
	fi
done
if test -z "${slot}"; then
	# Every slot spent its tries: start over, as RAUC's script does, rather
	# than leave the device dark.
	echo "BROWNOUT uboot-env state=reset reason=no-tries-left"
	setenv BOOT_A_LEFT 3
	setenv BOOT_B_LEFT 3
	for s in ${BOOT_ORDER}; do
		if test -z "${slot}"; then setenv slot ${s}; fi
	done
	if test ${slot} = A; then setenv rootpart 3; setenv BOOT_A_LEFT 2; else setenv rootpart 4; setenv BOOT_B_LEFT 2; fi
fi

# Save to the other copy with the next flag, in the redundant layout.
if test ${current} = 1; then setenv target ${env_blk2}; else setenv target ${env_blk1}; fi
setexpr newflag ${curflag} + 1
setexpr newflag ${newflag} \& ff
mw.b ${scratch} 0 ${env_size}
setexpr outcrc ${scratch} + 1
setexpr envsz ${env_size} - 1
env export -c -s ${envsz} ${outcrc} BOOT_ORDER BOOT_A_LEFT BOOT_B_LEFT
setexpr crcsave ${scratch} + ${env_size}
cp.b ${outcrc} ${crcsave} 4
cp.b ${crcsave} ${scratch} 4
setexpr flagaddr ${scratch} + 4
mw.b ${flagaddr} ${newflag} 1
if virtio write ${scratch} ${target} ${env_blocks}; then
	echo "BROWNOUT uboot-save slot=${slot} flag=${newflag} a_left=${BOOT_A_LEFT} b_left=${BOOT_B_LEFT}"
else
	echo "BROWNOUT uboot-error reason=env-write-failed"
fi

echo "BROWNOUT uboot-boot slot=${slot}"
# cryptomgr.notests: the kernel's crypto self-tests take ~0.25 s of every
# emulated boot and test the kernel, not the update method.
setenv bootargs "console=ttyAMA0 root=/dev/vda${rootpart} ro rootwait quiet panic=-1 cryptomgr.notests init=/sbin/brownout-init brownout.method=ab brownout.slot=${slot} brownout.data=/dev/vda5"
if load virtio 0:1 ${kernel_addr_r} Image && load virtio 0:1 ${ramdisk_addr_r} initrd.img; then
	booti ${kernel_addr_r} ${ramdisk_addr_r}:${filesize} ${fdtcontroladdr}
fi
echo "BROWNOUT uboot-error reason=boot-failed slot=${slot}"
poweroff
