# shellcheck shell=bash
# bench/lib.sh: helpers shared by the nested benchmark scenarios (source it after
# tests/e2e/lib.sh). Shell builtins only where it runs per measurement: every fork
# costs milliseconds in L1 under TCG.

# child_of PID: the first child of PID (the VMM under timeout(1) of run_vm_bg/run_qemu_bg).
child_of() {
	local p ppid
	for p in /proc/[0-9]*; do
		read -r _ _ _ ppid _ 2>/dev/null <"$p/stat" || continue
		[ "$ppid" = "$1" ] && { echo "${p#/proc/}"; return 0; }
	done
	return 1
}

# kvmdir PID: the per-VM KVM debugfs directory of a VMM process (one VM per process).
kvmdir() {
	local d
	for d in /sys/kernel/debug/kvm/"$1"-*; do [ -d "$d" ] && { echo "$d"; return 0; }; done
	return 1
}

# halt_poll_off: L1's KVM halt-polls an idle L2 vCPU for up to 200 us before sleeping;
# under TCG that burns the L1 CPU that the other VMMs and the traffic tools need. Off for
# every VMM alike; halt_poll_restore puts the old value back.
HALT_POLL=/sys/module/kvm/parameters/halt_poll_ns
halt_poll_off() {
	HALT_POLL_OLD=$(cat "$HALT_POLL" 2>/dev/null || echo)
	[ -z "$HALT_POLL_OLD" ] || echo 0 >"$HALT_POLL"
}
halt_poll_restore() { [ -z "${HALT_POLL_OLD:-}" ] || echo "$HALT_POLL_OLD" >"$HALT_POLL"; }

# KVM_STATS: the per-VM counters kvm_snapshot reads, in this order.
KVM_STATS="exits io_exits mmio_exits irq_exits halt_exits irq_injections"
# kvm_snapshot DIR: KVM_STATS of the VM behind DIR, space-separated (into SNAP).
kvm_snapshot() {
	local s x
	SNAP=
	for s in $KVM_STATS; do x=0; read -r x 2>/dev/null <"$1/$s" || true; SNAP+="$x "; done
}
# tap_snapshot TAP: its rx_packets tx_packets rx_bytes tx_bytes (appended to SNAP);
# zeros when TAP is empty or gone. rx = sent by the guest, tx = delivered to it.
tap_snapshot() {
	local f x
	for f in rx_packets tx_packets rx_bytes tx_bytes; do
		x=0; [ -n "$1" ] && read -r x 2>/dev/null <"/sys/class/net/$1/statistics/$f"
		SNAP+="${x:-0} "
	done
}
# snap_delta BEFORE AFTER: the element-wise difference of two snapshots.
snap_delta() {
	awk -v b="$1" -v a="$2" 'BEGIN {n = split(b, x, " "); split(a, y, " ");
		for (i = 1; i <= n; i++) printf "%s%d", (i > 1 ? " " : ""), y[i] - x[i]; print ""}'
}
