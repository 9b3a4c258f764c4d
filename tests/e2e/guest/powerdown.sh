#!/bin/sh
# L2 side of tests/e2e/lifecycle.sh (powerdown): the guest handles the ACPI power button
# as a distribution does, with an acpid (busybox's: the power button's KEY_POWER runs
# /etc/acpi/PWRF/00000080), and shuts down cleanly when vpf's `powerdown` presses it.
while read -r m; do
	insmod "/lib/modules/$m.ko" || echo "VPF-FACT: insmod $m failed"
done </etc/modules.acpi
mkdir -p /etc/acpi/PWRF
printf '#!/bin/sh\necho "VPF-FACT: power button pressed"\n: >/tmp/power-button\n' >/etc/acpi/PWRF/00000080
chmod +x /etc/acpi/PWRF/00000080
# acpid reads the input devices there are when it starts: the power button's first.
for _ in $(seq 50); do
	grep -qs "Power Button" /sys/class/input/*/name && [ -e /dev/input/event0 ] && break
	sleep 0.1
done
grep -s . /sys/class/input/*/name
acpid -d -c /etc/acpi &
echo "VPF-FACT: waiting for the power button"
while [ ! -e /tmp/power-button ]; do sleep 0.1; done
echo "VPF-FACT: shutting down"
