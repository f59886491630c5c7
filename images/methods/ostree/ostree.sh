#!/bin/bash
# OSTree step: the OSTree-shaped copies of the root trees, the update server's
# archive repositories, and the device's sysroot with v1 deployed.
#   .trees/<version>   rootfs's tree with /etc moved to /usr/etc and the kernel
#                      and initramfs in /usr/lib/modules/<kver>/ (private copies;
#                      the rootfs step's trees are not changed)
#   gpg/               the GPG signing keys (update, rogue): Debian's ostree
#                      2022.7 is built without libsodium, so `ostree sign`
#                      ed25519 is "not implemented"; commits are GPG-signed
#   ostree/<payload>/  what the server serves at /ostree/<payload>/: an archive
#                      repo whose ref brownout/update is that payload's commit
#   sysroot.ext4       the device's OSTree partition: v1 committed and deployed
#                      with libostree's U-Boot backend (/boot/loader/uEnv.txt)
#   bootslot.img       boot slot A as the factory leaves it: v1's kernel,
#                      initramfs and arguments (src/ostree/bootslot.h)
#   digests.jsonl      digest of each version's deployment as libostree lays it out
#   manifests/         the same, path by path (<version>.json)
#   sizes.json         plain pull vs static delta v1->v2, repo usage
. "$REPO/images/lib.sh"

OS=brownout
REF=brownout/update
userns() { /usr/bin/python3 "$REPO/images/methods/ostree/userns.py" "$@"; }

kver=$(cat "$KERNEL_DIR/release")
[ -d "$ROOTFS_DIR/v1/usr/lib/modules/$kver" ] || die "rootfs v1 has no modules for kernel $kver"

step "ostree: GPG keys (update, rogue)"
mkdir -p "$OUT/gpg"
for name in update rogue; do
	home="$OUT/.gnupg-$name"
	mkdir -p "$home" && chmod 0700 "$home"
	gpg --homedir "$home" --batch --quiet --passphrase '' \
		--quick-gen-key "brownout $name <$name@brownout.invalid>" ed25519 sign never 2>/dev/null
	gpg --homedir "$home" --batch --export > "$OUT/gpg/$name.gpg"
	gpg --homedir "$home" --batch --with-colons --list-keys | awk -F: '/^fpr/ {print $10; exit}' > "$OUT/gpg/$name.id"
done

shape() { # version — an OSTree-shaped copy of the rootfs tree
	local version=$1 tree="$OUT/.trees/$1"
	step "ostree: tree $version"
	mkdir -p "$OUT/.trees"
	# Hard links: nothing below writes a file's content, only moves names.
	cp -al "$ROOTFS_DIR/$version" "$tree"
	mv "$tree/etc" "$tree/usr/etc"
	# Device nodes cannot be committed; /dev is devtmpfs at run time anyway.
	find "$tree/dev" -mindepth 1 -delete
	rm -f "$tree/usr/lib/modules/$kver/vmlinuz" "$tree/usr/lib/modules/$kver/initramfs.img"
	cp "$KERNEL_DIR/Image" "$tree/usr/lib/modules/$kver/vmlinuz"
	cp "$INITRAMFS_DIR/initrd.img" "$tree/usr/lib/modules/$kver/initramfs.img"
	mkdir -p "$tree/sysroot"
	ln -s sysroot/ostree "$tree/ostree"
}

repo="$OUT/.repo"
ostree --repo="$repo" init --mode=archive
# Committed into a bare repo, then pulled into the archive one: an archive
# commit compresses every file before it knows the object is there already,
# which a pull does for the new objects only. The objects, and so the
# commits, are the same either way.
bare="$OUT/.bare"
ostree --repo="$bare" init --mode=bare
# Fixed timestamps keep the commits reproducible; they grow with the
# release (v2-bad is a later build of release 2), since libostree refuses a
# commit older than the booted one.
declare -A released=([v1]=2023-11-14T22:13:20Z [v2]=2023-11-15T22:13:20Z [v2-bad]=2023-11-16T22:13:20Z
	[v3]=2023-11-17T22:13:20Z)
for version in $VERSIONS; do
	shape "$version"
	ostree --repo="$bare" commit --branch="$OS/$version" --tree=dir="$OUT/.trees/$version" \
		--bind-ref="$REF" --subject="brownout $version" --add-metadata-string="version=${version#v}" \
		--timestamp="${released[$version]}" --no-xattrs >/dev/null
done
step "ostree: archive repo"
refs=()
for version in $VERSIONS; do refs+=("$OS/$version"); done
ostree --repo="$repo" pull-local "$bare" "${refs[@]}" >/dev/null
rm -rf "$bare"
rev() { ostree --repo="$repo" rev-parse "$OS/$1"; }

# serve PAYLOAD VERSION KEY — an archive repo with v1 and VERSION, VERSION
# signed by KEY and published as $REF. Objects are hard links to the shared
# repo; only files written below (refs, signatures, summary) are its own.
serve() {
	local payload=$1 version=$2 key=$3 dir="$OUT/ostree/$1"
	step "ostree: served repo $payload ($version signed by $key)"
	mkdir -p "$OUT/ostree"
	cp -al "$repo" "$dir"
	ostree --repo="$dir" refs --create="$REF" "$(rev "$version")"
	ostree --repo="$dir" gpg-sign --gpg-homedir="$OUT/.gnupg-$key" "$(rev "$version")" "$(cat "$OUT/gpg/$key.id")"
}
serve v1 v1 update
serve v2 v2 update
serve v2-bad v2-bad update
serve v3 v3 update
serve v2-badsig v2 rogue
serve v2-tampered v2 update
# One object that v2 adds (bc's binary) changes content; its name, the
# checksum every commit refers to, stays. Replaced, not written through: the
# objects are hard links shared with the other repos.
for name in update rogue; do
	gpgconf --homedir "$OUT/.gnupg-$name" --kill gpg-agent 2>/dev/null || true
	rm -rf "$OUT/.gnupg-$name"
done
obj=$(ostree --repo="$OUT/ostree/v2-tampered" ls -C "$(rev v2)" /usr/bin/bc | awk '{print $5}')
objfile="$OUT/ostree/v2-tampered/objects/${obj:0:2}/${obj:2}.filez"
[ -f "$objfile" ] || die "v2-tampered: no object $objfile for /usr/bin/bc"
cp "$objfile" "$objfile.new"
printf '\xff\xff\xff\xff' | dd of="$objfile.new" bs=1 seek=$(( $(stat -c %s "$objfile.new") / 2 )) conv=notrunc status=none
mv "$objfile.new" "$objfile"

step "ostree: static delta v1->v2 (served as ostree/v2-delta)"
cp -al "$OUT/ostree/v2" "$OUT/ostree/v2-delta"
ostree --repo="$OUT/ostree/v2-delta" static-delta generate --from="$(rev v1)" --to="$(rev v2)" >/dev/null
for payload in v1 v2 v2-bad v3 v2-badsig v2-tampered v2-delta; do
	ostree --repo="$OUT/ostree/$payload" summary -u
done

# The device's sysroot. `ostree admin deploy` ends by freezing and thawing the
# file system that holds /boot; run on the build machine that would be its
# root file system, so it runs in a user namespace, where FIFREEZE is refused
# and libostree falls back to syncfs.
step "ostree: sysroot with v1 deployed (U-Boot backend)"
sysroot="$OUT/.sysroot"
deployment_of() { ls -d "$1"/ostree/deploy/$OS/deploy/*.0 | head -n1; }
make_sysroot() { # DIR
	mkdir -p "$1"
	ostree admin init-fs "$1" >/dev/null
	ostree admin --sysroot="$1" os-init "$OS" >/dev/null
	ostree --repo="$1/ostree/repo" config set sysroot.bootloader uboot
	# The update URL is the client's to give (override-url); commits must be
	# signed by the update key. The summary is not signed: commits are.
	ostree --repo="$1/ostree/repo" remote add --set=gpg-verify=true --set=gpg-verify-summary=false \
		--gpg-import="$OUT/gpg/update.gpg" brownout "http://10.0.2.100/ostree/v2"
	ostree --repo="$1/ostree/repo" pull-local --remote=brownout "$repo" "$OS/v1" >/dev/null
	# libostree's U-Boot backend reads the current uEnv.txt before it writes
	# the next one, as on a device that left the factory with an empty loader.0.
	mkdir -p "$1/boot/loader.0"
	: > "$1/boot/loader.0/uEnv.txt"
	ln -s loader.0 "$1/boot/loader"
	{ userns ostree admin --sysroot="$1" deploy --os="$OS" "brownout:$OS/v1" 2>&1 >/dev/null; } | { grep -v '^note: Deploying commit' || true; } >&2
	# libostree 2022.7 leaves the stateroot's /var empty (systemd-tmpfiles
	# fills it on real systems): start it as a copy of v1's /var.
	cp -a "$(deployment_of "$1")/var/." "$1/ostree/deploy/$OS/var/"
}
make_sysroot "$sysroot"
# /boot/uEnv.txt as libostree's U-Boot backend expects to find it.
ln -sfn loader/uEnv.txt "$sysroot/boot/uEnv.txt"

# bootslot_image IMAGE DEPLOYMENT ARGS KERNEL INITRD — a boot slot's content, as
# bootslot_write (src/ostree/bootslot.c) lays it out and the client writes it:
# a 4 KiB text header, NUL-padded, then the kernel, then the initramfs, each
# 4 KiB aligned; offsets and counts in 512-byte blocks, in hex.
bootslot_image() {
	local image=$1 deployment=$2 args=$3 kernel=$4 initrd=$5 kblocks rblock rblocks rsize
	kblocks=$(( ($(stat -c %s "$kernel") + 4095) / 4096 * 8 ))
	rsize=$(stat -c %s "$initrd")
	rblock=$(( 8 + kblocks ))
	rblocks=$(( (rsize + 4095) / 4096 * 8 ))
	rm -f "$image"
	printf 'bs_deployment=%s\nbs_kernel_block=0x%x\nbs_kernel_blocks=0x%x\nbs_ramdisk_block=0x%x\nbs_ramdisk_blocks=0x%x\nbs_ramdisk_size=0x%x\nbs_args=%s\n' \
		"$deployment" 8 "$kblocks" "$rblock" "$rblocks" "$rsize" "$args" > "$image"
	[ "$(stat -c %s "$image")" -lt 4096 ] || die "boot slot header of $deployment is over 4 KiB"
	truncate -s 4096 "$image"
	dd if="$kernel" of="$image" bs=512 seek=8 conv=notrunc status=none
	dd if="$initrd" of="$image" bs=512 seek="$rblock" conv=notrunc status=none
	truncate -s $(( (rblock + rblocks) * 512 )) "$image"
}
step "ostree: boot slot A with v1's kernel"
v1_deployment=$(basename "$(deployment_of "$sysroot")")
v1_entry=$(ls "$sysroot"/boot/loader/entries/*.conf)
[ "$(echo "$v1_entry" | wc -l)" = 1 ] || die "the factory sysroot has $(echo "$v1_entry" | wc -l) boot entries, not 1"
entry_field() { awk -v k="$1" '$1 == k { sub(/^[^ ]+ +/, ""); print; exit }' "$v1_entry"; }
v1_args="ostree=/ostree/deploy/$OS/deploy/$v1_deployment"
for word in $(entry_field options); do
	case $word in ostree=*) ;; *) v1_args+=" $word" ;; esac
done
bootslot_image "$OUT/bootslot.img" "$v1_deployment" "$v1_args" \
	"$sysroot/boot$(entry_field linux)" "$sysroot/boot$(entry_field initrd)"

# tree_digest DEPLOYMENT VERSION — the deployment's digests.jsonl line, and
# its manifest.
tree_digest() {
	(cd "$REPO" && /usr/bin/python3 -m harness.checks.digest tree "$1" --label "$2" \
		--manifest "$OUT/manifests/$2.json")
}
# digest VERSION — of the deployment libostree makes of VERSION from v1 (a
# scratch sysroot; v1's own is the factory one).
digest() {
	local version=$1 scratch="$OUT/.scratch-$1" dep
	cp -a "$sysroot" "$scratch"
	ostree --repo="$scratch/ostree/repo" pull-local --remote=brownout "$repo" "$OS/$version" >/dev/null
	{ userns ostree admin --sysroot="$scratch" deploy --os="$OS" "brownout:$OS/$version" 2>&1 >/dev/null; } | { grep -v '^note: Deploying commit' || true; } >&2
	dep=$(ls -d "$scratch/ostree/deploy/$OS/deploy/$(rev "$version").0")
	tree_digest "$dep" "$version"
	rm -rf "$scratch"
}
tree_digest "$(deployment_of "$sysroot")" v1 > "$OUT/digests.jsonl"
# Side by side: each has its own scratch sysroot, and the step's tail is
# otherwise the image build's alone.
step "ostree: digests of the v2, v2-bad and v3 deployments"
later=(v2 v2-bad v3)
pids=()
for version in "${later[@]}"; do
	digest "$version" > "$OUT/.digest-$version" &
	pids+=($!)
done
for n in "${!pids[@]}"; do
	wait "${pids[$n]}" || { kill "${pids[@]}" 2>/dev/null; die "ostree: the digest of the ${later[$n]} deployment failed"; }
	cat "$OUT/.digest-${later[$n]}" >> "$OUT/digests.jsonl"
done
rm -f "$OUT"/.digest-*

# Sizes: what a plain pull of v2 fetches (the archive objects v2 has and v1
# has not) and what the static delta weighs, and the device repo's usage.
plain=$(comm -13 <(ostree --repo="$repo" ls -RC "$(rev v1)" / | awk '{print $5}' | sort -u) \
		<(ostree --repo="$repo" ls -RC "$(rev v2)" / | awk '{print $5}' | sort -u) |
	while read -r o; do
		[ -n "$o" ] || continue
		stat -c %s "$repo/objects/${o:0:2}/${o:2}".* 2>/dev/null | head -n1
	done | awk '{s += $1} END {print s + 0}')
delta=$(du -sb "$OUT/ostree/v2-delta/deltas" | cut -f1)
repo_kib=$(du -sk "$sysroot/ostree/repo" | cut -f1)
printf '{"plain_pull_new_objects_bytes": %s, "static_delta_bytes": %s, "device_repo_kib": %s}\n' \
	"$plain" "$delta" "$repo_kib" > "$OUT/sizes.json"

size_kib=$(du -sk "$sysroot" | cut -f1)
# Room for a second deployment, its pulled objects and a third during an update.
SYSROOT_MIB=$(( (size_kib * 2 / 1024 / 16 + 1) * 16 + 128 ))
step "ostree: sysroot ext4 (${SYSROOT_MIB} MiB)"
uuid=$(printf 'brownout-ostree' | sha256sum | sed -E 's/^(.{8})(.{4})(.{4})(.{4})(.{12}).*/\1-\2-\3-\4-\5/')
truncate -s "${SYSROOT_MIB}M" "$OUT/sysroot.ext4"
E2FSPROGS_FAKE_TIME=1700000000 mke2fs -q -t ext4 -d "$sysroot" -L ostree -U "$uuid" \
	-E "hash_seed=$uuid,root_owner=0:0" -F "$OUT/sysroot.ext4"
rm -rf "$OUT/.trees" "$repo" "$sysroot"
