#include "sim/run_folder.hpp"

#include <fmt/format.h>

#include <fstream>
#include <system_error>

#include "sim/error.hpp"

namespace sim {

namespace fs = std::filesystem;

namespace {
// Files snnsim writes into a run folder; a folder holding anything else is not ours.
bool is_run_artifact(const fs::path& p) {
  const std::string name = p.filename().string();
  const std::string ext = p.extension().string();
  return name == "spikes.h5" || name == "config.toml" || name == "run.log" || ext == ".png" ||
         ext == ".pdf" || ext == ".svg" || ext == ".json" || ext == ".csv" || ext == ".npz" ||
         name.rfind(".tmp", 0) == 0;
}
}  // namespace

RunFolder prepare_run_folder(const fs::path& dir, bool overwrite) {
  std::error_code ec;
  const std::string shown = dir.string();
  if (fs::exists(dir, ec)) {
    if (!fs::is_directory(dir, ec))
      throw InputError(shown, 0, "--out", "exists and is not a folder");
    bool empty = true, ours = true;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
      empty = false;
      if (!entry.is_regular_file() || !is_run_artifact(entry.path())) ours = false;
    }
    if (!empty) {
      if (!overwrite)
        throw InputError(shown, 0, "--out",
                         "the output folder already holds results; choose another --out or pass "
                         "--overwrite to replace them");
      if (!ours)
        throw InputError(shown, 0, "--out",
                         "refusing to overwrite: the folder holds files that snnsim did not write");
      for (const auto& entry : fs::directory_iterator(dir, ec)) fs::remove(entry.path(), ec);
    }
  }
  fs::create_directories(dir, ec);
  if (ec) throw InputError(shown, 0, "--out", fmt::format("cannot create the output folder: {}", ec.message()));
  // Probe that we can write here now, rather than after a long simulation.
  const fs::path probe = dir / ".tmp-write-probe";
  {
    std::ofstream f(probe);
    if (!f) throw InputError(shown, 0, "--out", "the output folder is not writable");
  }
  fs::remove(probe, ec);
  return RunFolder{dir};
}

void write_text_atomically(const fs::path& path, const std::string& text) {
  const fs::path tmp = path.parent_path() / (".tmp-" + path.filename().string());
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) throw std::runtime_error(fmt::format("{}: cannot write", tmp.string()));
    f << text;
    f.flush();
    if (!f) throw std::runtime_error(fmt::format("{}: write failed (disk full?)", tmp.string()));
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) throw std::runtime_error(fmt::format("{}: cannot rename into place: {}", path.string(), ec.message()));
}

}  // namespace sim
