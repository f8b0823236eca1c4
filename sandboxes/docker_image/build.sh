#!/usr/bin/env bash
# Builds the docker sandbox image locally; nothing is pulled from a registry.
#   1. debootstrap a Debian minbase with python3 (mirror and suite read from this host's apt
#      config), cached as a tarball under $GRPOKIT_CACHE (default /var/cache/grpokit);
#   2. `docker import` it as grpokit-sandbox-base:latest;
#   3. `docker build` sandboxes/docker_image/Dockerfile into grpokit-sandbox:latest.
# Idempotent: skips in well under a second when the image exists and was built from the current
# Dockerfile (the Dockerfile's sha256 is stored in an image label). Needs root for debootstrap.
# Options (environment): IMAGE, BASE_IMAGE, SUITE, MIRROR, PACKAGES, GRPOKIT_CACHE, FORCE=1.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
IMAGE="${IMAGE:-grpokit-sandbox:latest}"
BASE_IMAGE="${BASE_IMAGE:-grpokit-sandbox-base:latest}"
PACKAGES="${PACKAGES:-python3}"  # full stdlib (json, random, ...): python3-minimal lacks much of it
CACHE="${GRPOKIT_CACHE:-/var/cache/grpokit}"
LABEL="grpokit.sandbox.dockerfile-sha256"

log() { echo "docker-image: $*" >&2; }
die() { log "error: $*"; exit 1; }

dockerfile_sha() { sha256sum "$HERE/Dockerfile" | cut -d' ' -f1; }

image_is_current() {
  local have
  have="$(docker image inspect -f "{{index .Config.Labels \"$LABEL\"}}" "$IMAGE" 2>/dev/null)" || return 1
  [ "$have" = "$(dockerfile_sha)" ]
}

# The suite this host runs (e.g. bookworm), from /etc/os-release.
host_suite() {
  # shellcheck disable=SC1091
  (. /etc/os-release && echo "${VERSION_CODENAME:-}")
}

# The first Debian archive URI apt uses for $1 (the suite), from one-line *.list files or
# deb822 *.sources files. The mirror is read here, at build time, and never stored.
apt_mirror() {
  local suite="$1" f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    awk -v s="$suite" '$1 == "deb" { i = 2; if ($2 ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
                        if ($(i + 1) == s) { print $i; exit } }' "$f"
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk -v s="$suite" 'BEGIN { RS = ""; FS = "\n" }
      { uri = ""; ok = 0; deb = 0
        for (i = 1; i <= NF; i++) {
          if ($i ~ /^URIs:/) { split($i, a, " "); uri = a[2] }
          if ($i ~ /^Types:/ && $i ~ /[ \t]deb([ \t]|$)/) deb = 1
          if ($i ~ /^Suites:/) { n = split($i, b, " "); for (j = 2; j <= n; j++) if (b[j] == s) ok = 1 }
        }
        if (ok && deb && uri != "") { print uri; exit } }' "$f"
  done
}

bootstrap_tarball() {
  local suite="$1" arch tar root mirror
  arch="$(dpkg --print-architecture)"
  tar="$CACHE/sandbox-base-$suite-$arch-${PACKAGES//[ ,]/_}.tar"
  if [ -s "$tar" ]; then
    echo "$tar"
    return
  fi
  command -v debootstrap >/dev/null || die "debootstrap is not installed (apt-get install debootstrap)"
  [ "$(id -u)" = 0 ] || die "debootstrap needs root; run this script as root"
  mirror="${MIRROR:-$(apt_mirror "$suite" | head -n1)}"
  [ -n "$mirror" ] || die "no apt source for suite '$suite' in /etc/apt/sources.list*; set MIRROR"
  mkdir -p "$CACHE"
  root="$(mktemp -d "$CACHE/rootfs.XXXXXX")"
  trap 'rm -rf "$root"' EXIT
  log "debootstrap $suite ($arch) with $PACKAGES from the host's apt mirror"
  debootstrap --variant=minbase --include="${PACKAGES// /,}" "$suite" "$root" "$mirror" \
    >"$CACHE/debootstrap.log" 2>&1 || die "debootstrap failed; see $CACHE/debootstrap.log"
  # Slim it: no apt lists, caches, docs, man pages or translations inside the image.
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* "$root"/var/log/* \
    "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* \
    "$root"/usr/share/locale/* "$root"/debootstrap
  tar --numeric-owner -C "$root" -cf "$tar.part" . && mv "$tar.part" "$tar"
  rm -rf "$root"
  trap - EXIT
  echo "$tar"
}

main() {
  command -v docker >/dev/null || die "the docker CLI is not installed"
  docker info >/dev/null 2>&1 || die "no Docker engine answers (start dockerd first)"
  if [ "${FORCE:-0}" != 1 ] && image_is_current; then
    log "$IMAGE is up to date"
    return
  fi
  local start suite tar
  start=$(date +%s)
  if [ "${FORCE:-0}" = 1 ] || ! docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
    suite="${SUITE:-$(host_suite)}"
    [ -n "$suite" ] || die "cannot tell the Debian suite from /etc/os-release; set SUITE"
    tar="$(bootstrap_tarball "$suite")"
    log "importing $tar as $BASE_IMAGE"
    docker import --change 'CMD ["/bin/sh"]' "$tar" "$BASE_IMAGE" >/dev/null
  fi
  log "building $IMAGE"
  local previous
  previous="$(docker image inspect -f '{{.Id}}' "$IMAGE" 2>/dev/null || true)"
  # The classic builder: it needs no buildx plugin and uses only local images.
  DOCKER_BUILDKIT=0 docker build -q --build-arg "BASE=$BASE_IMAGE" --label "$LABEL=$(dockerfile_sha)" \
    -t "$IMAGE" "$HERE" >/dev/null
  if [ -n "$previous" ] && [ "$previous" != "$(docker image inspect -f '{{.Id}}' "$IMAGE")" ]; then
    docker rmi "$previous" >/dev/null 2>&1 || true  # the stale image, unless a container uses it
  fi
  log "built $IMAGE in $(($(date +%s) - start)) s, $(docker image inspect -f '{{.Size}}' "$IMAGE") bytes"
}

main "$@"
