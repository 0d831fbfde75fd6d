#include "experiments/sparsey/experiment.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <limits>
#include <stdexcept>

#include "experiments/sparsey/capacity.hpp"
#include "experiments/sparsey/digits.hpp"
#include "experiments/sparsey/episodic.hpp"
#include "experiments/sparsey/inputs.hpp"
#include "experiments/sparsey/record.hpp"
#include "experiments/sparsey/sequences.hpp"
#include "experiments/sparsey/similarity.hpp"
#include "experiments/sparsey/sources.hpp"
#include "sim/h5.hpp"
#include "sim/sonata_sink.hpp"
#include "sim/version.hpp"

namespace experiments::sparsey {

namespace ms = models::sparsey;

namespace {

const std::vector<std::string> tasks = {"similarity", "capacity", "sequences", "digits", "episodic"};

// Everything a run needs, read and checked before any output exists.
struct Settings {
  std::string name;
  uint64_t seed = 1;
  int threads = 1;
  std::string task;
  std::string preset;
  bool compare = true;
  double presentation_ms = 10.0;
  bool record = true;
  ms::Params field;
  SimilarityConfig similarity;
  CapacityConfig capacity;
  SequenceConfig sequences;
  DigitsConfig digits;
  std::string digits_path;
  EpisodicConfig episodic;
  // Episodic input.
  std::string source = "random";
  std::string path;
  std::string dataset;
  SpikeBinning binning;
  uint32_t num_patterns = 200, num_bits = 1000, active_bits = 50;
  std::string input_key;  // dotted key of the input path, for errors in the file
  int input_line = 0;
  std::string config_file;
  std::string config_text;
};

ms::Params preset_params(const std::string& preset) {
  return preset == "digits" ? ms::digits_preset() : ms::similarity_preset();
}

uint32_t read_u32(sim::TableReader& t, std::string_view key, uint32_t fallback, uint32_t min = 0) {
  const int64_t v = t.integer(key, int64_t{fallback});
  if (v < int64_t{min} || v > int64_t{std::numeric_limits<uint32_t>::max()})
    t.fail(key, fmt::format("expected an integer >= {}, got {}", min, v));
  return static_cast<uint32_t>(v);
}

std::vector<uint32_t> read_u32s(sim::TableReader& t, std::string_view key,
                                const std::vector<uint32_t>& fallback, uint32_t min) {
  const std::vector<int64_t> v = t.integers(key, std::vector<int64_t>(fallback.begin(), fallback.end()));
  std::vector<uint32_t> out;
  for (const int64_t x : v) {
    if (x < int64_t{min} || x > int64_t{std::numeric_limits<uint32_t>::max()})
      t.fail(key, fmt::format("expected integers >= {}, got {}", min, x));
    out.push_back(static_cast<uint32_t>(x));
  }
  return out;
}

double read_fraction(sim::TableReader& t, std::string_view key, double fallback) {
  const double v = t.number(key, fallback);
  if (!(v >= 0 && v <= 1)) t.fail(key, fmt::format("expected a fraction in [0, 1], got {}", v));
  return v;
}

// [sparsey.field]: every Params field but num_inputs_U, defaults from the preset.
ms::Params read_field(sim::TableReader& t, ms::Params p) {
  p.num_cms_Q = read_u32(t, "num_cms_Q", p.num_cms_Q, 1);
  p.cells_per_cm_K = read_u32(t, "cells_per_cm_K", p.cells_per_cm_K, 1);
  p.num_inputs_D = read_u32(t, "num_inputs_D", p.num_inputs_D, 0);
  p.horizontal = t.boolean("horizontal", p.horizontal);
  p.w_max = t.number("w_max", p.w_max);
  p.lambda_U = t.number("lambda_U", p.lambda_U);
  p.lambda_H = t.number("lambda_H", p.lambda_H);
  p.lambda_D = t.number("lambda_D", p.lambda_D);
  p.G_minus = t.number("G_minus", p.G_minus);
  p.gamma = t.number("gamma", p.gamma);
  p.chi = t.number("chi", p.chi);
  p.sigmoid_lambda = t.number("sigmoid_lambda", p.sigmoid_lambda);
  p.sigmoid_phi = t.number("sigmoid_phi", p.sigmoid_phi);
  p.full_match_cutoff = t.boolean("full_match_cutoff", p.full_match_cutoff);
  p.full_match_V = t.number("full_match_V", p.full_match_V);
  try {
    ms::validate(p);
  } catch (const std::invalid_argument& e) {
    t.fail("", e.what());
  }
  return p;
}

// The input size every synthetic task has: num_bits units of which active_bits are on.
void read_input_size(sim::TableReader& t, uint32_t& num_bits, uint32_t& active_bits) {
  num_bits = read_u32(t, "num_bits", num_bits, 1);
  active_bits = read_u32(t, "active_bits", active_bits, 1);
  if (active_bits > num_bits)
    t.fail("active_bits", fmt::format("{} active bits out of {} is impossible", active_bits, num_bits));
}

Settings read_settings(const sim::ConfigDocument& doc, toml::table& resolved) {
  Settings s;
  s.config_file = doc.file;
  sim::TableReader root(doc.root, "", doc.file, resolved);
  s.name = read_experiment_header(root, std::filesystem::path(doc.file).stem().string());
  {
    sim::TableReader sim_t = root.table("simulation");
    const int64_t seed = sim_t.integer("seed", 1);
    if (seed < 0) sim_t.fail("seed", "expected an integer >= 0");
    s.seed = static_cast<uint64_t>(seed);
    s.threads = static_cast<int>(read_u32(sim_t, "threads", 1, 1));
    sim_t.finish();
  }
  sim::TableReader t = root.table("sparsey");
  s.task = t.choice("task", tasks, std::string("similarity"));
  s.preset = t.choice("preset", {"similarity", "digits"},
                      std::string(s.task == "digits" ? "digits" : "similarity"));
  s.compare = t.boolean("compare_other_preset", true);
  s.presentation_ms = t.number("presentation_ms", 10.0);
  if (!(s.presentation_ms > 0)) t.fail("presentation_ms", "expected a number > 0");
  s.record = t.boolean("record", true);
  {
    sim::TableReader f = t.table("field");
    s.field = read_field(f, preset_params(s.preset));
    f.finish();
  }
  sim::TableReader k = t.table(s.task);
  if (s.task == "similarity") {
    SimilarityConfig& c = s.similarity;
    read_input_size(k, c.num_bits, c.active_bits);
    c.num_probes = read_u32(k, "num_probes", c.num_probes, 2);
    c.num_seeds = read_u32(k, "num_seeds", c.num_seeds, 1);
  } else if (s.task == "capacity") {
    CapacityConfig& c = s.capacity;
    read_input_size(k, c.num_bits, c.active_bits);
    c.stored_counts = read_u32s(k, "stored_counts", c.stored_counts, 1);
    if (c.stored_counts.empty() || !std::is_sorted(c.stored_counts.begin(), c.stored_counts.end()))
      k.fail("stored_counts", "expected a non-empty ascending list of loads");
    c.noise_fraction = read_fraction(k, "noise_fraction", c.noise_fraction);
    c.num_novel = read_u32(k, "num_novel", c.num_novel, 0);
    c.num_seeds = read_u32(k, "num_seeds", c.num_seeds, 1);
  } else if (s.task == "sequences") {
    SequenceConfig& c = s.sequences;
    read_input_size(k, c.num_bits, c.active_bits);
    c.sequence_counts = read_u32s(k, "sequence_counts", c.sequence_counts, 1);
    c.lengths = read_u32s(k, "lengths", c.lengths, 2);
    c.alphabet_size = read_u32(k, "alphabet_size", c.alphabet_size, 0);
    c.num_seeds = read_u32(k, "num_seeds", c.num_seeds, 1);
  } else if (s.task == "digits") {
    DigitsConfig& c = s.digits;
    s.digits_path = k.string("path", default_digits_path());
    if (!std::filesystem::is_regular_file(s.digits_path))
      k.fail("path", fmt::format("no such file: {} (Debian: apt-get install python3-sklearn)",
                                 s.digits_path));
    c.encoding = k.choice("encoding", {"patch2", "thr8"}, std::string("patch2")) == "thr8"
                     ? DigitsEncoding::thr8
                     : DigitsEncoding::patch2;
    c.per_class = read_u32s(k, "per_class", c.per_class, 0);
    c.pool_size = read_u32(k, "pool_size", c.pool_size, 10);
    if (c.pool_size >= 1797) k.fail("pool_size", "expected fewer than the 1797 images");
    c.draws = read_u32(k, "draws", c.draws, 1);
    c.draws_all = read_u32(k, "draws_all", c.draws_all, 1);
    c.controls = k.boolean("controls", c.controls);
  } else {
    EpisodicConfig& c = s.episodic;
    s.source = k.choice("source", {"random", "npy", "hdf5", "spikes"}, std::string("random"));
    // The random source's settings are read whatever the source (so that a config can
    // switch source with one --set); they are used only by source = "random".
    s.num_patterns = read_u32(k, "num_patterns", s.num_patterns, 1);
    read_input_size(k, s.num_bits, s.active_bits);
    if (s.source != "random") {
      s.path = k.string("path");
      s.input_key = k.dotted("path");
      s.input_line = k.line_of("path");
      if (s.source == "hdf5") s.dataset = k.string("dataset");
      if (s.source == "spikes") {
        s.binning.population = k.string("population");
        s.binning.bin_ms = k.number("bin_ms", 10.0);
        if (!(s.binning.bin_ms > 0)) k.fail("bin_ms", "expected a number > 0");
        s.binning.start_ms = k.number("start_ms", 0.0);
        if (!(s.binning.start_ms >= 0)) k.fail("start_ms", "expected a number >= 0");
        if (k.has("stop_ms")) s.binning.stop_ms = k.number("stop_ms");
      }
    }
    c.noise_fraction = read_fraction(k, "noise_fraction", c.noise_fraction);
    c.min_active = read_u32(k, "min_active", c.min_active, 1);
    c.num_seeds = read_u32(k, "num_seeds", c.num_seeds, 1);
  }
  k.finish();
  t.finish();
  root.finish();
  return s;
}

// The episodic task's patterns; file errors are reported at the config's `path` key.
PatternSet load_patterns(const Settings& s) {
  if (s.source == "random") {
    sim::rng::Stream stream(sim::rng::derive_seed(s.seed, 5, 1000000),
                            sim::rng::make_stream(sim::rng::Purpose::stimulus, 0), 0);
    return random_sdrs(s.num_patterns, s.num_bits, s.active_bits, stream);
  }
  try {
    if (s.source == "npy") return rows_as_patterns(read_npy_binary(s.path));
    if (s.source == "hdf5") return rows_as_patterns(read_hdf5_binary(s.path, s.dataset));
    return rows_as_patterns(bin_spikes(s.path, s.binning));
  } catch (const sim::InputError& e) {
    throw sim::InputError(s.config_file, s.input_line, s.input_key, e.describe());
  }
}

struct Column {
  std::string name;
  std::vector<double> values;
};

// One run of the task under one field setting.
struct Outcome {
  std::string preset;
  ms::Params field;
  std::vector<std::pair<std::string, double>> metrics;
  std::string table_name;
  std::vector<Column> table;
  std::vector<double> spearman_per_seed;
  Presentations presentations;
  double wall_s = 0;
};

std::string load_tag(uint32_t n) { return n == 0 ? std::string("all") : std::to_string(n); }

// A task's config with the run-wide settings every task shares.
template <typename Config>
Config with_run_settings(Config c, const ms::Params& field, const Settings& s) {
  c.field = field;
  c.seed = s.seed;
  c.threads = s.threads;
  c.record = s.record;
  return c;
}

Outcome run_task(const Settings& s, const ms::Params& field, const std::string& preset,
                 const Digits* digits, const PatternSet* patterns) {
  Outcome o;
  o.preset = preset;
  o.field = field;
  auto metric = [&o](std::string name, double v) { o.metrics.emplace_back(std::move(name), v); };
  const auto t0 = std::chrono::steady_clock::now();
  if (s.task == "similarity") {
    const SimilarityConfig c = with_run_settings(s.similarity, field, s);
    SimilarityMetrics m = run_similarity(c);
    metric("spearman_mean", m.spearman_mean);
    metric("spearman_min", m.spearman_min);
    metric("spearman_of_mean_curve", m.spearman_of_mean_curve);
    metric("curve_max_abs_deviation", m.max_abs_deviation);
    metric("curve_rms_deviation", m.rms_deviation);
    metric("curve_max_abs_z", m.max_abs_z);
    metric("curve_fraction_within_3_se", m.fraction_within_3_se);
    metric("code_overlap_at_0", m.mean_code_overlap.front());
    metric("code_overlap_at_100", m.mean_code_overlap.back());
    metric("analytic_overlap_at_0", m.analytic_code_overlap.front());
    metric("analytic_overlap_at_100", m.analytic_code_overlap.back());
    o.table_name = "curve";
    o.table = {{"shared_bits", std::vector<double>(m.shared_bits.begin(), m.shared_bits.end())},
               {"input_overlap", m.input_overlap},
               {"mean_code_overlap", m.mean_code_overlap},
               {"analytic_code_overlap", m.analytic_code_overlap},
               {"mean_G", m.mean_G}};
    o.spearman_per_seed = m.spearman_per_seed;
    o.presentations = std::move(m.presentations);
  } else if (s.task == "capacity") {
    const CapacityConfig c = with_run_settings(s.capacity, field, s);
    CapacityMetrics m = run_capacity(c);
    o.table_name = "capacity";
    o.table = {{"stored", {}}, {"exact_recall", {}}, {"cm_recall", {}}, {"exact_recall_noisy", {}},
               {"cm_recall_noisy", {}}, {"G_stored", {}}, {"G_novel", {}}, {"G_learning", {}},
               {"distinct_codes", {}}};
    for (const CapacityPoint& p : m.points) {
      const double row[] = {double(p.stored), p.exact_recall, p.cm_recall, p.exact_recall_noisy,
                            p.cm_recall_noisy, p.G_stored, p.G_novel, p.G_learning,
                            p.distinct_codes};
      for (size_t i = 0; i < o.table.size(); ++i) o.table[i].values.push_back(row[i]);
      for (size_t i = 1; i < o.table.size(); ++i)
        metric(fmt::format("{}_at_{}", o.table[i].name, p.stored), row[i]);
    }
    o.presentations = std::move(m.presentations);
  } else if (s.task == "sequences") {
    const SequenceConfig c = with_run_settings(s.sequences, field, s);
    SequenceMetrics m = run_sequences(c);
    o.table_name = "sequences";
    o.table = {{"sequences", {}}, {"length", {}}, {"next_code_exact", {}}, {"next_code_cm", {}},
               {"replay_step_exact", {}}, {"replay_sequence_exact", {}}, {"G_learning", {}}};
    for (const SequencePoint& p : m.points) {
      const double row[] = {double(p.sequences), double(p.length), p.next_code_exact,
                            p.next_code_cm, p.replay_step_exact, p.replay_sequence_exact,
                            p.G_learning};
      for (size_t i = 0; i < o.table.size(); ++i) o.table[i].values.push_back(row[i]);
      for (size_t i = 2; i < o.table.size(); ++i)
        metric(fmt::format("{}_{}x{}", o.table[i].name, p.sequences, p.length), row[i]);
    }
    o.presentations = std::move(m.presentations);
  } else if (s.task == "digits") {
    const DigitsConfig c = with_run_settings(s.digits, field, s);
    DigitsMetrics m = run_digits(c, *digits);
    o.table_name = "accuracy";
    o.table = {{"per_class", {}}, {"train_examples", {}}, {"sparsey_mean", {}}, {"sparsey_sd", {}},
               {"nn_mean", {}}, {"nn_sd", {}}, {"random_code_mean", {}}, {"random_code_sd", {}},
               {"sparsey_seconds", {}}, {"nn_seconds", {}}, {"random_code_seconds", {}},
               {"G_learning", {}}, {"distinct_code_fraction", {}}};
    metric("test_size", double(m.test_size));
    for (const DigitsPoint& p : m.points) {
      const double row[] = {double(p.per_class), p.train_examples, p.sparsey_mean, p.sparsey_sd,
                            p.nn_mean, p.nn_sd, p.random_code_mean, p.random_code_sd,
                            p.sparsey_seconds, p.nn_seconds, p.random_code_seconds,
                            p.G_learning, p.distinct_code_fraction};
      for (size_t i = 0; i < o.table.size(); ++i) o.table[i].values.push_back(row[i]);
      const std::string tag = load_tag(p.per_class);
      metric("sparsey_accuracy_" + tag, p.sparsey_mean);
      metric("sparsey_accuracy_sd_" + tag, p.sparsey_sd);
      if (c.controls) {
        metric("nn_accuracy_" + tag, p.nn_mean);
        metric("nn_accuracy_sd_" + tag, p.nn_sd);
        metric("random_code_accuracy_" + tag, p.random_code_mean);
        metric("random_code_accuracy_sd_" + tag, p.random_code_sd);
        metric("sparsey_minus_nn_" + tag, p.sparsey_mean - p.nn_mean);
        metric("nn_seconds_" + tag, p.nn_seconds);
        metric("random_code_seconds_" + tag, p.random_code_seconds);
      }
      metric("sparsey_seconds_" + tag, p.sparsey_seconds);
      metric("G_learning_" + tag, p.G_learning);
      metric("distinct_code_fraction_" + tag, p.distinct_code_fraction);
    }
    o.presentations = std::move(m.presentations);
  } else {
    const EpisodicConfig c = with_run_settings(s.episodic, field, s);
    EpisodicMetrics m = run_episodic(c, *patterns);
    const std::pair<const char*, double> rows[] = {
        {"patterns", double(m.patterns)}, {"skipped", double(m.skipped)},
        {"num_units", double(patterns->num_bits)}, {"mean_active", m.mean_active},
        {"mean_input_overlap", m.mean_input_overlap}, {"exact_recall", m.exact_recall},
        {"cm_recall", m.cm_recall}, {"exact_recall_noisy", m.exact_recall_noisy},
        {"cm_recall_noisy", m.cm_recall_noisy}, {"G_learning", m.G_learning},
        {"G_stored", m.G_stored}, {"G_noisy", m.G_noisy}, {"distinct_codes", m.distinct_codes},
        {"distinct_patterns", m.distinct_patterns}};
    o.table_name = "episodic";
    for (const auto& [name, v] : rows) {
      metric(name, v);
      o.table.push_back({name, {v}});
    }
    o.presentations = std::move(m.presentations);
  }
  o.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  metric("wall_s", o.wall_s);
  metric("presentations", double(o.presentations.size()));
  // Code selections per second of the whole task (learning and recognition together; the
  // digits task includes the controls' time). Only meaningful with record = true.
  metric("codes_per_second", o.wall_s > 0 ? double(o.presentations.size()) / o.wall_s : 0.0);
  return o;
}

// A 2-D uint32 dataset (the h5 layer writes 2-D data as float64 only; codes are indices).
void write_u32_2d(sim::h5::Group& group, const std::string& name, hsize_t rows, hsize_t cols,
                  const std::vector<uint32_t>& values) {
  const hsize_t dims[2] = {rows, cols};
  const hid_t space = H5Screate_simple(2, dims, nullptr);
  const hid_t ds = H5Dcreate2(group.id(), name.c_str(), H5T_STD_U32LE, space, H5P_DEFAULT,
                              H5P_DEFAULT, H5P_DEFAULT);
  herr_t status = ds < 0 ? -1 : 0;
  if (ds >= 0 && !values.empty())
    status = H5Dwrite(ds, H5T_NATIVE_UINT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data());
  if (ds >= 0) H5Dclose(ds);
  H5Sclose(space);
  if (status < 0) throw sim::h5::Error(group.where() + ": cannot write dataset '" + name + "'");
}

void write_outcome(sim::h5::File& file, const std::string& group_name, const std::string& population,
                   const Settings& s, const Outcome& o) {
  sim::h5::Group g = file.create_group(group_name);
  g.write_attribute("task", std::string_view(s.task));
  g.write_attribute("preset", std::string_view(o.preset));
  g.write_attribute("population", std::string_view(population));
  g.write_attribute("Q", o.field.num_cms_Q);
  g.write_attribute("K", o.field.cells_per_cm_K);
  g.write_attribute("presentation_ms", s.presentation_ms);
  const ms::Params& f = o.field;
  const std::pair<const char*, double> params[] = {
      {"lambda_U", f.lambda_U}, {"lambda_H", f.lambda_H}, {"lambda_D", f.lambda_D},
      {"G_minus", f.G_minus}, {"gamma", f.gamma}, {"chi", f.chi},
      {"sigmoid_lambda", f.sigmoid_lambda}, {"sigmoid_phi", f.sigmoid_phi},
      {"w_max", f.w_max}, {"horizontal", f.horizontal ? 1.0 : 0.0},
      {"full_match_cutoff", f.full_match_cutoff ? 1.0 : 0.0}, {"full_match_V", f.full_match_V}};
  for (const auto& [k, v] : params) g.write_attribute(std::string("field_") + k, v);
  const size_t n = o.presentations.size();
  const uint32_t Q = f.num_cms_Q;
  std::vector<double> G(n), eta(n);
  std::vector<uint32_t> seed_index(n), item(n), label(n), codes(n * Q);
  std::vector<uint8_t> phase(n);
  for (size_t i = 0; i < n; ++i) {
    const Presentation& p = o.presentations[i];
    G[i] = p.G;
    eta[i] = p.eta;
    seed_index[i] = p.seed_index;
    phase[i] = static_cast<uint8_t>(p.phase);
    item[i] = static_cast<uint32_t>(p.item);
    label[i] = static_cast<uint32_t>(p.label);
    std::copy(p.code.begin(), p.code.end(), codes.begin() + static_cast<std::ptrdiff_t>(i * Q));
  }
  g.write_dataset("G", G);
  g.write_dataset("eta", eta);
  g.write_dataset("seed_index", seed_index);
  g.write_dataset("phase", phase);
  g.write_dataset("item", item);
  g.write_dataset("label", label);
  g.write_dataset("phase_names", phase_names());
  write_u32_2d(g, "codes", n, Q, codes);
  if (!o.spearman_per_seed.empty()) g.write_dataset("spearman_per_seed", o.spearman_per_seed);
  sim::h5::Group table = g.create_group(o.table_name);
  for (const Column& c : o.table) table.write_dataset(c.name, c.values);
}

int run(RunContext& ctx) {
  toml::table resolved;
  const Settings s = read_settings(ctx.doc, resolved);
  const std::string text = sim::to_toml(resolved);
  sim::write_text_atomically(ctx.folder.config(), text);

  Digits digits;
  PatternSet patterns;
  if (s.task == "digits") digits = load_digits(s.digits_path);
  if (s.task == "episodic") patterns = load_patterns(s);

  const std::string other = s.preset == "digits" ? "similarity" : "digits";
  ctx.log.info(fmt::format("sparsey {}: preset {} (Q = {}, K = {}){}", s.task, s.preset,
                           s.field.num_cms_Q, s.field.cells_per_cm_K,
                           s.compare ? ", then preset " + other + " for comparison" : ""));
  std::vector<Outcome> outcomes;
  outcomes.push_back(run_task(s, s.field, s.preset, &digits, &patterns));
  bool complete = true;
  if (s.compare) {
    if (ctx.stop && ctx.stop->load())
      complete = false;
    else
      outcomes.push_back(run_task(s, preset_params(other), other, &digits, &patterns));
  }

  // Spikes: presentation i at step i with dt = presentation_ms.
  const std::vector<std::string> populations = {"sparsey", "sparsey_other"};
  sim::SonataSink sink(ctx.folder.spikes().string());
  sim::RunInfo info{.seed = s.seed, .dt_ms = s.presentation_ms, .n_steps = 0, .threads = s.threads,
                    .experiment = s.name, .config_toml = text, .populations = {}, .traces = {}};
  size_t steps = 0;
  for (size_t r = 0; r < outcomes.size(); ++r) {
    info.populations.push_back({populations[r], outcomes[r].field.num_cells()});
    steps = std::max(steps, outcomes[r].presentations.size());
  }
  info.n_steps = static_cast<sim::Step>(steps);
  sink.begin(info);
  for (size_t i = 0; i < steps; ++i) {
    for (size_t r = 0; r < outcomes.size(); ++r) {
      if (i >= outcomes[r].presentations.size()) continue;
      const std::vector<uint32_t> cells =
          ms::code_cells(outcomes[r].presentations[i].code, outcomes[r].field.cells_per_cm_K);
      sink.spikes(static_cast<sim::Step>(i), static_cast<uint32_t>(r), cells);
    }
    if ((i + 1) % 8192 == 0) sink.epoch_done(static_cast<sim::Step>(i + 1));
  }
  sim::h5::File& file = sink.file();
  const std::vector<std::string> groups = {"sparsey", "sparsey_other"};
  sim::h5::Group metrics = file.require_group("metrics");
  for (size_t r = 0; r < outcomes.size(); ++r) {
    write_outcome(file, groups[r], populations[r], s, outcomes[r]);
    const std::string prefix = r == 0 ? "" : "other_";
    for (const auto& [name, v] : outcomes[r].metrics) metrics.write_attribute(prefix + name, v);
  }
  sink.end(static_cast<sim::Step>(steps), complete);

  for (size_t r = 0; r < outcomes.size(); ++r) {
    const Outcome& o = outcomes[r];
    ctx.log.info(fmt::format("{} preset {} (Q = {}, K = {}, lambda_U = {:g}, lambda = {:g}, "
                             "phi = {:g}):",
                             r == 0 ? "main run," : "other run,", o.preset, o.field.num_cms_Q,
                             o.field.cells_per_cm_K, o.field.lambda_U, o.field.sigmoid_lambda,
                             o.field.sigmoid_phi));
    const std::string prefix = r == 0 ? "" : "other_";
    for (const auto& [name, v] : o.metrics) ctx.log.info(fmt::format("  {}{} = {:.6g}", prefix, name, v));
  }
  ctx.log.info(fmt::format("spikes: {}", ctx.folder.spikes().string()));
  return complete ? exit_ok : exit_interrupted;
}

void validate(const sim::ConfigDocument& doc) {
  toml::table resolved;
  const Settings s = read_settings(doc, resolved);
  // Input files are checked now, before a run folder is made (they are small).
  if (s.task == "episodic" && s.source != "random") {
    const PatternSet p = load_patterns(s);
    if (p.size() == 0)
      throw sim::InputError(s.config_file, s.input_line, s.input_key, "the input holds no patterns");
  }
}

}  // namespace

Experiment experiment() {
  return {"sparsey",
          "Sparsey coding field: similarity preservation, capacity, sequences, digits, episodic "
          "storage of reservoir states ([sparsey] task)",
          {"experiments/sparsey_similarity.toml", "experiments/sparsey_capacity.toml",
           "experiments/sparsey_sequences.toml", "experiments/sparsey_digits.toml",
           "experiments/sparsey_episodic.toml"},
          run,
          validate};
}

}  // namespace experiments::sparsey
