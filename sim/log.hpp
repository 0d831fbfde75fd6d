#pragma once
// Messages and progress of a run: to the terminal (a live progress line when stderr is a
// terminal, plain periodic lines otherwise) and, once a run folder exists, to its log file.
#include <cstdio>
#include <string>

#include "sim/simulation.hpp"

namespace sim {

class Log {
 public:
  Log();
  ~Log();
  Log(const Log&) = delete;
  Log& operator=(const Log&) = delete;

  // Also write every line to `path` from now on.
  void open_file(const std::string& path);
  void info(const std::string& line);
  void warn(const std::string& line);
  // Progress of a run; `label` names what is running.
  void progress(const std::string& label, const ProgressReport& r);
  // A one-line status that replaces itself on a terminal (a plain line otherwise, and in
  // the log file): the progress of work that is not one simulation, e.g. a sweep.
  void status(const std::string& line);
  // Ends a live progress line so that the next message starts on its own line.
  void end_progress();
  bool interactive() const { return tty_; }

 private:
  void to_file(const std::string& line);
  bool tty_;
  bool live_line_ = false;
  double last_plain_s_ = -1e9;
  std::FILE* file_ = nullptr;
};

// "1.2 s", "3 min 4 s", "1 h 02 min"
std::string format_duration(double seconds);

}  // namespace sim
