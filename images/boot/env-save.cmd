# Boot script fragment: save a method's boot state to the env region.
# images/disk.sh boot_script puts it in at a line "#include env-save.cmd",
# after env-load.cmd, where the method's state must reach the disk: before
# the kernel starts, so a try is spent before it is used.
#
# Before it, the method script has what env-load.cmd provides (env_vars,
# current, curflag, the region) and the variables named in env_vars set to
# the values to save; env export writes only those.
# After it, the method script has:
#   env_saved     1: the copy other than current now holds the state (the
#                 method says so in its own "BROWNOUT uboot-save ..." marker);
#                 0: the write failed and this fragment has said
#                 "BROWNOUT uboot-error reason=env-write-failed"
#   newflag       the flag written: curflag + 1, 255 wrapping to 0
# It uses the variables target outcrc envsz crcsave flagaddr.

# The other copy, the next flag, in the redundant layout: env export puts the
# CRC right before the data, so the CRC moves to the front and the flag
# byte follows it.
if test ${current} = 1; then setenv target ${env_blk2}; else setenv target ${env_blk1}; fi
setexpr newflag ${curflag} + 1
setexpr newflag ${newflag} \& ff
mw.b ${scratch} 0 ${env_size}
setexpr outcrc ${scratch} + 1
setexpr envsz ${env_size} - 1
env export -c -s ${envsz} ${outcrc} ${env_vars}
setexpr crcsave ${scratch} + ${env_size}
cp.b ${outcrc} ${crcsave} 4
cp.b ${crcsave} ${scratch} 4
setexpr flagaddr ${scratch} + 4
mw.b ${flagaddr} ${newflag} 1
if virtio write ${scratch} ${target} ${env_blocks}; then
	setenv env_saved 1
else
	setenv env_saved 0
	echo "BROWNOUT uboot-error reason=env-write-failed"
fi
