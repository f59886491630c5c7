#!/bin/bash
# A test fixture's A/B disk (never a default image): the A/B disk with its
# boot partition's script built from the fixture's own env fragments
# (tests/fixtures/$FIXTURE/env-load.cmd, env-save.cmd), which keep the boot
# state another way, and that state put where they read it:
#   single-env  one env copy, libubootenv's plain layout, 32 KiB into the env
#               partition (the redundant pair before it left as it is)
#   boot-text   bootorder.txt on the boot partition, FAT32 as a Raspberry Pi's
#               (the kernel allocates from FSINFO's next-free hint, so a
#               rewritten file moves to a fresh cluster)
. "$REPO/images/lib.sh"
. "$REPO/images/disk.sh"

fragments=$REPO/tests/fixtures/$FIXTURE
[ -f "$fragments/env-load.cmd" ] || die "fixture disk: no $fragments/env-load.cmd"
step "disk-ab-$FIXTURE: the A/B disk, its boot state kept as tests/fixtures/$FIXTURE does"
BOOT_FRAGMENTS=$fragments boot_script ab
cp --sparse=always "$DISK_AB_DIR/ab.img" "$OUT/ab.img"
cp "$DISK_AB_DIR/layout.json" "$OUT/layout.json"
printf 'BOOT_ORDER=A B\nBOOT_A_LEFT=3\nBOOT_B_LEFT=3\n' > "$OUT/env.txt"
boot_files=("$KERNEL_DIR/Image" "$INITRAMFS_DIR/initrd.img" "$OUT/boot.scr")
case $FIXTURE in
single-env)
	mkenvimage -s 0x4000 -o "$OUT/single.env" "$OUT/env.txt"
	off=$(part_offset "$OUT/ab.img" 2)
	dd if="$OUT/single.env" of="$OUT/ab.img" bs=1 seek=$((off + 0x8000)) conv=notrunc status=none
	rm -f "$OUT/single.env"
	;;
boot-text)
	cp "$OUT/env.txt" "$OUT/bootorder.txt"
	boot_files+=("$OUT/bootorder.txt")
	fat_bits=32
	;;
*) die "fixture disk: unknown fixture '$FIXTURE'" ;;
esac
FAT_BITS=${fat_bits:-} vfat_image "$OUT/boot.vfat" 64 "${boot_files[@]}"
disk_put "$OUT/ab.img" 1 "$OUT/boot.vfat"
rm -f "$OUT/boot.vfat" "$OUT/bootorder.txt"
