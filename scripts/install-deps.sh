#!/usr/bin/env bash
# Installs the Debian packages weir needs to build, test and benchmark.
# Checks first; installs only what is missing. Needs root (or prints the
# exact command to run and exits 1). Usage: scripts/install-deps.sh [--bench]
# (--bench adds what `make bench` needs for its plots: gnuplot, python3.)
# (The sanitizer builds use g++'s own ASan/UBSan/TSan runtimes, which
# Debian's gcc-12 package already pulls in; the clang build's libFuzzer and
# sanitizer runtimes come with libclang-rt-14-dev.)
set -euo pipefail

pkgs=(build-essential cmake pkg-config
      liblmdb-dev lmdb-utils libconcurrentqueue-dev libboost-dev
      libgtest-dev libgmock-dev libbenchmark-dev
      libcli11-dev nlohmann-json3-dev
      librdkafka-dev
      clang-14 libclang-rt-14-dev  # make test-clang / make fuzz: -Wthread-safety and libFuzzer
      chromium)  # the browser test (tests/browser) drives the web console in it
# Node for the browser test: Debian's nodejs and npm, unless a node is
# already installed (another distribution of it brings its own npm).
if ! command -v node >/dev/null 2>&1; then
  pkgs+=(nodejs npm)
fi
if [[ "${1:-}" == "--bench" ]]; then
  pkgs+=(gnuplot-nox python3)
fi

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
# puppeteer-core for the browser test, pinned by its package-lock.json.
browser_modules() {
  local dir
  dir="$(cd "$(dirname "$0")/.." && pwd)/tests/browser"
  if [[ ! -d "$dir/node_modules/puppeteer-core" ]] && command -v npm >/dev/null 2>&1; then
    echo "weir: installing puppeteer-core (npm ci in tests/browser)" >&2
    npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error
  fi
}
if [[ ${#missing[@]} -eq 0 ]]; then
  browser_modules
  exit 0
fi

cmd="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing[*]}"
if [[ $(id -u) -ne 0 ]]; then
  echo "weir: missing Debian packages: ${missing[*]}" >&2
  echo "weir: run as root:  $cmd" >&2
  exit 1
fi
echo "weir: installing ${missing[*]}" >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
browser_modules
