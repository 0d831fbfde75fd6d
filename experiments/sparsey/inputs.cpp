#include "experiments/sparsey/inputs.hpp"

#include "sim/error.hpp"

#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>

namespace experiments::sparsey {

void PatternSet::add(std::span<const uint32_t> active) {
  std::vector<uint32_t> sorted(active.begin(), active.end());
  std::sort(sorted.begin(), sorted.end());
  for (size_t i = 0; i < sorted.size(); ++i) {
    if (sorted[i] >= num_bits) throw std::invalid_argument("PatternSet: index >= num_bits");
    if (i > 0 && sorted[i] == sorted[i - 1])
      throw std::invalid_argument("PatternSet: repeated index");
  }
  indices.insert(indices.end(), sorted.begin(), sorted.end());
  offsets.push_back(indices.size());
}

PatternSet rows_as_patterns(const BinaryMatrix& m) {
  if (m.values.size() != m.rows * m.cols)
    throw std::invalid_argument("rows_as_patterns: values.size() != rows * cols");
  if (m.cols > 0xFFFFFFFFull) throw std::invalid_argument("rows_as_patterns: too many columns");
  PatternSet set;
  set.num_bits = static_cast<uint32_t>(m.cols);
  std::vector<uint32_t> row;
  for (size_t r = 0; r < m.rows; ++r) {
    row.clear();
    for (size_t c = 0; c < m.cols; ++c)
      if (m.values[r * m.cols + c]) row.push_back(static_cast<uint32_t>(c));
    set.add(row);
  }
  return set;
}

std::vector<uint32_t> random_sdr(uint32_t num_bits, uint32_t active, sim::rng::Stream& stream) {
  if (active > num_bits) throw std::invalid_argument("random_sdr: active > num_bits");
  std::vector<uint32_t> pool(num_bits);
  for (uint32_t i = 0; i < num_bits; ++i) pool[i] = i;
  for (uint32_t i = 0; i < active; ++i)
    std::swap(pool[i], pool[i + stream.below(num_bits - i)]);
  pool.resize(active);
  std::sort(pool.begin(), pool.end());
  return pool;
}

PatternSet random_sdrs(uint32_t count, uint32_t num_bits, uint32_t active,
                       sim::rng::Stream& stream) {
  PatternSet set;
  set.num_bits = num_bits;
  for (uint32_t i = 0; i < count; ++i) set.add(random_sdr(num_bits, active, stream));
  return set;
}

namespace {

// k distinct elements of `pool` drawn uniformly (partial Fisher-Yates on a copy).
std::vector<uint32_t> choose(std::vector<uint32_t> pool, uint32_t k, sim::rng::Stream& stream) {
  if (k > pool.size()) throw std::invalid_argument("choose: k > pool size");
  for (uint32_t i = 0; i < k; ++i)
    std::swap(pool[i], pool[i + stream.below(pool.size() - i)]);
  pool.resize(k);
  return pool;
}

std::vector<uint32_t> complement(std::span<const uint32_t> sorted, uint32_t num_bits) {
  std::vector<uint8_t> on(num_bits, 0);
  for (const uint32_t i : sorted) on.at(i) = 1;
  std::vector<uint32_t> out;
  out.reserve(num_bits - sorted.size());
  for (uint32_t i = 0; i < num_bits; ++i)
    if (!on[i]) out.push_back(i);
  return out;
}

}  // namespace

std::vector<uint32_t> overlap_probe(std::span<const uint32_t> reference, uint32_t num_bits,
                                    uint32_t shared, sim::rng::Stream& stream) {
  const uint32_t active = static_cast<uint32_t>(reference.size());
  if (shared > active) throw std::invalid_argument("overlap_probe: shared > |reference|");
  std::vector<uint32_t> outside = complement(reference, num_bits);
  if (active - shared > outside.size())
    throw std::invalid_argument("overlap_probe: not enough bits outside the reference");
  std::vector<uint32_t> probe =
      choose(std::vector<uint32_t>(reference.begin(), reference.end()), shared, stream);
  const std::vector<uint32_t> fresh = choose(std::move(outside), active - shared, stream);
  probe.insert(probe.end(), fresh.begin(), fresh.end());
  std::sort(probe.begin(), probe.end());
  return probe;
}

std::vector<uint32_t> perturb(std::span<const uint32_t> pattern, uint32_t num_bits,
                              double fraction, sim::rng::Stream& stream) {
  if (!(fraction >= 0 && fraction <= 1)) throw std::invalid_argument("perturb: fraction");
  const uint32_t moved = static_cast<uint32_t>(std::lround(fraction * pattern.size()));
  return overlap_probe(pattern, num_bits, static_cast<uint32_t>(pattern.size()) - moved, stream);
}

OverlapFamily overlap_family(uint32_t num_bits, uint32_t active, uint32_t num_probes,
                             sim::rng::Stream& stream) {
  OverlapFamily f;
  f.reference = random_sdr(num_bits, active, stream);
  f.probes.num_bits = num_bits;
  for (uint32_t i = 0; i < num_probes; ++i) {
    // round(linspace(0, active, num_probes)), as numpy rounds: half to even.
    const double x = num_probes == 1 ? 0.0 : double(active) * i / (num_probes - 1);
    const uint32_t k = static_cast<uint32_t>(std::nearbyint(x));
    f.shared.push_back(k);
    f.probes.add(overlap_probe(f.reference, num_bits, k, stream));
  }
  return f;
}

// ---- .npy ----

namespace {

[[noreturn]] void npy_fail(const std::string& name, const std::string& what) {
  throw sim::InputError(name, 0, "", "not a binary .npy matrix: " + what);
}

// A tiny parser for the header dict NumPy writes, e.g.
//   {'descr': '|u1', 'fortran_order': False, 'shape': (3, 4), }
struct HeaderParser {
  std::string_view s;
  size_t pos = 0;
  const std::string& name;

  void skip_space() {
    while (pos < s.size() && (s[pos] == ' ' || s[pos] == '\n' || s[pos] == '\t')) ++pos;
  }
  bool eat(char c) {
    skip_space();
    if (pos < s.size() && s[pos] == c) {
      ++pos;
      return true;
    }
    return false;
  }
  void expect(char c) {
    if (!eat(c)) npy_fail(name, std::string("header: expected '") + c + "'");
  }
  std::string string_literal() {
    skip_space();
    if (pos >= s.size() || (s[pos] != '\'' && s[pos] != '"')) npy_fail(name, "header: expected a string");
    const char quote = s[pos++];
    const size_t end = s.find(quote, pos);
    if (end == std::string_view::npos) npy_fail(name, "header: unterminated string");
    std::string out(s.substr(pos, end - pos));
    pos = end + 1;
    return out;
  }
  bool boolean() {
    skip_space();
    if (s.substr(pos, 4) == "True") {
      pos += 4;
      return true;
    }
    if (s.substr(pos, 5) == "False") {
      pos += 5;
      return false;
    }
    npy_fail(name, "header: expected True or False");
  }
  std::vector<uint64_t> shape() {
    expect('(');
    std::vector<uint64_t> dims;
    while (!eat(')')) {
      skip_space();
      if (pos >= s.size() || s[pos] < '0' || s[pos] > '9') npy_fail(name, "header: bad shape");
      uint64_t v = 0;
      while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
        if (v > (uint64_t{1} << 40)) npy_fail(name, "header: dimension too large");
        v = v * 10 + static_cast<uint64_t>(s[pos++] - '0');
      }
      dims.push_back(v);
      if (!eat(',')) {
        expect(')');
        break;
      }
    }
    return dims;
  }
};

uint64_t read_le(std::span<const uint8_t> b, size_t at, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) v |= uint64_t{b[at + i]} << (8 * i);
  return v;
}

}  // namespace

BinaryMatrix parse_npy_binary(std::span<const uint8_t> b, const std::string& name) {
  static constexpr uint8_t magic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
  if (b.size() < 10 || std::memcmp(b.data(), magic, 6) != 0)
    npy_fail(name, "missing the \\x93NUMPY magic string");
  const uint8_t major = b[6];
  size_t header_at = 0, header_len = 0;
  if (major == 1) {
    header_len = read_le(b, 8, 2);
    header_at = 10;
  } else if (major == 2 || major == 3) {
    if (b.size() < 12) npy_fail(name, "truncated header");
    header_len = read_le(b, 8, 4);
    header_at = 12;
  } else {
    npy_fail(name, "unsupported format version " + std::to_string(major));
  }
  if (header_at + header_len > b.size()) npy_fail(name, "truncated header");
  const std::string_view header(reinterpret_cast<const char*>(b.data()) + header_at, header_len);

  HeaderParser p{header, 0, name};
  std::string descr;
  bool have_descr = false, have_order = false, have_shape = false, fortran = false;
  std::vector<uint64_t> shape;
  p.expect('{');
  while (!p.eat('}')) {
    const std::string key = p.string_literal();
    p.expect(':');
    if (key == "descr") {
      descr = p.string_literal();
      have_descr = true;
    } else if (key == "fortran_order") {
      fortran = p.boolean();
      have_order = true;
    } else if (key == "shape") {
      shape = p.shape();
      have_shape = true;
    } else {
      npy_fail(name, "header: unexpected key '" + key + "'");
    }
    if (!p.eat(',')) {
      p.expect('}');
      break;
    }
  }
  if (!have_descr || !have_order || !have_shape)
    npy_fail(name, "header lacks one of 'descr', 'fortran_order', 'shape'");
  if (descr != "|b1" && descr != "|u1")
    npy_fail(name, "dtype '" + descr + "' (expected bool '|b1' or uint8 '|u1')");
  if (fortran) npy_fail(name, "Fortran order (expected C order)");
  if (shape.size() != 2)
    npy_fail(name, std::to_string(shape.size()) + "-D array (expected 2-D rows x columns)");

  const uint64_t count = shape[0] * shape[1];
  const size_t data_at = header_at + header_len;
  if (b.size() - data_at != count)
    npy_fail(name, "data holds " + std::to_string(b.size() - data_at) + " bytes, shape needs " +
                       std::to_string(count));
  BinaryMatrix m;
  m.rows = shape[0];
  m.cols = shape[1];
  m.values.assign(b.begin() + static_cast<std::ptrdiff_t>(data_at), b.end());
  for (size_t i = 0; i < m.values.size(); ++i)
    if (m.values[i] > 1)
      npy_fail(name, "value " + std::to_string(m.values[i]) + " at flat index " +
                         std::to_string(i) + " (expected 0 or 1)");
  return m;
}

BinaryMatrix read_npy_binary(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw sim::InputError(path, 0, "", "cannot open the .npy file");
  const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                                   std::istreambuf_iterator<char>());
  return parse_npy_binary(bytes, path);
}

// ---- Digits ----

std::string default_digits_path() {
  return "/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz";
}

Digits parse_digits_csv(std::string_view text, const std::string& name) {
  Digits d;
  int line_no = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    int field = 0;
    size_t i = 0;
    uint8_t values[65];
    while (true) {
      if (field >= 65) throw sim::InputError(name, line_no, "", "more than 65 values");
      int v = 0, digits = 0;
      while (i < line.size() && line[i] >= '0' && line[i] <= '9' && digits < 4) {
        v = v * 10 + (line[i++] - '0');
        ++digits;
      }
      // The file stores integers, optionally written as "3.0".
      if (i + 1 < line.size() && line[i] == '.' && line[i + 1] == '0') i += 2;
      if (digits == 0) throw sim::InputError(name, line_no, "", "expected a number");
      const int limit = field < 64 ? 16 : 9;
      if (v > limit)
        throw sim::InputError(name, line_no, "",
                              "value " + std::to_string(v) + " out of range 0.." +
                                  std::to_string(limit));
      values[field++] = static_cast<uint8_t>(v);
      if (i == line.size()) break;
      if (line[i] != ',') throw sim::InputError(name, line_no, "", "expected ','");
      ++i;
    }
    if (field != 65)
      throw sim::InputError(name, line_no, "",
                            "expected 65 values (64 pixels, label), got " + std::to_string(field));
    d.pixels.insert(d.pixels.end(), values, values + 64);
    d.labels.push_back(values[64]);
    ++d.count;
  }
  if (d.count == 0) throw sim::InputError(name, 0, "", "no digit images");
  return d;
}

Digits load_digits(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f)
    throw sim::InputError(path, 0, "",
                          "cannot open the digits file (Debian package python3-sklearn)");
  std::string text;
  char buf[1 << 16];
  int n = 0;
  while ((n = gzread(f, buf, sizeof buf)) > 0) text.append(buf, static_cast<size_t>(n));
  const bool failed = n < 0;
  gzclose(f);
  if (failed) throw sim::InputError(path, 0, "", "corrupt gzip data");
  return parse_digits_csv(text, path);
}

BinaryMatrix threshold_encoding(const Digits& d, uint8_t threshold) {
  BinaryMatrix m;
  m.rows = d.count;
  m.cols = 64;
  m.values.resize(d.pixels.size());
  for (size_t i = 0; i < d.pixels.size(); ++i) m.values[i] = d.pixels[i] >= threshold ? 1 : 0;
  return m;
}

PatternSet patch2_encoding(const Digits& d, uint8_t threshold) {
  const BinaryMatrix bin = threshold_encoding(d, threshold);
  PatternSet set;
  set.num_bits = 49 * 16;
  std::vector<uint32_t> active(49);
  for (size_t n = 0; n < d.count; ++n) {
    const uint8_t* img = bin.values.data() + n * 64;
    for (uint32_t r = 0; r < 7; ++r)
      for (uint32_t c = 0; c < 7; ++c) {
        const uint32_t pattern = 8u * img[8 * r + c] + 4u * img[8 * r + c + 1] +
                                 2u * img[8 * (r + 1) + c] + img[8 * (r + 1) + c + 1];
        active[7 * r + c] = (7 * r + c) * 16 + pattern;
      }
    set.add(active);
  }
  return set;
}

}  // namespace experiments::sparsey
