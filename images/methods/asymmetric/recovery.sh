#!/bin/bash
# Recovery step (asymmetric method): the recovery system's initramfs.
# busybox-static, the modules to reach the disk, the network and fw_cfg, and
# the installer brownout-asymmetric with the shared libraries it needs, found by
# walking DT_NEEDED and copied from the v1 root tree (the same Debian arm64
# libraries the root runs). The recovery partition holds it with the kernel;
# no update ever writes that partition.
. "$REPO/images/lib.sh"

step "recovery: busybox-static + brownout-asymmetric + its libraries"
root="$OUT/.root"
libs="$ROOTFS_LEAN_DIR/v1"
mkdir -p "$root"/{bin,usr/bin,dev,proc,sys,run,tmp,etc/brownout,lib/modules,lib/aarch64-linux-gnu,var/lock}
deb=$(apt_download busybox-static)
dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$root" ./bin/busybox
for applet in $(qemu-aarch64-static "$root/bin/busybox" --list); do
	[ "$applet" = busybox ] || ln -sf busybox "$root/bin/$applet"
done

# Boot modules first (virtio, ext4 as the initramfs loads them), then the
# network and fw_cfg with their dependencies, in insmod order: those the
# kernel does not build in (images/kernel.config builds in all of them).
find "$KERNEL_DIR/modules" -name '*.ko' -exec cp -t "$root/lib/modules/" {} +
cp "$KERNEL_DIR/modules.order" "$root/lib/modules/modules.order"
kver=$(cat "$KERNEL_DIR/release")
for mod in virtio_net qemu_fw_cfg; do
	# One module per call: modprobe reads further words as module parameters.
	modprobe -d "$KERNEL_DIR/rootfs-modules/usr" -S "$kver" --show-depends "$mod"
done | awk '$1 == "insmod" {print $2}' | awk '!seen[$0]++' | while read -r ko; do
		cp "$ko" "$root/lib/modules/"
		basename "$ko" >> "$root/lib/modules/modules.order"
	done

install -m 0755 "$APPS_DIR/brownout-asymmetric" "$root/usr/bin/brownout-asymmetric"
install -m 0644 "$KEYS_DIR/update.pub" "$root/etc/brownout/update.pub"
install -m 0644 "$REPO/images/rootfs/fw_env.config" "$root/etc/fw_env.config"
install -m 0755 "$REPO/images/methods/asymmetric/recovery/init" "$root/init"

# needed FILE — the DT_NEEDED names of an ELF file.
needed() { aarch64-linux-gnu-readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'; }
# add_lib LIB WHO — copy LIB (which WHO needs) from the v1 tree, once; its own needs are walked later.
todo=() seen=" "
add_lib() {
	case "$seen" in *" $1 "*) return ;; esac
	seen+="$1 "
	local src
	src=$(ls "$libs/usr/lib/aarch64-linux-gnu/$1" "$libs/lib/aarch64-linux-gnu/$1" 2>/dev/null | head -n1 || true)
	[ -n "$src" ] || die "recovery: $1 (needed by $2) is not in the v1 tree"
	cp -L "$src" "$root/lib/aarch64-linux-gnu/$1"
	todo+=("$root/lib/aarch64-linux-gnu/$1")
}
for lib in $(needed "$root/usr/bin/brownout-asymmetric"); do add_lib "$lib" brownout-asymmetric; done
# The installer loads libcurl itself when its transfers start (src/lib/download.c).
add_lib libcurl.so.4 "brownout-asymmetric's transfers"
while [ "${#todo[@]}" -gt 0 ]; do
	elf=${todo[0]}; todo=("${todo[@]:1}")
	for lib in $(needed "$elf"); do add_lib "$lib" "$(basename "$elf")"; done
done
# The program interpreter, where the ELF headers name it.
cp -L "$libs/usr/lib/ld-linux-aarch64.so.1" "$root/lib/ld-linux-aarch64.so.1"
step "recovery: $(echo $seen | wc -w) shared libraries"

find "$root" -exec touch -h -d @0 {} +
(cd "$root" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) > "$OUT/recovery.img"
rm -rf "$root"
