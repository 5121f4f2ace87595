// Writing the report folder: every file at once, named as the README describes.
#include <filesystem>
#include <fstream>

#include "reports/report.hpp"

namespace syncstorm {

namespace {

std::string write_file(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  out.close();
  return out ? std::string() : "cannot write " + path.string();
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
                                   {"results.json", to_json(comparison)},
                                   {"results.csv", to_csv(comparison)}}) {
    if (std::string error = write_file(root / name, text); !error.empty()) return error;
  }
  for (const Diagram& d : comparison.diagrams) {
    if (std::string error = write_file(root / d.file, d.svg); !error.empty()) return error;
  }
  return {};
}

}  // namespace syncstorm
