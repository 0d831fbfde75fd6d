// Inputs of the Sparsey experiments: generators, the strict .npy reader, the digits file and
// its encodings. Reference bytes and counts were produced once with NumPy 1.24 (Debian 12)
// from the same data, as said at each use.
#include <doctest/doctest.h>

#include "experiments/sparsey/inputs.hpp"
#include "sim/error.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

using namespace experiments::sparsey;
using sim::rng::Stream;

namespace {

size_t intersection(std::span<const uint32_t> a, std::span<const uint32_t> b) {
  size_t n = 0;
  for (const uint32_t x : a) n += std::count(b.begin(), b.end(), x);
  return n;
}

bool sorted_unique(std::span<const uint32_t> a) {
  for (size_t i = 1; i < a.size(); ++i)
    if (a[i] <= a[i - 1]) return false;
  return true;
}

// An .npy file as NumPy writes it: magic, version, little-endian header length, the header
// dict padded with spaces and a newline to a multiple of 64 bytes in total, then the data.
std::vector<uint8_t> npy_bytes(const std::string& dict, const std::vector<uint8_t>& data,
                               uint8_t major = 1) {
  const size_t prefix = major == 1 ? 10 : 12;
  std::string header = dict;
  while ((prefix + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::vector<uint8_t> out = {0x93, 'N', 'U', 'M', 'P', 'Y', major, 0};
  const size_t len = header.size();
  out.push_back(static_cast<uint8_t>(len & 0xFF));
  out.push_back(static_cast<uint8_t>(len >> 8));
  if (major != 1) {
    out.push_back(0);
    out.push_back(0);
  }
  out.insert(out.end(), header.begin(), header.end());
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

}  // namespace

TEST_CASE("random SDRs have the requested number of distinct sorted bits") {
  Stream s(1, 1, 0);
  const PatternSet set = random_sdrs(30, 1000, 50, s);
  REQUIRE(set.size() == 30);
  for (size_t i = 0; i < set.size(); ++i) {
    CHECK(set[i].size() == 50);
    CHECK(sorted_unique(set[i]));
    CHECK(set[i].back() < 1000);
  }
}

TEST_CASE("overlap family: probe i shares exactly round(linspace(0, 50, 100))[i] bits") {
  Stream s(2, 1, 0);
  const OverlapFamily f = overlap_family(1000, 50, 100, s);
  REQUIRE(f.probes.size() == 100);
  CHECK(f.reference.size() == 50);
  for (uint32_t i = 0; i < 100; ++i) {
    // numpy.round(numpy.linspace(0, 50, 100)) rounds halves to even; 50 i / 99 never
    // lands on a half for integer i, so plain rounding gives the same k.
    const uint32_t k = static_cast<uint32_t>(std::lround(50.0 * i / 99.0));
    CHECK(f.shared[i] == k);
    CHECK(f.probes[i].size() == 50);
    CHECK(sorted_unique(f.probes[i]));
    CHECK(intersection(f.probes[i], f.reference) == k);
  }
  CHECK(f.shared.front() == 0);
  CHECK(f.shared.back() == 50);
}

TEST_CASE("perturb moves round(fraction |x|) active bits to inactive units") {
  Stream s(3, 1, 0);
  const std::vector<uint32_t> x = random_sdr(1000, 50, s);
  const std::vector<uint32_t> y = perturb(x, 1000, 0.2, s);
  CHECK(y.size() == 50);
  CHECK(intersection(x, y) == 40);
  CHECK(perturb(x, 1000, 0.0, s) == x);
}

TEST_CASE("rows of a binary matrix become patterns") {
  const BinaryMatrix m{.rows = 2, .cols = 4, .values = {1, 0, 0, 1, 0, 0, 0, 0}};
  const PatternSet p = rows_as_patterns(m);
  REQUIRE(p.size() == 2);
  CHECK(std::vector<uint32_t>(p[0].begin(), p[0].end()) == std::vector<uint32_t>{0, 3});
  CHECK(p[1].empty());
}

TEST_CASE(".npy: the bytes NumPy writes are read back") {
  // np.save of np.array([[1,0,1],[0,1,1]], dtype=np.uint8) gives exactly these bytes (checked
  // with NumPy 1.24: header length 0x76 = 118, data at offset 128).
  const std::vector<uint8_t> u8 = npy_bytes(
      "{'descr': '|u1', 'fortran_order': False, 'shape': (2, 3), }", {1, 0, 1, 0, 1, 1});
  CHECK(u8.size() == 128 + 6);
  CHECK(u8[8] == 0x76);
  const BinaryMatrix m = parse_npy_binary(u8, "u8.npy");
  CHECK(m.rows == 2);
  CHECK(m.cols == 3);
  CHECK(m.values == std::vector<uint8_t>{1, 0, 1, 0, 1, 1});

  // Bool, keys in another order, format 2.0.
  const BinaryMatrix b = parse_npy_binary(
      npy_bytes("{'shape': (2, 2), 'fortran_order': False, 'descr': '|b1'}", {1, 0, 0, 1}, 2),
      "b.npy");
  CHECK(b.rows == 2);
  CHECK(b.values == std::vector<uint8_t>{1, 0, 0, 1});

  // Through a file.
  const auto path = std::filesystem::path(SNNSIM_BINARY_DIR) / "test_sparsey_inputs.npy";
  {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(u8.data()), static_cast<std::streamsize>(u8.size()));
  }
  CHECK(read_npy_binary(path.string()).values == m.values);
  std::filesystem::remove(path);
}

TEST_CASE(".npy: anything but a 2-D C-order bool/uint8 0/1 matrix is an InputError") {
  auto rejects = [](const std::vector<uint8_t>& bytes, const std::string& fragment) {
    try {
      parse_npy_binary(bytes, "bad.npy");
    } catch (const sim::InputError& e) {
      CHECK(e.file == "bad.npy");
      CHECK(std::string(e.what()).find(fragment) != std::string::npos);
      return true;
    }
    return false;
  };
  const std::string ok_tail = "'fortran_order': False, 'shape': (2, 2), }";
  CHECK(rejects(npy_bytes("{'descr': '<i8', " + ok_tail, std::vector<uint8_t>(32, 0)), "dtype"));
  CHECK(rejects(npy_bytes("{'descr': '<f4', " + ok_tail, std::vector<uint8_t>(16, 0)), "dtype"));
  CHECK(rejects(npy_bytes("{'descr': '|u1', 'fortran_order': True, 'shape': (2, 2), }",
                          {0, 1, 1, 0}),
                "Fortran"));
  CHECK(rejects(npy_bytes("{'descr': '|u1', 'fortran_order': False, 'shape': (4,), }",
                          {0, 1, 1, 0}),
                "1-D"));
  CHECK(rejects(npy_bytes("{'descr': '|u1', " + ok_tail, {0, 1, 1}), "bytes"));        // short
  CHECK(rejects(npy_bytes("{'descr': '|u1', " + ok_tail, {0, 1, 1, 0, 1}), "bytes"));  // long
  CHECK(rejects(npy_bytes("{'descr': '|u1', " + ok_tail, {0, 1, 2, 0}), "value 2"));
  CHECK(rejects(npy_bytes("{'descr': '|u1', 'shape': (2, 2), }", {0, 1, 1, 0}), "lacks"));
  std::vector<uint8_t> bad_magic = npy_bytes("{'descr': '|u1', " + ok_tail, {0, 1, 1, 0});
  bad_magic[1] = 'X';
  CHECK(rejects(bad_magic, "magic"));
  CHECK_THROWS_AS(read_npy_binary("no/such/file.npy"), sim::InputError);
}

TEST_CASE("digits CSV parsing and errors") {
  std::string line;
  for (int i = 0; i < 64; ++i) line += std::to_string(i % 17) + ",";
  const Digits d = parse_digits_csv(line + "7\n" + line + "3\n", "x.csv");
  CHECK(d.count == 2);
  CHECK(d.labels == std::vector<uint8_t>{7, 3});
  CHECK(d.pixels[16] == 16);
  CHECK(d.pixels[17] == 0);
  try {
    parse_digits_csv(line + "7\n1,2,3\n", "x.csv");
    CHECK(false);
  } catch (const sim::InputError& e) {
    CHECK(e.line == 2);
  }
  CHECK_THROWS_AS(parse_digits_csv("", "x.csv"), sim::InputError);
  CHECK_THROWS_AS(load_digits("no/such/digits.csv.gz"), sim::InputError);
}

TEST_CASE("the Debian digits file: 1797 images with the known class counts") {
  const Digits d = load_digits(default_digits_path());
  REQUIRE(d.count == 1797);
  CHECK(d.pixels.size() == 1797 * 64);
  // First row of the file: 0,0,5,13,9,1,0,0, ..., label 0.
  CHECK(std::vector<uint8_t>(d.pixels.begin(), d.pixels.begin() + 8) ==
        std::vector<uint8_t>{0, 0, 5, 13, 9, 1, 0, 0});
  CHECK(d.labels[0] == 0);
  // Class counts, whole set and first 1000 (computed once with NumPy from the same file).
  const std::vector<int> all = {178, 182, 177, 183, 181, 182, 181, 179, 174, 180};
  const std::vector<int> first = {99, 102, 100, 104, 98, 100, 101, 99, 98, 99};
  std::vector<int> count_all(10, 0), count_first(10, 0);
  for (size_t i = 0; i < d.count; ++i) {
    ++count_all[d.labels[i]];
    if (i < 1000) ++count_first[d.labels[i]];
  }
  CHECK(count_all == all);
  CHECK(count_first == first);
  // thr8 active counts of the first three images, also from NumPy: 22, 19, 24.
  const BinaryMatrix thr = threshold_encoding(d);
  for (int i = 0; i < 3; ++i) {
    int active = 0;
    for (int j = 0; j < 64; ++j) active += thr.values[i * 64 + j];
    CHECK(active == std::vector<int>{22, 19, 24}[i]);
  }
}

TEST_CASE("patch2: 49 windows, one-hot over 16 patterns") {
  Digits d;
  d.count = 1;
  d.pixels.assign(64, 0);
  d.labels = {0};
  d.pixels[0] = 16;  // (0,0) on
  d.pixels[9] = 8;   // (1,1) on (8 >= threshold 8)
  d.pixels[63] = 7;  // (7,7) below threshold: off
  const PatternSet p = patch2_encoding(d);
  REQUIRE(p.size() == 1);
  CHECK(p.num_bits == 784);
  REQUIRE(p[0].size() == 49);
  // Window (0,0) sees top-left 1 and bottom-right 1: pattern 8 + 1 = 9.
  // Window (0,1) sees (1,1) at its bottom-left: 2. Window (1,0): (1,1) at top-right: 4.
  // Window (1,1): (1,1) at top-left: 8. Every other window: pattern 0.
  for (uint32_t w = 0; w < 49; ++w) {
    uint32_t pattern = 0;
    if (w == 0) pattern = 9;
    if (w == 1) pattern = 2;
    if (w == 7) pattern = 4;
    if (w == 8) pattern = 8;
    CHECK(p[0][w] == w * 16 + pattern);
  }
}
