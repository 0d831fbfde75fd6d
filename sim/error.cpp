#include "sim/error.hpp"

namespace sim {

std::string InputError::describe() const {
  std::string out;
  if (!file.empty()) {
    out += file;
    if (line > 0) out += ":" + std::to_string(line);
    out += ": ";
  }
  if (!key.empty()) out += "key '" + key + "': ";
  out += what();
  return out;
}

}  // namespace sim
