#!/usr/bin/env bash
# Installs the host pieces the sandboxes need. Idempotent; safe to re-run.
# Needs root for apt-get and dockerd; without root it only reports what is missing.
# One section per backend, run in order. Never fails the build: it reports.
set -uo pipefail

is_root() { [ "$(id -u)" = 0 ]; }

apt_install() {  # apt_install PKG... : install what is missing (root), else say what to install
  if is_root; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  else
    echo "setup-host: missing $* (run as root to install)" >&2
  fi
}

# ---------------------------------------------------------------------------------------------
# local sandbox (sandboxes/local.py): bubblewrap, and a check that it can build a sandbox
# ---------------------------------------------------------------------------------------------
command -v bwrap >/dev/null || apt_install bubblewrap
if command -v bwrap >/dev/null; then
  links=()
  for d in /bin /lib /lib64; do
    if [ -L "$d" ]; then links+=(--symlink "$(readlink "$d")" "$d"); elif [ -d "$d" ]; then links+=(--ro-bind "$d" "$d"); fi
  done
  userns=()
  is_root || userns=(--unshare-user)
  if ! bwrap --unshare-pid --unshare-net --unshare-ipc --unshare-uts "${userns[@]}" \
      --die-with-parent --new-session --ro-bind /usr /usr "${links[@]}" \
      --proc /proc --dev /dev --tmpfs /tmp true 2>/tmp/setup-host-bwrap.$$; then
    echo "setup-host: bwrap cannot create a sandbox here: $(cat /tmp/setup-host-bwrap.$$)" >&2
    echo "setup-host: as non-root, enable user namespaces (sysctl kernel.unprivileged_userns_clone=1," \
      "user.max_user_namespaces>0, kernel.apparmor_restrict_unprivileged_userns=0)" >&2
  fi
  rm -f /tmp/setup-host-bwrap.$$
fi

# ---------------------------------------------------------------------------------------------
# docker sandbox (sandboxes/docker_sandbox.py): engine and locally built image -- see below
# ---------------------------------------------------------------------------------------------
# Owned by the docker backend. Makes a Docker engine answer (systemd's docker service, else a
# background dockerd logging to $DOCKERD_LOG) and builds grpokit-sandbox:latest locally with
# sandboxes/docker_image/build.sh (debootstrap + docker import + docker build; quick no-op when
# the image is current). Without an engine the docker tests skip and say why.
docker_up() { docker info >/dev/null 2>&1; }
DOCKERD_LOG="${DOCKERD_LOG:-/var/log/grpokit-dockerd.log}"
{ command -v docker >/dev/null && command -v dockerd >/dev/null; } || apt_install docker.io
command -v debootstrap >/dev/null || apt_install debootstrap
if command -v docker >/dev/null && ! docker_up && is_root; then
  if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
    systemctl start docker >/dev/null 2>&1
  fi
  if ! docker_up && command -v dockerd >/dev/null; then
    echo "setup-host: starting dockerd in the background (log: $DOCKERD_LOG)" >&2
    setsid dockerd >>"$DOCKERD_LOG" 2>&1 </dev/null &
    for _ in $(seq 60); do docker_up && break; sleep 1; done
  fi
fi
if command -v docker >/dev/null && docker_up; then
  bash "$(dirname "${BASH_SOURCE[0]}")/docker_image/build.sh" ||
    echo "setup-host: the docker sandbox image could not be built (see above)" >&2
else
  echo "setup-host: no Docker engine answers; the docker sandbox tests will skip" >&2
fi


exit 0
