// A tiny binary codec for model messages. Models talk only through bytes, as real replicas do: no
// pointer can leak from one replica into another, and every message has an honest size.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace syncstorm {

/// Appends little-endian fixed-width integers and length-prefixed strings.
class Writer {
 public:
  Writer& u8(std::uint8_t v) { out_.push_back(static_cast<char>(v)); return *this; }
  Writer& u32(std::uint32_t v) { return raw(&v, sizeof v); }
  Writer& u64(std::uint64_t v) { return raw(&v, sizeof v); }
  Writer& i64(std::int64_t v) { return raw(&v, sizeof v); }
  Writer& bytes(std::string_view v) {
    u32(static_cast<std::uint32_t>(v.size()));
    out_.append(v);
    return *this;
  }
  std::size_t size() const { return out_.size(); }
  /// Room for `n` more bytes: encoders that know their size append without regrowing.
  Writer& reserve(std::size_t n) { out_.reserve(out_.size() + n); return *this; }
  /// Appends `n` bytes for the caller to fill with put_u32 / put_u64: an encoder of many
  /// fixed-size records grows the buffer once instead of once per field.
  char* extend(std::size_t n) {
    const std::size_t at = out_.size();
    out_.resize(at + n);
    return out_.data() + at;
  }
  /// Write one field into extend()'s bytes and return the position after it (the same layout as
  /// u32 and u64).
  static char* put_u32(char* at, std::uint32_t v) { std::memcpy(at, &v, sizeof v); return at + sizeof v; }
  static char* put_u64(char* at, std::uint64_t v) { std::memcpy(at, &v, sizeof v); return at + sizeof v; }
  std::string take() { return std::move(out_); }

 private:
  // Fixed little-endian layout: every machine we target is little-endian; a big-endian port would
  // byte-swap here and nowhere else.
  Writer& raw(const void* p, std::size_t n) {
    out_.append(static_cast<const char*>(p), n);
    return *this;
  }
  std::string out_;
};

/// Reads what Writer wrote. A short or malformed input sets !ok() and yields zeros, never UB:
/// malicious clients send exactly such bytes.
class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  std::uint8_t u8() { std::uint8_t v = 0; raw(&v, 1); return v; }
  std::uint32_t u32() { std::uint32_t v = 0; raw(&v, sizeof v); return v; }
  std::uint64_t u64() { std::uint64_t v = 0; raw(&v, sizeof v); return v; }
  std::int64_t i64() { std::int64_t v = 0; raw(&v, sizeof v); return v; }
  std::string_view bytes() {
    const std::uint32_t n = u32();
    if (!ok_ || n > in_.size() - pos_) { ok_ = false; return {}; }
    std::string_view v = in_.substr(pos_, n);
    pos_ += n;
    return v;
  }
  bool ok() const { return ok_; }
  bool at_end() const { return pos_ == in_.size(); }

 private:
  void raw(void* p, std::size_t n) {
    if (!ok_ || n > in_.size() - pos_) { ok_ = false; return; }
    std::memcpy(p, in_.data() + pos_, n);
    pos_ += n;
  }
  std::string_view in_;
  std::size_t pos_ = 0;
  bool ok_ = true;
};

}  // namespace syncstorm
