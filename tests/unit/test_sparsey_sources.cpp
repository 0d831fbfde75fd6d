// Pattern sources from files (HDF5 binary matrices, binned spikes of a run), the episodic
// task, and the thread-count independence of every Sparsey experiment function. Files are
// written here with the raw HDF5 C API (for HDF5 matrices of several types, as h5py or
// other tools would write them) or with the project's SonataSink (for spike files); expected
// matrices are worked out by hand from the spikes written, as said at each use.
#include <doctest/doctest.h>

#include "experiments/sparsey/capacity.hpp"
#include "experiments/sparsey/digits.hpp"
#include "experiments/sparsey/episodic.hpp"
#include "experiments/sparsey/sequences.hpp"
#include "experiments/sparsey/similarity.hpp"
#include "experiments/sparsey/sources.hpp"
#include "sim/error.hpp"
#include "sim/sonata_sink.hpp"

#include <hdf5.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

using namespace experiments::sparsey;
namespace fs = std::filesystem;

namespace {

fs::path scratch(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / "snnsim_test_sparsey_sources";
  fs::create_directories(dir);
  const fs::path p = dir / name;
  fs::remove(p);
  return p;
}

// Writes a dataset of `type` (file type = memory type) with the given shape and raw bytes.
void write_raw(const fs::path& file, const char* name, hid_t type, std::vector<hsize_t> shape,
               const void* data) {
  const hid_t f = fs::exists(file) ? H5Fopen(file.c_str(), H5F_ACC_RDWR, H5P_DEFAULT)
                                   : H5Fcreate(file.c_str(), H5F_ACC_EXCL, H5P_DEFAULT, H5P_DEFAULT);
  REQUIRE(f >= 0);
  const hid_t space = H5Screate_simple(static_cast<int>(shape.size()), shape.data(), nullptr);
  const hid_t ds = H5Dcreate2(f, name, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  REQUIRE(ds >= 0);
  REQUIRE(H5Dwrite(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0);
  H5Dclose(ds);
  H5Sclose(space);
  H5Fclose(f);
}

// h5py's bool type: an enum over int8 with FALSE = 0, TRUE = 1.
hid_t h5py_bool() {
  const hid_t t = H5Tenum_create(H5T_NATIVE_INT8);
  int8_t v = 0;
  H5Tenum_insert(t, "FALSE", &v);
  v = 1;
  H5Tenum_insert(t, "TRUE", &v);
  return t;
}

std::string input_error(auto&& f) {
  try {
    f();
  } catch (const sim::InputError& e) {
    return e.describe();
  }
  return "(no InputError)";
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("HDF5 binary matrices: uint8, int32 and h5py bool read back as written") {
  const fs::path file = scratch("matrix.h5");
  const std::vector<uint8_t> u8 = {1, 0, 1, 0, 0, 1};  // 2 x 3
  const std::vector<int32_t> i32 = {0, 1, 1, 1, 0, 0};  // 3 x 2
  write_raw(file, "u8", H5T_NATIVE_UINT8, {2, 3}, u8.data());
  write_raw(file, "i32", H5T_NATIVE_INT32, {3, 2}, i32.data());
  const hid_t b = h5py_bool();
  const std::vector<int8_t> bools = {0, 1, 1, 0};  // 2 x 2
  write_raw(file, "bool", b, {2, 2}, bools.data());
  H5Tclose(b);

  const BinaryMatrix a = read_hdf5_binary(file.string(), "u8");
  CHECK(a.rows == 2);
  CHECK(a.cols == 3);
  CHECK(a.values == u8);
  const BinaryMatrix c = read_hdf5_binary(file.string(), "i32");
  CHECK(c.rows == 3);
  CHECK(c.cols == 2);
  CHECK(c.values == std::vector<uint8_t>{0, 1, 1, 1, 0, 0});
  const BinaryMatrix d = read_hdf5_binary(file.string(), "bool");
  CHECK(d.values == std::vector<uint8_t>{0, 1, 1, 0});
  // Rows become patterns: row 0 of u8 holds columns 0 and 2.
  const PatternSet p = rows_as_patterns(a);
  CHECK(std::vector<uint32_t>(p[0].begin(), p[0].end()) == std::vector<uint32_t>{0, 2});
  CHECK(std::vector<uint32_t>(p[1].begin(), p[1].end()) == std::vector<uint32_t>{2});
}

TEST_CASE("HDF5 binary matrices: bad files are InputErrors that say what is wrong") {
  const fs::path file = scratch("bad_matrix.h5");
  const std::vector<uint8_t> two = {0, 2, 1, 0};
  const std::vector<uint8_t> flat = {0, 1, 1};
  const std::vector<double> real = {0.0, 1.0};
  write_raw(file, "two", H5T_NATIVE_UINT8, {2, 2}, two.data());
  write_raw(file, "flat", H5T_NATIVE_UINT8, {3}, flat.data());
  write_raw(file, "real", H5T_NATIVE_DOUBLE, {1, 2}, real.data());
  const std::string f = file.string();
  CHECK(contains(input_error([&] { read_hdf5_binary(f, "two"); }), "row 0, column 1"));
  CHECK(contains(input_error([&] { read_hdf5_binary(f, "flat"); }), "rank 1"));
  CHECK(contains(input_error([&] { read_hdf5_binary(f, "real"); }), "type float64"));
  CHECK(contains(input_error([&] { read_hdf5_binary(f, "nope"); }), "no dataset 'nope'"));
  CHECK(contains(input_error([&] { read_hdf5_binary(scratch("missing.h5").string(), "x"); }),
                 "no such file"));
  const fs::path text = scratch("text.h5");
  std::ofstream(text) << "not hdf5\n";
  CHECK(contains(input_error([&] { read_hdf5_binary(text.string(), "x"); }), "not an HDF5 file"));
}

namespace {

// A run of 100 steps of 1 ms with populations a (5 neurons) and b (3 neurons).
// Spikes of a: step 0 ids {0, 3}; step 5 {3}; step 12 {1}; step 29 {4}; step 30 {0}; step 95 {2}.
// Spikes of b: step 50 {2}.
fs::path spike_file() {
  const fs::path file = scratch("spikes.h5");
  sim::SonataSink sink(file.string());
  sim::RunInfo info{.seed = 1, .dt_ms = 1.0, .n_steps = 100, .threads = 1, .experiment = "t",
                    .config_toml = "", .populations = {{"a", 5}, {"b", 3}}, .traces = {}};
  sink.begin(info);
  const std::vector<std::pair<sim::Step, std::vector<uint32_t>>> a = {
      {0, {0, 3}}, {5, {3}}, {12, {1}}, {29, {4}}, {30, {0}}, {95, {2}}};
  for (const auto& [step, ids] : a) {
    sink.spikes(step, 0, ids);
    if (step == 30) sink.spikes(50, 1, std::vector<uint32_t>{2});
  }
  sink.end(100, true);
  return file;
}

}  // namespace

TEST_CASE("binned spikes: bins x neurons, 1 where a neuron spiked in the bin") {
  const fs::path file = spike_file();
  // 10 ms bins over the whole 100 ms run: 10 bins. By hand from the spikes above:
  // bin 0 (steps 0-9): ids 0, 3; bin 1 (10-19): id 1; bin 2 (20-29): id 4; bin 3: id 0; bin 9: id 2.
  const BinaryMatrix m = bin_spikes(file.string(), {.population = "a", .bin_ms = 10.0});
  REQUIRE(m.rows == 10);
  REQUIRE(m.cols == 5);
  std::vector<uint8_t> expected(50, 0);
  for (const auto& [bin, id] : std::vector<std::pair<int, int>>{{0, 0}, {0, 3}, {1, 1}, {2, 4}, {3, 0}, {9, 2}})
    expected[size_t(bin) * 5 + size_t(id)] = 1;
  CHECK(m.values == expected);
  // A window [5, 35) in 15 ms bins: bins [5, 20) and [20, 35); the spike at 0 ms is outside.
  const BinaryMatrix w =
      bin_spikes(file.string(), {.population = "a", .bin_ms = 15.0, .start_ms = 5.0, .stop_ms = 35.0});
  REQUIRE(w.rows == 2);
  CHECK(w.values == std::vector<uint8_t>{0, 1, 0, 1, 0, /**/ 1, 0, 0, 0, 1});
  // A partial last bin is dropped: [0, 100) in 30 ms bins gives 3 bins.
  CHECK(bin_spikes(file.string(), {.population = "a", .bin_ms = 30.0}).rows == 3);
  // Population b: 3 columns, its one spike at 50 ms in bin 5.
  const BinaryMatrix b = bin_spikes(file.string(), {.population = "b", .bin_ms = 10.0});
  CHECK(b.cols == 3);
  CHECK(b.values[5 * 3 + 2] == 1);
  CHECK(std::count(b.values.begin(), b.values.end(), uint8_t{1}) == 1);
}

TEST_CASE("binned spikes: bad requests and bad files are InputErrors") {
  const std::string f = spike_file().string();
  const std::string missing = input_error([&] { bin_spikes(f, {.population = "c"}); });
  CHECK(contains(missing, "no population 'c'"));
  CHECK(contains(missing, "a, b"));
  CHECK(contains(input_error([&] { bin_spikes(f, {.population = "a", .stop_ms = 200.0}); }),
                 "past the run's duration"));
  CHECK(contains(input_error([&] { bin_spikes(f, {.population = "a", .bin_ms = 0.0}); }),
                 "bin width"));
  CHECK(contains(input_error([&] { bin_spikes(f, {.population = "a", .bin_ms = 200.0}); }),
                 "shorter than one bin"));
  const fs::path other = scratch("not_spikes.h5");
  const std::vector<uint8_t> x = {1};
  write_raw(other, "x", H5T_NATIVE_UINT8, {1, 1}, x.data());
  CHECK(contains(input_error([&] { bin_spikes(other.string(), {.population = "a"}); }),
                 "not a snnsim spike file"));
}

TEST_CASE("episodic storage: empty rows are skipped, stored patterns are recalled exactly") {
  // 40 random 5 % SDRs over 1000 units, with two empty rows in between. [P] §5: argmax
  // re-instates the stored code exactly at low load (<= 100 random 5 % inputs into 20 x 20).
  sim::rng::Stream stream(7, 0, 0);
  const PatternSet random = random_sdrs(40, 1000, 50, stream);
  PatternSet set;
  set.num_bits = 1000;
  for (size_t i = 0; i < random.size(); ++i) {
    set.add(random[i]);
    if (i == 3 || i == 20) set.add(std::vector<uint32_t>{});
  }
  EpisodicConfig cfg;
  cfg.record = true;
  const EpisodicMetrics m = run_episodic(cfg, set);
  CHECK(m.patterns == 40);
  CHECK(m.skipped == 2);
  CHECK(m.mean_active == 50.0);
  CHECK(m.exact_recall == 1.0);
  CHECK(m.G_stored == 1.0);  // weights only grow: a stored input sees all its weights set
  CHECK(m.distinct_patterns == 1.0);
  // One record per selection: 40 learned, 40 recalled, 40 noisy; the skipped rows (items 4
  // and 22 of the set) never appear.
  REQUIRE(m.presentations.size() == 120);
  for (const Presentation& p : m.presentations) {
    CHECK(p.item != 4);
    CHECK(p.item != 22);
    CHECK(p.code.size() == cfg.field.num_cms_Q);
  }
  CHECK(m.presentations[40].phase == Phase::recall);
  CHECK(m.presentations[40].code == m.presentations[0].code);
}

namespace {

void same_records(const Presentations& a, const Presentations& b) {
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    CHECK(a[i].code == b[i].code);
    CHECK(a[i].G == b[i].G);
    CHECK(a[i].eta == b[i].eta);
    CHECK(a[i].seed_index == b[i].seed_index);
    CHECK(a[i].item == b[i].item);
  }
}

}  // namespace

TEST_CASE("results and codes do not depend on the number of threads") {
  SUBCASE("similarity") {
    SimilarityConfig c{.num_probes = 30, .num_seeds = 4, .seed = 3, .threads = 1, .record = true};
    const SimilarityMetrics one = run_similarity(c);
    c.threads = 2;
    const SimilarityMetrics two = run_similarity(c);
    CHECK(one.spearman_per_seed == two.spearman_per_seed);
    CHECK(one.mean_code_overlap == two.mean_code_overlap);
    same_records(one.presentations, two.presentations);
    CHECK(one.presentations.size() == 4 * 31);
  }
  SUBCASE("capacity") {
    CapacityConfig c{.stored_counts = {10, 40}, .num_novel = 10, .num_seeds = 3, .threads = 1,
                     .record = true};
    const CapacityMetrics one = run_capacity(c);
    c.threads = 2;
    const CapacityMetrics two = run_capacity(c);
    for (size_t i = 0; i < one.points.size(); ++i) {
      CHECK(one.points[i].cm_recall == two.points[i].cm_recall);
      CHECK(one.points[i].G_novel == two.points[i].G_novel);
    }
    same_records(one.presentations, two.presentations);
  }
  SUBCASE("sequences") {
    SequenceConfig c{.sequence_counts = {5}, .lengths = {4, 6}, .num_seeds = 2, .threads = 1,
                     .record = true};
    const SequenceMetrics one = run_sequences(c);
    c.threads = 2;
    const SequenceMetrics two = run_sequences(c);
    CHECK(one.points[1].next_code_cm == two.points[1].next_code_cm);
    same_records(one.presentations, two.presentations);
  }
  SUBCASE("digits") {
    const Digits data = load_digits(default_digits_path());
    DigitsConfig c{.per_class = {3}, .draws = 3, .controls = false, .threads = 1, .record = true};
    const DigitsMetrics one = run_digits(c, data);
    c.threads = 2;
    const DigitsMetrics two = run_digits(c, data);
    CHECK(one.points[0].sparsey_accuracy == two.points[0].sparsey_accuracy);
    same_records(one.presentations, two.presentations);
  }
  SUBCASE("episodic") {
    sim::rng::Stream stream(11, 0, 0);
    const PatternSet set = random_sdrs(30, 500, 25, stream);
    EpisodicConfig c{.num_seeds = 3, .threads = 1, .record = true};
    const EpisodicMetrics one = run_episodic(c, set);
    c.threads = 2;
    const EpisodicMetrics two = run_episodic(c, set);
    CHECK(one.cm_recall_noisy == two.cm_recall_noisy);
    same_records(one.presentations, two.presentations);
  }
}
