# shellcheck shell=bash
# Shared helpers for testbed/*.sh (bash). Sourced, not executed.

TB_REPO=${TB_REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
# shellcheck disable=SC2034 # used by the scripts that source this file
TB_OUT=$TB_REPO/build/testbed

tb_log() { printf '[testbed] %s\n' "$*" >&2; }
tb_die() { printf '[testbed] ERROR: %s\n' "$*" >&2; exit 1; }

# Run as root or through sudo (CI runners are often non-root with sudo).
tb_sudo() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# ensure_pkgs PKG...: install the Debian packages that are missing. Checks
# dpkg first so that a fully provisioned machine never touches the network.
ensure_pkgs() {
	local p missing=()
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$' ||
			missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	tb_log "installing missing packages: ${missing[*]}"
	tb_sudo apt-get update -qq
	tb_sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# Package versions, for cache keys: an upgraded tool rebuilds the image.
pkg_versions() { dpkg-query -W -f='${Package}=${Version}\n' "$@" 2>/dev/null; }

# The host can run the scenarios itself when it has hardware virtualization.
host_has_hwvirt() { grep -qwE 'vmx|svm' /proc/cpuinfo && [ -c /dev/kvm ]; }
