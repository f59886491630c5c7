# brownout OSTree boot script (U-Boot hush, made into boot.scr by mkimage).
#
# U-Boot reads no file system the running system writes: a deployment's
# kernel, initramfs and kernel arguments are copied by the client into a boot
# slot, a raw partition of their own (bootA, virtio 0:5; bootB, virtio 0:6),
# laid out as src/ostree/bootslot.h says: a text header (`env import -t`),
# then the kernel, then the initramfs, at block offsets the header gives. The
# sysroot's superblock, which every read-write mount rewrites, is then no
# longer in U-Boot's path: a torn one is the initramfs's to repair.
#
# Boot counting, in the style of Torizon's bootcount/altbootcmd, keeps its
# state in the env region, read by env-load.cmd and written by env-save.cmd
# as for A/B (put in at the "#include" lines by images/disk.sh boot_script):
# the newer valid copy is current and every save goes to the other copy.
# Variables:
#   OSTREE_BOOT     the boot slot of the default deployment, A or B
#   OSTREE_PENDING  1 while the default deployment has not been confirmed good
#   OSTREE_LEFT     tries it has left
# While pending, each boot spends a try first (saved before the kernel
# starts); with none left, the other slot (the previous deployment) boots.
echo "BROWNOUT uboot-start script=ostree"

# The state, as env-load.cmd reads it and env-save.cmd writes it.
setenv env_vars "OSTREE_BOOT OSTREE_PENDING OSTREE_LEFT"
#include env-load.cmd
if test ${env_state} = default; then
	# No valid copy: slot A, nothing pending, 3 tries.
	setenv OSTREE_BOOT A
	setenv OSTREE_PENDING 0
	setenv OSTREE_LEFT 3
else
	echo "BROWNOUT uboot-env state=ok copy=${current} flag=${curflag} boot=${OSTREE_BOOT} pending=${OSTREE_PENDING} left=${OSTREE_LEFT}"
fi
if test "${OSTREE_BOOT}" = B; then setenv bslot B; setenv bother A; else setenv bslot A; setenv bother B; fi

# Entry 1 is the default deployment's slot, entry 2 the other one.
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
		setenv bslot ${bother}
	fi
fi

# bs_load: the header of slot ${bslot}, then its kernel and initramfs; fails
# on a slot that holds nothing. Only the header's own variables are imported.
setenv uenv_addr 0x48100000
setenv bs_vars "bs_deployment bs_kernel_block bs_kernel_blocks bs_ramdisk_block bs_ramdisk_blocks bs_ramdisk_size bs_args"
setenv bs_load 'for v in ${bs_vars}; do setenv ${v}; done; if test ${bslot} = B; then setenv bs_part 6; else setenv bs_part 5; fi; part start virtio 0 ${bs_part} bs_start && virtio read ${uenv_addr} ${bs_start} 8 && env import -t ${uenv_addr} 1000 ${bs_vars} && test -n "${bs_deployment}" && setexpr bs_k ${bs_start} + ${bs_kernel_block} && setexpr bs_r ${bs_start} + ${bs_ramdisk_block} && virtio read ${kernel_addr_r} ${bs_k} ${bs_kernel_blocks} && virtio read ${ramdisk_addr_r} ${bs_r} ${bs_ramdisk_blocks}'
if run bs_load; then
	setenv loaded 1
else
	# Never the case for a slot the env names (it is written and flushed
	# first); a factory disk whose slot B is empty, or a foreign disk.
	echo "BROWNOUT uboot-error reason=empty-bootslot slot=${bslot}"
	setenv loaded 0
	if test ${entry} = 2; then
		# The previous deployment's slot holds nothing: the default one it is.
		echo "BROWNOUT uboot-env state=no-previous-deployment"
		setenv entry 1
		setenv bslot ${bother}
		if run bs_load; then setenv loaded 1; fi
	fi
fi

echo "BROWNOUT uboot-boot entry=${entry} slot=${bslot} deployment=${bs_deployment}"
setenv bootargs "console=ttyAMA0 root=/dev/vda3 rw rootwait quiet panic=-1 init=/sbin/brownout-init brownout.method=ostree brownout.data=/dev/vda4 brownout.entry=${entry} ${bs_args}"
if test ${loaded} = 1; then
	booti ${kernel_addr_r} ${ramdisk_addr_r}:${bs_ramdisk_size} ${fdtcontroladdr}
fi
echo "BROWNOUT uboot-error reason=boot-failed entry=${entry} slot=${bslot}"
poweroff
