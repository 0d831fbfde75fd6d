#pragma once
// The what/when prediction paradigm (after Yamada & Chao 2025, arXiv 2510.14382): trial
// schedule and the metric functions the experiment reports. Pure functions, no I/O, so
// that tests can check them on synthetic data.
//
// A trial: after an inter-trial interval (iti_ms plus a jitter drawn uniformly in
// [0, iti_jitter_ms)), cue c is switched on at `cue_ms` for cue_duration_ms; if the
// condition's outcome occurs (probability p), it arrives at cue_ms + latency_ms. The trial
// (and the learning gate) lasts trial_ms from the cue. The first cue follows a warm-up.
// Blocks run in order; in each block every condition appears trials_per_condition times,
// in an order shuffled per block (Fisher-Yates on the stimulus stream), so that counts
// are exact and the order is unpredictable.
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace experiments::what_when {

struct Condition {
  uint32_t cue = 0;      // cue identity (index)
  uint32_t outcome = 0;  // outcome identity (index)
  double latency_ms = 400.0;
  double probability = 1.0;
};

struct Block {
  std::string name;
  uint32_t trials_per_condition = 100;
  std::vector<Condition> conditions;
};

struct Timing {
  double warmup_ms = 1500.0;      // before the first trial's interval
  double iti_ms = 400.0;          // from the end of one trial to the next cue, at least
  double iti_jitter_ms = 500.0;   // plus U[0, jitter)
  double trial_ms = 1400.0;       // cue to trial end (also the learning gate)
};

struct Trial {
  uint32_t index = 0;
  uint32_t block = 0;
  uint32_t condition = 0;  // index into the block's conditions
  uint32_t cue = 0;
  uint32_t outcome = 0;
  double latency_ms = 0.0;
  double probability = 0.0;
  bool occurred = false;
  double cue_ms = 0.0;  // cue onset, ms from the start of the run (a multiple of dt)
};

// The whole schedule. Onsets are rounded to multiples of dt_ms. All randomness comes from
// sim::rng streams keyed by (seed, Purpose::stimulus, block/trial index).
std::vector<Trial> make_schedule(const std::vector<Block>& blocks, const Timing& timing,
                                 double dt_ms, uint64_t seed);

// End of the run in ms: the last trial's cue + trial_ms (+ 0 when there are no trials).
double schedule_end_ms(const std::vector<Trial>& trials, const Timing& timing);

// ---- metrics ------------------------------------------------------------------------------

// Index of the maximum (first one on ties); -1 for an empty series.
long argmax(const std::vector<double>& y);

// The timing band of the acceptance criteria: [L - max(80, 0.1 L), L + max(30, 0.05 L)].
struct Band {
  double lo_ms, hi_ms;
};
Band timing_band(double latency_ms);

// Timing of a trial-averaged output y sampled at t_ms[k] (ms since cue).
struct PeakTiming {
  double peak_ms = 0.0;
  double peak = 0.0;
  double at_rise_ms = 0.0;   // value at L - rise_lead_ms (nearest sample at or before)
  bool in_band = false;      // peak_ms inside timing_band(L)
  bool risen = false;        // y(L - rise_lead_ms) >= rise_fraction * peak
};
PeakTiming peak_timing(const std::vector<double>& t_ms, const std::vector<double>& y,
                       double latency_ms, double rise_lead_ms = 50.0, double rise_fraction = 0.9);

// The trials a (block, cue) is scored on: its last `count` trials (latest first), only
// omission trials (no outcome) when omission_only, i.e. when the outcome drives the
// reservoir and would otherwise leak into the readout.
std::vector<std::size_t> scored_trials(const std::vector<Trial>& trials, uint32_t block,
                                       uint32_t cue, std::size_t count, bool omission_only);

// Held-out scoring of frozen weights (the held-out adaptation figures): the bank of
// snapshot k of a cue's trials is its trials [lo, hi) = [k, min(k + K, end)), end = the
// change index for k < change (the bank stays on the snapshot's side of the change), the
// number of trials otherwise.
std::pair<std::size_t, std::size_t> bank_range(std::size_t k, std::size_t change, std::size_t n,
                                               std::size_t bank_trials);
// Output y_r = w . x_r (max(0, .) when rectify) on the `rows` feature rows of one bank trial
// (row r at r * sample_ms after the cue; x row-major, rows x w.size()): the summed squared
// error against p * exp(-(t - L)^2 / (2 sigma^2)) over all rows, and the summed output over
// the rows with |t - L| <= sigma (the amplitude window).
struct BankScore {
  double sq_error = 0.0, window_sum = 0.0;
  std::size_t n = 0, n_window = 0;
};
BankScore score_on_bank(const std::vector<double>& w, const std::vector<float>& x, std::size_t rows,
                        double sample_ms, double latency_ms, double probability, double sigma_ms,
                        bool rectify);

// The last block in which no cue's outcome probability differs from the previous block
// (block 0 qualifies): the block whose end the probability code is scored on.
uint32_t probability_block(const std::vector<Block>& blocks);

// Pearson correlation and least-squares slope of y on x.
double pearson(const std::vector<double>& x, const std::vector<double>& y);
double slope(const std::vector<double>& x, const std::vector<double>& y);

// Trials to recover after a change at index `change` of a per-trial error series:
// s_t = mean of e over the last `smooth` trials at or before t, not reaching back before
// the change; jump = s_change - steady. Returns the first k >= 0 with
// s_{change+k} <= steady + (1 - fraction) * jump, or -1 when the series ends first.
// A jump <= 0 (no excess error) returns 0.
long trials_to_recover(const std::vector<double>& error, std::size_t change, double steady,
                       double fraction = 0.9, std::size_t smooth = 5);

// s_t of trials_to_recover and trials_to_track: the mean of v over the last `smooth`
// entries at or before t (>= change), not reaching back before the change.
double smoothed_since(const std::vector<double>& v, std::size_t change, std::size_t t,
                      std::size_t smooth = 5);

// Trials until s_{change+k} <= threshold (the first such k >= 0), -1 when the series ends
// first: trials_to_recover with a threshold given in error units, e.g. one criterion shared
// by several learners.
long trials_below(const std::vector<double>& error, std::size_t change, double threshold,
                  std::size_t smooth = 5);

// Trials to follow a level change at index `change` of a per-trial series v (e.g. a
// readout's amplitude after a probability change): s_t smoothed as in trials_to_recover;
// returns the first k >= 0 with (s_{change+k} - before) / (after - before) >= fraction, -1
// when the series ends first, 0 when after == before.
long trials_to_track(const std::vector<double>& v, std::size_t change, double before, double after,
                     double fraction = 0.9, std::size_t smooth = 5);

// The target handed to an RLS (FORCE) update so that its error before the update,
// drive - returned target, is the error of the rectified output, max(0, drive) - target:
// target + min(0, drive). A negative drive where the target is 0 is then no error, as for
// the three-factor readout, whose modulator is target - max(0, drive).
inline double rectified_rls_target(double target, double drive) {
  return target + (drive < 0.0 ? drive : 0.0);
}

// Angle between two vectors in degrees (90 when one is zero).
double angle_deg(const std::vector<double>& a, const std::vector<double>& b);

// Null distribution of angle_deg(a, permuted b): `count` permutations of b's entries
// (Fisher-Yates on the analysis stream keyed by seed). Returns the angles, sorted.
std::vector<double> shuffled_angles(const std::vector<double>& a, const std::vector<double>& b,
                                    uint32_t count, uint64_t seed);
// The q-quantile of sorted values (linear interpolation between order statistics).
double quantile(const std::vector<double>& sorted, double q);

// Ridge regression from the Gram matrices: W (p x m, row-major) minimising
// ||X W - Y||^2 + lambda ||W||^2, i.e. (X^T X + lambda I) W = X^T Y, solved by Cholesky.
// gram: X^T X (p x p), cross: X^T Y (p x m). Throws std::runtime_error when not positive
// definite.
std::vector<double> ridge(const std::vector<double>& gram, const std::vector<double>& cross,
                          std::size_t p, std::size_t m, double lambda);
// Accumulates X^T X and X^T Y over the rows `rows` of X (n x p, float) and Y (n x m).
void accumulate_gram(const std::vector<float>& x, const std::vector<double>& y, std::size_t p,
                     std::size_t m, const std::vector<std::size_t>& rows,
                     std::vector<double>& gram, std::vector<double>& cross);

// Solves A z = b for symmetric positive definite A (p x p, row-major; overwritten by its
// Cholesky factor), for m right-hand sides in b (p x m, overwritten by z).
void cholesky_solve(std::vector<double>& a, std::vector<double>& b, std::size_t p, std::size_t m);

// ---- offline decoders (the clock check) --------------------------------------------------
// Rows of the trials used for a decoder, by trial index: i % 3 == 0 train, == 1 validation
// (chooses the ridge penalty), == 2 test.
struct Split {
  std::vector<std::size_t> train, val, test;
};

// Ridge fits of Y (n x m) on X (n x p) with the penalty chosen on the validation rows, one
// choice per loss: `loss` returns the validation losses of one weight matrix (one per
// target, e.g. the error at each time since cue), and each target takes the grid value
// lambda = scale * trace(G) / p that minimises its own loss (half-decade grid 1e-3 .. 100;
// G the training rows' Gram matrix), then is refitted on train + validation with the same
// scale of the refit's own trace. weights[of_target[k]] is target k's W (p x m).
using MultiLoss = std::function<std::vector<double>(const std::vector<double>& w,
                                                    const std::vector<std::size_t>& rows)>;
struct SelectedFits {
  std::vector<std::vector<double>> weights;  // one per distinct chosen scale
  std::vector<std::size_t> of_target;
  std::vector<double> scales;  // per target
};
SelectedFits fit_select(const std::vector<float>& x, const std::vector<double>& y, std::size_t p,
                        std::size_t m, const Split& rows_of, const MultiLoss& loss,
                        std::size_t n_targets);

// argmax over c of x_row . W[:, c] (W p x m row-major): the decoded class of one row.
std::size_t predict_class(const std::vector<float>& x, std::size_t row, const std::vector<double>& w,
                          std::size_t p, std::size_t m);

// The clock decoder: time since cue decoded from the readout features on held-out trials.
// x holds n_trials x per rows of p features (row tr * per + j at j * sample_ms after the
// cue). One class per sample time; a one-hot ridge classifier per reported time j, its
// penalty chosen on the validation trials' rows within +-select_window_ms of j (how much to
// regularise depends on the time since cue: the trajectories spread out with time, and one
// penalty for all times traded early against late errors), scored on the test trials:
// mae_ms[j] = mean |decoded - j| * sample_ms over the test rows at j. chance_mae_ms[j] is
// a uniform guess over the per classes, sample_ms * sum_c |c - j| / per: what a decoder
// that learned nothing scores on average.
struct ClockCurve {
  std::vector<double> t_ms, mae_ms, ridge_scale, chance_mae_ms;
  std::size_t test_trials = 0;
};
ClockCurve clock_decoder(const std::vector<float>& x, std::size_t n_trials, std::size_t per,
                         std::size_t p, double sample_ms, double select_window_ms);

}  // namespace experiments::what_when
