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

/// `.NAME.tmp.PID` beside `path`. The process id only keeps two writers' temporary names apart; no
/// file's content depends on it.
std::filesystem::path temporary_path(const std::filesystem::path& path) {
  std::filesystem::path temp = path;
  temp.replace_filename("." + path.filename().string() + ".tmp." + std::to_string(::getpid()));  // determinism-ok: a temporary name only
  return temp;
}

}  // namespace

std::error_code write_file_atomically(const std::filesystem::path& path, std::string_view text, IfExists if_exists) {
  const std::filesystem::path temp = temporary_path(path);
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

StreamedFile::StreamedFile(std::filesystem::path path) : path_(std::move(path)), temp_(temporary_path(path_)) {
  out_.open(temp_, std::ios::binary | std::ios::trunc);
}

StreamedFile::~StreamedFile() {
  if (committed_) return;
  if (out_.is_open()) out_.close();
  ::unlink(temp_.c_str());
}

std::error_code StreamedFile::commit() {
  out_.flush();
  const bool written = out_.good();
  out_.close();
  if (!written) return std::make_error_code(std::errc::io_error);
  // The stream cannot fsync: its bytes are in the file now, and any descriptor of it can.
  const int fd = ::open(temp_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return last_error();
  std::error_code ec;
  if (::fsync(fd) != 0) ec = last_error();
  ::close(fd);
  if (!ec) std::filesystem::rename(temp_, path_, ec);
  committed_ = !ec;
  return ec;
}

}  // namespace syncstorm
