#include "experiments/sparsey/sources.hpp"

#include "sim/error.hpp"
#include "sim/h5.hpp"

#include <cmath>
#include <filesystem>

namespace experiments::sparsey {

namespace {

[[noreturn]] void bad(const std::string& path, const std::string& what) {
  throw sim::InputError(path, 0, "", what);
}

sim::h5::File open_file(const std::string& path) {
  if (!std::filesystem::is_regular_file(path)) bad(path, "no such file");
  if (H5Fis_hdf5(path.c_str()) <= 0) bad(path, "not an HDF5 file");
  try {
    return sim::h5::File::open_read_only(path);
  } catch (const sim::h5::Error& e) {
    bad(path, e.what());
  }
}

}  // namespace

BinaryMatrix read_hdf5_binary(const std::string& path, const std::string& name) {
  sim::h5::File file = open_file(path);
  if (!file.is_dataset(name)) bad(path, "no dataset '" + name + "'");
  try {
    const sim::h5::Dataset ds = file.open_dataset(name);
    const std::vector<hsize_t> shape = ds.shape();
    if (shape.size() != 2)
      bad(path, "dataset '" + name + "' has rank " + std::to_string(shape.size()) +
                    ", expected a 2-D (patterns x units) matrix");
    const std::string type = ds.type_name();
    BinaryMatrix m{.rows = shape[0], .cols = shape[1], .values = {}};
    if (type == "enum(int8)" || type == "enum(uint8)") {
      // h5py's bool: an enum {FALSE = 0, TRUE = 1} over one byte. HDF5 does not convert
      // enums to integers, so read the stored bytes as they are.
      m.values.resize(shape[0] * shape[1]);
      const hid_t file_type = H5Dget_type(ds.id());
      const herr_t status =
          m.values.empty() ? 0
                           : H5Dread(ds.id(), file_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, m.values.data());
      H5Tclose(file_type);
      if (status < 0) bad(path, "cannot read dataset '" + name + "'");
    } else if (type.starts_with("int") || type.starts_with("uint")) {
      // Read through float64 so that any integer width converts without clipping.
      const std::vector<double> v = ds.read<double>();
      m.values.resize(v.size());
      for (size_t i = 0; i < v.size(); ++i) {
        if (v[i] != 0 && v[i] != 1)
          bad(path, "dataset '" + name + "' holds " + std::to_string(static_cast<long long>(v[i])) +
                        " at row " + std::to_string(i / m.cols) + ", column " +
                        std::to_string(i % m.cols) + "; expected only 0 and 1");
        m.values[i] = static_cast<uint8_t>(v[i]);
      }
      return m;
    } else {
      bad(path, "dataset '" + name + "' has type " + type +
                    "; expected a binary matrix of integers or bools (0/1)");
    }
    for (size_t i = 0; i < m.values.size(); ++i)
      if (m.values[i] > 1)
        bad(path, "dataset '" + name + "' holds a value other than 0/1 at row " +
                      std::to_string(i / m.cols) + ", column " + std::to_string(i % m.cols));
    return m;
  } catch (const sim::h5::Error& e) {
    bad(path, e.what());
  }
}

BinaryMatrix bin_spikes(const std::string& path, const SpikeBinning& b) {
  if (!(b.bin_ms > 0) || !std::isfinite(b.bin_ms)) bad(path, "bin width must be > 0 ms");
  if (!(b.start_ms >= 0) || !std::isfinite(b.start_ms)) bad(path, "window start must be >= 0 ms");
  sim::h5::File file = open_file(path);
  try {
    if (!file.is_group("run") || !file.is_dataset("run/population_names"))
      bad(path, "no /run group with population_names: not a snnsim spike file");
    const auto run = file.open_group("run");
    const std::vector<std::string> names = run.open_dataset("population_names").read_strings();
    const std::vector<uint32_t> sizes = run.open_dataset("population_sizes").read<uint32_t>();
    size_t index = names.size();
    for (size_t i = 0; i < names.size(); ++i)
      if (names[i] == b.population) index = i;
    if (index == names.size()) {
      std::string list;
      for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
      bad(path, "no population '" + b.population + "' (the file has: " + list + ")");
    }
    const double duration = run.read_attribute<double>("duration_ms");
    const double stop = b.stop_ms.value_or(duration);
    if (!(stop > b.start_ms)) bad(path, "window stop must be after its start");
    if (stop > duration + 1e-9)
      bad(path, "window stop " + std::to_string(stop) + " ms is past the run's duration " +
                    std::to_string(duration) + " ms");
    const double bins_real = std::floor((stop - b.start_ms) / b.bin_ms + 1e-9);
    if (bins_real < 1) bad(path, "the window is shorter than one bin");
    BinaryMatrix m{.rows = static_cast<size_t>(bins_real), .cols = sizes.at(index), .values = {}};
    m.values.assign(m.rows * m.cols, 0);
    const std::string group = "spikes/" + b.population;
    if (file.is_group(group)) {
      const auto g = file.open_group(group);
      const std::vector<double> t = g.open_dataset("timestamps").read<double>();
      const std::vector<uint64_t> id = g.open_dataset("node_ids").read<uint64_t>();
      if (t.size() != id.size()) bad(path, group + ": timestamps and node_ids differ in length");
      const double end = b.start_ms + static_cast<double>(m.rows) * b.bin_ms;
      for (size_t i = 0; i < t.size(); ++i) {
        if (t[i] < b.start_ms || t[i] >= end) continue;
        if (id[i] >= m.cols) bad(path, group + ": node id " + std::to_string(id[i]) + " >= population size");
        const size_t bin = std::min(m.rows - 1, static_cast<size_t>((t[i] - b.start_ms) / b.bin_ms));
        m.values[bin * m.cols + id[i]] = 1;
      }
    }
    return m;
  } catch (const sim::h5::Error& e) {
    bad(path, e.what());
  }
}

}  // namespace experiments::sparsey
