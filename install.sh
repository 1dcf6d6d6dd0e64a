#!/usr/bin/env bash
# Installs Berth and everything it needs on Debian 12 (as root), then puts
# `berth` on PATH. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")"

# Runtime: runc (OCI runtime), conmon (monitor), catatonit (--init), busybox-static
# (offline base image), zstd (zstd layers), iproute2 and nftables (networking),
# util-linux (mount). Tests also use skopeo (archive compatibility), script (ptys) and
# docker-compose (the Docker API tests); docker-registry, apache2-utils (htpasswd) and openssl
# (a test CA) give the registry tests a real registry on loopback.
PACKAGES=(runc conmon catatonit busybox-static zstd iproute2 nftables util-linux tar skopeo python3 make g++ docker-compose docker-registry apache2-utils openssl)
missing=()
for p in "${PACKAGES[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v node >/dev/null || [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
  echo "Berth needs Node.js 20 or newer (found: $(node --version 2>/dev/null || echo none))." >&2
  exit 1
fi

npm ci --no-audit --no-fund --loglevel=error
npm run build --silent
npm link --silent >/dev/null 2>&1 || ln -sf "$PWD/dist/berth" /usr/local/bin/berth
command -v berth >/dev/null || ln -sf "$PWD/dist/berth" /usr/local/bin/berth
echo "berth installed: $(command -v berth) ($(berth --version))"
