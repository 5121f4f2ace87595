#include "reports/junit.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

#include <map>
#include <vector>

#include "sim/sweep/repro.hpp"

namespace syncstorm {

namespace {

/// One <testcase>, before it is written.
struct Case {
  std::string name;
  std::string classname;
  double seconds = 0;
  bool failed = false;
  std::string message;  ///< the short failure line (an attribute)
  std::string body;     ///< the full report and the replay command
  std::vector<std::pair<std::string, std::string>> properties;  ///< the suite's <property> entries this case adds
};

/// What a failing target's <failure> says: each failing invariant's first seed, its report, and how
/// to replay it (the shrunk repro when there is one, else the seed).
Case target_case(const TargetResult& t) {
  Case c{t.model, fmt::format("syncstorm.{}", t.scenario), t.wall_seconds, t.failed(), {}, {}, {}};
  if (!c.failed) return c;
  c.message = fmt::format("{} of {} seeds failed", t.failing_seeds, t.seeds_run);
  for (const Findability& f : findability(t)) {
    c.body += findability_line(f) + "\n";
    // Properties, so CI dashboards can chart how findable each failure is without parsing the text.
    const std::string prefix = fmt::format("{} {}", t.model, f.invariant);
    c.properties.emplace_back(prefix + " failing seeds", fmt::format("{}/{}", f.failing_seeds, f.seeds_run));
    c.properties.emplace_back(prefix + " clean seeds to trust a fix", fmt::format("{}", f.clean_seeds_to_trust));
  }
  if (!c.body.empty()) c.body += "\n";
  std::map<std::string, const ShrinkResult*> shrunk;
  for (const ShrinkResult& r : t.shrunk) shrunk[r.invariant] = &r;
  std::vector<std::string> seen;
  for (const SeedFailure& f : t.failures) {
    if (std::find(seen.begin(), seen.end(), f.invariant) != seen.end()) continue;
    seen.push_back(f.invariant);
    c.body += fmt::format("{} (first at seed {}, trace hash {:016x})\n{}\n", f.invariant, f.seed, f.trace_hash, f.report);
    c.body += fmt::format("replay: {}\n", replay_command(t.replay_scenario, t.model, f.seed, t.explore));
    if (auto it = shrunk.find(f.invariant); it != shrunk.end()) {
      const ShrinkResult& r = *it->second;
      c.body += fmt::format("shrunk: {} clients, {} operations, {} faults -> {} clients, {} operations, {} faults\n",
                            r.before.clients, r.before.operations, r.before.faults, r.after.clients, r.after.operations,
                            r.after.faults);
      if (!r.repro_path.empty()) c.body += fmt::format("replay the shrunk repro: syncstorm replay {}\n", r.repro_path);
      if (!r.repro_error.empty()) c.body += fmt::format("no repro file: {}\n", r.repro_error);
    }
    c.body += "\n";
  }
  for (const Divergence& d : t.divergences) {
    c.message += fmt::format("; seed {} is not deterministic", d.seed);
    c.body += fmt::format("nondeterminism at seed {}: trace hash {:016x} then {:016x}; first divergent event at line {}:\n"
                          "  {}\n  {}\n",
                          d.seed, d.first_hash, d.second_hash, d.line, d.first_event, d.second_event);
  }
  return c;
}

Case corpus_case(const CorpusResult& r) {
  Case c{r.file, "syncstorm.corpus", r.wall_seconds, r.failed(), {}, {}, {}};
  if (!c.failed) return c;
  c.message = fmt::format("repro still fails: {}", fmt::join(r.failing, ", "));
  c.body = fmt::format("{}\n\nreplay: syncstorm replay {}\n", r.report, r.file);
  return c;
}

void write_suite(std::string& out, const std::string& name, const std::vector<Case>& cases) {
  double seconds = 0;
  std::size_t failures = 0;
  for (const Case& c : cases) {
    seconds += c.seconds;
    failures += c.failed ? 1 : 0;
  }
  out += fmt::format("  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"0\" time=\"{:.3f}\">\n",
                     xml_escape(name), cases.size(), failures, seconds);
  std::string properties;
  for (const Case& c : cases) {
    for (const auto& [key, value] : c.properties) {
      properties += fmt::format("      <property name=\"{}\" value=\"{}\"/>\n", xml_escape(key), xml_escape(value));
    }
  }
  if (!properties.empty()) out += "    <properties>\n" + properties + "    </properties>\n";
  for (const Case& c : cases) {
    out += fmt::format("    <testcase name=\"{}\" classname=\"{}\" time=\"{:.3f}\"", xml_escape(c.name), xml_escape(c.classname),
                       c.seconds);
    if (!c.failed) {
      out += "/>\n";
      continue;
    }
    out += fmt::format(">\n      <failure message=\"{}\" type=\"violation\">{}</failure>\n    </testcase>\n",
                       xml_escape(c.message), xml_escape(c.body));
  }
  out += "  </testsuite>\n";
}

}  // namespace

std::string xml_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default:
        // XML 1.0 forbids most control characters even when escaped; a report never needs them.
        if (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t' && c != '\r') out += '?';
        else out += c;
    }
  }
  return out;
}

std::string check_junit(const CheckReport& report) {
  // Scenarios keep the order of the targets; each becomes one suite.
  std::vector<std::pair<std::string, std::vector<Case>>> suites;
  for (const TargetResult& t : report.targets) {
    auto it = std::find_if(suites.begin(), suites.end(), [&](const auto& s) { return s.first == t.scenario; });
    if (it == suites.end()) it = suites.insert(suites.end(), {t.scenario, {}});
    it->second.push_back(target_case(t));
  }
  std::vector<Case> corpus;
  for (const CorpusResult& r : report.corpus) corpus.push_back(corpus_case(r));
  std::size_t tests = corpus.size();
  std::size_t failures = 0;
  for (const Case& c : corpus) failures += c.failed ? 1 : 0;
  for (const auto& [name, cases] : suites) {
    tests += cases.size();
    for (const Case& c : cases) failures += c.failed ? 1 : 0;
  }
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  out += fmt::format("<testsuites name=\"syncstorm check\" tests=\"{}\" failures=\"{}\" errors=\"0\" time=\"{:.3f}\">\n", tests,
                     failures, report.wall_seconds);
  if (!corpus.empty()) write_suite(out, "corpus", corpus);
  for (const auto& [name, cases] : suites) write_suite(out, name, cases);
  out += "</testsuites>\n";
  return out;
}

}  // namespace syncstorm
