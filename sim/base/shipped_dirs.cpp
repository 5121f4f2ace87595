// The build passes three paths to this file alone (so that no other object depends on where the
// tree is): SYNCSTORM_SOURCE_DIR, SYNCSTORM_INSTALL_DATA_DIR (absolute, as configured) and
// SYNCSTORM_DATA_DIR_FROM_BIN (the data folder relative to the installed executable's folder).
#include "sim/base/shipped_dirs.hpp"

#include <cstdlib>
#include <filesystem>
#include <system_error>

namespace syncstorm {

std::string shipped_dir(const char* env, std::string_view name, std::string_view source_path) {
  namespace fs = std::filesystem;
  // Reading the environment and the file system is fine here: the CLI edge asks, never a simulation.
  if (const char* dir = std::getenv(env); dir != nullptr && *dir != '\0') return dir;
  std::error_code ec;
  const fs::path source = fs::path(SYNCSTORM_SOURCE_DIR) / source_path;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const fs::path beside = exe.parent_path() / SYNCSTORM_DATA_DIR_FROM_BIN / name;
    if (fs::is_directory(beside, ec)) return beside.lexically_normal().string();
  }
  if (fs::is_directory(source, ec)) return source.string();
  const fs::path installed = fs::path(SYNCSTORM_INSTALL_DATA_DIR) / name;
  if (fs::is_directory(installed, ec)) return installed.string();
  return source.string();
}

}  // namespace syncstorm
