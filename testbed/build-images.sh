#!/usr/bin/env bash
# Build the nested testbed images under build/testbed/ (see docs/testbed.md):
#   bzImage      Debian's current kernel (linux-image-amd64's dependency), for L1 and L2
#   l2.cpio.gz   L2 guest: busybox, virtio-net + pvpanic modules, ip/lspci/iperf3/ethtool,
#                iptables (nft) + container networking modules (loaded on demand),
#                tests/e2e/guest/*.sh, /init = testbed/l2-init
#   l1.cpio      L1 VM: busybox, bash, KVM/vhost/tun/bridge/9p modules, the vDPA
#                simulator modules (build-vdpa-mods.sh), tools, QEMU 7.2, DPDK 22.11's
#                testpmd with the vhost, tap and ring-mempool PMDs (vhost-user peer),
#                /init = testbed/l1-init
# Idempotent: each image carries a key (inputs' hashes and package versions); an
# image whose key did not change is not rebuilt.
set -euo pipefail
. "$(dirname "$0")/common.sh"

force=0
[ "${1:-}" = --force ] && force=1
mkdir -p "$TB_OUT"
cd "$TB_OUT"

# Tools copied into the images (from the host's Debian packages) and the host's own needs.
TOOL_PKGS=(busybox-static bash coreutils iproute2 pciutils pci.ids iperf3 ethtool sockperf)
ensure_pkgs "${TOOL_PKGS[@]}" cpio gzip apt qemu-system-x86 seabios ipxe-qemu

# ---------------------------------------------------------------------------
# Kernel: the image linux-image-amd64 depends on, downloaded and unpacked once.
resolve_kpkg() {
	apt-cache depends linux-image-amd64 2>/dev/null |
		sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' | head -n1
}
# apt-cache takes ~2 s to load its cache: reuse the last answer while the
# package lists have not changed since.
lists=$(find /var/lib/apt/lists -maxdepth 1 -name '*_Packages*' -printf '%T@ %p\n' 2>/dev/null | sort | sha256sum | cut -c1-16)
kpkg=${TESTBED_KERNEL_PKG:-}
if [ -z "$kpkg" ] && [ -f kernel.pkg ] && [ "$(sed -n 2p kernel.pkg)" = "$lists" ]; then
	kpkg=$(sed -n 1p kernel.pkg)
fi
[ -n "$kpkg" ] || kpkg=$(resolve_kpkg)
if [ -z "$kpkg" ]; then # no package lists yet on a fresh machine
	tb_sudo apt-get update -qq
	kpkg=$(resolve_kpkg)
fi
[ -n "$kpkg" ] || tb_die "cannot resolve the kernel package of linux-image-amd64"
[ -n "${TESTBED_KERNEL_PKG:-}" ] || printf '%s\n%s\n' "$kpkg" "$lists" >kernel.pkg
kver=${kpkg#linux-image-}
kdir=$TB_OUT/kernel/$kver
if [ ! -f "$kdir/.done" ]; then
	tb_log "downloading $kpkg"
	rm -rf "$kdir" && mkdir -p "$TB_OUT/debs" "$kdir"
	# apt-get download writes into the current directory.
	(cd "$TB_OUT/debs" && rm -f "${kpkg}"_*.deb && apt-get download -q "$kpkg" 2>&1 | grep -v '^W: Download is performed unsandboxed' >&2 || true)
	deb=$(find "$TB_OUT/debs" -maxdepth 1 -name "${kpkg}_*.deb" | LC_ALL=C sort | head -n1)
	[ -n "$deb" ] || tb_die "apt-get download $kpkg failed"
	dpkg-deb -x "$deb" "$kdir"
	touch "$kdir/.done"
fi
kmods=$kdir/lib/modules/$kver
if ! cmp -s "$kdir/boot/vmlinuz-$kver" bzImage; then
	cp "$kdir/boot/vmlinuz-$kver" bzImage.tmp && mv bzImage.tmp bzImage
fi
echo "$kver" >kernel.version

# ---------------------------------------------------------------------------
# Modules: resolve dependencies from each .ko's modinfo "depends=" (no kmod needed).
declare -A MODPATH=()
index_modules() {
	[ ${#MODPATH[@]} -gt 0 ] && return 0
	local f n
	while IFS= read -r f; do
		n=${f##*/}; n=${n%.ko}; MODPATH[${n//-/_}]=$f
	done < <(find "$kmods/kernel" -name '*.ko')
}

declare -A SEEN=()
ORDER=()
resolve_mod() {
	local m=${1//-/_} d deps
	[ -n "${SEEN[$m]:-}" ] && return 0
	SEEN[$m]=1
	if [ -z "${MODPATH[$m]:-}" ]; then
		# Built into the kernel: nothing to load.
		tr '-' '_' <"$kmods/modules.builtin" | grep -q "/$m\.ko$" && return 0
		tb_die "module $m is neither a module nor built in ($kver)"
	fi
	deps=$(tr '\0' '\n' <"${MODPATH[$m]}" | sed -n 's/^depends=//p')
	for d in ${deps//,/ }; do resolve_mod "$d"; done
	ORDER+=("$m")
}
# add_modules STAGE MOD...: copy MODs and their dependencies, in load order, listed in
# STAGE/etc/modules.order (or /etc/$MODORDER: a set the image's scripts load on demand).
add_modules() {
	local stage=$1 m order=$1/etc/${MODORDER:-modules.order}; shift
	index_modules
	SEEN=() ORDER=()
	for m in "$@"; do resolve_mod "$m"; done
	mkdir -p "$stage/lib/modules" "$stage/etc"
	: >"$order"
	for m in "${ORDER[@]}"; do
		cp "${MODPATH[$m]}" "$stage/lib/modules/$m.ko"
		echo "$m" >>"$order"
	done
}

# ---------------------------------------------------------------------------
# Staging helpers. The stage mirrors Debian's merged-/usr layout so that the
# paths ldd prints (/lib/x86_64-linux-gnu/..., /lib64/ld-linux...) resolve.
new_stage() {
	local s=$1
	rm -rf "$s" && mkdir -p "$s"/{usr/bin,usr/sbin,usr/lib,usr/lib64,proc,sys,dev,tmp,run,root,etc,mnt}
	ln -s usr/bin "$s/bin"; ln -s usr/sbin "$s/sbin"
	ln -s usr/lib "$s/lib"; ln -s usr/lib64 "$s/lib64"
	cp /bin/busybox "$s/usr/bin/busybox"
	# Applet links; the real tools copied later replace the ones they shadow.
	local a
	for a in $(/bin/busybox --list); do
		[ -e "$s/usr/bin/$a" ] || ln -s busybox "$s/usr/bin/$a"
	done
	printf 'root:x:0:0:root:/root:/bin/sh\n' >"$s/etc/passwd"
	printf 'root:x:0:\n' >"$s/etc/group"
	printf '127.0.0.1 localhost\n::1 localhost\n' >"$s/etc/hosts"
	# The kernel's built-in cpio usually provides it; harmless when not root.
	mknod -m 600 "$s/dev/console" c 5 1 2>/dev/null || true
}
copy_file() { # copy_file STAGE PATH: copy PATH (dereferenced) to the same path in STAGE
	mkdir -p "$1$(dirname "$2")"
	rm -f "$1$2"
	cp -L "$2" "$1$2"
}
copy_bin() { # copy_bin STAGE BINARY...: binaries plus the shared libraries ldd lists
	local s=$1 b lib; shift
	for b in "$@"; do
		b=$(command -v "$b") || tb_die "missing tool $b"
		copy_file "$s" "$b"
		# Drop the busybox applet of the same name so that PATH finds the real tool.
		[ -L "$s/usr/bin/${b##*/}" ] && rm "$s/usr/bin/${b##*/}"
		for lib in $(ldd "$b" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}'); do
			[ -e "$s$lib" ] || copy_file "$s" "$lib"
		done
	done
}
pack() { # pack STAGE OUT COMPRESSOR...
	local s=$1 out=$2; shift 2
	(cd "$s" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) | "$@" >"$out.tmp"
	mv "$out.tmp" "$out"
}
key_of() { # a hash over everything an image is made of
	{
		echo "$kver"
		pkg_versions "${TOOL_PKGS[@]}" "$@"
		sha256sum "$TB_REPO/testbed/build-images.sh" "$TB_REPO/testbed/common.sh"
	} | sha256sum | cut -d' ' -f1
}
fresh() { [ "$force" = 0 ] && [ -f "$1" ] && [ "$(cat "$1.key" 2>/dev/null)" = "$2" ]; }

COMMON_TOOLS=(bash ip lspci iperf3 ethtool sockperf)

# ---------------------------------------------------------------------------
# L2 guest image.
L2_MODULES=(virtio_pci virtio_net pvpanic_mmio pvpanic_pci)
# The ACPI power button (tests/e2e/lifecycle.sh, powerdown): button.c and evdev for acpid.
# Not loaded at boot: /etc/modules.acpi, loaded by guest/powerdown.sh.
L2_ACPI_MODULES=(button evdev)
# Container networking (bench/container_bench.sh): veth + bridge + iptables NAT as Docker
# sets it up on Debian 12 (iptables-nft: nf_tables, xt targets through nft_compat).
# Not loaded at boot: /etc/modules.container, loaded by the guest scripts that need it.
# crc32c_generic first: libcrc32c (nf_conntrack's dependency) asks the crypto API for
# "crc32c" at load time (a modinfo softdep, which depends= does not list).
L2_CONTAINER_MODULES=(crc32c_generic veth bridge br_netfilter nf_tables nft_compat nft_chain_nat
	xt_MASQUERADE xt_nat xt_tcpudp xt_addrtype xt_conntrack)
# SR-IOV scenarios (tests/e2e/sriov*.sh): Debian's CNI host-device plug-in, a static Go binary.
L2_PKGS=(containernetworking-plugins iptables)
ensure_pkgs "${L2_PKGS[@]}"
GUEST_SCRIPTS=()
[ -d "$TB_REPO/tests/e2e/guest" ] &&
	mapfile -t GUEST_SCRIPTS < <(find "$TB_REPO/tests/e2e/guest" -maxdepth 1 -type f -name '*.sh' | LC_ALL=C sort)
# The key covers this script too: a module or tool added here must rebuild the image.
# Guest programs (tests/e2e/guest/*.c), built static with the host's gcc.
GUEST_PROGS=()
[ -d "$TB_REPO/tests/e2e/guest" ] &&
	mapfile -t GUEST_PROGS < <(find "$TB_REPO/tests/e2e/guest" -maxdepth 1 -type f -name '*.c' | LC_ALL=C sort)
l2key=$( { key_of "${L2_PKGS[@]}"; sha256sum "$TB_REPO/testbed/l2-init" "${GUEST_SCRIPTS[@]}" "${GUEST_PROGS[@]}" "$TB_REPO/testbed/build-images.sh"; } | sha256sum | cut -d' ' -f1)
if fresh l2.cpio.gz "$l2key"; then
	tb_log "l2.cpio.gz up to date"
else
	tb_log "building l2.cpio.gz"
	s=$TB_OUT/stage-l2
	new_stage "$s"
	MODORDER=modules.container add_modules "$s" "${L2_CONTAINER_MODULES[@]}"
	MODORDER=modules.acpi add_modules "$s" "${L2_ACPI_MODULES[@]}"
	add_modules "$s" "${L2_MODULES[@]}"
	copy_bin "$s" "${COMMON_TOOLS[@]}" xtables-nft-multi
	ln -s xtables-nft-multi "$s/usr/sbin/iptables" # Debian 12's default alternative
	# iptables loads its matches and targets (libxt_*.so) from here at run time.
	for f in /usr/lib/x86_64-linux-gnu/xtables/lib{xt,ipt}_*.so; do copy_file "$s" "$f"; done
	copy_file "$s" /usr/share/misc/pci.ids
	copy_file "$s" /usr/lib/cni/host-device
	install -m 755 "$TB_REPO/testbed/l2-init" "$s/init"
	mkdir -p "$s/guest"
	[ ${#GUEST_SCRIPTS[@]} -eq 0 ] || cp "${GUEST_SCRIPTS[@]}" "$s/guest/"
	for c in "${GUEST_PROGS[@]}"; do
		gcc -static -O2 -Wall -Wextra -Werror -o "$s/guest/$(basename "$c" .c)" "$c" || tb_die "cannot build $c"
	done
	pack "$s" l2.cpio.gz gzip -6
	echo "$l2key" >l2.cpio.gz.key
	rm -rf "$s"
fi

# ---------------------------------------------------------------------------
# L1 image. Uncompressed: QEMU loads it on the host side in no time, while
# gunzip of ~90 MB under TCG costs several seconds of every L1 boot.
L1_MODULES=(irqbypass kvm ccp kvm_amd tun vhost vhost_iotlb vhost_net veth bridge 8021q
	virtio_pci 9pnet_virtio 9p)
QEMU_PKGS=(qemu-system-x86 seabios ipxe-qemu)
# The vDPA simulator (tests/e2e/vdpa.sh): built out of tree for this kernel (Debian's
# config has no vDPA), not loaded at boot: /etc/modules.vdpa, loaded by the scenario
# after the vhost modules above (vhost_vdpa needs vhost and vhost_iotlb).
VDPA_MODULES=(vringh vdpa vdpa_sim vdpa_sim_net vhost_vdpa)
# A vhost-user peer (tests/e2e/vhostuser.sh): DPDK's testpmd (in dpdk-dev) forwarding
# between a vhost-user port (net_vhost PMD) and a tap (net_tap PMD), mbufs from the ring
# mempool driver. The PMDs are loaded with -d; they and testpmd bring their libraries.
DPDK_PKGS=(dpdk-dev librte-net-vhost23 librte-net-tap23 librte-mempool-ring23)
DPDK_PMDS=(librte_net_vhost.so.23 librte_net_tap.so.23 librte_mempool_ring.so.23)
ensure_pkgs "${DPDK_PKGS[@]}"
vdpa_out=$("$TB_REPO/testbed/build-vdpa-mods.sh" "$kver")
l1key=$( { key_of "${QEMU_PKGS[@]}" "${DPDK_PKGS[@]}"; sha256sum "$TB_REPO/testbed/l1-init" "$TB_REPO/testbed/build-images.sh" \
	"$TB_REPO/testbed/build-vdpa-mods.sh"; } | sha256sum | cut -d' ' -f1)
if fresh l1.cpio "$l1key"; then
	tb_log "l1.cpio up to date"
else
	tb_log "building l1.cpio"
	s=$TB_OUT/stage-l1
	new_stage "$s"
	add_modules "$s" "${L1_MODULES[@]}"
	: >"$s/etc/modules.vdpa"
	for m in "${VDPA_MODULES[@]}"; do
		cp "$vdpa_out/$m.ko" "$s/lib/modules/$m.ko"
		echo "$m" >>"$s/etc/modules.vdpa"
	done
	# bash runs the scenario scripts; GNU timeout keeps exit codes identical to the host's.
	# vdpa (iproute2): vDPA devices through the kernel's netlink, as an admin would.
	# setpriv (util-linux): run vpf without a capability (the vdpa scenario's memlock check).
	copy_bin "$s" "${COMMON_TOOLS[@]}" timeout qemu-system-x86_64 vdpa setpriv dpdk-testpmd
	for p in "${DPDK_PMDS[@]}"; do
		p=/usr/lib/x86_64-linux-gnu/$p
		copy_file "$s" "$p"
		for lib in $(ldd "$p" | awk '$2 == "=>" && $3 ~ /^\// {print $3}'); do
			[ -e "$s$lib" ] || copy_file "$s" "$lib"
		done
	done
	copy_file "$s" /usr/share/misc/pci.ids
	# QEMU's firmware for -kernel boots of pc/q35 and the virtio-net option ROM.
	for f in /usr/share/seabios/bios-256k.bin /usr/share/seabios/bios.bin \
		/usr/share/qemu/{linuxboot_dma.bin,linuxboot.bin,kvmvapic.bin,multiboot_dma.bin,pvh.bin} \
		/usr/lib/ipxe/qemu/efi-virtio.rom /usr/lib/ipxe/qemu/pxe-virtio.rom; do
		copy_file "$s" "$f"
	done
	install -m 755 "$TB_REPO/testbed/l1-init" "$s/init"
	# Libraries already in the image: run.sh ships only the others that vpf needs.
	(cd "$s" && find usr/lib usr/lib64 -name '*.so*' | sed 's|.*/||' | LC_ALL=C sort -u) >l1.libs
	pack "$s" l1.cpio cat
	echo "$l1key" >l1.cpio.key
	rm -rf "$s"
fi
stat --printf '[testbed] %s\t%n\n' "$TB_OUT"/{bzImage,l1.cpio,l2.cpio.gz} >&2
