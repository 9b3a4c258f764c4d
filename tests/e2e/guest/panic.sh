#!/bin/sh
# L2 side of tests/e2e/lifecycle.sh: panic the kernel (booted with panic=-1).
grep -q pvpanic /proc/modules 2>/dev/null || ls /sys/bus/acpi/drivers/ 2>/dev/null | grep -q pvpanic ||
	echo "VPF-FACT: pvpanic driver not loaded"
ls /sys/bus/platform/drivers/ 2>/dev/null | grep pvpanic | sed 's/^/VPF-FACT: driver /'
echo "VPF-FACT: panicking"
echo 1 >/proc/sys/kernel/sysrq
echo c >/proc/sysrq-trigger
