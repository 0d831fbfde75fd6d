// SonataSink, the h5 layer and describe_spike_file.
//
// Files are read back with the raw HDF5 C API (the RawId/raw_* helpers below), not with
// sim::h5, so a mistake in the wrapper cannot hide itself. Expected values come from the
// synthetic spike list each test builds and from the layout promised in sonata_sink.hpp
// (itself the SONATA spike-file spec plus our /run and /traces groups).
#include <doctest/doctest.h>
#include <hdf5.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "sim/error.hpp"
#include "sim/file_info.hpp"
#include "sim/h5.hpp"
#include "sim/sonata_sink.hpp"
#include "sim/version.hpp"

namespace fs = std::filesystem;

namespace {

// A fresh, empty folder per test case under the build tree.
fs::path test_dir(const std::string& name) {
  const fs::path dir = fs::path(SNNSIM_BINARY_DIR) / "test_output" / "sonata_sink" / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// ---- raw HDF5 readers, independent of sim::h5 --------------------------------------

struct RawId {
  hid_t id;
  herr_t (*close)(hid_t);
  RawId(hid_t id_, herr_t (*close_)(hid_t)) : id(id_), close(close_) { REQUIRE(id >= 0); }
  RawId(const RawId&) = delete;
  RawId& operator=(const RawId&) = delete;
  ~RawId() { close(id); }
};

// Opened without a file lock, like sim::h5 does (HDF5 refuses mixed lock settings for
// one file in one process).
hid_t raw_open_id(const fs::path& file) {
  const hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  H5Pset_file_locking(fapl, false, true);
  const hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDONLY, fapl);
  H5Pclose(fapl);
  return f;
}

RawId raw_open(const fs::path& file) { return RawId(raw_open_id(file), H5Fclose); }

RawId raw_attr(hid_t loc, const char* object, const char* name) {
  REQUIRE_MESSAGE(H5Aexists_by_name(loc, object, name, H5P_DEFAULT) > 0, object, " @", name);
  return RawId(H5Aopen_by_name(loc, object, name, H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
}

// True when the stored type of attribute object@name equals `native` (H5Tequal).
bool attr_type_is(hid_t loc, const char* object, const char* name, hid_t native) {
  RawId attr = raw_attr(loc, object, name);
  RawId type(H5Aget_type(attr.id), H5Tclose);
  return H5Tequal(type.id, native) > 0;
}

template <class T>
T raw_attr_scalar(hid_t loc, const char* object, const char* name, hid_t native) {
  RawId attr = raw_attr(loc, object, name);
  RawId space(H5Aget_space(attr.id), H5Sclose);
  REQUIRE(H5Sget_simple_extent_type(space.id) == H5S_SCALAR);
  T value{};
  REQUIRE(H5Aread(attr.id, native, &value) >= 0);
  return value;
}

std::string raw_attr_string(hid_t loc, const char* object, const char* name) {
  RawId attr = raw_attr(loc, object, name);
  RawId type(H5Aget_type(attr.id), H5Tclose);
  REQUIRE(H5Tget_class(type.id) == H5T_STRING);
  REQUIRE(H5Tis_variable_str(type.id) > 0);
  CHECK(H5Tget_cset(type.id) == H5T_CSET_UTF8);
  char* text = nullptr;
  REQUIRE(H5Aread(attr.id, type.id, &text) >= 0);
  std::string out(text);
  H5free_memory(text);
  return out;
}

// Dataset `path` as T (converted by HDF5 into `native`), after checking its stored type.
template <class T>
std::vector<T> raw_dataset(hid_t file, const char* path, hid_t native,
                           std::vector<hsize_t>* shape = nullptr) {
  RawId d(H5Dopen2(file, path, H5P_DEFAULT), H5Dclose);
  RawId type(H5Dget_type(d.id), H5Tclose);
  CHECK_MESSAGE(H5Tequal(type.id, native) > 0, path);
  RawId space(H5Dget_space(d.id), H5Sclose);
  const int rank = H5Sget_simple_extent_ndims(space.id);
  std::vector<hsize_t> dims(static_cast<size_t>(rank));
  H5Sget_simple_extent_dims(space.id, dims.data(), nullptr);
  if (shape) *shape = dims;
  std::vector<T> values(static_cast<size_t>(H5Sget_simple_extent_npoints(space.id)));
  if (!values.empty())
    REQUIRE(H5Dread(d.id, native, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()) >= 0);
  return values;
}

std::vector<std::string> raw_string_dataset(hid_t file, const char* path) {
  RawId d(H5Dopen2(file, path, H5P_DEFAULT), H5Dclose);
  RawId type(H5Dget_type(d.id), H5Tclose);
  REQUIRE(H5Tis_variable_str(type.id) > 0);
  RawId space(H5Dget_space(d.id), H5Sclose);
  std::vector<char*> raw(static_cast<size_t>(H5Sget_simple_extent_npoints(space.id)));
  REQUIRE(H5Dread(d.id, type.id, H5S_ALL, H5S_ALL, H5P_DEFAULT, raw.data()) >= 0);
  std::vector<std::string> out(raw.begin(), raw.end());
  H5Dvlen_reclaim(type.id, space.id, H5P_DEFAULT, raw.data());
  return out;
}

// ---- a synthetic run ---------------------------------------------------------------

struct Spike {
  sim::Step step;
  uint32_t population;
  uint32_t id;
};

constexpr double dt_ms = 0.1;

sim::RunInfo synthetic_info() {
  sim::RunInfo info;
  info.seed = 0xDEADBEEFCAFEull;
  info.dt_ms = dt_ms;
  info.n_steps = 13;
  info.threads = 2;
  info.experiment = "synthetic";
  info.config_toml = "[network]\ndt_ms = 0.1\n";
  info.populations = {{"exc", 5}, {"inh", 3}, {"silent", 2}};
  return info;
}

// Spikes in step order, ids ascending within a step: ties (several ids in one step),
// empty steps (1, 5, 6, ...), a population that never fires ("silent"), and step 10,
// where step × dt (1.0) differs from ten additions of dt (0.9999999999999999).
const std::vector<Spike> synthetic_spikes = {
    {0, 0, 0}, {0, 0, 3}, {0, 1, 1}, {2, 0, 1}, {2, 0, 2},  {2, 0, 4},
    {3, 1, 0}, {3, 1, 2}, {7, 0, 4}, {7, 1, 1}, {10, 0, 0}, {12, 0, 1},
};
const std::vector<sim::Step> epoch_ends = {4, 8, 13};

// Feeds one step's spikes per population, as the engine does (including empty calls).
void feed_step(sim::SonataSink& sink, sim::Step step) {
  for (uint32_t pop = 0; pop < 3; ++pop) {
    std::vector<uint32_t> ids;
    for (const Spike& s : synthetic_spikes)
      if (s.step == step && s.population == pop) ids.push_back(s.id);
    sink.spikes(step, pop, ids);
  }
}

// Runs the synthetic sequence up to (excluding) step `stop`, closing epochs on the way.
void feed_until(sim::SonataSink& sink, sim::Step from, sim::Step stop) {
  for (sim::Step step = from; step < stop; ++step) {
    feed_step(sink, step);
    for (sim::Step e : epoch_ends)
      if (e == step + 1) sink.epoch_done(e);
  }
}

std::vector<double> expected_times(uint32_t pop, sim::Step before = ~sim::Step{0}) {
  std::vector<double> out;
  for (const Spike& s : synthetic_spikes)
    if (s.population == pop && s.step < before) out.push_back(static_cast<double>(s.step) * dt_ms);
  return out;
}

std::vector<uint64_t> expected_ids(uint32_t pop, sim::Step before = ~sim::Step{0}) {
  std::vector<uint64_t> out;
  for (const Spike& s : synthetic_spikes)
    if (s.population == pop && s.step < before) out.push_back(s.id);
  return out;
}

uint8_t raw_complete(const fs::path& file) {
  RawId f = raw_open(file);
  return raw_attr_scalar<uint8_t>(f.id, "/run", "complete", H5T_NATIVE_UINT8);
}

}  // namespace

TEST_CASE("a finished run has the SONATA layout, exact times, and complete = 1") {
  const fs::path file = test_dir("layout") / "spikes.h5";
  {
    // A 4-spike chunk makes 'exc' (7 spikes) span two chunks.
    sim::SonataSink sink(file.string(), {.chunk_spikes = 4, .chunk_trace_values = 16});
    sink.begin(synthetic_info());
    feed_until(sink, 0, 13);
    sink.end(13, true);
  }
  RawId f = raw_open(file);

  // Root: magic 0x0A7A and version {0, 1} as uint32 (SONATA spike-file spec).
  CHECK(attr_type_is(f.id, "/", "magic", H5T_NATIVE_UINT32));
  CHECK(raw_attr_scalar<uint32_t>(f.id, "/", "magic", H5T_NATIVE_UINT32) == 0x0A7Au);
  {
    RawId attr = raw_attr(f.id, "/", "version");
    RawId type(H5Aget_type(attr.id), H5Tclose);
    CHECK(H5Tequal(type.id, H5T_NATIVE_UINT32) > 0);
    RawId space(H5Aget_space(attr.id), H5Sclose);
    REQUIRE(H5Sget_simple_extent_npoints(space.id) == 2);
    std::array<uint32_t, 2> version{};
    REQUIRE(H5Aread(attr.id, H5T_NATIVE_UINT32, version.data()) >= 0);
    CHECK(version == std::array<uint32_t, 2>{0, 1});
  }

  const std::array<const char*, 3> pops = {"/spikes/exc", "/spikes/inh", "/spikes/silent"};
  for (uint32_t p = 0; p < 3; ++p) {
    CAPTURE(pops[p]);
    // sorting: an enum over uint8 with exactly {none: 0, by_id: 1, by_time: 2}, value by_time.
    RawId attr = raw_attr(f.id, pops[p], "sorting");
    RawId type(H5Aget_type(attr.id), H5Tclose);
    REQUIRE(H5Tget_class(type.id) == H5T_ENUM);
    RawId base(H5Tget_super(type.id), H5Tclose);
    CHECK(H5Tequal(base.id, H5T_NATIVE_UINT8) > 0);
    REQUIRE(H5Tget_nmembers(type.id) == 3);
    const std::map<std::string, uint8_t> expected_members = {
        {"none", 0}, {"by_id", 1}, {"by_time", 2}};
    std::map<std::string, uint8_t> members;
    for (unsigned i = 0; i < 3; ++i) {
      char* name = H5Tget_member_name(type.id, i);
      uint8_t value = 255;
      REQUIRE(H5Tget_member_value(type.id, i, &value) >= 0);
      members[name] = value;
      H5free_memory(name);
    }
    CHECK(members == expected_members);
    uint8_t sorting = 255;
    REQUIRE(H5Aread(attr.id, type.id, &sorting) >= 0);
    CHECK(sorting == 2);

    const std::string ts_path = std::string(pops[p]) + "/timestamps";
    const std::string id_path = std::string(pops[p]) + "/node_ids";
    // Exact equality: both sides are step × dt in double (never accumulated).
    CHECK(raw_dataset<double>(f.id, ts_path.c_str(), H5T_NATIVE_DOUBLE) == expected_times(p));
    CHECK(raw_dataset<uint64_t>(f.id, id_path.c_str(), H5T_NATIVE_UINT64) == expected_ids(p));
    CHECK(raw_attr_string(f.id, ts_path.c_str(), "units") == "ms");

    // Appendable: chunked with an unlimited maximum size.
    RawId d(H5Dopen2(f.id, ts_path.c_str(), H5P_DEFAULT), H5Dclose);
    RawId dcpl(H5Dget_create_plist(d.id), H5Pclose);
    CHECK(H5Pget_layout(dcpl.id) == H5D_CHUNKED);
    RawId space(H5Dget_space(d.id), H5Sclose);
    hsize_t dims = 0, max_dims = 0;
    H5Sget_simple_extent_dims(space.id, &dims, &max_dims);
    CHECK(max_dims == H5S_UNLIMITED);
  }
  // The sequence is sorted by (time, id): the promise behind sorting = by_time.
  const auto exc_times = raw_dataset<double>(f.id, "/spikes/exc/timestamps", H5T_NATIVE_DOUBLE);
  const auto exc_ids = raw_dataset<uint64_t>(f.id, "/spikes/exc/node_ids", H5T_NATIVE_UINT64);
  for (size_t i = 1; i < exc_times.size(); ++i)
    CHECK((exc_times[i - 1] < exc_times[i] ||
           (exc_times[i - 1] == exc_times[i] && exc_ids[i - 1] < exc_ids[i])));
  // Step 10 is 1.0 ms by multiplication; adding dt ten times would give 0.9999999999999999,
  // so this check tells the two apart.
  double accumulated = 0.0;
  for (int i = 0; i < 10; ++i) accumulated += dt_ms;
  REQUIRE(accumulated != 1.0);
  CHECK(exc_times.at(6) == 1.0);

  // /run
  CHECK(attr_type_is(f.id, "/run", "seed", H5T_NATIVE_UINT64));
  CHECK(raw_attr_scalar<uint64_t>(f.id, "/run", "seed", H5T_NATIVE_UINT64) == 0xDEADBEEFCAFEull);
  CHECK(attr_type_is(f.id, "/run", "dt_ms", H5T_NATIVE_DOUBLE));
  CHECK(raw_attr_scalar<double>(f.id, "/run", "dt_ms", H5T_NATIVE_DOUBLE) == dt_ms);
  CHECK(attr_type_is(f.id, "/run", "duration_ms", H5T_NATIVE_DOUBLE));
  CHECK(raw_attr_scalar<double>(f.id, "/run", "duration_ms", H5T_NATIVE_DOUBLE) == 13 * dt_ms);
  CHECK(attr_type_is(f.id, "/run", "steps_done", H5T_NATIVE_UINT64));
  CHECK(raw_attr_scalar<uint64_t>(f.id, "/run", "steps_done", H5T_NATIVE_UINT64) == 13);
  CHECK(raw_attr_scalar<uint64_t>(f.id, "/run", "steps_planned", H5T_NATIVE_UINT64) == 13);
  CHECK(attr_type_is(f.id, "/run", "complete", H5T_NATIVE_UINT8));
  CHECK(raw_attr_scalar<uint8_t>(f.id, "/run", "complete", H5T_NATIVE_UINT8) == 1);
  CHECK(attr_type_is(f.id, "/run", "threads", H5T_NATIVE_INT32));
  CHECK(raw_attr_scalar<int32_t>(f.id, "/run", "threads", H5T_NATIVE_INT32) == 2);
  CHECK(raw_attr_string(f.id, "/run", "engine_version") == sim::engine_version);
  CHECK(raw_attr_string(f.id, "/run", "git_hash") == sim::engine_git_hash);
  CHECK(raw_attr_string(f.id, "/run", "experiment") == "synthetic");
  CHECK(raw_attr_string(f.id, "/run", "config_toml") == "[network]\ndt_ms = 0.1\n");
  CHECK(raw_string_dataset(f.id, "/run/population_names") ==
        std::vector<std::string>{"exc", "inh", "silent"});
  CHECK(raw_dataset<uint32_t>(f.id, "/run/population_sizes", H5T_NATIVE_UINT32) ==
        std::vector<uint32_t>{5, 3, 2});
  // No trace sets were asked for.
  CHECK(H5Lexists(f.id, "/traces", H5P_DEFAULT) == 0);
}

TEST_CASE("what an epoch flushed is on disk before end(), and the file is not complete") {
  const fs::path dir = test_dir("epochs");
  const fs::path file = dir / "spikes.h5";
  sim::SonataSink sink(file.string(), {.chunk_spikes = 4});
  sink.begin(synthetic_info());
  feed_until(sink, 0, 8);  // epochs end at 4 and 8
  feed_step(sink, 8);      // buffered, not yet flushed

  // Copying the file now gives the bytes a crash at this moment would leave behind.
  const fs::path snapshot = dir / "snapshot.h5";
  fs::copy_file(file, snapshot);
  {
    RawId f = raw_open(snapshot);
    CHECK(raw_attr_scalar<uint8_t>(f.id, "/run", "complete", H5T_NATIVE_UINT8) == 0);
    CHECK(raw_attr_scalar<uint64_t>(f.id, "/run", "steps_done", H5T_NATIVE_UINT64) == 8);
    CHECK(raw_attr_scalar<double>(f.id, "/run", "duration_ms", H5T_NATIVE_DOUBLE) == 8 * dt_ms);
    for (uint32_t p = 0; p < 3; ++p) {
      const std::string pop = std::string("/spikes/") + synthetic_info().populations[p].name;
      CHECK(raw_dataset<double>(f.id, (pop + "/timestamps").c_str(), H5T_NATIVE_DOUBLE) ==
            expected_times(p, 8));
      CHECK(raw_dataset<uint64_t>(f.id, (pop + "/node_ids").c_str(), H5T_NATIVE_UINT64) ==
            expected_ids(p, 8));
    }
  }
  feed_until(sink, 9, 13);
  sink.end(13, true);
  CHECK(raw_complete(file) == 1);
}

TEST_CASE("flush_every_epochs = 2 writes at every second epoch boundary only") {
  const fs::path dir = test_dir("flush_every");
  const fs::path file = dir / "spikes.h5";
  sim::SonataSink sink(file.string(), {.flush_every_epochs = 2});
  sink.begin(synthetic_info());
  auto snapshot_steps_done = [&](const char* name) {
    const fs::path copy = dir / name;
    fs::copy_file(file, copy);
    RawId f = raw_open(copy);
    std::pair<uint64_t, std::vector<double>> out;
    out.first = raw_attr_scalar<uint64_t>(f.id, "/run", "steps_done", H5T_NATIVE_UINT64);
    out.second = raw_dataset<double>(f.id, "/spikes/exc/timestamps", H5T_NATIVE_DOUBLE);
    return out;
  };
  feed_until(sink, 0, 4);  // first epoch boundary: nothing written yet
  const auto first = snapshot_steps_done("after_4.h5");
  CHECK(first.first == 0);
  CHECK(first.second.empty());
  feed_until(sink, 4, 8);  // second boundary: both epochs written
  const auto second = snapshot_steps_done("after_8.h5");
  CHECK(second.first == 8);
  CHECK(second.second == expected_times(0, 8));
  sink.end(8, false);
}

TEST_CASE("an interrupted run keeps complete = 0 and records how far it got") {
  const fs::path file = test_dir("interrupted") / "spikes.h5";
  {
    sim::SonataSink sink(file.string());
    sink.begin(synthetic_info());
    feed_until(sink, 0, 6);
    sink.end(6, false);
  }
  RawId f = raw_open(file);
  CHECK(raw_attr_scalar<uint8_t>(f.id, "/run", "complete", H5T_NATIVE_UINT8) == 0);
  CHECK(raw_attr_scalar<uint64_t>(f.id, "/run", "steps_done", H5T_NATIVE_UINT64) == 6);
  CHECK(raw_attr_scalar<double>(f.id, "/run", "duration_ms", H5T_NATIVE_DOUBLE) == 6 * dt_ms);
  // end() writes the spikes buffered since the last epoch (steps 4 and 5) too.
  CHECK(raw_dataset<double>(f.id, "/spikes/exc/timestamps", H5T_NATIVE_DOUBLE) ==
        expected_times(0, 6));
  CHECK(raw_dataset<uint64_t>(f.id, "/spikes/inh/node_ids", H5T_NATIVE_UINT64) ==
        expected_ids(1, 6));
}

TEST_CASE("a sink destroyed without end() (an exception unwinding) leaves an incomplete file") {
  const fs::path file = test_dir("unwound") / "spikes.h5";
  {
    sim::SonataSink sink(file.string());
    sink.begin(synthetic_info());
    feed_until(sink, 0, 5);
  }
  CHECK(raw_complete(file) == 0);
  RawId f = raw_open(file);
  CHECK(raw_attr_scalar<uint64_t>(f.id, "/run", "steps_done", H5T_NATIVE_UINT64) == 4);
}

TEST_CASE("trace sets round-trip; two sets of one population get numbered subgroups") {
  const fs::path file = test_dir("traces") / "spikes.h5";
  sim::RunInfo info = synthetic_info();
  info.traces = {{.population = 0, .node_ids = {1, 3}, .start_step = 2, .stop_step = 6},
                 {.population = 1, .node_ids = {0, 1, 2}, .start_step = 0, .stop_step = 4},
                 {.population = 0, .node_ids = {4}, .start_step = 0, .stop_step = 3}};
  // Sample value of neuron `id` of set `set` at `step` for quantity q: distinct everywhere.
  auto value = [](uint32_t set, sim::Step step, uint32_t id, int q) {
    return 1000.0 * set + 10.0 * static_cast<double>(step) + id + 0.25 * q;
  };
  {
    // 4 values per chunk: set 0 (k = 2) gets 2-row chunks, so 4 rows span two chunks.
    sim::SonataSink sink(file.string(), {.chunk_spikes = 8, .chunk_trace_values = 4});
    sink.begin(info);
    for (sim::Step step = 0; step < 8; ++step) {
      for (uint32_t set = 0; set < info.traces.size(); ++set) {
        const sim::TraceInfo& t = info.traces[set];
        if (step < t.start_step || step >= t.stop_step) continue;
        std::vector<double> v, u, in;
        for (uint32_t id : t.node_ids) {
          v.push_back(value(set, step, id, 0));
          u.push_back(value(set, step, id, 1));
          in.push_back(value(set, step, id, 2));
        }
        sink.trace(step, set, v, u, in);
      }
      if (step % 3 == 2) sink.epoch_done(step + 1);
    }
    sink.end(8, true);
  }
  RawId f = raw_open(file);
  const std::array<std::string, 3> groups = {"/traces/exc/0", "/traces/inh", "/traces/exc/1"};
  for (uint32_t set = 0; set < 3; ++set) {
    const sim::TraceInfo& t = info.traces[set];
    const std::string& g = groups[set];
    CAPTURE(g);
    const std::vector<uint64_t> ids(t.node_ids.begin(), t.node_ids.end());
    CHECK(raw_dataset<uint64_t>(f.id, (g + "/node_ids").c_str(), H5T_NATIVE_UINT64) == ids);
    std::vector<double> times;
    for (sim::Step s = t.start_step; s < t.stop_step; ++s)
      times.push_back(static_cast<double>(s) * dt_ms);
    CHECK(raw_dataset<double>(f.id, (g + "/time_ms").c_str(), H5T_NATIVE_DOUBLE) == times);
    CHECK(raw_attr_scalar<uint64_t>(f.id, g.c_str(), "start_step", H5T_NATIVE_UINT64) ==
          t.start_step);
    CHECK(raw_attr_scalar<uint64_t>(f.id, g.c_str(), "stop_step", H5T_NATIVE_UINT64) ==
          t.stop_step);
    const std::array<const char*, 3> names = {"/v_mV", "/u", "/input"};
    for (int q = 0; q < 3; ++q) {
      std::vector<double> expected;
      for (sim::Step s = t.start_step; s < t.stop_step; ++s)
        for (uint32_t id : t.node_ids) expected.push_back(value(set, s, id, q));
      std::vector<hsize_t> shape;
      CHECK(raw_dataset<double>(f.id, (g + names[q]).c_str(), H5T_NATIVE_DOUBLE, &shape) ==
            expected);
      CHECK(shape == std::vector<hsize_t>{t.stop_step - t.start_step, t.node_ids.size()});
    }
  }
}

TEST_CASE("experiments can add groups through file() before end()") {
  const fs::path file = test_dir("extra_groups") / "spikes.h5";
  {
    sim::SonataSink sink(file.string());
    sink.begin(synthetic_info());
    sim::h5::Group trials = sink.file().create_group("trials");
    const std::vector<double> onsets = {10.0, 20.5};
    trials.write_dataset("onset_ms", onsets);
    feed_until(sink, 0, 13);
    sink.end(13, true);
    CHECK_THROWS_AS(sink.file(), std::logic_error);
  }
  RawId f = raw_open(file);
  CHECK(raw_dataset<double>(f.id, "/trials/onset_ms", H5T_NATIVE_DOUBLE) ==
        std::vector<double>{10.0, 20.5});
}

TEST_CASE("spikes out of (step, id) order are refused: the file would not be sorted by time") {
  const fs::path file = test_dir("order") / "spikes.h5";
  sim::SonataSink sink(file.string());
  sink.begin(synthetic_info());
  const std::vector<uint32_t> a = {2}, b = {1}, tie = {2, 2};
  sink.spikes(5, 0, a);
  CHECK_THROWS_AS(sink.spikes(5, 0, b), std::logic_error);    // same step, smaller id
  CHECK_THROWS_AS(sink.spikes(5, 1, tie), std::logic_error);  // one id twice in a step
  sink.spikes(6, 2, a);
  CHECK_THROWS_AS(sink.spikes(4, 2, a), std::logic_error);  // an earlier step
  sink.spikes(4, 0, {});  // an empty call for an earlier step adds nothing and is harmless
}

TEST_CASE("bad output paths give one clear message") {
  const fs::path dir = test_dir("bad_paths");
  const fs::path missing = dir / "no_such_folder" / "spikes.h5";
  try {
    sim::SonataSink sink(missing.string());
    FAIL("creating a file in a missing folder succeeded");
  } catch (const std::runtime_error& e) {
    const std::string message = e.what();
    CHECK(message.find(missing.string()) != std::string::npos);
    CHECK(message.find("does not exist") != std::string::npos);
  }
  const fs::path existing = dir / "existing.h5";
  { std::ofstream(existing) << "x"; }
  try {
    sim::SonataSink sink(existing.string());
    FAIL("overwrote an existing file");
  } catch (const std::runtime_error& e) {
    CHECK(std::string(e.what()).find("exists already") != std::string::npos);
  }
  // An unwritable folder (root may write anywhere, so only checked for other users).
  if (geteuid() != 0) {
    const fs::path locked = dir / "locked";
    fs::create_directories(locked);
    fs::permissions(locked, fs::perms::owner_read | fs::perms::owner_exec);
    try {
      sim::SonataSink sink((locked / "spikes.h5").string());
      FAIL("created a file in a read-only folder");
    } catch (const std::runtime_error& e) {
      const std::string message = e.what();
      CHECK(message.find((locked / "spikes.h5").string()) != std::string::npos);
      CHECK(message.find("Permission denied") != std::string::npos);
    }
    fs::permissions(locked, fs::perms::owner_all);
  }
}

TEST_CASE("a full disk during a run is a clear error, and the file stays incomplete") {
  // RLIMIT_FSIZE makes write() fail with EFBIG past a size, as a full disk makes it fail
  // with ENOSPC; SIGXFSZ is ignored so the failure reaches the caller.
  const fs::path file = test_dir("full_disk") / "spikes.h5";
  rlimit old_limit{};
  REQUIRE(getrlimit(RLIMIT_FSIZE, &old_limit) == 0);
  auto old_handler = signal(SIGXFSZ, SIG_IGN);
  std::string message;
  {
    sim::SonataSink sink(file.string(), {.chunk_spikes = 1024});
    sim::RunInfo info = synthetic_info();
    sink.begin(info);
    sink.epoch_done(0);
    rlimit small = old_limit;
    small.rlim_cur = 256 * 1024;
    REQUIRE(setrlimit(RLIMIT_FSIZE, &small) == 0);
    try {
      std::vector<uint32_t> ids(5);
      for (uint32_t i = 0; i < 5; ++i) ids[i] = i;
      // 100000 steps × 5 spikes × 16 bytes = 8 MB, far past the 256 kB limit.
      for (sim::Step step = 0; step < 100000; ++step) {
        sink.spikes(step, 0, ids);
        if (step % 1000 == 999) sink.epoch_done(step + 1);
      }
      sink.end(100000, true);
    } catch (const std::runtime_error& e) {
      message = e.what();
    }
  }
  REQUIRE(setrlimit(RLIMIT_FSIZE, &old_limit) == 0);
  signal(SIGXFSZ, old_handler);
  REQUIRE_FALSE(message.empty());
  CHECK(message.find(file.string()) != std::string::npos);
  CHECK(message.find("File too large") != std::string::npos);
  MESSAGE("full-disk message: ", message);
  // What is left is either unreadable or says complete = 0: never a file that looks done.
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  const hid_t f = raw_open_id(file);
  if (f >= 0) {
    CHECK(raw_attr_scalar<uint8_t>(f, "/run", "complete", H5T_NATIVE_UINT8) == 0);
    H5Fclose(f);
  }
}

TEST_CASE("describe_spike_file: complete and incomplete runs") {
  const fs::path dir = test_dir("describe");
  const fs::path done = dir / "done.h5";
  {
    sim::SonataSink sink(done.string());
    sink.begin(synthetic_info());
    sim::h5::Group readouts = sink.file().create_group("readouts/what");
    const std::vector<double> w = {1, 2, 3, 4, 5, 6};
    readouts.write_dataset_2d("weights", 2, 3, w);
    feed_until(sink, 0, 13);
    sink.end(13, true);
  }
  const std::string text = sim::describe_spike_file(done.string());
  MESSAGE(text);
  CHECK(text.find("status: complete") != std::string::npos);
  CHECK(text.find("INCOMPLETE") == std::string::npos);
  CHECK(text.find("synthetic") != std::string::npos);
  // Counted by hand from synthetic_spikes. exc: 8 spikes, first at step 0, last at step 12
  // (1.2 ms); rate = 8 / (5 neurons × 1.3 ms) = 1230.77 Hz, printed to 4 significant digits.
  CHECK(
      text.find(
          "exc                     5          8            0          1.2         1231  by_time") !=
      std::string::npos);
  // inh: 4 spikes from step 0 to step 7 (0.7 ms); 4 / (3 × 1.3 ms) = 1025.64 Hz.
  CHECK(
      text.find(
          "inh                     3          4            0          0.7         1026  by_time") !=
      std::string::npos);
  CHECK(
      text.find(
          "silent                  2          0            -            -            0  by_time") !=
      std::string::npos);
  CHECK(text.find("/readouts") != std::string::npos);
  CHECK(text.find("weights                float64  [2 x 3]") != std::string::npos);

  const fs::path cut = dir / "cut.h5";
  {
    sim::SonataSink sink(cut.string());
    sink.begin(synthetic_info());
    feed_until(sink, 0, 6);
    sink.end(6, false);
  }
  const std::string cut_text = sim::describe_spike_file(cut.string());
  CHECK(cut_text.find("*** INCOMPLETE ***") != std::string::npos);
  CHECK(cut_text.find("it holds 6 steps of 13 planned") != std::string::npos);
}

TEST_CASE("describe_spike_file: missing, non-HDF5 and non-SONATA files are input errors") {
  const fs::path dir = test_dir("describe_errors");
  auto message_for = [](const fs::path& p) -> std::string {
    try {
      sim::describe_spike_file(p.string());
    } catch (const sim::InputError& e) {
      CHECK(e.file == p.string());
      return e.what();
    }
    FAIL("no InputError for ", p);
    return "";
  };
  CHECK(message_for(dir / "absent.h5") == "no such file");
  const fs::path text = dir / "notes.h5";
  { std::ofstream(text) << "not hdf5\n"; }
  CHECK(message_for(text) == "not an HDF5 file");
  const fs::path plain = dir / "plain.h5";
  {
    RawId f(H5Fcreate(plain.c_str(), H5F_ACC_EXCL, H5P_DEFAULT, H5P_DEFAULT), H5Fclose);
    RawId g(H5Gcreate2(f.id, "/data", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose);
  }
  CHECK(message_for(plain).find("not a SONATA spike file") == 0);
}

TEST_CASE("h5 layer: attributes replace, appendable datasets grow across chunks") {
  const fs::path file = test_dir("h5_layer") / "data.h5";
  {
    sim::h5::File f = sim::h5::File::create(file.string());
    sim::h5::Group g = f.create_group("a/b/c");  // intermediate groups created
    g.write_attribute("x", uint32_t{7});
    g.write_attribute("x", uint32_t{8});  // same type: reused
    g.write_attribute("y", int32_t{-3});
    g.write_attribute("y", 2.5);  // other type: replaced
    const std::vector<uint8_t> flags = {1, 0, 1};
    g.write_attribute("flags", flags);
    sim::h5::Appendable<uint64_t> grow(g, "grow", 3);
    for (uint64_t start = 0; start < 10; start += 4) {
      std::vector<uint64_t> piece;
      for (uint64_t v = start; v < std::min<uint64_t>(start + 4, 10); ++v) piece.push_back(v * v);
      grow.append(piece);
    }
    CHECK(grow.size() == 10);
    CHECK(f.exists("/a/b/c/grow"));
    CHECK_FALSE(f.exists("/a/x/c"));
    CHECK(f.is_group("a/b"));
    CHECK(f.is_dataset("a/b/c/grow"));
    CHECK_THROWS_WITH_AS(f.open_group("nope"), doctest::Contains("data.h5:/nope: no such group"),
                         sim::h5::Error);
  }
  {
    RawId f = raw_open(file);
    CHECK(raw_attr_scalar<uint32_t>(f.id, "/a/b/c", "x", H5T_NATIVE_UINT32) == 8);
    CHECK(attr_type_is(f.id, "/a/b/c", "y", H5T_NATIVE_DOUBLE));
    CHECK(raw_attr_scalar<double>(f.id, "/a/b/c", "y", H5T_NATIVE_DOUBLE) == 2.5);
    std::vector<uint64_t> squares;
    for (uint64_t v = 0; v < 10; ++v) squares.push_back(v * v);
    CHECK(raw_dataset<uint64_t>(f.id, "/a/b/c/grow", H5T_NATIVE_UINT64) == squares);
  }

  // And the wrapper's readers agree with what was written.
  sim::h5::File r = sim::h5::File::open_read_only(file.string());
  sim::h5::Group g = r.open_group("/a/b/c");
  CHECK(g.read_attribute_array<uint8_t>("flags") == std::vector<uint8_t>{1, 0, 1});
  CHECK(g.open_dataset("grow").read<uint64_t>(7, 3) == std::vector<uint64_t>{49, 64, 81});
  CHECK_THROWS_AS(g.open_dataset("grow").read<uint64_t>(8, 3), sim::h5::Error);
}

TEST_CASE("h5 layer: 2-D datasets keep their shape; float matrices are stored as float32") {
  const fs::path file = test_dir("h5_matrix") / "data.h5";
  // 0.1f is not 0.1: reading the float32 dataset back as double must give the float's value.
  const std::vector<float> xf = {0.1f, -2.5f, 3.0f, 1e-20f, 7.25f, -0.0f};
  const std::vector<double> xd = {0.1, -2.5, 3.0, 1e-20, 7.25, -0.0};
  {
    sim::h5::File f = sim::h5::File::create(file.string());
    f.write_dataset_2d("f", 2, 3, std::span<const float>(xf));
    f.write_dataset_2d("d", 3, 2, xd);
    CHECK_THROWS_AS(f.write_dataset_2d("bad", 2, 2, std::span<const float>(xf)),
                    std::invalid_argument);
  }
  sim::h5::File r = sim::h5::File::open_read_only(file.string());
  const auto f = r.open_dataset("f"), d = r.open_dataset("d");
  CHECK(f.type_name() == "float32");
  CHECK(d.type_name() == "float64");
  CHECK(f.shape() == std::vector<hsize_t>{2, 3});
  CHECK(d.shape() == std::vector<hsize_t>{3, 2});
  const auto back = f.read<double>();
  REQUIRE(back.size() == xf.size());
  for (std::size_t i = 0; i < xf.size(); ++i) CHECK(back[i] == static_cast<double>(xf[i]));
  CHECK(back[0] != 0.1);
  CHECK(d.read<double>() == xd);
  CHECK_FALSE(r.exists("bad"));
}
