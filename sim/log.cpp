#include "sim/log.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <ctime>

namespace sim {

Log::Log() : tty_(isatty(STDERR_FILENO) != 0) {}

Log::~Log() {
  end_progress();
  if (file_) std::fclose(file_);
}

void Log::open_file(const std::string& path) {
  if (file_) std::fclose(file_);
  file_ = std::fopen(path.c_str(), "w");
  if (!file_) warn("cannot write the log file " + path + "; messages go to the terminal only");
}

void Log::to_file(const std::string& line) {
  if (!file_) return;
  const std::time_t now = std::time(nullptr);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S", std::localtime(&now));
  std::fprintf(file_, "%s %s\n", stamp, line.c_str());
  std::fflush(file_);
}

void Log::end_progress() {
  if (live_line_) {
    std::fputc('\n', stderr);
    live_line_ = false;
  }
}

void Log::info(const std::string& line) {
  end_progress();
  std::fprintf(stderr, "%s\n", line.c_str());
  to_file(line);
}

void Log::status(const std::string& line) {
  if (tty_) {
    std::fprintf(stderr, "\r%s\033[K", line.c_str());
    std::fflush(stderr);
    live_line_ = true;
  } else {
    std::fprintf(stderr, "%s\n", line.c_str());
  }
  to_file(line);
}

void Log::warn(const std::string& line) { info("warning: " + line); }

std::string format_duration(double s) {
  if (!std::isfinite(s) || s < 0) return "?";
  if (s < 60) return fmt::format("{:.1f} s", s);
  if (s < 3600) return fmt::format("{} min {:02d} s", static_cast<int>(s / 60), static_cast<int>(s) % 60);
  return fmt::format("{} h {:02d} min", static_cast<int>(s / 3600), static_cast<int>(s / 60) % 60);
}

void Log::progress(const std::string& label, const ProgressReport& r) {
  const double frac = r.total ? static_cast<double>(r.done) / static_cast<double>(r.total) : 1.0;
  const double eta = frac > 0 ? r.wall_s * (1.0 - frac) / frac : NAN;
  const double rtf = r.model_ms > 0 ? r.wall_s / (r.model_ms * 1e-3) : NAN;
  const double rate_hz =
      (r.model_ms > 0 && r.neurons > 0)
          ? static_cast<double>(r.spikes) / static_cast<double>(r.neurons) / (r.model_ms * 1e-3)
          : 0.0;
  const std::string line =
      fmt::format("{} [{:3.0f}%] {:.0f} ms simulated, ETA {}, real-time factor {:.3g}, {:.2f} Hz/neuron",
                  label, 100.0 * frac, r.model_ms, format_duration(eta), rtf, rate_hz);
  if (tty_) {
    std::fprintf(stderr, "\r%s\033[K", line.c_str());
    std::fflush(stderr);
    live_line_ = true;
    if (r.done == r.total) end_progress();
  }
  // Plain lines (log file, and stderr when it is not a terminal) at most every 5 s and at the end.
  if (r.wall_s - last_plain_s_ >= 5.0 || r.done == r.total) {
    last_plain_s_ = r.wall_s;
    if (!tty_) std::fprintf(stderr, "%s\n", line.c_str());
    to_file(line);
  }
}

}  // namespace sim
