#!/usr/bin/env bash
# Make a Docker engine answer on /var/run/docker.sock and build the local test image.
# Safe to re-run: an engine that already answers is left alone.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
engine_log=/tmp/dockerd.log
wait_seconds=60

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

missing_packages=()
command -v docker >/dev/null 2>&1 || missing_packages+=(docker.io)
command -v dockerd >/dev/null 2>&1 || missing_packages+=(docker.io)
[ -x /bin/busybox ] || missing_packages+=(busybox-static)
# The TLS test reaches the engine through a TLS proxy (socat with OpenSSL) in front of the unix socket.
command -v socat >/dev/null 2>&1 || missing_packages+=(socat)
# Workspace disk quotas (--disk-mb, disk_mb) are loop-mounted ext4 images: mke2fs from e2fsprogs, mount from mount.
command -v mke2fs >/dev/null 2>&1 || [ -x /sbin/mke2fs ] || [ -x /usr/sbin/mke2fs ] || missing_packages+=(e2fsprogs)
command -v mount >/dev/null 2>&1 || missing_packages+=(mount)
if [ "${#missing_packages[@]}" -gt 0 ]; then
  echo "start-docker: installing ${missing_packages[*]}"
  as_root apt-get update -qq
  # shellcheck disable=SC2046
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(printf '%s\n' "${missing_packages[@]}" | sort -u)
fi

if docker version >/dev/null 2>&1; then
  echo "start-docker: engine already answering"
else
  if pgrep -x dockerd >/dev/null 2>&1; then
    # Started by an earlier run that is still coming up: wait for it rather than start a second one.
    echo "start-docker: dockerd is running but not answering yet; waiting"
  else
    echo "start-docker: starting dockerd (log: $engine_log)"
    # setsid: the engine must outlive the shell that started it (CI steps, tool shells).
    as_root setsid nohup dockerd >"$engine_log" 2>&1 </dev/null &
  fi
  deadline=$((SECONDS + wait_seconds))
  until docker version >/dev/null 2>&1; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "start-docker: dockerd did not answer within ${wait_seconds}s; last log lines:" >&2
      tail -n 30 "$engine_log" >&2 || true
      exit 1
    fi
    sleep 0.5
  done
  echo "start-docker: engine answering after $((SECONDS + wait_seconds - deadline))s"
fi

"$repo_root/samples/images/build-image.sh"
