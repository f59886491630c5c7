# brownout A/B boot script (U-Boot hush, made into boot.scr by mkimage), for
# every method that boots this way (boot_script writes in the method's name).
#
# The A/B state lives in the env region: env-load.cmd reads it and
# env-save.cmd writes it (put in at the "#include" lines by images/disk.sh
# boot_script), in libubootenv's redundant layout, so a power cut during a
# save leaves the older copy valid. Slot choice follows RAUC's BOOT_ORDER
# scheme: the first slot in BOOT_ORDER with tries left is booted, and its try
# is spent (saved) first; rauc.slot= on the kernel command line tells RAUC
# which slot that was.
echo "BROWNOUT uboot-start script=@METHOD@"

# The state, as env-load.cmd reads it and env-save.cmd writes it.
setenv env_vars "BOOT_ORDER BOOT_A_LEFT BOOT_B_LEFT"
#include env-load.cmd
if test ${env_state} = default; then
	# No valid copy: both slots, 3 tries each.
	setenv BOOT_ORDER "A B"
	setenv BOOT_A_LEFT 3
	setenv BOOT_B_LEFT 3
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

# Save to the other copy with the next flag, before the kernel starts.
#include env-save.cmd
if test ${env_saved} = 1; then
	echo "BROWNOUT uboot-save slot=${slot} flag=${newflag} a_left=${BOOT_A_LEFT} b_left=${BOOT_B_LEFT}"
fi

echo "BROWNOUT uboot-boot slot=${slot}"
setenv bootargs "console=ttyAMA0 root=/dev/vda${rootpart} ro rootwait quiet panic=-1 init=/sbin/brownout-init brownout.method=@METHOD@ rauc.slot=${slot} brownout.slot=${slot} brownout.data=/dev/vda5"
if load virtio 0:1 ${kernel_addr_r} Image && load virtio 0:1 ${ramdisk_addr_r} initrd.img; then
	booti ${kernel_addr_r} ${ramdisk_addr_r}:${filesize} ${fdtcontroladdr}
fi
echo "BROWNOUT uboot-error reason=boot-failed slot=${slot}"
poweroff
