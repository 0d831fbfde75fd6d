#!/usr/bin/env bash
# Installs the Debian 12 packages snnsim needs, and nothing when they are all present.
# Every dependency comes from Debian; nothing is downloaded from anywhere else.
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  libhdf5-dev libboost-dev libfmt-dev doctest-dev libtomlplusplus-dev libcli11-dev librandom123-dev zlib1g-dev
  python3-h5py python3-numpy python3-scipy python3-matplotlib python3-pytest python3-sklearn
  python3-bmtk python3-neo
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "snnsim setup: installing missing Debian packages: ${missing[*]}"
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
