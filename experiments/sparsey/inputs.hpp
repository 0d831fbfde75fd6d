#pragma once
// Inputs for the Sparsey experiments: binary pattern sets (as active indices), synthetic
// generators with controlled overlap, a strict .npy reader for binary matrices, and the
// 8x8 digits of Debian's python3-sklearn with the encodings of the prototype notes
// (shared/research/sparsey_prototype.md §4).
//
// Design: every input reaches a coding field as the sorted indices of its active units
// (cost of a code selection is proportional to active inputs). A dense (rows x cols)
// binary matrix — images x pixels, or time bins x neurons of a binned reservoir run —
// converts to a PatternSet with one pattern per row.
#include "sim/rng.hpp"

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace experiments::sparsey {

// Binary patterns over num_bits units, one after another: pattern i is
// indices[offsets[i] .. offsets[i+1]), sorted ascending, no repeats.
struct PatternSet {
  uint32_t num_bits = 0;
  std::vector<uint64_t> offsets{0};
  std::vector<uint32_t> indices;

  size_t size() const { return offsets.size() - 1; }
  std::span<const uint32_t> operator[](size_t i) const {
    return std::span<const uint32_t>(indices).subspan(offsets[i], offsets[i + 1] - offsets[i]);
  }
  // Appends a pattern; sorts a copy and throws std::invalid_argument on an index
  // >= num_bits or a repeated index.
  void add(std::span<const uint32_t> active);
};

// A dense binary matrix in C order (row r, column c at values[r * cols + c]), values 0/1.
struct BinaryMatrix {
  size_t rows = 0;
  size_t cols = 0;
  std::vector<uint8_t> values;
};

// One pattern per row: the columns holding 1.
PatternSet rows_as_patterns(const BinaryMatrix& matrix);

// ---- Synthetic inputs ----

// `active` distinct indices out of [0, num_bits), uniformly (partial Fisher-Yates), sorted.
std::vector<uint32_t> random_sdr(uint32_t num_bits, uint32_t active, sim::rng::Stream& stream);
// `count` independent random SDRs.
PatternSet random_sdrs(uint32_t count, uint32_t num_bits, uint32_t active,
                       sim::rng::Stream& stream);
// A pattern with |reference| active bits of which exactly `shared` are drawn from the
// reference and the rest from outside it. Overlap with the reference = shared/|reference|.
std::vector<uint32_t> overlap_probe(std::span<const uint32_t> reference, uint32_t num_bits,
                                    uint32_t shared, sim::rng::Stream& stream);
// Input noise: round(fraction |pattern|) active bits are moved to units that were inactive.
std::vector<uint32_t> perturb(std::span<const uint32_t> pattern, uint32_t num_bits,
                              double fraction, sim::rng::Stream& stream);

// The reference-and-probes family of protocol P1 ([P] §3): a reference with `active` of
// `num_bits` bits and num_probes probes sharing k = round(linspace(0, active, num_probes))
// bits with it (0-100 % overlap).
struct OverlapFamily {
  std::vector<uint32_t> reference;
  PatternSet probes;
  std::vector<uint32_t> shared;  // k of each probe
};
OverlapFamily overlap_family(uint32_t num_bits, uint32_t active, uint32_t num_probes,
                             sim::rng::Stream& stream);

// ---- .npy binary matrices ----

// Reads a 2-D array of dtype bool ('|b1') or uint8 ('|u1'), C order, values 0/1, from a
// NumPy .npy file (format versions 1.0, 2.0, 3.0). Anything else — another dtype, Fortran
// order, another rank, a truncated or padded file, a value other than 0/1 — is a
// sim::InputError naming the file and what was wrong.
BinaryMatrix read_npy_binary(const std::string& path);
// The same on bytes already in memory; `name` is used in error messages.
BinaryMatrix parse_npy_binary(std::span<const uint8_t> bytes, const std::string& name);

// ---- Digits ----

// The 1,797 8x8 digit images (pixels 0..16) of the UCI optdigits test set as shipped by
// scikit-learn: one CSV line per image, 64 pixels then the label.
struct Digits {
  size_t count = 0;
  std::vector<uint8_t> pixels;  // count x 64, row-major 8x8
  std::vector<uint8_t> labels;  // 0..9
};

// Where Debian's python3-sklearn installs the file (a package path, same on every Debian
// machine with the package; scripts/setup-debian.sh installs it).
std::string default_digits_path();
// Reads the gzip-compressed CSV with zlib (no conversion step, so a clean checkout needs
// nothing but the Debian package). sim::InputError on a missing file or a malformed line.
Digits load_digits(const std::string& path);
// Parses the uncompressed CSV text.
Digits parse_digits_csv(std::string_view text, const std::string& name);

// thr8: pixel >= threshold -> 1; 64 bits.
BinaryMatrix threshold_encoding(const Digits& digits, uint8_t threshold = 8);
// patch2 ([P] §4): the thresholded image's 7x7 overlapping 2x2 windows, each one-hot over
// its 16 possible patterns: 49 x 16 = 784 bits, exactly 49 active. Window (r, c) owns bits
// [(7r + c) 16, +16); pattern = 8 b(r,c) + 4 b(r,c+1) + 2 b(r+1,c) + b(r+1,c+1).
PatternSet patch2_encoding(const Digits& digits, uint8_t threshold = 8);

}  // namespace experiments::sparsey
