#include "models/sparsey.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

namespace models::sparsey {

void validate(const Params& p) {
  auto fail = [](const std::string& what) { throw std::invalid_argument("sparsey: " + what); };
  if (p.num_cms_Q < 1) fail("num_cms_Q must be >= 1");
  if (p.cells_per_cm_K < 1) fail("cells_per_cm_K must be >= 1");
  if (uint64_t{p.num_cms_Q} * p.cells_per_cm_K > (uint64_t{1} << 24))
    fail("num_cms_Q * cells_per_cm_K must be <= 2^24");
  if (p.num_inputs_U < 1) fail("num_inputs_U must be >= 1");
  if (!(p.w_max > 0)) fail("w_max must be > 0");
  if (!(p.lambda_U > 0) || !(p.lambda_H > 0) || !(p.lambda_D > 0))
    fail("lambda_U, lambda_H, lambda_D must be > 0");
  if (!(p.G_minus >= 0 && p.G_minus < 1)) fail("G_minus must be in [0, 1)");
  if (!(p.gamma >= 0)) fail("gamma must be >= 0");
  if (!(p.chi >= 0)) fail("chi must be >= 0");
  if (!(p.sigmoid_lambda >= 0)) fail("sigmoid_lambda must be >= 0");
  if (!std::isfinite(p.sigmoid_phi)) fail("sigmoid_phi must be finite");
  if (!std::isfinite(p.full_match_V)) fail("full_match_V must be finite");
}

Params similarity_preset() { return Params{}; }

Params digits_preset() {
  return Params{.num_cms_Q = 40,
                .cells_per_cm_K = 100,
                .num_inputs_U = 784,
                .lambda_U = 30.0,
                .sigmoid_lambda = 28.0,
                .sigmoid_phi = 0.9};
}

std::vector<uint32_t> code_cells(const Code& code, uint32_t K) {
  std::vector<uint32_t> cells(code.size());
  for (uint32_t q = 0; q < code.size(); ++q) cells[q] = cell_index(q, code[q], K);
  return cells;
}

uint32_t code_overlap(const Code& a, const Code& b) {
  if (a.size() != b.size()) throw std::invalid_argument("code_overlap: codes of different Q");
  uint32_t n = 0;
  for (size_t q = 0; q < a.size(); ++q) n += a[q] == b[q] ? 1u : 0u;
  return n;
}

Field make_field(const Params& params) {
  validate(params);
  Field f;
  f.params = params;
  const size_t cells = params.num_cells();
  f.w_U.assign(size_t{params.num_inputs_U} * cells, 0);
  if (params.horizontal) f.w_H.assign(cells * cells, 0);
  f.w_D.assign(size_t{params.num_inputs_D} * cells, 0);
  return f;
}

void input_sums(std::span<const uint8_t> weights, uint32_t num_cells,
                std::span<const uint32_t> active, std::span<uint16_t> sums) {
  if (sums.size() != num_cells) throw std::invalid_argument("input_sums: sums has wrong size");
  if (active.size() > std::numeric_limits<uint16_t>::max())
    throw std::invalid_argument("input_sums: more than 65535 active inputs");
  const size_t rows = num_cells == 0 ? 0 : weights.size() / num_cells;
  std::fill(sums.begin(), sums.end(), uint16_t{0});
  uint16_t* out = sums.data();
  for (const uint32_t j : active) {
    if (j >= rows) throw std::out_of_range("input_sums: active index " + std::to_string(j) +
                                           " >= " + std::to_string(rows) + " units");
    const uint8_t* row = weights.data() + size_t{j} * num_cells;
    // Weights are 0/1, so each sum is a count of at most |active| <= 65535.
    for (uint32_t i = 0; i < num_cells; ++i) out[i] = static_cast<uint16_t>(out[i] + row[i]);
  }
}

double normalise(uint32_t sum, uint32_t active_count, double w_max) {
  if (active_count == 0) return 0.0;
  return static_cast<double>(sum) / (static_cast<double>(active_count) * w_max);
}

double local_support(double U, double H, double D, const Params& p) {
  return std::pow(U, p.lambda_U) * std::pow(H, p.lambda_H) * std::pow(D, p.lambda_D);
}

double familiarity(std::span<const double> V, uint32_t Q, uint32_t K) {
  if (V.size() != size_t{Q} * K) throw std::invalid_argument("familiarity: V has wrong size");
  double total = 0;
  for (uint32_t q = 0; q < Q; ++q) {
    const double* cm = V.data() + size_t{q} * K;
    total += *std::max_element(cm, cm + K);
  }
  return total / Q;
}

double expansion_eta(double G, const Params& p) {
  const double x = std::max(0.0, (G - p.G_minus) / (1.0 - p.G_minus));
  return 1.0 + p.cells_per_cm_K * p.chi * std::pow(x, p.gamma);
}

double relative_mu(double V, double eta, const Params& p) {
  if (p.full_match_cutoff && V >= p.full_match_V) return eta;
  const double sigmoid = 1.0 / (1.0 + std::exp(-p.sigmoid_lambda * (V - p.sigmoid_phi)));
  return std::max(eta * sigmoid, 1.0);
}

void choice_rho(std::span<const double> V_cm, double eta, const Params& p,
                std::span<double> rho) {
  if (rho.size() != V_cm.size()) throw std::invalid_argument("choice_rho: size mismatch");
  double total = 0;
  for (size_t i = 0; i < V_cm.size(); ++i) total += rho[i] = relative_mu(V_cm[i], eta, p);
  for (double& r : rho) r /= total;
}

uint32_t sample_winner(std::span<const double> weights, sim::rng::Stream& stream) {
  double total = 0;
  for (const double w : weights) total += w;
  const double target = stream.uniform() * total;
  double cumulative = 0;
  uint32_t last_positive = 0;
  for (uint32_t i = 0; i < weights.size(); ++i) {
    if (weights[i] <= 0) continue;
    cumulative += weights[i];
    last_positive = i;
    if (target < cumulative) return i;
  }
  return last_positive;  // only reached through rounding in the running sum
}

uint32_t argmax_winner(std::span<const double> V_cm, sim::rng::Stream& stream) {
  double best = -std::numeric_limits<double>::infinity();
  uint32_t best_index = 0, ties = 0;
  for (uint32_t i = 0; i < V_cm.size(); ++i) {
    if (V_cm[i] > best) {
      best = V_cm[i];
      best_index = i;
      ties = 1;
    } else if (V_cm[i] == best) {
      ++ties;
    }
  }
  if (ties <= 1) return best_index;
  // Pick the r-th of the tied cells.
  uint64_t r = stream.below(ties);
  for (uint32_t i = best_index; i < V_cm.size(); ++i)
    if (V_cm[i] == best && r-- == 0) return i;
  return best_index;
}

namespace {

// Step 2-3 tables: a source with n active units can only take the normalised values
// k / n (k = 0..n), so U^lambda is looked up instead of computed per cell.
void power_table(uint32_t active_count, double lambda, std::vector<double>& table) {
  table.resize(size_t{active_count} + 1);
  for (uint32_t k = 0; k <= active_count; ++k)
    table[k] = std::pow(normalise(k, active_count, 1.0), lambda);
}

}  // namespace

Selection select_code(const Field& field, const Afferents& in, Mode mode,
                      sim::rng::Stream& stream, Workspace& w) {
  const Params& p = field.params;
  const uint32_t Q = p.num_cms_Q, K = p.cells_per_cm_K, C = p.num_cells();
  const bool has_U = !in.U.empty(), has_H = !in.H.empty(), has_D = !in.D.empty();
  if (!has_U && !has_H && !has_D)
    throw std::invalid_argument("select_code: no active afferents at all");
  if (has_H && field.w_H.empty())
    throw std::invalid_argument("select_code: H input given but the field has no H weights");
  if (has_D && field.w_D.empty())
    throw std::invalid_argument("select_code: D input given but the field has no D weights");

  w.V.assign(C, 1.0);
  // Steps 1-3 per source. Weights are stored as 0/1 and stand for 0/w_max, so the
  // normalisation by |x| w_max reduces to count / |x|.
  auto apply = [&](std::span<const uint8_t> weights, std::span<const uint32_t> active,
                   double lambda, std::vector<uint16_t>& sums, std::vector<double>& table) {
    sums.resize(C);
    input_sums(weights, C, active, sums);
    power_table(static_cast<uint32_t>(active.size()), lambda, table);
    for (uint32_t i = 0; i < C; ++i) w.V[i] *= table[sums[i]];
  };
  if (has_U) apply(field.w_U, in.U, p.lambda_U, w.u, w.table_U);
  if (has_H) apply(field.w_H, in.H, p.lambda_H, w.h, w.table_H);
  if (has_D) apply(field.w_D, in.D, p.lambda_D, w.d, w.table_D);

  Selection s;
  s.code.resize(Q);
  s.G = familiarity(w.V, Q, K);  // step 4
  if (mode == Mode::recognise) {
    for (uint32_t q = 0; q < Q; ++q)
      s.code[q] = argmax_winner(std::span<const double>(w.V).subspan(size_t{q} * K, K), stream);
    return s;
  }
  s.eta = expansion_eta(s.G, p);  // step 5
  w.mu.resize(C);
  for (uint32_t i = 0; i < C; ++i) w.mu[i] = relative_mu(w.V[i], s.eta, p);  // step 6
  // Steps 7-8: sampling in proportion to mu within a CM is sampling from rho.
  for (uint32_t q = 0; q < Q; ++q)
    s.code[q] = sample_winner(std::span<const double>(w.mu).subspan(size_t{q} * K, K), stream);
  return s;
}

Selection select_code(const Field& field, const Afferents& in, Mode mode,
                      sim::rng::Stream& stream) {
  Workspace w;
  return select_code(field, in, mode, stream, w);
}

void store(Field& field, const Afferents& in, const Code& code) {
  const Params& p = field.params;
  const uint32_t K = p.cells_per_cm_K, C = p.num_cells();
  if (code.size() != p.num_cms_Q) throw std::invalid_argument("store: code has wrong Q");
  for (const uint32_t winner : code)
    if (winner >= K) throw std::out_of_range("store: winner index >= K");
  auto latch = [&](std::vector<uint8_t>& weights, std::span<const uint32_t> active) {
    const size_t rows = weights.size() / C;
    for (const uint32_t j : active) {
      if (j >= rows) throw std::out_of_range("store: active index out of range");
      uint8_t* row = weights.data() + size_t{j} * C;
      for (uint32_t q = 0; q < code.size(); ++q) row[cell_index(q, code[q], K)] = 1;
    }
  };
  latch(field.w_U, in.U);
  if (!in.H.empty()) {
    if (field.w_H.empty()) throw std::invalid_argument("store: field has no H weights");
    latch(field.w_H, in.H);
  }
  if (!in.D.empty()) {
    if (field.w_D.empty()) throw std::invalid_argument("store: field has no D weights");
    latch(field.w_D, in.D);
  }
}

Selection learn(Field& field, const Afferents& in, sim::rng::Stream& stream, Workspace& work) {
  Selection s = select_code(field, in, Mode::learn, stream, work);
  store(field, in, s.code);
  return s;
}

}  // namespace models::sparsey
