#pragma once
// Errors in what the user gave us (a config file, a flag, an input file). Each names
// the file, the line and the key when known, says what was expected, and makes the
// command line exit with code 2. Errors inside the engine are bugs and stay
// std::logic_error / std::runtime_error.
#include <stdexcept>
#include <string>

namespace sim {

struct InputError : std::runtime_error {
  std::string file;  // empty when the error is not tied to a file
  int line = 0;      // 1-based; 0 when unknown
  std::string key;   // dotted path of the offending key, empty when none

  InputError(std::string file_, int line_, std::string key_, const std::string& message)
      : std::runtime_error(message), file(std::move(file_)), line(line_), key(std::move(key_)) {}
  explicit InputError(const std::string& message) : std::runtime_error(message) {}

  // "experiments/x.toml:12: key 'network.dt_ms': expected a number > 0, got -1"
  std::string describe() const;
};

// Exit code for bad input, as promised by the command line.
inline constexpr int exit_bad_input = 2;

}  // namespace sim
