#pragma once
// Sparse distributed representations (SDRs): binary vectors of size n with a small
// number a of active bits (Ahmad & Hawkins 2016, arXiv 1601.00720, §2.1: the
// presynaptic activity A_t is a binary vector of dimensionality n with a_t active cells).
//
// An Sdr keeps two views of the same set, always consistent with each other:
//   sparse() — the active indices, sorted ascending and unique (what a segment's
//              presynaptic index walks: cost ∝ a);
//   dense()  — one byte per bit, 0 or 1 (O(1) membership, what learning rules test).
// Keeping both costs n bytes + 4a bytes and makes every query cheap; the price is that
// mutation goes through this class so the views cannot drift apart.
//
// All randomness comes from sim::rng::Stream, so an SDR drawn for (seed, stream,
// element) is the same on every machine and for any thread count.
#include <cstdint>
#include <span>
#include <vector>

#include "sim/rng.hpp"

namespace models::sdr {

class Sdr {
 public:
  // An all-zero SDR of `size` bits.
  explicit Sdr(uint32_t size = 0) : size_(size), dense_(size, 0) {}

  // From active indices in any order; duplicates are merged. Throws std::invalid_argument
  // if an index is >= size.
  static Sdr from_sparse(uint32_t size, std::vector<uint32_t> indices);
  // From a dense 0/1 vector (any non-zero byte counts as active).
  static Sdr from_dense(std::span<const uint8_t> dense);

  uint32_t size() const { return size_; }
  uint32_t active_count() const { return static_cast<uint32_t>(sparse_.size()); }
  std::span<const uint32_t> sparse() const { return sparse_; }
  std::span<const uint8_t> dense() const { return dense_; }
  bool contains(uint32_t index) const { return index < size_ && dense_[index] != 0; }

  // Makes the SDR all-zero in O(active) time (keeps its buffers).
  void clear();
  // Replaces the content with `indices` (sorted ascending, unique, < size: checked,
  // throws std::invalid_argument otherwise). Reuses the buffers.
  void assign_sorted(std::span<const uint32_t> indices);

  bool operator==(const Sdr& other) const {
    return size_ == other.size_ && sparse_ == other.sparse_;
  }

 private:
  friend void fill_random(Sdr& out, uint32_t active, sim::rng::Stream& rng);
  friend void fill_noisy(const Sdr& in, uint32_t swaps, sim::rng::Stream& rng, Sdr& out);

  uint32_t size_;
  std::vector<uint32_t> sparse_;  // invariant: sorted, unique, every entry < size_
  std::vector<uint8_t> dense_;    // invariant: dense_[i] == 1 iff i is in sparse_
};

// |x ∧ y|: the number of bits active in both (the paper's overlap, the binary dot product
// of Eq. (1)). Both SDRs must have the same size (std::invalid_argument otherwise).
// Cost: O(min(|x|, |y|)) through the dense view of the larger one.
uint32_t overlap(const Sdr& x, const Sdr& y);

// x ∨ y (binary OR, the union of §3.3). Same-size inputs required.
Sdr set_union(const Sdr& x, const Sdr& y);
// The OR of several SDRs of equal size (an empty list gives a size-0 SDR).
Sdr set_union(std::span<const Sdr> sdrs);

// Overwrites `out` (keeping its size) with a uniformly random SDR with exactly `active`
// bits: Floyd's algorithm (Bentley & Floyd 1987, "A sample of brilliance"), `active`
// draws, no rejection. Throws std::invalid_argument if active > out.size().
void fill_random(Sdr& out, uint32_t active, sim::rng::Stream& rng);
Sdr random(uint32_t size, uint32_t active, sim::rng::Stream& rng);

// Noise as in the paper's Fig. 4B: `swaps` of the active bits of `in`, chosen uniformly,
// are switched off, and `swaps` bits that were inactive in `in`, chosen uniformly, are
// switched on. The count stays the same and exactly 2*swaps bits change. Throws
// std::invalid_argument if swaps > active or swaps > size - active. `out` may not alias `in`.
void fill_noisy(const Sdr& in, uint32_t swaps, sim::rng::Stream& rng, Sdr& out);
Sdr add_noise(const Sdr& in, uint32_t swaps, sim::rng::Stream& rng);

}  // namespace models::sdr
