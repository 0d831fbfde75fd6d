#pragma once
// Sparsey coding field ("macro-column", mac) and its Code Selection Algorithm (CSA).
//
// Sources:
//   [R10] Rinkus 2010, "A cortical sparse distributed coding model linking mini- and
//         macrocolumn-scale functionality", Front. Neuroanat. 4:17.
//   [R14] Rinkus 2014, "Sparsey: event recognition via deep hierarchical sparse
//         distributed codes", Front. Comput. Neurosci. 8:160 (CSA table, steps 1-9).
//   [R17] Rinkus 2017, "Superposed episodic and semantic memory via sparse distributed
//         representation", arXiv 1710.07829 (the CSA in its simplest form, U input only).
//   [P]   the team's numpy prototype notes (shared/research/sparsey_prototype.md), which
//         measured the parameter settings used as defaults here.
//
// The field: Q competitive modules (CMs) of K binary cells each. A code is exactly one
// winner per CM, so every code has Q active cells. Afferent weights are binary and start
// at 0: bottom-up U (input unit -> cell), horizontal H (cell of the previous code -> cell,
// for sequences) and top-down D (unit of a higher field -> cell).
//
// CSA, per input (the function doing each step is named in brackets):
//   1. input sums            u_i = sum_j x_j w_ji, likewise h_i, d_i       [input_sums]
//   2. normalisation         U_i = u_i / (|x| w_max), likewise H_i, D_i    [normalise]
//   3. local support         V_i = U_i^lambda_U H_i^lambda_H D_i^lambda_D  [local_support]
//   4. familiarity           G = (1/Q) sum_q max_{i in q} V_i              [familiarity]
//   5. expansion             eta = 1 + K chi max(0, (G - G-)/(1 - G-))^gamma [expansion_eta]
//   6. relative likelihood   mu_i = max(eta / (1 + exp(-lambda (V_i - phi))), 1) [relative_mu]
//   7. choice distribution   rho_i = mu_i / sum_{j in CM(i)} mu_j          [choice_rho]
//   8. winners               learning: one draw per CM from rho            [sample_winner]
//                            recognition: argmax V per CM, ties at random  [argmax_winner]
//   9. learning              w_ji := 1 for every active j and winner i (single trial) [store]
//
// Choices where the published descriptions differ (say which and why):
//   - Step 6. [R14] writes the sigmoid with its floor built in, and SparseyCore (as
//     quoted by [P]) adds an upper cutoff: V >= 0.999 -> mu = eta. We use
//     mu = max(eta * sigmoid, 1) ([R17], [P] section 1) because (a) eta = 1 then gives
//     mu = 1 for every cell, so rho is *exactly* uniform whenever G <= G-, and (b) with
//     lambda >= 10, phi <= 0.7 a cell with V = 1 already gets mu within 0.01 % of eta,
//     so the cutoff is not needed for re-instatement. The cutoff is available as an option
//     (Params::full_match_cutoff, off by default); the worked rho values in the research
//     notes for lambda = 4 assume it, the lambda = 28 ones do not.
//   - Step 8, recognition. Argmax with random tie-breaking: ties at V = 1 are common once
//     receptive fields saturate, and a first-index argmax then systematically favours
//     low-index cells ([P] section 6).
//   - Absent sources. A source with no active afferents (an empty span) is left out of
//     step 3 (its factor is 1): e.g. the first item of a sequence has no H input [R14],
//     and H-only replay has no U input.
//   - No freezing, no weight decay, no phi ratchet and no lower V cutoff (none of them
//     is needed for the experiments here; [P] section 6 notes that binary OR weights
//     saturate without freezing).
//
// Parameter table (Params below; defaults = the similarity-preservation setting of [P] §5):
//   name               default  meaning                                         source
//   num_cms_Q          20       CMs per field = active cells per code           [P] §2-3
//   cells_per_cm_K     20       cells per CM                                    [P] §2-3
//   num_inputs_U       1000     bottom-up input units                           [P] §3
//   num_inputs_D       0        top-down input units (0 = no D weights)         [R14]
//   horizontal         false    allocate H weights (previous code -> cells)     [R14]
//   w_max              1        binary weights latch to this value              [R17]
//   lambda_U/H/D       1        exponents of step 3 (sharpen a source)          [R14] step 3
//   G_minus            0.1      G at or below which the input counts as novel   [P] §1
//   gamma              2        steepness: exponent of the expansive eta(G)     [P] §1
//   chi                100      peak: eta(G = 1) = 1 + chi K, so the stored cell
//                               gets rho ~ chi/(chi + 1) on re-presentation     [P] §1
//   sigmoid_lambda     10       slope of the V -> mu sigmoid                    [P] §3, §5
//   sigmoid_phi        0.7      V at the sigmoid's midpoint                     [P] §3, §5
//   full_match_cutoff  false    V >= full_match_V gives mu = eta exactly        SparseyCore via [P]
//   full_match_V       0.999    threshold of that cutoff                        SparseyCore via [P]
// Why K appears in eta: at G = 1 the stored cell gets mu ~ 1 + chi K and the other K - 1
// cells mu = 1, so its choice probability (1 + chi K)/(1 + chi K + K - 1) ~ chi/(chi + 1)
// does not depend on K.
#include "sim/rng.hpp"

#include <cstdint>
#include <span>
#include <vector>

namespace models::sparsey {

struct Params {
  uint32_t num_cms_Q = 20;
  uint32_t cells_per_cm_K = 20;
  uint32_t num_inputs_U = 1000;
  uint32_t num_inputs_D = 0;
  bool horizontal = false;
  double w_max = 1.0;
  double lambda_U = 1.0;
  double lambda_H = 1.0;
  double lambda_D = 1.0;
  double G_minus = 0.1;
  double gamma = 2.0;
  double chi = 100.0;
  double sigmoid_lambda = 10.0;
  double sigmoid_phi = 0.7;
  bool full_match_cutoff = false;
  double full_match_V = 0.999;

  uint32_t num_cells() const { return num_cms_Q * cells_per_cm_K; }
};

// Throws std::invalid_argument naming the first bad field (Q, K, inputs >= 1; G- in
// [0, 1); gamma, chi, lambda >= 0; exponents > 0; w_max > 0; Q K <= 2^24).
void validate(const Params& params);

// The two settings of [P] that pull against each other (see [P] §6, "the two targets need
// different parameter sets"):
//   similarity_preset: Q = K = 20, lambda_U = 1, lambda = 10, phi = 0.7 — graded SISC curve,
//     P1 Spearman ~0.93 ([P] §3).
//   digits_preset: Q = 40, K = 100, lambda_U = 30, lambda = 28, phi = 0.9 — dense
//     overlapping inputs need V sharpening, which drives learning-time G to ~0 and makes
//     codes near random ([P] §4, ablation).
Params similarity_preset();
Params digits_preset();

// A code: the winning cell's index within each CM (size Q, values in [0, K)).
using Code = std::vector<uint32_t>;

// Global index of cell `winner` of CM `cm`.
inline uint32_t cell_index(uint32_t cm, uint32_t winner, uint32_t K) { return cm * K + winner; }
// The Q global cell indices of a code (the active horizontal inputs of the next step).
std::vector<uint32_t> code_cells(const Code& code, uint32_t K);
// Number of CMs in which two codes have the same winner (the natural similarity of
// fixed-size SDR codes [R17]).
uint32_t code_overlap(const Code& a, const Code& b);

// The weights (the field's only state). Row-major by presynaptic unit, one byte per
// weight (0 or 1): the input sum over active units walks one contiguous row per active
// unit, so its cost is proportional to the number of active inputs, and the inner loop
// over cells vectorises.
struct Field {
  Params params;
  std::vector<uint8_t> w_U;  // [num_inputs_U][num_cells]
  std::vector<uint8_t> w_H;  // [num_cells][num_cells], empty unless params.horizontal
  std::vector<uint8_t> w_D;  // [num_inputs_D][num_cells]
};

// A fresh field: all weights 0. Validates the parameters.
Field make_field(const Params& params);

// What is active at the field's afferents for one code selection: indices of active units,
// each without repeats. An empty span means the source is absent (factor 1 in step 3).
struct Afferents {
  std::span<const uint32_t> U = {};  // active bottom-up input units
  std::span<const uint32_t> H = {};  // active cells of the previous code (global cell indices)
  std::span<const uint32_t> D = {};  // active top-down units
};

enum class Mode { learn, recognise };

struct Selection {
  Code code;
  double G = 0;    // familiarity (step 4)
  double eta = 1;  // expansion (step 5); left at 1 in recognition mode, which skips steps 5-7
};

// Scratch buffers reused across selections so the hot path does not allocate.
struct Workspace {
  std::vector<uint16_t> u, h, d;
  std::vector<double> V, mu, table_U, table_H, table_D;
};

// ---- The CSA steps, each alone (pure functions) ----

// Step 1: sums[i] = sum over active units j of weights[j][i] (binary weights, so a count).
// `sums` must have num_cells entries. Throws std::out_of_range for an index >= rows.
void input_sums(std::span<const uint8_t> weights, uint32_t num_cells,
                std::span<const uint32_t> active, std::span<uint16_t> sums);
// Step 2: sum / (active count * w_max), in [0, 1].
double normalise(uint32_t sum, uint32_t active_count, double w_max);
// Step 3: U^lambda_U H^lambda_H D^lambda_D; pass 1 for an absent source.
double local_support(double U, double H, double D, const Params& params);
// Step 4: mean over CMs of the CM's largest V. V has Q K entries, CM q at [qK, (q+1)K).
double familiarity(std::span<const double> V, uint32_t Q, uint32_t K);
// Step 5.
double expansion_eta(double G, const Params& params);
// Step 6 (with the optional full-match cutoff).
double relative_mu(double V, double eta, const Params& params);
// Step 7 for one CM: rho[i] = mu(V[i]) / sum_j mu(V[j]).
void choice_rho(std::span<const double> V_cm, double eta, const Params& params,
                std::span<double> rho);
// Step 8, learning: index drawn with probability weights[i] / sum(weights) (weights = mu
// or rho; one uniform draw from the stream).
uint32_t sample_winner(std::span<const double> weights, sim::rng::Stream& stream);
// Step 8, recognition: index of the largest V; among exact ties one uniformly at random
// (draws from the stream only when there is a tie).
uint32_t argmax_winner(std::span<const double> V_cm, sim::rng::Stream& stream);

// ---- The whole algorithm ----

// Steps 1-8: choose a code for the afferents without changing the weights.
Selection select_code(const Field& field, const Afferents& in, Mode mode,
                      sim::rng::Stream& stream, Workspace& work);
Selection select_code(const Field& field, const Afferents& in, Mode mode,
                      sim::rng::Stream& stream);
// Step 9: latch w = w_max from every active afferent (U, H, D) to every winner.
void store(Field& field, const Afferents& in, const Code& code);
// Learning-mode selection followed by store (single-trial learning).
Selection learn(Field& field, const Afferents& in, sim::rng::Stream& stream, Workspace& work);

}  // namespace models::sparsey
