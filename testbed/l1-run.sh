#!/usr/bin/env bash
# l1-run.sh REPO RESULTS: run by L1's /init once the 9p shares are mounted.
# Reads the plan run.sh wrote, stages the L2 images and vpf on L1's tmpfs (so
# that VMM start-up and benchmarks never read through 9p), runs the scenarios.
set -uo pipefail
repo=$1 results=$2
# shellcheck source=/dev/null # written by run.sh
. "$results/plan.sh" # SCENARIOS + exported environment for the scenarios

t0=$(cut -d' ' -f1 /proc/uptime)
mkdir -p /l2 /opt/vpf
cp "$TESTBED_DIR/bzImage" /l2/bzImage
cp "$TESTBED_DIR/l2.cpio.gz" /l2/initrd.gz
export L2_KERNEL=/l2/bzImage L2_INITRD=/l2/initrd.gz
if [ -f "$TESTBED_DIR/run/vpf" ]; then
	cp "$TESTBED_DIR/run/vpf" /opt/vpf/vpf
	# Libraries vpf needs that the L1 image lacks (usually none).
	if [ -d "$TESTBED_DIR/run/lib" ] && [ -n "$(ls -A "$TESTBED_DIR/run/lib")" ]; then
		cp -r "$TESTBED_DIR/run/lib" /opt/vpf/lib
		export LD_LIBRARY_PATH=/opt/vpf/lib
	fi
fi
export VPF=/opt/vpf/vpf
echo "VPF-L1: ready uptime=$(cut -d' ' -f1 /proc/uptime)s staging=${t0}s..now kvm=$([ -c /dev/kvm ] && echo yes || echo no)"

# Text symbols, for run.sh to name where the vCPUs of a hung L1 spin (nokaslr).
grep -i ' t ' /proc/kallsyms >"$results/.kallsyms" &
# Heartbeats for the host (run.sh kills L1 when one stops): on the second serial
# port (proves L1 runs) and through 9p (proves the share works).
(while :; do echo "hb $(cut -d' ' -f1 /proc/uptime)" >/dev/ttyS1; sleep 10; done) &
(while :; do touch "$results/.heartbeat"; sleep 10; done) &

for s in $SCENARIOS; do
	bash "$repo/testbed/run-scenario.sh" "$s"
done
[ "${L1_SHELL:-0}" = 1 ] && exit 3
exit 0
