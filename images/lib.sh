# shellcheck shell=bash
# Shared helpers for the image build steps. Sourced, not run.
# Every step runs with: OUT (its empty output dir), BUILD (build/images),
# CACHE (download cache), REPO (repository root), and its inputs in env.
set -euo pipefail

step() { printf 'brownout build: %s\n' "$*" >&2; }
die() { printf 'brownout build: error: %s\n' "$*" >&2; exit 1; }

SUITE=${SUITE:-bookworm}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
# Every root tree the steps build and each method serves (images/rootfs.sh);
# read by the step scripts that source this file.
# shellcheck disable=SC2034
VERSIONS="v1 v2 v2-bad v3"

# with_huge_pages CMD... — run CMD, a compiler's build, with src/hugepages
# preloaded (its comment says why) and glibc's malloc asking for huge pages
# too. The library is built into $OUT/.hugepages; the step removes it.
with_huge_pages() {
	mkdir -p "$OUT/.hugepages"
	cc -std=c11 -Wall -Wextra -Werror -O2 -D_GNU_SOURCE -shared -fPIC -I"$REPO/src" \
		-o "$OUT/.hugepages/hugepages.so" "$REPO/src/hugepages/hugepages.c" ||
		die "building src/hugepages failed (gcc and libc6-dev: run 'make deps')"
	LD_PRELOAD="$OUT/.hugepages/hugepages.so${LD_PRELOAD:+ $LD_PRELOAD}" \
		GLIBC_TUNABLES="glibc.malloc.hugetlb=1${GLIBC_TUNABLES:+:$GLIBC_TUNABLES}" "$@"
}

# apt_download PKG... — fetch arm64 .debs into $CACHE/debs (kept across builds)
# and print their paths. apt resolves the current version; the cache keeps
# what was fetched so a warm build does not touch the network.
apt_download() {
	mkdir -p "$CACHE/debs"
	local pkg ver file lock out=()
	# Steps build side by side (harness/images.py): one download at a time into
	# the shared cache, so two steps never fetch the same file at once.
	exec {lock}>"$CACHE/debs/.lock"
	flock "$lock"
	for pkg in "$@"; do
		ver=$(apt-cache policy "$pkg:arm64" | awk '/Candidate:/ {print $2}')
		[ -n "$ver" ] && [ "$ver" != "(none)" ] ||
			die "no arm64 candidate for $pkg: run 'make deps' (it adds the arm64 architecture and runs apt-get update)"
		file=$(ls "$CACHE/debs/${pkg}_"*"${ver#*:}_arm64.deb" 2>/dev/null | head -n1 || true)
		if [ -z "$file" ]; then
			(cd "$CACHE/debs" && apt-get download -q -o APT::Sandbox::User=root "$pkg:arm64=$ver" >&2) ||
				die "apt-get download $pkg:arm64 failed"
			file=$(ls "$CACHE/debs/${pkg}_"*"${ver#*:}_arm64.deb" | head -n1)
		fi
		out+=("$file")
	done
	exec {lock}>&-
	printf '%s\n' "${out[@]}"
}
