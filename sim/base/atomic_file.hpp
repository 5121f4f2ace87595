// Output files that are whole or absent: every file syncstorm writes (the report folder, repro files,
// the JUnit and JSON summaries) goes through write_file_atomically, so a run killed while writing
// leaves each file either as it was before or complete, never cut short, and a reader never sees a
// half-written file.
#pragma once

#include <filesystem>
#include <fstream>
#include <ostream>
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

/// A file written as a stream and named only when whole: for output too big to hold in memory (the
/// `--trace` of a long run). The bytes go to the temporary file write_file_atomically would use;
/// commit() flushes it to the disk and renames it into place. Destroyed uncommitted (an error, an
/// exception), it removes the temporary file, and `path` keeps what it held before.
class StreamedFile {
 public:
  explicit StreamedFile(std::filesystem::path path);
  ~StreamedFile();
  StreamedFile(const StreamedFile&) = delete;
  StreamedFile& operator=(const StreamedFile&) = delete;

  /// False when the temporary file could not be created (a missing folder, no permission).
  bool is_open() const { return out_.is_open(); }
  std::ostream& stream() { return out_; }
  /// Gives the file its name; an error when a write failed or the rename did.
  std::error_code commit();

 private:
  std::filesystem::path path_;
  std::filesystem::path temp_;
  std::ofstream out_;
  bool committed_ = false;
};

}  // namespace syncstorm
