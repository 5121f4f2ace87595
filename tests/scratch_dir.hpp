// Where the tests write files: a folder of their own under the system's temporary folder.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <string>

namespace syncstorm::testing {

/// An empty folder `syncstorm-NAME-PID` in the temporary folder, emptied first (an earlier run may
/// have left it). The process id keeps two test runs at once (two builds) out of each other's files.
inline std::filesystem::path scratch_dir(const std::string& name) {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("syncstorm-" + name + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

}  // namespace syncstorm::testing
