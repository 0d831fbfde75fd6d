#include "sim/error.hpp"

#include <fmt/format.h>

namespace sim {

std::string InputError::describe() const {
  std::string where;
  if (!file.empty()) where = line > 0 ? fmt::format("{}:{}: ", file, line) : fmt::format("{}: ", file);
  if (!key.empty()) where += fmt::format("key '{}': ", key);
  return where + what();
}

}  // namespace sim
