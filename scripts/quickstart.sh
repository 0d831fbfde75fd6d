#!/usr/bin/env bash
# First command of the README: install what is missing, build, run the default experiment
# (the Izhikevich 2003 network) and a short what/when prediction demo, and plot both.
# Leaves runs/izhikevich2003/{spikes.h5,raster.png} and runs/what_when_small/{spikes.h5,summary.png}.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-debian.sh
bash scripts/build.sh
./build/snnsim run experiments/izhikevich2003.toml --out runs/izhikevich2003 --overwrite
./build/snnsim plot raster runs/izhikevich2003/spikes.h5 -o runs/izhikevich2003/raster.png
./build/snnsim run experiments/what_when_small.toml --out runs/what_when_small --overwrite
./build/snnsim plot ww-summary runs/what_when_small/spikes.h5 -o runs/what_when_small/summary.png
echo "spikes: runs/izhikevich2003/spikes.h5    raster: runs/izhikevich2003/raster.png"
echo "spikes: runs/what_when_small/spikes.h5   what/when summary: runs/what_when_small/summary.png"
