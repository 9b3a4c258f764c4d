#!/bin/sh
# L2 side of tests/e2e/boot.sh: report what the guest sees; the host side judges it.
echo "VPF-FACT: cpus=$(nproc)"
echo "VPF-FACT: memtotal_kb=$(awk '/MemTotal/ {print $2}' /proc/meminfo)"
[ -f /sys/firmware/acpi/tables/MCFG ] && echo "VPF-FACT: mcfg=present"
[ -f /sys/firmware/acpi/tables/DSDT ] && echo "VPF-FACT: dsdt=present"
dmesg | grep -E "MMCONFIG|PCI Root Bridge|ACPI: .*(MADT|APIC)|smpboot|Brought up|pvpanic|ttyS0" | sed 's/^/VPF-DMESG: /'
# A config register above 0xff of the host bridge: readable only through ECAM.
if [ -r /sys/bus/pci/devices/0000:00:00.0/config ]; then
	echo "VPF-FACT: hostbridge_config_bytes=$(wc -c </sys/bus/pci/devices/0000:00:00.0/config)"
fi
