#!/usr/bin/env bash
# First command of the README: install what is missing, build, run the default
# experiment and plot its raster. Leaves runs/izhikevich2003/{spikes.h5,raster.png}.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-debian.sh
bash scripts/build.sh
./build/snnsim run experiments/izhikevich2003.toml --out runs/izhikevich2003 --overwrite
./build/snnsim plot raster runs/izhikevich2003/spikes.h5 -o runs/izhikevich2003/raster.png
echo "spikes: runs/izhikevich2003/spikes.h5"
echo "raster: runs/izhikevich2003/raster.png"
