#!/bin/sh
# Trivial L2 guest check: the image's userspace, modules and tools work.
set -eu
echo "hello from L2: $(uname -r), $(nproc) cpu(s), $(awk '/MemTotal/ {print $2 " kB"}' /proc/meminfo)"
grep -q '^virtio_net ' /proc/modules
lspci
ip -br link
