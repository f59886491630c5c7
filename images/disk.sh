# shellcheck shell=bash
# Disk helpers shared by the per-method layouts. Sourced, not run.
# A layout script lists its partitions and fills them; these helpers do the
# GPT, the file systems and the env region on image files, no loop mounts.

MIB=1048576

# boot_script NAME [OF] — $OUT/boot.scr from images/methods/NAME/boot.cmd (or
# method OF's, for a method that boots as OF does), with each line
# "#include FRAGMENT" replaced by images/boot/FRAGMENT (or $BOOT_FRAGMENTS/
# FRAGMENT: a test fixture's own way of keeping the boot state): U-Boot runs
# one script, and the env code is shared by the methods that keep boot state.
# @METHOD@ in the script becomes NAME. The spliced script stays beside it as
# $OUT/boot.cmd.
boot_script() {
	local name=$1 of=${2:-$1} line fragment
	while IFS= read -r line; do
		line=${line//@METHOD@/$name}
		if [[ $line =~ ^[[:space:]]*#include[[:space:]]+([^[:space:]]+)[[:space:]]*$ ]]; then
			fragment=${BOOT_FRAGMENTS:-$REPO/images/boot}/${BASH_REMATCH[1]}
			[ -f "$fragment" ] || die "boot script $name.cmd: no fragment $fragment"
			cat "$fragment"
		else
			printf '%s\n' "$line"
		fi
	done < "$REPO/images/methods/$of/boot.cmd" > "$OUT/boot.cmd"
	mkimage -A arm64 -T script -C none -n "brownout $name" -d "$OUT/boot.cmd" "$OUT/boot.scr" >/dev/null
}

# disk_create IMG "name:size_mib[:bootable]"... — a sparse GPT image with the
# partitions in order, 1 MiB aligned, and a layout.json describing them.
disk_create() {
	local img=$1; shift
	local total=2 spec name size flag script="label: gpt
"
	for spec in "$@"; do
		IFS=: read -r name size flag <<< "$spec"
		total=$((total + size))
		script+="size=${size}MiB, type=linux, name=$name${flag:+, attrs=LegacyBIOSBootable}
"
	done
	rm -f "$img"
	truncate -s "${total}M" "$img"
	printf '%s' "$script" | sfdisk --quiet --no-reread --no-tell-kernel "$img" >/dev/null
	sfdisk --json "$img" | /usr/bin/python3 -c '
import json, sys
t = json.load(sys.stdin)["partitiontable"]
parts = [{"index": i + 1, "name": p.get("name", ""), "offset": p["start"] * t["sectorsize"],
          "size": p["size"] * t["sectorsize"]} for i, p in enumerate(t["partitions"])]
json.dump({"sector_size": t["sectorsize"], "partitions": parts}, sys.stdout, indent=1)
' > "$(dirname "$img")/layout.json"
}

# part_offset IMG INDEX — byte offset of partition INDEX
part_offset() {
	sfdisk --json "$1" | /usr/bin/python3 -c "
import json, sys
t = json.load(sys.stdin)['partitiontable']
print(t['partitions'][$2 - 1]['start'] * t['sectorsize'])"
}

# disk_put IMG INDEX FILE — write FILE into partition INDEX, keeping holes.
disk_put() {
	local off
	off=$(part_offset "$1" "$2")
	dd if="$3" of="$1" bs=1M seek="$((off / MIB))" conv=notrunc,sparse status=none
}

# vfat_image OUT SIZE_MIB FILE... — a FAT file system holding FILEs at its root
# (FAT32 with FAT_BITS=32, else as mkfs.vfat picks for the size).
vfat_image() {
	local out=$1 size=$2; shift 2
	rm -f "$out"
	mkfs.vfat -C ${FAT_BITS:+-F "$FAT_BITS"} -n BOOT -i 0b00b007 "$out" $((size * 1024)) >/dev/null
	mcopy -i "$out" -m "$@" ::/
}

# env_region OUT ENVTXT — two copies of a 16 KiB env in libubootenv's
# redundant layout (CRC32, flag, data): copy 1 flag 1, copy 2 flag 0, so
# copy 1 is current and the first save goes to copy 2.
env_region() {
	local out=$1 txt=$2 tmp
	tmp=$(mktemp)
	mkenvimage -r -s 0x4000 -o "$tmp" "$txt"
	truncate -s 1M "$out"
	dd if="$tmp" of="$out" conv=notrunc status=none
	printf '\001' | dd of="$out" bs=1 seek=4 conv=notrunc status=none
	dd if="$tmp" of="$out" bs=16K seek=1 conv=notrunc status=none
	printf '\000' | dd of="$out" bs=1 seek=$((0x4004)) conv=notrunc status=none
	rm -f "$tmp"
}
