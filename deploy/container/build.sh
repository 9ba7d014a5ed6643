#!/usr/bin/env bash
# Builds Herald's container image from this checkout, with no base image:
# the binary is compiled here (CGO_ENABLED=0, so it needs no libc) and copied
# into an empty image with this host's CA certificates.
#
#   deploy/container/build.sh [TAG]            build the image (default herald:dev)
#   deploy/container/build.sh --context DIR    only write the build context (rootfs.tar) to DIR
#
# Environment:
#   CONTAINER_TOOL  podman or docker (default: whichever is installed, podman first)
#   VERSION         the version the binary reports (default: git describe, else 0.1.0-dev)
#   GOARCH          the architecture to build for (default: this host's)
#   CA_BUNDLE       the CA certificates to put in the image (default /etc/ssl/certs/ca-certificates.crt)
#   HERALD_BIN      copy this static binary instead of building one
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
here="$repo/deploy/container"

context_only=""
tag="herald:dev"
case "${1:-}" in
  --context) context_only=1; ctx="${2:?--context needs a directory}"; mkdir -p "$ctx" ;;
  -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  "") ;;
  *) tag="$1" ;;
esac
if [ -z "$context_only" ]; then
  ctx="$(mktemp -d)"
  trap 'rm -rf "$ctx"' EXIT
fi

version="${VERSION:-$(git -C "$repo" describe --tags --always --dirty 2>/dev/null || echo 0.1.0-dev)}"
if [ -n "${HERALD_BIN:-}" ]; then
  cp "$HERALD_BIN" "$ctx/herald"
else
  (cd "$repo" && CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags "-s -w -X main.version=$version" -o "$ctx/herald" ./cmd/herald)
fi
# The image's files, with their owners and modes, in one archive that the
# Containerfile's ADD unpacks: COPY cannot give a directory one owner and
# its parents another.
root="$ctx/rootfs"
rm -rf "$root" && mkdir -p "$root/etc/ssl/certs" "$root/var/lib/herald" "$root/tmp" "$root/run"
mv "$ctx/herald" "$root/herald"
cp "${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}" "$root/etc/ssl/certs/ca-certificates.crt"
printf 'root:x:0:0:root:/:/nonexistent\nherald:x:65532:65532:herald:/var/lib/herald:/nonexistent\n' >"$root/etc/passwd"
printf 'root:x:0:\nherald:x:65532:\n' >"$root/etc/group"
chmod 0755 "$root/herald" "$root/etc" "$root/etc/ssl" "$root/etc/ssl/certs" "$root/var" "$root/var/lib" "$root/run"
chmod 0644 "$root/etc/ssl/certs/ca-certificates.crt" "$root/etc/passwd" "$root/etc/group"
chmod 0700 "$root/var/lib/herald"
chmod 1777 "$root/tmp"
tarflags=(--numeric-owner --sort=name --mtime="@${SOURCE_DATE_EPOCH:-0}" --format=gnu -C "$root")
tar "${tarflags[@]}" --owner=0 --group=0 -cf "$ctx/rootfs.tar" herald etc run tmp var
# The later entry wins on unpacking: the state directory belongs to herald.
tar "${tarflags[@]}" --owner=65532 --group=65532 --no-recursion -rf "$ctx/rootfs.tar" var/lib/herald
rm -rf "$root"

if [ -n "$context_only" ]; then
  exit 0
fi
tool="${CONTAINER_TOOL:-$(command -v podman || command -v docker || true)}"
[ -n "$tool" ] || { echo "build.sh: neither podman nor docker is installed (set CONTAINER_TOOL)" >&2; exit 1; }
"$tool" build -f "$here/Containerfile" -t "$tag" \
  --label "org.opencontainers.image.title=herald" \
  --label "org.opencontainers.image.version=$version" \
  "$ctx"
