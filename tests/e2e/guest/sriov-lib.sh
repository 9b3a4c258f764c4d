# shellcheck shell=bash
# Guest helpers shared by guest/sriov*.sh (source it; set N, the VF count, first). L1 is
# 10.0.0.1 on the PF's tap, we are 10.0.0.2. Markers "VPF-SRIOV: ..." tell L1 how far we
# got; L1's go-aheads are files on its web server.
say() { echo "VPF-SRIOV: $*"; }
die() { say "FAIL: $*"; exit 1; }
# shellcheck source=l1-lib.sh
. /guest/l1-lib.sh
# ack NAME: wait (2 minutes at most) until L1 publishes http://10.0.0.1:8080/NAME.
ack() { l1_published "$1" 600 || die "no go-ahead '$1' from L1"; }

# sriov_pf_up: finds the SR-IOV PF ($pf, $pfaddr, $pfdev) and puts 10.0.0.2 on it.
sriov_pf_up() {
	pf=
	for d in /sys/bus/pci/devices/*; do [ -f "$d/sriov_totalvfs" ] && pf=$d; done
	[ -n "$pf" ] || { lspci; die "no SR-IOV PF"; }
	pfaddr=$(basename "$pf")
	pfdev=$(basename "$(echo "$pf"/virtio*/net/*)")
	say "pf $pfaddr dev=$pfdev totalvfs=$(cat "$pf/sriov_totalvfs")"
	ip addr add 10.0.0.2/24 dev "$pfdev"
	ip link set "$pfdev" up
	ping -c 2 -W 5 10.0.0.1 >/dev/null || die "PF ping to L1 failed"
}

# Nested, every fork costs: the helpers below use shell builtins only.
# vf_dev I: VF_DEV = the netdev of VF I once virtio_net has bound it (its net/ directory
# exists only then), else empty.
vf_dev() {
	local n
	VF_DEV=
	for n in "$pf/virtfn$1"/virtio*/net/*; do [ -e "$n" ] && VF_DEV=${n##*/}; done
}
# uevent FILE KEY: UEV = the value of KEY in a sysfs uevent file.
uevent() {
	local k v
	UEV=
	while IFS='=' read -r k v; do [ "$k" = "$2" ] && UEV=$v; done <"$1"
}
# wait_vfs COUNT [SECS]: until COUNT VFs have virtio_net netdevs (0: until none exist).
wait_vfs() {
	local have i
	for _ in $(seq $((${2:-60} * 10))); do
		have=0
		for ((i = 0; i < N; i++)); do
			if [ "$1" = 0 ]; then [ -e "$pf/virtfn$i" ] && have=$((have + 1))
			else vf_dev "$i"; [ -n "$VF_DEV" ] && have=$((have + 1)); fi
		done
		[ "$have" = "$1" ] && return 0
		sleep 0.1
	done
	die "VFs: waited for $1, have $have"
}
numvfs() { echo "$1" >"$pf/sriov_numvfs"; }
# say_vfs: one line per VF: its PCI address, netdev, MAC, device ID and drivers.
say_vfs() {
	local i f mac dev pci drv vdrv
	for ((i = 0; i < N; i++)); do
		vf_dev "$i"
		uevent "$pf/virtfn$i/uevent" PCI_SLOT_NAME; pci=$UEV
		uevent "$pf/virtfn$i/uevent" DRIVER; drv=$UEV
		for f in "$pf/virtfn$i"/virtio*/uevent; do uevent "$f" DRIVER; done; vdrv=$UEV
		read -r mac <"/sys/class/net/$VF_DEV/address"
		read -r dev <"$pf/virtfn$i/device"
		say "vf $i pci=$pci dev=$VF_DEV mac=$mac device=$dev driver=$drv/$vdrv"
	done
}

# vf_netns I CIDR: VF I's netdev into a new network namespace nsI as vfI with address
# CIDR, up. IPv6 off there, so the VF sends nothing unless asked (keeps L1's counters exact).
vf_netns() {
	vf_dev "$1"
	ip netns add "ns$1" || die "ip netns add ns$1"
	ip netns exec "ns$1" sh -c 'echo 1 >/proc/sys/net/ipv6/conf/default/disable_ipv6;
		echo 1 >/proc/sys/net/ipv6/conf/all/disable_ipv6'
	ip link set "$VF_DEV" netns "ns$1" && ip -n "ns$1" link set "$VF_DEV" name "vf$1" || die "move VF $1"
	ip -n "ns$1" addr add "$2" dev "vf$1"
	ip -n "ns$1" link set "vf$1" up
	ip -n "ns$1" link set lo up
}
# vf_ping I PEER TRIES: VF I (in nsI) reaches PEER within TRIES one-second pings.
vf_ping() {
	for _ in $(seq "$3"); do
		ip netns exec "ns$1" ping -c 1 -W 1 "$2" >/dev/null 2>&1 && return 0
	done
	return 1
}

# carrier DEV 0|1 SECS [NETNS]: wait until DEV's carrier (in NETNS if given) is 0 or 1.
carrier() {
	local c
	for _ in $(seq $(($3 * 5))); do
		if [ -n "${4:-}" ]; then c=$(ip netns exec "$4" cat "/sys/class/net/$1/carrier" 2>/dev/null)
		else c=$(cat "/sys/class/net/$1/carrier" 2>/dev/null); fi
		[ "$c" = "$2" ] && return 0
		sleep 0.2
	done
	return 1
}

# vf_cycles: N VFs enabled and disabled three times, as a CNI plug-in churning would;
# L1 looks at vpf after the first and the third (go-aheads c1, c3).
vf_cycles() {
	for c in 1 2 3; do
		numvfs "$N" || die "cycle $c: enable failed"
		wait_vfs "$N"
		numvfs 0 || die "cycle $c: disable failed"
		wait_vfs 0
		if [ "$c" = 1 ]; then say "cycle 1 done"; ack c1; fi
	done
	say "cycles done"
	ack c3
}
