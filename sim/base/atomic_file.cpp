#include "sim/base/atomic_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <string>

namespace syncstorm {

namespace {

std::error_code last_error() { return {errno, std::generic_category()}; }

/// Writes every byte of `text` to `fd`, retrying short writes and interruptions.
std::error_code write_all(int fd, std::string_view text) {
  while (!text.empty()) {
    const ssize_t n = ::write(fd, text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return n < 0 ? last_error() : std::make_error_code(std::errc::io_error);
    text.remove_prefix(static_cast<std::size_t>(n));
  }
  return {};
}

/// Writes `text` to a new file at `temp` and flushes it to the disk.
std::error_code write_temporary(const std::filesystem::path& temp, std::string_view text) {
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return last_error();
  std::error_code ec = write_all(fd, text);
  if (!ec && ::fsync(fd) != 0) ec = last_error();
  if (::close(fd) != 0 && !ec) ec = last_error();
  return ec;
}

}  // namespace

std::error_code write_file_atomically(const std::filesystem::path& path, std::string_view text, IfExists if_exists) {
  std::filesystem::path temp = path;
  // The process id only keeps two writers' temporary names apart; no file's content depends on it.
  temp.replace_filename("." + path.filename().string() + ".tmp." + std::to_string(::getpid()));  // determinism-ok: a temporary name only
  if (std::error_code ec = write_temporary(temp, text)) {
    ::unlink(temp.c_str());
    return ec;
  }
  std::error_code ec;
  if (if_exists == IfExists::replace) {
    std::filesystem::rename(temp, path, ec);
  } else if (::link(temp.c_str(), path.c_str()) != 0) {
    ec = last_error();  // EEXIST: the old file stays, as asked
  }
  if (ec || if_exists == IfExists::keep) ::unlink(temp.c_str());
  return ec;
}

}  // namespace syncstorm
