# Boot script fragment: read a method's boot state from the env region.
# images/disk.sh boot_script puts it in at a line "#include env-load.cmd";
# env-save.cmd writes the state back.
#
# Before it, the method script defines:
#   env_vars      the names of its variables in the region, space-separated
# After it, the method script has:
#   env_state     ok: a valid copy was imported, and the variables of env_vars
#                 that it holds are set (the method says so in its own
#                 "BROWNOUT uboot-env state=ok ..." marker); or default: no
#                 copy was valid, this fragment has said "BROWNOUT uboot-env
#                 state=default reason=no-valid-copy", and the method sets
#                 its defaults
#   current       the copy read, 1 or 2 (2 when none was valid, so that the
#                 first save goes to copy 1); curflag, its flag
#   env_size env_blocks env_blk1 env_blk2 scratch: the region, for env-save.cmd
# It uses memory 0x48000000-0x48024003 (the two copies, and a scratch buffer
# that env-save.cmd uses too) and the variables copy1 copy2 flagaddr flag1
# flag2 first n buf flag bufcrc envsz.
#
# The region is the raw env partition (virtio 0:2), two copies in
# libubootenv's redundant layout: CRC32 (4 bytes), flag (1), data. The valid
# copy with the newer flag is current; every save goes to the other copy with
# the flag incremented, so a power cut during a save leaves the older copy
# valid.
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
		if env import -c ${bufcrc} ${envsz} ${env_vars}; then
			setenv current ${n}
			setenv curflag ${flag}
		fi
	fi
done

if test ${current} = none; then
	echo "BROWNOUT uboot-env state=default reason=no-valid-copy"
	setenv env_state default
	setenv current 2
	setenv curflag 0
else
	setenv env_state ok
fi
