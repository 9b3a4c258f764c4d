#!/bin/sh
# L2 side of tests/e2e/lifecycle.sh: reboot instead of powering off.
echo "VPF-FACT: rebooting"
sync
reboot -f
