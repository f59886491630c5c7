#!/bin/bash
# Initramfs step: our /init (src/initramfs, from the apps step), the kernel
# step's modules, and for repairing a root that refuses to mount, the
# repair-root script with busybox-static and e2fsck-static (arm64), packed as
# a newc cpio.
. "$(dirname "$0")/lib.sh"

step "initramfs: brownout-initramfs, busybox-static, e2fsck-static, $(wc -l < "$KERNEL_DIR/modules.order") modules"
root="$OUT/.root"
mkdir -p "$root"/{bin,dev,proc,sys,newroot,sysroot,lib/modules,lib/brownout}
dpkg-deb --fsys-tarfile "$(apt_download busybox-static)" | tar -x -C "$root" ./bin/busybox
for applet in $(qemu-aarch64-static "$root/bin/busybox" --list); do
	[ "$applet" = busybox ] || ln -sf busybox "$root/bin/$applet"
done
dpkg-deb --fsys-tarfile "$(apt_download e2fsck-static)" | tar -x -O ./sbin/e2fsck.static > "$root/bin/e2fsck"
chmod 0755 "$root/bin/e2fsck"
# The kernel builds in what mounting the root needs: modules.order may name none.
find "$KERNEL_DIR/modules" -name '*.ko' -exec cp -t "$root/lib/modules/" {} +
cp "$KERNEL_DIR/modules.order" "$root/lib/modules/"
install -m 0755 "$APPS_DIR/brownout-initramfs" "$root/init"
install -m 0755 "$REPO/images/initramfs/repair-root" "$root/lib/brownout/repair-root"
# Fixed timestamps and sorted names make the archive depend on content only.
# Uncompressed: U-Boot loads the extra megabytes in milliseconds, while the
# kernel's gunzip under emulation costs a noticeable part of the boot.
find "$root" -exec touch -h -d @0 {} +
(cd "$root" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) > "$OUT/initrd.img"
rm -rf "$root"
