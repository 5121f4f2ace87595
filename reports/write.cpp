// Writing the report folder: every file at once, named as the README describes. Each file is
// replaced in one rename (sim/base/atomic_file.hpp): a compare killed while writing leaves each file
// either as the previous report had it or complete, never cut short.
#include <filesystem>

#include "reports/report.hpp"
#include "sim/base/atomic_file.hpp"

namespace syncstorm {

namespace {

std::string write_file(const std::filesystem::path& path, const std::string& text) {
  const std::error_code ec = write_file_atomically(path, text);
  return ec ? "cannot write " + path.string() + ": " + ec.message() : std::string();
}

}  // namespace

std::string write_report(const Comparison& comparison, const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return "cannot create the folder " + dir + ": " + ec.message();
  const fs::path root(dir);
  for (const auto& [name, text] : {std::pair<std::string, std::string>{"index.html", to_html(comparison)},
                                   {"report.md", to_markdown(comparison)},
                                   {"summary.md", to_markdown_summary(comparison)},
                                   {"results.json", to_json(comparison)},
                                   {"results.csv", to_csv(comparison)}}) {
    if (std::string error = write_file(root / name, text); !error.empty()) return error;
  }
  for (const Diagram& d : comparison.diagrams) {
    if (std::string error = write_file(root / d.file, d.svg); !error.empty()) return error;
    if (std::string error = write_file(root / d.timeline_file, d.timeline); !error.empty()) return error;
  }
  return {};
}

}  // namespace syncstorm
