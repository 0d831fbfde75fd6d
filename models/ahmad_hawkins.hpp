#pragma once
// Closed-form error probabilities of dendritic segments on random SDRs.
//
// Source: Ahmad & Hawkins 2016, "How do neurons operate on sparse distributed
// representations? A mathematical theory of sparsity, neurons and active dendrites",
// arXiv 1601.00720. Equation numbers below are the paper's.
//
// Symbols (all counts, unit 1):
// | symbol | meaning                                                               |
// |--------|-----------------------------------------------------------------------|
// | n      | presynaptic population size (potential connections of a segment)    |
// | a      | active presynaptic cells in a pattern (exactly a of n)                 |
// | s      | synapses on a segment, a subsample of one stored pattern's a cells     |
// | θ      | NMDA spike threshold: the segment matches when >= θ synapses are active |
// | v      | noise: v of the a active bits swapped for v previously inactive bits   |
// | M      | number of segments (Eq. (8)) or of patterns in a union (§3.3)          |
//
// Numerics: every probability is a sum of products of binomial coefficients. The sums
// are evaluated in log space: log C(n, k) from std::lgamma and the terms combined with
// log-sum-exp, so values like 1e-21 (or 1e-400, below the double range: then p == 0 but
// log_p is still right) come out with a relative error around 1e-12, where a plain
// floating sum of C(n, k) terms would overflow or underflow. Complements use
// log1p / expm1 so that 1 - (1 - P)^M keeps its digits when P is tiny.
#include <cstdint>
#include <vector>

namespace models::ahmad_hawkins {

// A probability and its natural logarithm. log_p is exact-to-rounding even when p
// underflows to 0; p == 0 exactly iff log_p == -infinity.
struct Probability {
  double p = 0.0;
  double log_p = 0.0;
};

// log C(n, k); -infinity when k > n.
double log_choose(uint64_t n, uint64_t k);

// Eq. (4) (§3.1, subsampling): probability that a segment with s synapses onto distinct
// cells has at least θ of them active for a uniformly random SDR with a of n bits active:
//   P = Σ_{b=θ}^{s} C(s, b) C(n - s, a - b) / C(n, a)
// (the upper hypergeometric tail; the overlap-set counting of Eqs. (2)–(3)).
// Requires s <= n and a <= n (std::invalid_argument otherwise). θ = 0 gives 1.
Probability false_match(uint32_t n, uint32_t a, uint32_t s, uint32_t theta);

// Eq. (6) (Fig. 4B; the figure caption calls it Eq. (5)): a segment stores s synapses
// sampled from pattern x (a of n active); the pattern is presented with v of its active
// bits swapped for v bits that were inactive. The added bits meet no synapse, and of
// the a - v surviving bits b fall on synapses with hypergeometric probability
//   C(s, b) C(a - s, a - v - b) / C(a, a - v),
// so the probability that the segment fails to spike is
//   P = Σ_{b=0}^{θ-1} C(s, b) C(a - s, a - v - b) / C(a, a - v).
// Requires s <= a <= n, v <= a, v <= n - a.
Probability false_negative(uint32_t n, uint32_t a, uint32_t s, uint32_t theta, uint32_t v);

// Eq. (8) (§3.2): M independent segments, each matching with probability P; the chance
// that at least one matches is 1 - (1 - P)^M, computed as -expm1(M log1p(-P)) and, when
// P is below the double range, as M P from the logarithms. Eq. (9)'s bound M P is this
// value's first-order term.
Probability any_of_segments(Probability single, uint64_t segments);

// §3.3 (union property): the probability that a given presynaptic cell carries no
// synapse after M patterns of s synapses each were OR-ed onto one segment,
// (1 - s/n)^M (the Bloom-filter argument the paper cites, Bloom 1970).
Probability union_bit_off(uint32_t n, uint32_t s, uint32_t patterns);
// Eq. (13): expected number of synapses on a segment holding a union of M patterns,
// n (1 - (1 - s/n)^M).
double union_expected_size(uint32_t n, uint32_t s, uint32_t patterns);
// §3.3 as the paper evaluates it: Eq. (13)'s expected union size, rounded to the nearest
// integer, used as the synapse count in Eq. (4). An approximation: it ignores the spread
// of the union size.
Probability union_false_match_expected_size(uint32_t n, uint32_t a, uint32_t s, uint32_t theta,
                                            uint32_t patterns);

// Exact distribution of the union size U = |S_1 ∪ … ∪ S_M| of M independent uniformly
// random s-subsets of n cells: element u is log P(U = u), u = 0 .. min(n, M s). Built by
// adding one subset at a time: from size u, the next subset brings j new cells with
// probability C(n - u, j) C(u, s - j) / C(n, s). (This project's derivation, not the
// paper's; it makes the union results below exact.)
std::vector<double> union_size_log_distribution(uint32_t n, uint32_t s, uint32_t patterns);

// Exact false-match probability of a union segment (M patterns of s synapses sampled
// from independent random SDRs) for a random SDR: given U = u the overlap is
// hypergeometric, so P = Σ_u P(U = u) · Eq. (4)(n, a, u, θ).
Probability union_false_match(uint32_t n, uint32_t a, uint32_t s, uint32_t theta,
                              uint32_t patterns);

// Exact false-negative probability of a union segment presented with a noisy version of
// one of its M stored patterns (v swaps as in false_negative). With K of the v removed
// bits on the pattern's own s synapses (hypergeometric in a), the remaining set
// T = (presented bits) \ (own synapses) has a - s + K cells, and the other M - 1 patterns'
// synapses R (a uniformly random set given |R| = r, independent of the pattern) hit T
// hypergeometrically. The segment fails when (s - K) + |R ∩ T| < θ. For M = 1 this is
// false_negative(). Extra patterns can only add active synapses, so this is <= Eq. (6).
Probability union_false_negative(uint32_t n, uint32_t a, uint32_t s, uint32_t theta, uint32_t v,
                                 uint32_t patterns);

}  // namespace models::ahmad_hawkins
