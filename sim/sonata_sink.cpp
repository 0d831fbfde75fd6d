#include "sim/sonata_sink.hpp"

#include <algorithm>
#include <array>
#include <map>
#include <stdexcept>

#include "sim/version.hpp"

namespace sim {

namespace {

// SONATA spike-file identification (SONATA data format, "Spike file" section).
constexpr uint32_t sonata_magic = 0x0A7A;
constexpr std::array<uint32_t, 2> sonata_version = {0, 1};

const std::array<h5::EnumMember, 3> sorting_members = {{
    {"none", 0},
    {"by_id", 1},
    {"by_time", 2},
}};
constexpr uint8_t sorting_by_time = 2;

// A population name becomes an HDF5 group name: it must be one path component.
void check_population_name(const std::string& file, const std::string& name) {
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos)
    throw std::invalid_argument(file + ": population name '" + name +
                                "' cannot name an HDF5 group (empty, '.', '..' or contains '/')");
}

// Checked before the file is created, so bad options leave no file behind.
SonataSinkOptions checked(const std::string& file, const SonataSinkOptions& options) {
  if (options.chunk_spikes == 0 || options.chunk_trace_values == 0 ||
      options.flush_every_epochs == 0)
    throw std::invalid_argument(file + ": chunk sizes and flush_every_epochs must be > 0");
  return options;
}

}  // namespace

SonataSink::SonataSink(const std::string& path, SonataSinkOptions options)
    : path_(path), options_(checked(path, options)), file_(h5::File::create(path)) {
  file_.write_attribute("magic", sonata_magic);
  file_.write_attribute("version", std::span<const uint32_t>(sonata_version));
  run_ = file_.create_group("run");
  run_.write_attribute("complete", uint8_t{0});
  run_.write_attribute("steps_done", uint64_t{0});
  file_.flush();
}

h5::File& SonataSink::file() {
  if (ended_) throw std::logic_error(path_ + ": the file was closed by end()");
  return file_;
}

void SonataSink::begin(const RunInfo& info) {
  if (begun_) throw std::logic_error(path_ + ": begin() called twice");
  if (ended_) throw std::logic_error(path_ + ": begin() after end()");
  begun_ = true;
  dt_ms_ = info.dt_ms;

  run_.write_attribute("seed", info.seed);
  run_.write_attribute("dt_ms", info.dt_ms);
  run_.write_attribute("duration_ms", 0.0);
  run_.write_attribute("steps_planned", uint64_t{info.n_steps});
  run_.write_attribute("engine_version", engine_version);
  run_.write_attribute("git_hash", engine_git_hash);
  run_.write_attribute("experiment", info.experiment);
  run_.write_attribute("threads", int32_t{info.threads});
  run_.write_attribute("config_toml", info.config_toml);

  std::vector<std::string> names;
  std::vector<uint32_t> sizes;
  for (const PopulationInfo& p : info.populations) {
    check_population_name(path_, p.name);
    if (std::find(names.begin(), names.end(), p.name) != names.end())
      throw std::invalid_argument(path_ + ": population name '" + p.name + "' appears twice");
    names.push_back(p.name);
    sizes.push_back(p.size);
  }
  run_.write_dataset("population_names", names);
  run_.write_dataset("population_sizes", sizes);

  h5::Group spikes = file_.create_group("spikes");
  populations_.clear();
  populations_.reserve(info.populations.size());
  for (const PopulationInfo& p : info.populations) {
    PopulationWriter w;
    w.group = spikes.create_group(p.name);
    w.group.write_enum_attribute("sorting", sorting_members, sorting_by_time);
    w.timestamps = h5::Appendable<double>(w.group, "timestamps", options_.chunk_spikes);
    w.timestamps.dataset().write_attribute("units", "ms");
    w.node_ids = h5::Appendable<uint64_t>(w.group, "node_ids", options_.chunk_spikes);
    populations_.push_back(std::move(w));
  }

  // Trace sets: /traces/<population>, or /traces/<population>/<i> when one population
  // has several sets, so that no set's path depends on whether a later one exists.
  std::map<uint32_t, int> sets_per_population;
  for (const TraceInfo& t : info.traces) {
    if (t.population >= info.populations.size())
      throw std::invalid_argument(path_ + ": a trace set names population " +
                                  std::to_string(t.population) + " of " +
                                  std::to_string(info.populations.size()));
    ++sets_per_population[t.population];
  }
  traces_.clear();
  traces_.reserve(info.traces.size());
  std::map<uint32_t, int> seen;
  for (const TraceInfo& t : info.traces) {
    const std::string& pop = info.populations[t.population].name;
    if (t.node_ids.empty())
      throw std::invalid_argument(path_ + ": a trace set of population '" + pop +
                                  "' records no neurons");
    std::string group_path = "traces/" + pop;
    const int index = seen[t.population]++;
    if (sets_per_population[t.population] > 1) {
      group_path += '/';
      group_path += std::to_string(index);
    }

    TraceWriter w;
    w.group = file_.create_group(group_path);
    w.width = t.node_ids.size();
    w.group.write_attribute("start_step", uint64_t{t.start_step});
    w.group.write_attribute("stop_step", uint64_t{t.stop_step});
    const std::vector<uint64_t> ids(t.node_ids.begin(), t.node_ids.end());
    w.group.write_dataset("node_ids", std::span<const uint64_t>(ids));
    const hsize_t chunk_rows = std::max<hsize_t>(1, options_.chunk_trace_values / w.width);
    w.time_ms = h5::Appendable<double>(w.group, "time_ms", chunk_rows);
    w.time_ms.dataset().write_attribute("units", "ms");
    w.v_mV = h5::AppendableRows(w.group, "v_mV", w.width, chunk_rows);
    w.v_mV.dataset().write_attribute("units", "mV");
    w.u = h5::AppendableRows(w.group, "u", w.width, chunk_rows);
    w.input = h5::AppendableRows(w.group, "input", w.width, chunk_rows);
    traces_.push_back(std::move(w));
  }
  file_.flush();
}

void SonataSink::spikes(Step step, uint32_t population, std::span<const uint32_t> local_ids) {
  if (!begun_ || ended_) throw std::logic_error(path_ + ": spikes() outside begin()..end()");
  if (population >= populations_.size())
    throw std::logic_error(path_ + ": spikes for unknown population " + std::to_string(population));
  PopulationWriter& w = populations_[population];
  const double time_ms = step_to_ms(step, dt_ms_);
  for (uint32_t id : local_ids) {
    // The file promises sorting = by_time with ties by id; an engine that broke the
    // order would make that a lie, so refuse.
    if (w.any && (step < w.last_step || (step == w.last_step && id <= w.last_id)))
      throw std::logic_error(path_ + ": spikes out of order in population " +
                             std::to_string(population) + " at step " + std::to_string(step));
    w.any = true;
    w.last_step = step;
    w.last_id = id;
    w.pending_ms.push_back(time_ms);
    w.pending_ids.push_back(id);
  }
}

void SonataSink::trace(Step step, uint32_t trace_index, std::span<const double> v_mV,
                       std::span<const double> u, std::span<const double> input) {
  if (!begun_ || ended_) throw std::logic_error(path_ + ": trace() outside begin()..end()");
  if (trace_index >= traces_.size())
    throw std::logic_error(path_ + ": unknown trace set " + std::to_string(trace_index));
  TraceWriter& w = traces_[trace_index];
  if (v_mV.size() != w.width || u.size() != w.width || input.size() != w.width)
    throw std::logic_error(path_ + ": trace set " + std::to_string(trace_index) + " expects " +
                           std::to_string(w.width) + " values per sample");
  w.pending_time_ms.push_back(step_to_ms(step, dt_ms_));
  w.pending_v_mV.insert(w.pending_v_mV.end(), v_mV.begin(), v_mV.end());
  w.pending_u.insert(w.pending_u.end(), u.begin(), u.end());
  w.pending_input.insert(w.pending_input.end(), input.begin(), input.end());
}

void SonataSink::write_pending() {
  for (PopulationWriter& w : populations_) {
    w.timestamps.append(w.pending_ms);
    w.node_ids.append(w.pending_ids);
    w.pending_ms.clear();
    w.pending_ids.clear();
  }
  for (TraceWriter& w : traces_) {
    w.time_ms.append(w.pending_time_ms);
    w.v_mV.append(w.pending_v_mV);
    w.u.append(w.pending_u);
    w.input.append(w.pending_input);
    w.pending_time_ms.clear();
    w.pending_v_mV.clear();
    w.pending_u.clear();
    w.pending_input.clear();
  }
}

void SonataSink::write_progress(Step steps_done) {
  run_.write_attribute("steps_done", uint64_t{steps_done});
  run_.write_attribute("duration_ms", step_to_ms(steps_done, dt_ms_));
}

void SonataSink::epoch_done(Step next_step) {
  if (!begun_ || ended_) throw std::logic_error(path_ + ": epoch_done() outside begin()..end()");
  if (++epochs_since_flush_ < options_.flush_every_epochs) return;
  epochs_since_flush_ = 0;
  write_pending();
  write_progress(next_step);
  file_.flush();
}

void SonataSink::end(Step steps_done, bool complete) {
  if (ended_) throw std::logic_error(path_ + ": end() called twice");
  write_pending();
  write_progress(steps_done);
  file_.flush();
  // Only now, with every spike on disk, may the file claim to be complete.
  if (complete) {
    run_.write_attribute("complete", uint8_t{1});
    file_.flush();
  }
  ended_ = true;
  populations_.clear();
  traces_.clear();
  run_ = h5::Group();
  file_.close();
}

}  // namespace sim
