#!/usr/bin/env bash
# ctest entry of the browser test (label browser): drives the web console of
# a live weir-example-ops_console in headless Chromium.
# Usage: run.sh WEIR_CLI OPS_CONSOLE_EXAMPLE SCRATCH_DIR
# Exit 77 (ctest SKIP_RETURN_CODE) only when node or chromium is not
# installed; scripts/install-deps.sh installs both, and puppeteer-core.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if ! command -v node >/dev/null 2>&1; then
  echo "browser test skipped: node is not installed (scripts/install-deps.sh installs it)"
  exit 77
fi
chromium="${WEIR_CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}"
if [[ -z "$chromium" ]]; then
  echo "browser test skipped: chromium is not installed (scripts/install-deps.sh installs it)"
  exit 77
fi
if [[ ! -d "$here/node_modules/puppeteer-core" ]]; then
  echo "browser test: puppeteer-core is missing; run scripts/install-deps.sh (npm ci in tests/browser)" >&2
  exit 1
fi
exec node "$here/console_test.mjs" "$chromium" "$@"
