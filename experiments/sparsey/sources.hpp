#pragma once
// Binary pattern matrices from files, for the Sparsey experiments:
//   - an HDF5 dataset holding a 2-D binary matrix (rows = patterns);
//   - the spikes of one population of a snnsim run (spikes.h5, SONATA layout), binned:
//     row b of the matrix is time bin [start + b w, start + (b + 1) w), column n is neuron n,
//     1 when the neuron spiked at least once in the bin.
// (.npy files are read by inputs.hpp's read_npy_binary.)
//
// Every problem with a file — missing, not HDF5, no such dataset or population, wrong
// rank or type, a value other than 0/1, a window outside the run — is a sim::InputError
// naming the file and what was wrong, so the command line reports it in one line.
#include "experiments/sparsey/inputs.hpp"

#include <optional>
#include <string>

namespace experiments::sparsey {

// A 2-D dataset of an integer type (any width, signed or not) or of h5py's bool type
// (enum over int8), values 0/1.
BinaryMatrix read_hdf5_binary(const std::string& path, const std::string& dataset);

struct SpikeBinning {
  std::string population;
  double bin_ms = 10.0;                // > 0
  double start_ms = 0.0;               // >= 0
  std::optional<double> stop_ms = {};  // default: the run's simulated duration (/run duration_ms)
};

// The binned spikes of one population; bins = floor((stop - start) / bin_ms), so a partial
// last bin is dropped. Columns = the population's size from /run.
BinaryMatrix bin_spikes(const std::string& path, const SpikeBinning& binning);

}  // namespace experiments::sparsey
