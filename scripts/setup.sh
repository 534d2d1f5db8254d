#!/usr/bin/env bash
# Installs what a fresh Debian/Ubuntu machine lacks: npm dependencies (including Node 22 as
# an npm package), and a software Vulkan driver (Mesa lavapipe) when no WebGPU adapter is
# found. Safe to run again: each step is skipped when already satisfied.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
# lavapipe before 24 lacks Vulkan features Dawn requires.
MIN_MESA_MAJOR=24
apt_install() { $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"; }

if [ ! -x node_modules/.bin/node ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci"
  # The system npm runs on the machine's Node (20 here) and warns EBADENGINE for every package that
  # needs 22; npm ci installs that Node 22 (the node package), so those warnings say nothing.
  npm ci --no-audit --no-fund --loglevel=error
fi

# npm skips an optional dependency whose `engines` does not match the Node running npm, silently:
# usearch (the main bench peer) needs Node 22, so on a machine whose system Node is older the
# npm ci above leaves it out. Run it again on the Node 22 it installed (first on PATH, so npm's
# `#!/usr/bin/env node` picks it and its install scripts run on it too).
node_major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
if [ ! -d node_modules/usearch ] && [ -x node_modules/.bin/node ] && (( $(node_major node) < 22 )); then
  echo "setup: npm ci again on Node $(node_modules/.bin/node --version) for the optional usearch (npm on Node $(node --version 2>/dev/null) skipped it)"
  PATH="$PWD/node_modules/.bin:$PATH" npm ci --no-audit --no-fund --loglevel=error
fi
if ! node_modules/.bin/node -e "require('usearch')" >/dev/null 2>&1; then
  echo "setup: note: the optional usearch peer is not installed; crinn bench records it as not installed" >&2
fi

probe() { XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp} timeout 120 node_modules/.bin/node scripts/probe-adapter.ts >/dev/null 2>&1; }

if probe; then
  echo "setup: a WebGPU adapter is available"
else
  echo "setup: no WebGPU adapter; installing Mesa's lavapipe (software Vulkan)"
  if grep -q '^Suites:.*bookworm' /etc/apt/sources.list.d/debian.sources 2>/dev/null && ! grep -q 'bookworm-backports' /etc/apt/sources.list.d/debian.sources; then
    # Bookworm's own Mesa 22.3 lavapipe lacks features Dawn requires; backports has 25.x.
    $SUDO sed -i '0,/^Suites: bookworm\(.*\)$/s//Suites: bookworm\1 bookworm-backports/' /etc/apt/sources.list.d/debian.sources
  fi
  $SUDO apt-get update -qq
  # Captured, not piped into grep -q: under pipefail an early grep exit SIGPIPEs apt-cache (141)
  # and the wrong branch ran, installing bookworm's Mesa 22.3.
  policy="$(apt-cache policy mesa-vulkan-drivers)"
  if [[ "$policy" == *bookworm-backports* ]]; then
    apt_install -t bookworm-backports mesa-vulkan-drivers
  else
    apt_install mesa-vulkan-drivers
  fi
  mesa="$(dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null || echo none)"
  mesa_major="${mesa#*:}"; mesa_major="${mesa_major%%.*}"
  if ! [[ "$mesa_major" =~ ^[0-9]+$ ]] || (( mesa_major < MIN_MESA_MAJOR )); then
    echo "setup: mesa-vulkan-drivers $mesa is installed; Dawn needs Mesa >= $MIN_MESA_MAJOR (bookworm-backports has 25.x)" >&2
    exit 1
  fi
  probe || { echo "setup: still no WebGPU adapter after installing mesa-vulkan-drivers $mesa" >&2; exit 1; }
  echo "setup: lavapipe installed (Mesa $mesa)"
fi

# The evaluation farm (src/farm/) runs on Redis; its tests start their own redis-server on a free port.
if ! command -v redis-server >/dev/null 2>&1; then
  echo "setup: installing redis-server for the evaluation farm"
  $SUDO apt-get update -qq
  apt_install redis-server
fi

# The HTML report's screenshot check needs a real browser.
if [ "${CRINN_SKIP_CHROMIUM:-}" != 1 ] && ! command -v chromium >/dev/null 2>&1; then
  echo "setup: installing chromium for the report screenshot check"
  $SUDO apt-get update -qq
  apt_install chromium
fi
