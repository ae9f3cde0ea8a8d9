#!/usr/bin/env bash
# Builds a local stand-in for the Node base image (docker.io/library/node:20-bookworm-slim) where no
# image registry is reachable: a Debian bookworm root filesystem from Debian's packages
# (debootstrap), this machine's Node.js 20 and npm laid out as the official image lays them out
# (/usr/local/bin/node, /usr/local/lib/node_modules/npm), and the user `node` (uid 1000). The
# Dockerfile takes it as BASE_IMAGE. Needs root, debootstrap and podman.
#
#   deploy/container/build-local-base-image.sh [TAG]
#
# Prints the tag. The default tag carries a hash of this script and of the Node version, so a
# machine that built it once reuses it (`podman image exists`) until either changes.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
node_bin=$(command -v node)
node_version=$("$node_bin" --version)
case "$node_version" in
  v20.*) ;;
  *) echo "build-local-base-image: needs Node.js 20 on this machine, found $node_version" >&2; exit 1 ;;
esac
fingerprint=$( (cat "$here/build-local-base-image.sh"; echo "$node_version") | sha256sum | cut -c1-12)
tag=${1:-localhost/floodgate-node-base:20-bookworm-$fingerprint}

if podman image exists "$tag"; then
  echo "$tag"
  exit 0
fi

mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
rootfs=$(mktemp -d /var/tmp/floodgate-base.XXXXXX)
trap 'rm -rf "$rootfs"' EXIT

debootstrap --variant=minbase --include=ca-certificates bookworm "$rootfs" "$mirror" >&2

npm_dir=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")
install -m 0755 "$node_bin" "$rootfs/usr/local/bin/node"
mkdir -p "$rootfs/usr/local/lib/node_modules"
cp -a "$npm_dir" "$rootfs/usr/local/lib/node_modules/npm"
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"
chroot "$rootfs" /usr/sbin/groupadd --gid 1000 node
chroot "$rootfs" /usr/sbin/useradd --uid 1000 --gid node --shell /bin/bash --create-home node
chroot "$rootfs" /usr/local/bin/node --version >/dev/null

# What the slim image leaves out too: package lists, docs, caches.
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/* "$rootfs"/usr/share/doc/* \
  "$rootfs"/usr/share/man/* "$rootfs"/usr/share/locale/*
tar -C "$rootfs" -c . | podman import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change "ENV NODE_VERSION=${node_version#v}" \
  --change 'CMD ["node"]' \
  - "$tag" >&2
echo "$tag"
