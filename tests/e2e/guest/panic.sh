#!/bin/sh
# L2 side of tests/e2e/lifecycle.sh: panic the kernel (booted with panic=-1).
# shellcheck disable=SC2010 # driver names are plain words
grep -q pvpanic /proc/modules 2>/dev/null || ls /sys/bus/acpi/drivers/ 2>/dev/null | grep -q pvpanic ||
	echo "VPF-FACT: pvpanic driver not loaded"
# shellcheck disable=SC2010 # driver names are plain words
ls /sys/bus/platform/drivers/ 2>/dev/null | grep pvpanic | sed 's/^/VPF-FACT: driver /'
echo "VPF-FACT: panicking"
echo 1 >/proc/sys/kernel/sysrq
echo c >/proc/sysrq-trigger
