#!/usr/bin/env bash
# Installs the host pieces the sandboxes need. Idempotent; safe to re-run.
# Needs root for apt-get and dockerd; without root it only reports what is missing.
set -uo pipefail
need=()
command -v bwrap >/dev/null || need+=(bubblewrap)
if ((${#need[@]})); then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "setup-host: missing ${need[*]} (run as root to install)" >&2
  fi
fi
exit 0
