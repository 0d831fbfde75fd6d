#include "sim/file_info.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <optional>

#include "sim/error.hpp"
#include "sim/h5.hpp"

namespace sim {

namespace {

constexpr uint32_t sonata_magic = 0x0A7A;

std::string shape_text(const std::vector<hsize_t>& shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) out += " x ";
    out += std::to_string(shape[i]);
  }
  return out + "]";
}

// One line per dataset below `group`, descending into subgroups.
void list_datasets(const h5::Group& group, int depth, std::string& out) {
  constexpr int max_depth = 6;
  for (const std::string& name : group.children()) {
    const std::string indent(static_cast<size_t>(2 * depth), ' ');
    if (group.is_dataset(name)) {
      const h5::Dataset d = group.open_dataset(name);
      out += fmt::format("{}{:<22} {:<8} {}\n", indent, name, d.type_name(), shape_text(d.shape()));
    } else if (group.is_group(name)) {
      out += fmt::format("{}{}/\n", indent, name);
      if (depth < max_depth) list_datasets(group.open_group(name), depth + 1, out);
    }
  }
}

// The value of a /run attribute as text, whatever its type.
std::string attribute_text(const h5::Object& object, const std::string& name) {
  const std::string type = object.attribute_type_name(name);
  if (type == "string") {
    const std::string text = object.read_string_attribute(name);
    const auto lines = std::count(text.begin(), text.end(), '\n');
    if (lines > 0 || text.size() > 60)
      return fmt::format("({} lines of text)",
                         lines + (text.empty() || text.back() == '\n' ? 0 : 1));
    return text;
  }
  if (type.rfind("float", 0) == 0 && type.find('[') == std::string::npos)
    return fmt::format("{:g}", object.read_attribute<double>(name));
  if (type.rfind("int", 0) == 0 && type.find('[') == std::string::npos)
    return std::to_string(object.read_attribute<int32_t>(name));
  if (type.rfind("uint", 0) == 0 && type.find('[') == std::string::npos)
    return std::to_string(object.read_attribute<uint64_t>(name));
  if (type.rfind("enum", 0) == 0) return object.read_enum_attribute(name);
  return "<" + type + ">";
}

}  // namespace

std::string describe_spike_file(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::exists(path, ec)) throw InputError(path, 0, "", "no such file");
  if (fs::is_directory(path, ec))
    throw InputError(path, 0, "", "is a folder; give the spike file inside it (e.g. spikes.h5)");
  h5::silence_error_printing();
  const htri_t is_hdf5 = H5Fis_hdf5(path.c_str());
  if (is_hdf5 <= 0) throw InputError(path, 0, "", "not an HDF5 file");

  try {
    h5::File file = h5::File::open_read_only(path);
    if (!file.has_attribute("magic") || file.attribute_type_name("magic").rfind("uint", 0) != 0 ||
        file.read_attribute<uint32_t>("magic") != sonata_magic || !file.is_group("spikes"))
      throw InputError(path, 0, "",
                       "not a SONATA spike file (needs root attribute magic = 0x0A7A and a "
                       "/spikes group)");

    std::string out = fmt::format("{}\n", path);
    std::string version = "?";
    if (file.has_attribute("version")) {
      const auto v = file.read_attribute_array<uint32_t>("version");
      if (v.size() == 2) version = fmt::format("{}.{}", v[0], v[1]);
    }
    out += fmt::format("  format: SONATA spike file, version {}\n", version);

    std::optional<h5::Group> run;
    if (file.is_group("run")) run = file.open_group("run");
    std::optional<double> duration_ms;
    if (run && run->has_attribute("duration_ms"))
      duration_ms = run->read_attribute<double>("duration_ms");

    if (!run || !run->has_attribute("complete")) {
      out += "  status: unknown (no /run/complete: not written by snnsim)\n";
    } else if (run->read_attribute<uint8_t>("complete") == 1) {
      out += "  status: complete\n";
    } else {
      std::string progress;
      if (run->has_attribute("steps_done")) {
        progress = fmt::format("; it holds {} steps", run->read_attribute<uint64_t>("steps_done"));
        if (run->has_attribute("steps_planned"))
          progress += fmt::format(" of {} planned", run->read_attribute<uint64_t>("steps_planned"));
      }
      out += fmt::format(
          "  status: *** INCOMPLETE *** the run did not finish (still running, crashed or "
          "interrupted){}.\n"
          "          Spikes up to the last flushed epoch are valid; do not treat this as a "
          "full run.\n",
          progress);
    }

    if (run) {
      out += "run:\n";
      for (const std::string& name : run->attribute_names())
        out += fmt::format("  {:<16} {}\n", name, attribute_text(*run, name));
    }

    // Population sizes come from /run when present (SONATA itself does not store them).
    std::vector<std::string> names;
    std::vector<uint32_t> sizes;
    if (run && run->is_dataset("population_names") && run->is_dataset("population_sizes")) {
      names = run->open_dataset("population_names").read_strings();
      sizes = run->open_dataset("population_sizes").read<uint32_t>();
    }
    out += "populations:\n";
    out += fmt::format("  {:<16} {:>8} {:>10} {:>12} {:>12} {:>12}  {}\n", "name", "size", "spikes",
                       "first_ms", "last_ms", "rate_Hz", "sorting");
    const h5::Group spikes = file.open_group("spikes");
    for (const std::string& pop : spikes.children()) {
      if (!spikes.is_group(pop)) continue;
      const h5::Group g = spikes.open_group(pop);
      std::optional<uint32_t> size;
      for (size_t i = 0; i < names.size() && i < sizes.size(); ++i)
        if (names[i] == pop) size = sizes[i];
      const std::string sorting =
          g.has_attribute("sorting") ? attribute_text(g, "sorting") : std::string("?");
      if (!g.is_dataset("timestamps")) {
        out += fmt::format("  {:<16} (no timestamps dataset)\n", pop);
        continue;
      }
      const h5::Dataset ts = g.open_dataset("timestamps");
      const hsize_t n = ts.size();
      std::string first = "-", last = "-", rate = "-";
      if (n > 0) {
        // Sorted by time in our files; read only the ends rather than the whole dataset.
        if (sorting == "by_time") {
          first = fmt::format("{:g}", ts.read<double>(0, 1).front());
          last = fmt::format("{:g}", ts.read<double>(n - 1, 1).front());
        } else {
          const std::vector<double> all = ts.read<double>();
          const auto [lo, hi] = std::minmax_element(all.begin(), all.end());
          first = fmt::format("{:g}", *lo);
          last = fmt::format("{:g}", *hi);
        }
      }
      if (size && *size > 0 && duration_ms && *duration_ms > 0)
        rate = fmt::format("{:.4g}", static_cast<double>(n) / *size / (*duration_ms / 1000.0));
      out += fmt::format("  {:<16} {:>8} {:>10} {:>12} {:>12} {:>12}  {}\n", pop,
                         size ? std::to_string(*size) : std::string("?"), n, first, last, rate,
                         sorting);
    }

    std::string others;
    for (const std::string& name : file.children()) {
      if (name == "spikes" || !file.is_group(name)) continue;
      others += fmt::format("  /{}\n", name);
      list_datasets(file.open_group(name), 2, others);
    }
    if (!others.empty()) out += "groups:\n" + others;
    return out;
  } catch (const h5::Error& e) {
    throw InputError(path, 0, "", std::string("cannot read the file: ") + e.what());
  }
}

}  // namespace sim
