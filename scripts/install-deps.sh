#!/usr/bin/env bash
# Installs the Debian packages weir needs to build, test and benchmark.
# Checks first; installs only what is missing. Needs root (or prints the
# exact command to run and exits 1). Usage: scripts/install-deps.sh [--bench]
# (--bench adds what `make bench` needs for its plots: gnuplot, python3.)
# (The sanitizer builds use g++'s own ASan/UBSan/TSan runtimes, which
# Debian's gcc-12 package already pulls in.)
set -euo pipefail

pkgs=(build-essential cmake pkg-config
      liblmdb-dev lmdb-utils libconcurrentqueue-dev libboost-dev
      libgtest-dev libgmock-dev libbenchmark-dev
      libcli11-dev nlohmann-json3-dev
      librdkafka-dev)
if [[ "${1:-}" == "--bench" ]]; then
  pkgs+=(gnuplot-nox python3)
fi

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

cmd="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing[*]}"
if [[ $(id -u) -ne 0 ]]; then
  echo "weir: missing Debian packages: ${missing[*]}" >&2
  echo "weir: run as root:  $cmd" >&2
  exit 1
fi
echo "weir: installing ${missing[*]}" >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
