#!/usr/bin/env bash
# vm-image: builds the Debian 12 VM image of the VM test (test/vms, `npm run e2e:vms`) — what a fresh Vagrant box
# (debian/bookworm64) has, plus a local apt source holding what provisioning installs from Debian — cached by a hash
# of its inputs under .cache/vms/ (ignored by git and `git clean`). Prints the image directory on stdout.
#
#   scripts/vm-image.sh            build if missing, print .cache/vms/<hash>
#   scripts/vm-image.sh --force    rebuild
#
# The image directory holds vmlinuz + initrd.img (from the image's /boot), rootfs.img (ext4, booted with
# root=/dev/vda), apt/ (a flat apt repository: the .deb files of docker.io, iptables, npm and libjemalloc2 with the dependencies the
# box lacks, as Debian's mirror serves them — not their recommends (git, needrestart…: mmdebstrap's apt leaves them
# out, and apt in the VMs skips what its source lacks); the test serves it on the VMs' private network because the
# VMs cannot reach deb.debian.org) and id_ed25519 (root's ssh key, the `vagrant ssh` of the test).
# Needs root, mmdebstrap, e2fsprogs, dpkg-dev, binutils (ar), xz-utils, zstd and Debian's mirror reachable from this
# host (only when building).
set -euo pipefail
here="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
force=0
[ "${1:-}" = --force ] && force=1

SUITE=bookworm
# a debian/bookworm64 Vagrant box: systemd, ssh, sudo, curl, certificates, AppArmor (on in Debian's kernel: without its
# parser Docker cannot load docker-default and every container fails) — no Node, no Docker
BOX_PACKAGES=linux-image-amd64,systemd-sysv,udev,kmod,apparmor,iproute2,iputils-ping,openssh-server,sudo,curl,ca-certificates,procps,less,netbase
# what deploy/install.sh apt-get installs on such a box (npm too, unless KUBELING_OFFLINE=1 brings Node and modules)
MIRROR_PACKAGES="docker.io iptables npm libjemalloc2"
# the private network's host end, where the test serves apt/ (test/vms/plan.ts PRIVATE_HOST, APT_PORT)
APT_SOURCE="deb [trusted=yes] http://192.168.56.1:8080/ ./"
DISK_SIZE=6G
# the test's throwaway VMs only (software emulation makes every file write and trigger slow), never users' hosts: dpkg
# skips the fsync per unpacked file and writes no man pages, docs or translations; man-db's trigger is off
DPKG_CFG="force-unsafe-io
path-exclude=/usr/share/man/*
path-exclude=/usr/share/doc/*
path-include=/usr/share/doc/*/copyright
path-exclude=/usr/share/info/*
path-exclude=/usr/share/locale/*"
export DPKG_CFG

key="$(sha256sum <"$0" | cut -c1-16)"
cache="${KUBELING_VM_CACHE:-$here/.cache/vms}"
out="$cache/$key"
if [ "$force" = 0 ] && [ -s "$out/rootfs.img" ]; then echo "$out"; exit 0; fi
[ "$(id -u)" = 0 ] || { echo "vm-image.sh needs root (mmdebstrap --mode=root, mke2fs -d)" >&2; exit 1; }
for t in mmdebstrap mke2fs dpkg-scanpackages ssh-keygen ar xz zstd; do
  command -v "$t" >/dev/null || { echo "vm-image.sh needs $t: apt-get install -y mmdebstrap e2fsprogs dpkg-dev openssh-client binutils xz-utils zstd" >&2; exit 1; }
done

mkdir -p "$cache"
tmp="$(mktemp -d "$cache/.build-XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
t0=$(date +%s)
ssh-keygen -q -t ed25519 -N '' -C kubeling-vms -f "$tmp/id_ed25519"
mkdir -p "$tmp/apt"

echo "vm-image: mmdebstrap $SUITE ($BOX_PACKAGES)" >&2
# shellcheck disable=SC2016 # the hooks' $1 is the chroot, expanded by mmdebstrap
mmdebstrap --mode=root --variant=apt --include="$BOX_PACKAGES" \
  --customize-hook='rm -f "$1"/var/cache/apt/archives/*.deb' \
  --customize-hook='chroot "$1" apt-get install --download-only -y -qq '"$MIRROR_PACKAGES"' >/dev/null' \
  --customize-hook='cp "$1"/var/cache/apt/archives/*.deb '"$tmp/apt/"' && rm -f "$1"/var/cache/apt/archives/*.deb' \
  --customize-hook='echo "'"$APT_SOURCE"'" >"$1/etc/apt/sources.list"; rm -f "$1"/etc/apt/sources.list.d/*' \
  --customize-hook='chroot "$1" systemctl enable systemd-networkd ssh >/dev/null 2>&1' \
  --customize-hook='chroot "$1" passwd -d root >/dev/null' \
  --customize-hook='mkdir -p -m 700 "$1/root/.ssh" && cp '"$tmp/id_ed25519.pub"' "$1/root/.ssh/authorized_keys"' \
  --customize-hook='printf "%s\n" "/dev/vda / ext4 defaults 0 1" "/dev/vdb /vagrant ext4 ro,nofail 0 0" "kubeling /vagrant/.kubeling 9p trans=virtio,version=9p2000.L,nofail 0 0" >"$1/etc/fstab"; mkdir -p "$1/vagrant"' \
  --customize-hook='printf "%s\n" "$DPKG_CFG" >"$1/etc/dpkg/dpkg.cfg.d/kubeling-vm-test"; rm -f "$1/var/lib/man-db/auto-update"' \
  --customize-hook='echo localhost >"$1/etc/hostname"; rm -f "$1/etc/resolv.conf"; touch "$1/etc/resolv.conf"' \
  --customize-hook='mkdir -p "$1/var/log/journal"' \
  "$SUITE" "$tmp/root" >&2
# the big packages' data member recompressed with zstd (the same tar, byte for byte; dpkg reads data.tar.zst as it
# reads data.tar.xz): under software emulation each VM spent a minute unpacking xz (docker.io, containerd, runc), and
# an uncompressed member cost as much in apt's download over the emulated NIC
for deb in "$tmp"/apt/*.deb; do
  [ "$(stat -c %s "$deb")" -gt 1048576 ] || continue
  d="$(mktemp -d "$tmp/deb-XXXXXX")"
  (cd "$d" && ar x "$deb" && [ -e data.tar.xz ] && xz -d data.tar.xz && zstd -q -9 -T0 --rm data.tar \
    && ar rc new.deb debian-binary control.tar.* data.tar.zst) && mv "$d/new.deb" "$deb"
  rm -rf "$d"
done
# a flat repository (`deb URL ./`): Packages, and a Release naming its hash (apt refuses a source without one)
(cd "$tmp/apt" && dpkg-scanpackages -m . 2>/dev/null >Packages \
  && printf 'Origin: kubeling-vms\nLabel: kubeling-vms\nSuite: %s\nCodename: %s\nDate: %s\nArchitectures: amd64 all\nSHA256:\n %s %s Packages\n' \
    "$SUITE" "$SUITE" "$(LC_ALL=C date -u -R)" "$(sha256sum Packages | cut -d' ' -f1)" "$(stat -c %s Packages)" >Release)
kernels=("$tmp"/root/boot/vmlinuz-*) initrds=("$tmp"/root/boot/initrd.img-*)
cp "${kernels[-1]}" "$tmp/vmlinuz"
cp "${initrds[-1]}" "$tmp/initrd.img"
truncate -s "$DISK_SIZE" "$tmp/rootfs.img"
mke2fs -q -t ext4 -L root -d "$tmp/root" "$tmp/rootfs.img"
rm -rf "$tmp/root"
rm -rf "$out"
mv "$tmp" "$out"
trap - EXIT
for old in "$cache"/*/; do # images of earlier inputs
  [ "${old%/}" = "$out" ] || rm -rf "${old%/}"
done
echo "vm-image: built $out in $(( $(date +%s) - t0 ))s ($(du -sh "$out/apt" | cut -f1) of .deb files for the local apt source)" >&2
echo "$out"
