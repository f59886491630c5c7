#!/bin/bash
# Host dependencies, all from Debian: installs what is missing (idempotent),
# adds the arm64 architecture for the guest's packages, and enables binfmt
# for arm64 so mmdebstrap can run the guest's maintainer scripts.
# Usage: deps.sh [--test]. Without --test, what building the images and
# running trials needs, without the packages' recommendations (half the
# download: no desktop, codec or firmware stacks QEMU, GCC and mmdebstrap
# recommend); with --test, also what make test's lint and tests run.
set -euo pipefail

packages=(
	qemu-system-arm qemu-utils u-boot-qemu u-boot-tools
	mmdebstrap qemu-user-static binfmt-support arch-test
	# the firmware step builds U-Boot from Debian's source package (its default
	# environment becomes a C header through xxd)
	dpkg-dev bison flex xxd
	# the kernel step builds Debian's kernel source (bc: its timer constants)
	bc
	gcc libc6-dev make gcc-aarch64-linux-gnu libc6-dev-arm64-cross pkg-config
	libcurl4-openssl-dev libubootenv-dev libssl-dev
	# the offline checks read root trees out of ext4 images with libext2fs
	libext2fs-dev
	# campaigns run their trials under pytest-xdist
	python3 python3-matplotlib python3-pytest python3-pytest-xdist python3-pytest-timeout
	mtools dosfstools fdisk e2fsprogs cpio kmod libubootenv-tool openssl xz-utils
	gzip
)
recommends=--no-install-recommends
if [ "${1:-}" = --test ]; then
	packages+=(
		libcmocka-dev valgrind
		# a test renders the HTML report in a real browser
		chromium
		# make test's lint step
		flake8 mypy shellcheck cppcheck
	)
	recommends=
fi
# What a method's own build steps run on the host (images/methods/*/host-packages).
repo=$(cd "$(dirname "$0")/.." && pwd)
for listing in "$repo"/images/methods/*/host-packages; do
	while read -r line; do
		line=${line%%#*}
		for p in $line; do packages+=("$p"); done
	done < "$listing"
done

say() { printf 'brownout deps: %s\n' "$*" >&2; }

[ "$(id -u)" = 0 ] || { say "error: run as root (apt-get, binfmt_misc need it)"; exit 1; }
command -v apt-get >/dev/null || { say "error: apt-get not found: brownout needs Debian 12 (bookworm)"; exit 1; }

if ! dpkg --print-foreign-architectures | grep -qx arm64; then
	say "adding the arm64 architecture"
	dpkg --add-architecture arm64
	need_update=1
fi

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
# Arm64 package lists must be present to download the guest's packages.
ls /var/lib/apt/lists/*_binary-arm64_Packages* >/dev/null 2>&1 || need_update=1

if [ "${#missing[@]}" -gt 0 ] || [ -n "${need_update:-}" ]; then
	say "apt-get update"
	# A third-party source that is unreachable must not stop us; the Debian
	# lists are checked right after.
	apt-get update -q >/dev/null || say "warning: apt-get update reported errors"
	ls /var/lib/apt/lists/*_binary-arm64_Packages* >/dev/null 2>&1 ||
		{ say "error: no arm64 package lists after apt-get update: check /etc/apt/sources.list"; exit 1; }
fi
if [ "${#missing[@]}" -gt 0 ]; then
	say "apt-get install ${missing[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q $recommends "${missing[@]}" >/dev/null ||
		{ say "error: apt-get install failed for: ${missing[*]}"; exit 1; }
fi

if [ ! -e /proc/sys/fs/binfmt_misc/status ]; then
	mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc ||
		{ say "error: cannot mount binfmt_misc (needed to run arm64 programs while building the root trees)"; exit 1; }
fi
if [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
	say "enabling binfmt for arm64"
	update-binfmts --enable qemu-aarch64 ||
		{ say "error: update-binfmts --enable qemu-aarch64 failed"; exit 1; }
fi
arch-test arm64 >/dev/null || { say "error: arm64 binaries do not run here (binfmt): see arch-test arm64"; exit 1; }
