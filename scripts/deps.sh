# shellcheck shell=bash
# Sourced by scripts/test and scripts/demo: installs what vpf's build, tests and testbed
# need from Debian's packages, only when something is missing.
VPF_DEBS=(gcc meson ninja-build pkg-config libcmocka-dev acpica-tools clang
	libclang-rt-14-dev qemu-system-x86 busybox-static cpio kmod util-linux
	e2fsprogs iproute2 libjansson-dev libc6-dev python3-jsonschema libseccomp-dev
	libsystemd-dev clang-format-19 shellcheck)

deps_install() {
	local missing=()
	for p in "${VPF_DEBS[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	echo "Installing from Debian: ${missing[*]}"
	local sudo=""
	[ "$(id -u)" -eq 0 ] || sudo=sudo
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}
