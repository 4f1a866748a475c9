#!/usr/bin/env bash
# Build a minimal busybox image without any registry: a rootfs from Debian's busybox-static, imported.
# Usage: build-image.sh [--force] [TAG]   (default TAG: session-mcp/busybox:latest)
set -euo pipefail

force=false
tag=session-mcp/busybox:latest
for argument in "$@"; do
  case "$argument" in
    --force) force=true ;;
    -h|--help) sed -n '2,3p' "$0"; exit 0 ;;
    *) tag="$argument" ;;
  esac
done

if [ "$force" = false ] && docker image inspect "$tag" >/dev/null 2>&1; then
  echo "build-image: $tag already exists (use --force to rebuild)"
  exit 0
fi

if [ ! -x /bin/busybox ]; then
  echo "build-image: installing busybox-static"
  if [ "$(id -u)" -eq 0 ]; then sudo_prefix=(); else sudo_prefix=(sudo); fi
  "${sudo_prefix[@]}" apt-get update -qq
  "${sudo_prefix[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq busybox-static
fi
# A dynamically linked busybox would need its libraries in the image; refuse it rather than ship a broken image.
if ! file -L /bin/busybox 2>/dev/null | grep -q 'statically linked' && ldd /bin/busybox >/dev/null 2>&1; then
  echo "build-image: /bin/busybox is not statically linked; install busybox-static" >&2
  exit 1
fi

previous_image_id="$(docker image inspect --format '{{.Id}}' "$tag" 2>/dev/null || true)"

rootfs="$(mktemp -d)"
trap 'rm -rf "$rootfs"' EXIT

mkdir -p "$rootfs"/{bin,usr/bin,usr/local/bin,etc,proc,sys,dev,root,tmp,workspace,var/tmp}
cp /bin/busybox "$rootfs/bin/busybox"
# Every applet as a symlink in /bin (sh among them), so the PATH below finds all of them.
while read -r applet; do
  case "$applet" in ''|busybox) continue ;; esac
  ln -sf busybox "$rootfs/bin/$applet"
done < <(/bin/busybox --list)
ln -sf busybox "$rootfs/bin/sh"

cat >"$rootfs/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
agent:x:1000:1000:agent:/workspace:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PASSWD
cat >"$rootfs/etc/group" <<'GROUP'
root:x:0:
agent:x:1000:
nogroup:x:65534:
GROUP
chmod 1777 "$rootfs/tmp" "$rootfs/var/tmp"
chmod 700 "$rootfs/root"
chown 1000:1000 "$rootfs/workspace"

tar --numeric-owner -C "$rootfs" -c . |
  docker import \
    -c 'ENV PATH=/usr/local/bin:/usr/bin:/bin' \
    -c 'WORKDIR /workspace' \
    -c 'CMD ["/bin/sh"]' \
    - "$tag" >/dev/null
# A forced rebuild leaves the old image untagged; drop it unless a container still uses it.
if [ -n "$previous_image_id" ] && [ "$(docker image inspect --format '{{.Id}}' "$tag")" != "$previous_image_id" ]; then
  docker image rm "$previous_image_id" >/dev/null 2>&1 || true
fi
echo "build-image: built $tag"
