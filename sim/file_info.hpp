#pragma once
// `snnsim info FILE`: a plain-text description of a run's spike file, so a user can see
// at a glance whether the run finished, what it was, and what the file holds.
#include <string>

namespace sim {

// Describes a SONATA spike file written by SonataSink (other SONATA spike files work too,
// with less run detail): complete or INCOMPLETE, the /run attributes, each population's
// size, spike count, first and last spike time and mean rate, and every other group's
// datasets with type and shape. Throws sim::InputError(path, 0, "", message) when the
// file is missing, is not HDF5, or is not a SONATA spike file.
std::string describe_spike_file(const std::string& path);

}  // namespace sim
