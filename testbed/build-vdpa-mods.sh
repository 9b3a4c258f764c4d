#!/usr/bin/env bash
# testbed/build-vdpa-mods.sh KVER: builds the vDPA simulator modules (vdpa, vringh,
# vdpa_sim, vdpa_sim_net, vhost_vdpa) for the testbed's L1 kernel KVER out of tree and
# prints the folder holding the .ko files (build/testbed/vdpa-mods/KVER/out).
#
# Debian's 6.1 config has CONFIG_VDPA unset, so they come from Debian's linux-source
# (only drivers/vdpa, drivers/vhost and include/linux/vringh.h are extracted) built
# against linux-headers-KVER (+ -common, linux-kbuild). The sources and headers are
# downloaded once (linux-source is ~140 MB) and cached under build/testbed/vdpa-mods/;
# the modules are rebuilt only when this script or KVER changes (~10 s).
# Gotchas (from the verified recipe in the project notes): the headers' Makefile includes
# the -common headers by absolute path (repointed here); vringh.c must be built too
# (CONFIG_VHOST_RING is unset); drivers/vhost/Makefile is not built wholesale (it would
# rebuild Debian's vhost modules); drivers/vdpa/vdpa.c and drivers/vhost/vdpa.c share a
# name, hence vdpa_bus.c and vhost_vdpa_main.c.
set -euo pipefail
. "$(dirname "$0")/common.sh"
KV=${1:?usage: build-vdpa-mods.sh KVER}
KCOMMON=${KV%-amd64}-common
C=$TB_OUT/vdpa-mods/$KV
key=$(sha256sum "$0" | cut -d' ' -f1)
mkdir -p "$C"
cd "$C"
if [ -f out/vhost_vdpa.ko ] && [ "$(cat out/.key 2>/dev/null)" = "$key" ]; then
	echo "$C/out"
	exit 0
fi
ensure_pkgs make gcc xz-utils
if [ ! -f src.done ]; then
	tb_log "downloading linux-source-6.1 and the headers of $KV (vDPA simulator modules)"
	rm -rf debs x linux-source-6.1 && mkdir debs
	(cd debs && apt-get download -q linux-source-6.1 "linux-headers-$KV" "linux-headers-$KCOMMON" \
		linux-kbuild-6.1 2>&1 | grep -v '^W: Download is performed unsandboxed' >&2 || true)
	ls debs/linux-source-6.1_*.deb "debs/linux-headers-${KV}_"*.deb >/dev/null ||
		tb_die "apt-get download of linux-source-6.1 / linux-headers-$KV failed"
	mkdir x
	for d in debs/*.deb; do case $d in *source*) ;; *) dpkg-deb -x "$d" x ;; esac; done
	dpkg-deb --fsys-tarfile debs/linux-source-6.1_*.deb | tar -xO ./usr/src/linux-source-6.1.tar.xz |
		tar -xJ --wildcards 'linux-source-6.1/drivers/vdpa/*' 'linux-source-6.1/drivers/vhost/*' \
			'linux-source-6.1/include/linux/vringh.h'
	rm -f debs/linux-source-6.1_*.deb # the extract is what is kept
	touch src.done
fi
H=$C/x/usr/src/linux-headers-$KV
sed -i "s#^include /usr/src/#include $C/x/usr/src/#" "$H/Makefile"
ln -sfn "$C/x/usr/src/linux-kbuild-6.1/scripts" "$C/x/usr/src/linux-headers-$KCOMMON/scripts" 2>/dev/null || true
ln -sfn "$C/x/usr/src/linux-kbuild-6.1/tools" "$C/x/usr/src/linux-headers-$KCOMMON/tools" 2>/dev/null || true
S=$C/linux-source-6.1/drivers
rm -rf m out && mkdir m
cp "$S"/vdpa/vdpa.c m/vdpa_bus.c
cp "$S"/vdpa/vdpa_sim/*.[ch] m/
cp "$S"/vhost/vringh.c "$S"/vhost/vhost.h m/
cp "$S"/vhost/vdpa.c m/vhost_vdpa_main.c
printf 'obj-m += vdpa.o vringh.o vdpa_sim.o vdpa_sim_net.o vhost_vdpa.o\nvdpa-y := vdpa_bus.o\nvhost_vdpa-y := vhost_vdpa_main.o\n' >m/Kbuild
tb_log "building the vDPA simulator modules for $KV"
make -C "$H" M="$C/m" CONFIG_VDPA=m CONFIG_VDPA_SIM=m CONFIG_VDPA_SIM_NET=m CONFIG_VHOST_VDPA=m \
	CONFIG_VHOST_RING=m modules >"$C/build.log" 2>&1 || { tail -30 "$C/build.log" >&2; tb_die "vDPA module build failed (log: $C/build.log)"; }
mkdir -p out
cp m/vdpa.ko m/vringh.ko m/vdpa_sim.ko m/vdpa_sim_net.ko m/vhost_vdpa.ko out/
echo "$key" >out/.key
echo "$C/out"
