#include "sim/cli/sweep_command.hpp"
#include "sim/cli/validators.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "sim/log.hpp"
#include "sim/run_folder.hpp"
#include "sim/sweep.hpp"

namespace snnsim_cli {

namespace fs = std::filesystem;
namespace sw = sim::sweep;

void add_sweep_options(CLI::App& app, SweepOptions& o) {
  app.add_option("config", o.config, "experiment config (TOML) with a [sweep] table, or a built-in name")
      ->required();
  app.add_option("--set", o.sets, "override a config value for every point: dotted.key=value");
  app.add_option("--unset", o.unsets, "remove a config key for every point, before --set");
  app.add_option("--sweep", o.sweeps,
                 "sweep a key: key=[v1,v2,...], key=linspace(start,stop,count) or "
                 "key=logspace(start_exp10,stop_exp10,count); adds to or replaces [sweep.parameters]");
  auto* out = app.add_option("--out", o.out, "sweep folder (default runs/<config name>-sweep)");
  app.add_option("--resume", o.resume, "continue the sweep in this folder: run the points not done")
      ->excludes(out);
  app.add_option("--seed", o.seed, "master seed (default simulation.seed)")->check(non_negative_seed());
  app.add_option("--jobs,-j", o.jobs, "points running at once (default 1)")->check(CLI::Range(1, 1024));
  app.add_option("--threads", o.threads,
                 "threads in total, shared by the running points (default: all cores)")
      ->check(CLI::Range(1, 4096));
  app.add_flag("--overwrite", o.overwrite, "delete an existing sweep folder and start again");
  app.add_flag("--dry-run", o.dry_run, "list the points and exit without running or writing anything");
}

namespace {

// The program started for each point: this snnsim, unless SNNSIM_SWEEP_BINARY names another
// (a wrapper that pins CPUs, a different build, or a test's failure injector). It receives
// the arguments of `snnsim run`.
std::string point_binary() {
  if (const char* b = std::getenv("SNNSIM_SWEEP_BINARY"); b && *b) return b;
  std::error_code ec;
  const fs::path p = fs::read_symlink("/proc/self/exe", ec);
  if (ec) throw std::runtime_error("cannot find the snnsim binary (/proc/self/exe): " + ec.message());
  return p.string();
}

// Starts `args` (args[0] is the binary) with stdout and stderr going to `log_path`.
pid_t launch(const std::vector<std::string>& args, const fs::path& log_path) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error(fmt::format("{}: cannot write the point's log", log_path.string()));
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) {
    ::close(fd);
    throw std::runtime_error("fork failed: cannot start a sweep point");
  }
  if (pid == 0) {
    // Own process group: a terminal's Ctrl-C reaches only the sweep, which forwards one
    // SIGINT (two would kill a point before it closes its file).
    setpgid(0, 0);
#ifdef __linux__
    // A point must not outlive a killed sweep: it would keep writing into a folder that
    // the resumed sweep clears.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(137);
#endif
    dup2(fd, STDOUT_FILENO);
    dup2(fd, STDERR_FILENO);
    const int null_fd = ::open("/dev/null", O_RDONLY);
    if (null_fd >= 0) dup2(null_fd, STDIN_FILENO);
    execv(argv[0], argv.data());
    const char msg[] = "snnsim sweep: cannot execute the snnsim binary\n";
    [[maybe_unused]] auto n = ::write(STDERR_FILENO, msg, sizeof msg - 1);
    _exit(127);
  }
  ::close(fd);
  return pid;
}

// The last few non-empty lines of a point's output, on one line, for the index.
std::string tail_of(const fs::path& path, size_t lines = 4) {
  std::ifstream f(path);
  std::vector<std::string> all;
  for (std::string line; std::getline(f, line);) {
    const auto cr = line.rfind('\r');  // live progress lines: keep what was shown last
    if (cr != std::string::npos) line = line.substr(cr + 1);
    if (!line.empty()) all.push_back(line);
  }
  std::string out;
  for (size_t i = all.size() > lines ? all.size() - lines : 0; i < all.size(); ++i)
    out += (out.empty() ? "" : " | ") + all[i];
  if (out.size() > 1000) out = "..." + out.substr(out.size() - 997);
  return out;
}

std::string read_text(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

uint64_t master_seed_of(const SweepOptions& o, const sim::ConfigDocument& doc) {
  if (o.seed) return static_cast<uint64_t>(*o.seed);
  if (const auto* s = doc.root.get_as<toml::table>("simulation"))
    if (const auto v = (*s)["seed"].value<int64_t>(); v && *v >= 0) return static_cast<uint64_t>(*v);
  return 1;  // read_network_config's default
}

void print_points(const sw::Spec& spec, const std::vector<sw::Point>& points, const fs::path& dir) {
  std::printf("%zu points (%s, %lld seed%s per point) -> %s\n", points.size(),
              spec.mode == sw::Mode::zip ? "zip" : "product",
              static_cast<long long>(spec.seeds_per_point), spec.seeds_per_point == 1 ? "" : "s",
              dir.string().c_str());
  std::printf("%-6s %-20s %-14s", "point", "seed", "folder");
  for (const auto& p : spec.parameters) std::printf(" %s", p.key.c_str());
  std::printf("\n");
  for (const auto& pt : points) {
    std::printf("%-6llu %-20llu %-14s", static_cast<unsigned long long>(pt.index),
                static_cast<unsigned long long>(pt.seed), pt.folder.c_str());
    for (const auto& v : pt.values) std::printf(" %s", sw::display(v).c_str());
    std::printf("\n");
  }
}

}  // namespace

int run_sweep(const SweepOptions& o, const std::string& config_path,
              const std::function<const experiments::Experiment&(const sim::ConfigDocument&)>&
                  experiment_of,
              const std::atomic<bool>* stop) {
  sim::Log log;
  // ---- everything is checked before anything is created
  sim::ConfigDocument doc = sim::load_config(config_path);
  doc.file = o.config == config_path ? o.config : config_path;
  sw::Spec spec = sw::read_spec(doc);
  for (const auto& s : o.sweeps) sw::add_or_replace(spec, sw::parse_command_line_parameter(s));
  doc.root.erase("sweep");
  for (const auto& k : o.unsets) sim::apply_removal(doc, k);
  for (const auto& s : o.sets) sim::apply_override(doc, s);
  const uint64_t master_seed = master_seed_of(o, doc);
  const experiments::Experiment& experiment = experiment_of(doc);
  experiment.validate(doc);
  const std::vector<sw::Point> points = sw::expand(spec, master_seed);
  sw::validate_points(doc, spec, points, experiment.validate);

  const fs::path dir = o.resume ? fs::path(*o.resume)
                       : o.out  ? fs::path(*o.out)
                                : fs::path("runs") / (fs::path(config_path).stem().string() + "-sweep");
  if (o.dry_run) {
    print_points(spec, points, dir);
    return 0;
  }
  const std::string description = sw::describe(spec, master_seed, points);
  const std::string base_text = sim::to_toml(doc.root);
  std::error_code ec;
  const std::string shown = dir.string();
  if (o.resume) {
    if (!fs::is_regular_file(dir / "sweep.toml", ec))
      throw sim::InputError(shown, 0, "--resume", "not a sweep folder (no sweep.toml)");
    if (read_text(dir / "sweep.toml") != description)
      throw sim::InputError(shown, 0, "--resume",
                            "this folder holds a different sweep (parameters, values, mode, seeds "
                            "or master seed differ; see its sweep.toml); resume with the same "
                            "config and options, or start a new --out");
    if (read_text(dir / "base_config.toml") != base_text)
      throw sim::InputError(shown, 0, "--resume",
                            "the config (or --set) differs from the one this sweep started with "
                            "(see its base_config.toml); resume with the same config, or start a "
                            "new --out");
  } else {
    if (fs::exists(dir, ec) && !fs::is_empty(dir, ec)) {
      if (!o.overwrite)
        throw sim::InputError(shown, 0, "--out",
                              "the sweep folder exists already; pass --resume " + shown +
                                  " to continue it, --overwrite to start again, or another --out");
      if (!fs::is_regular_file(dir / "sweep.toml", ec))
        throw sim::InputError(shown, 0, "--out",
                              "refusing to overwrite: the folder is not a sweep folder (no sweep.toml)");
      fs::remove_all(dir, ec);
      if (ec) throw sim::InputError(shown, 0, "--out", "cannot clear the folder: " + ec.message());
    }
    fs::create_directories(dir / "points", ec);
    if (ec) throw sim::InputError(shown, 0, "--out", "cannot create the sweep folder: " + ec.message());
    sim::write_text_atomically(dir / "base_config.toml", base_text);
    sim::write_text_atomically(dir / "sweep.toml", description);
  }
  fs::create_directories(dir / "logs", ec);
  log.open_file((dir / "sweep.log").string());

  // ---- what is done already: a point folder exists only after an atomic rename of a
  // complete run, so the folders (not a possibly stale index) are the truth.
  std::vector<sw::PointResult> results(points.size());
  std::vector<size_t> queue;
  for (size_t i = 0; i < points.size(); ++i) {
    const fs::path spikes = dir / points[i].folder / "spikes.h5";
    if (sw::run_complete(spikes)) {
      results[i].status = sw::Status::done;
      results[i].exit_code = 0;
      results[i].metrics = sw::read_metrics(spikes);
    } else {
      queue.push_back(i);
    }
  }
  sw::write_index(dir, spec, points, results);

  const int total_threads =
      o.threads ? *o.threads : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  const int threads = std::max(1, total_threads / o.jobs);
  const std::string binary = point_binary();
  const std::string config_abs = fs::absolute(config_path).string();
  log.info(fmt::format("sweep {}: {} points, {} to run, {} at once with {} thread{} each -> {}",
                       doc.file, points.size(), queue.size(), o.jobs, threads,
                       threads == 1 ? "" : "s", shown));

  struct Running {
    size_t point;
    fs::path tmp;
  };
  std::map<pid_t, Running> running;
  size_t next = 0, finished = 0, failed = 0;
  size_t done = points.size() - queue.size();
  bool forwarded = false;
  const auto t0 = std::chrono::steady_clock::now();
  auto report = [&] {
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const size_t left = queue.size() - finished;
    const double eta = finished ? elapsed / static_cast<double>(finished) * static_cast<double>(left) : NAN;
    log.status(fmt::format("{}/{} points, {} failed, ETA {}", done, points.size(), failed,
                           left == 0 ? "0 s" : sim::format_duration(eta)));
  };
  if (!queue.empty()) report();

  while (next < queue.size() || !running.empty()) {
    const bool stopping = stop && stop->load();
    if (stopping && !forwarded) {
      for (const auto& [pid, r] : running) kill(pid, SIGINT);
      forwarded = true;
    }
    while (!stopping && next < queue.size() && static_cast<int>(running.size()) < o.jobs) {
      const size_t i = queue[next++];
      const sw::Point& pt = points[i];
      const fs::path final_dir = dir / pt.folder;
      const fs::path tmp = final_dir.parent_path() / (".tmp-" + final_dir.filename().string());
      fs::remove_all(tmp, ec);  // left by an interrupted or failed earlier attempt
      std::vector<std::string> args = {binary, "run", config_abs};
      for (const auto& k : o.unsets) args.insert(args.end(), {"--unset", k});
      for (const auto& s : o.sets) args.insert(args.end(), {"--set", s});
      for (const auto& s : sw::overrides(spec, pt)) args.insert(args.end(), {"--set", s});
      args.insert(args.end(), {"--seed", fmt::format("{}", pt.seed), "--out", tmp.string(),
                               "--threads", fmt::format("{}", threads)});
      const fs::path point_log = dir / "logs" / (final_dir.filename().string() + ".log");
      running[launch(args, point_log)] = Running{i, tmp};
    }
    if (running.empty()) break;
    int status = 0;
    const pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid == 0 || (pid < 0 && errno == EINTR)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      continue;
    }
    if (pid < 0) throw std::runtime_error("waitpid failed while running the sweep");
    const auto it = running.find(pid);
    if (it == running.end()) continue;
    const Running r = it->second;
    running.erase(it);
    const sw::Point& pt = points[r.point];
    sw::PointResult& res = results[r.point];
    const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    const fs::path final_dir = dir / pt.folder;
    const fs::path point_log = dir / "logs" / (final_dir.filename().string() + ".log");
    res.exit_code = code;
    ++finished;
    if (code == 0 && sw::run_complete(r.tmp / "spikes.h5")) {
      fs::remove_all(final_dir, ec);
      fs::rename(r.tmp, final_dir, ec);
      if (ec) throw std::runtime_error(fmt::format("{}: cannot rename into place: {}",
                                                   final_dir.string(), ec.message()));
      res.status = sw::Status::done;
      res.error.clear();
      res.metrics = sw::read_metrics(final_dir / "spikes.h5");
      ++done;
    } else if (stopping && (code == 130 || code == 128 + SIGINT)) {
      res.status = sw::Status::pending;
      res.error = "interrupted";
    } else {
      res.status = sw::Status::failed;
      res.error = code == 0 ? "exited 0 but its spikes.h5 is not marked complete" : tail_of(point_log);
      ++failed;
      log.info(fmt::format("point {} failed (exit code {}): {}  [log: {}]", pt.index, code, res.error,
                           point_log.string()));
    }
    sw::write_index(dir, spec, points, results);
    report();
  }
  log.end_progress();
  const bool interrupted = stop && stop->load();
  const size_t pending = points.size() - done - failed;
  log.info(fmt::format("sweep {}: {} done, {} failed, {} not run; index: {}",
                       interrupted ? "interrupted" : "finished", done, failed, pending,
                       (dir / "index.csv").string()));
  if (interrupted) {
    log.info(fmt::format("continue with: snnsim sweep {} --resume {}", o.config, shown));
    return experiments::exit_interrupted;
  }
  return failed ? 1 : 0;
}

}  // namespace snnsim_cli
