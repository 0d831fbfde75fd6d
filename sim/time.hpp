#pragma once
// Time is an integer count of steps inside the engine; milliseconds only at the interface.
// Converting a duration in ms to steps must be exact: a delay of 1.25 ms with dt = 0.1 ms
// is an error, not a silent rounding.
#include <cmath>
#include <cstdint>
#include <optional>

namespace sim {

using Step = uint64_t;

// Steps for a duration, if duration_ms is an integer multiple of dt_ms (to 1e-9 relative).
inline std::optional<Step> steps_exact(double duration_ms, double dt_ms) {
  if (!(dt_ms > 0) || !(duration_ms >= 0) || !std::isfinite(duration_ms)) return std::nullopt;
  const double ratio = duration_ms / dt_ms;
  const double rounded = std::round(ratio);
  if (std::abs(ratio - rounded) > 1e-9 * std::max(1.0, rounded)) return std::nullopt;
  return static_cast<Step>(rounded);
}

// Milliseconds of step k: computed by multiplication, never by accumulating dt.
inline double step_to_ms(Step k, double dt_ms) { return static_cast<double>(k) * dt_ms; }

}  // namespace sim
