#!/bin/sh
# deb.sh BINDIR OUTDIR VERSION ARCH: builds the .deb packages of dray-agent
# and dray-relay from the binaries in BINDIR (built for linux/ARCH and
# runnable here: the systemd units are rendered by `print-unit`) into
# OUTDIR. NFPM is the nfpm binary (default: nfpm on PATH). Used by
# `make package` and by testenv's package test.
set -eu
[ $# -eq 4 ] || { echo "usage: $0 BINDIR OUTDIR VERSION ARCH" >&2; exit 2; }
bindir=$(cd "$1" && pwd)
mkdir -p "$2"
out=$(cd "$2" && pwd)
version=$3
arch=$4
nfpm=${NFPM:-nfpm}
root=$(cd "$(dirname "$0")/../.." && pwd)
# nfpm reads the files relative to the directory it runs in: a stage.
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/bin" "$stage/units" "$stage/etc" "$stage/scripts"
for p in agent relay; do
	cp "$bindir/dray-$p" "$stage/bin/"
	"$bindir/dray-$p" print-unit >"$stage/units/dray-$p.service"
	cp "$root/docs/examples/$p.yaml" "$stage/etc/"
done
cp "$root/installer/packaging/postinst.sh" "$root/installer/packaging/prerm.sh" "$stage/scripts/"
cd "$stage"
for p in agent relay; do
	ARCH="$arch" VERSION="$version" "$nfpm" package -f "$root/installer/packaging/nfpm-$p.yaml" -p deb -t "$out/"
done
