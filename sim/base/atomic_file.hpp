// Output files that are whole or absent: every file syncstorm writes (the report folder, repro files,
// the JUnit and JSON summaries) goes through write_file_atomically, so a run killed while writing
// leaves each file either as it was before or complete, never cut short, and a reader never sees a
// half-written file.
#pragma once

#include <filesystem>
#include <string_view>
#include <system_error>

namespace syncstorm {

/// What happens when the target already exists.
enum class IfExists : bool {
  replace,  ///< the new content replaces it in one rename (report files, summaries)
  keep,     ///< the write fails with std::errc::file_exists and the old file stays (repro files)
};

/// Writes `text` to `path` in three steps: a temporary file in the same folder (named
/// `.NAME.tmp.PID`, so a crash may leave one behind but never a damaged `NAME`), fsync of its data,
/// then one atomic step that gives it its name: rename(2) for `replace`, link(2) for `keep` (which
/// fails rather than overwrite). The folder itself is not fsynced: the file is whole after a crash of
/// the process, and after a power failure it is whole or absent. Returns an empty code on success.
std::error_code write_file_atomically(const std::filesystem::path& path, std::string_view text,
                                      IfExists if_exists = IfExists::replace);

}  // namespace syncstorm
