// The Markdown summary of a check: what a CI job's page shows (GitHub's $GITHUB_STEP_SUMMARY, a
// GitLab or Buildkite annotation, a pull-request comment). Drawn from the JSON summary, so that a
// merge of shards writes the same page a single run of all their seeds would.
#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "sim/sweep/check.hpp"

namespace syncstorm {

namespace {

using Json = nlohmann::ordered_json;

/// Sections of failures, at most: a gate of many buggy models must still give a page a CI system
/// shows (GitHub cuts a step summary at 1 MiB); the JSON summary holds every one.
constexpr std::size_t kFailureSectionsMax = 40;
/// Passing pairs listed, at most (behind a fold: they are the dull part).
constexpr std::size_t kPassingRowsMax = 500;

/// A table cell: `|` ends a cell and a line break ends the row (an external model's name is a
/// command line, and may hold either).
std::string cell(std::string text) {
  std::string out;
  for (char c : text) {
    if (c == '|') out += "\\|";
    else if (c == '\n' || c == '\r') out += ' ';
    else out += c;
  }
  return out;
}

std::string plural(std::uint64_t n, const char* one, const char* many) { return fmt::format("{} {}", n, n == 1 ? one : many); }

std::string size_text(const Json& s) {
  return fmt::format("{}, {}, {}", plural(s["clients"].get<std::uint64_t>(), "client", "clients"),
                     plural(s["operations"].get<std::uint64_t>(), "operation", "operations"),
                     plural(s["faults"].get<std::uint64_t>(), "fault", "faults"));
}

std::string range_text(const Json& r) { return fmt::format("{}..{}", r["first"].get<std::uint64_t>(), r["last"].get<std::uint64_t>()); }

/// What failed in a pair: each invariant with its failing seeds and first seed, in the order found.
std::string what_failed(const Json& result) {
  std::string out;
  for (const Json& f : result["findability"]) {
    const std::string invariant = f["invariant"].get<std::string>();
    std::uint64_t first = 0;
    for (const Json& failure : result["failures"]) {
      if (failure["invariant"] == invariant) {
        first = failure["seed"].get<std::uint64_t>();
        break;
      }
    }
    out += fmt::format("{}{} ({}, first {})", out.empty() ? "" : "; ", invariant,
                       plural(f["failing_seeds"].get<std::uint64_t>(), "seed", "seeds"), first);
  }
  // Findability is empty when --fail-fast measured no rate: name the invariants of the failures.
  if (out.empty()) {
    for (const Json& failure : result["failures"]) {
      const std::string invariant = failure["invariant"].get<std::string>();
      if (out.find(invariant) == std::string::npos) {
        out += fmt::format("{}{} (first {})", out.empty() ? "" : "; ", invariant, failure["seed"].get<std::uint64_t>());
      }
    }
  }
  if (!result["divergences"].empty()) {
    out += fmt::format("{}nondeterminism ({})", out.empty() ? "" : "; ",
                       plural(result["divergences"].size(), "seed", "seeds"));
  }
  return out;
}

/// One failing pair's section: each invariant's shrunk repro (or the seed to replay when nothing was
/// shrunk), then the seeds whose two runs differed.
void failure_section(std::string& out, const Json& result) {
  const std::string pair = fmt::format("{} / {}", result["scenario"].get<std::string>(), result["model"].get<std::string>());
  std::set<std::string> shown;
  for (const Json& s : result["shrunk"]) {
    const std::string invariant = s["invariant"].get<std::string>();
    shown.insert(invariant);
    out += fmt::format("\n#### {}: {}\n\n", pair, invariant);
    out += fmt::format("First at seed {}; shrunk from {} to {} ({} runs, {}).\n\n", s["seed"].get<std::uint64_t>(),
                       size_text(s["before"]), size_text(s["after"]), s["shrink_runs"].get<std::uint64_t>(),
                       s["stopped"].get<std::string>());
    out += "```sh\n";
    const std::string repro = s["repro"].get<std::string>();
    if (!repro.empty()) {
      std::string page = repro;
      if (page.ends_with(".repro.toml")) page.resize(page.size() - std::string_view(".repro.toml").size());
      out += fmt::format("syncstorm replay {}\nsyncstorm replay {} --html {}.html\n", repro, repro, page);
    }
    for (const Json& f : result["failures"]) {
      if (f["seed"] == s["seed"] && f["invariant"] == s["invariant"]) out += f["replay"].get<std::string>() + "\n";
    }
    out += "```\n";
    if (repro.empty() && s.contains("repro_error")) out += fmt::format("\nNo repro file: {}\n", s["repro_error"].get<std::string>());
  }
  // Failures nothing stands for (--no-shrink, crashes): the first seed of each, to replay.
  for (const Json& f : result["failures"]) {
    const std::string invariant = f["invariant"].get<std::string>();
    if (!shown.insert(invariant).second) continue;
    out += fmt::format("\n#### {}: {}\n\nFirst at seed {}{}.\n\n```sh\n{}\n```\n", pair, invariant,
                       f["seed"].get<std::uint64_t>(),
                       f.contains("crash") ? fmt::format(" ({})", f["crash"].get<std::string>()) : std::string(),
                       f["replay"].get<std::string>());
  }
  for (const Json& d : result["divergences"]) {
    out += fmt::format("\n#### {}: nondeterminism\n\nSeed {} gave two traces ({} and {}), first different at line {}:\n\n"
                       "```\n{}\n{}\n```\n",
                       pair, d["seed"].get<std::uint64_t>(), d["first_hash"].get<std::string>(), d["second_hash"].get<std::string>(),
                       d["line"].get<std::uint64_t>(), d["first_event"].get<std::string>(), d["second_event"].get<std::string>());
  }
}

}  // namespace

std::string check_markdown(const std::string& summary_json) {
  const Json doc = Json::parse(summary_json);
  const bool failed = doc["verdict"] == "fail";
  const Json& results = doc["results"];
  std::size_t failing_pairs = 0;
  for (const Json& r : results) {
    if (r["failing_seeds"].get<std::uint64_t>() > 0 || !r["divergences"].empty()) ++failing_pairs;
  }
  std::string out = fmt::format("### syncstorm check: {}\n\n", failed ? "FAIL" : "PASS");
  std::string covered;
  for (const Json& r : doc["covered"]) covered += (covered.empty() ? "" : ", ") + range_text(r);
  out += fmt::format("Seeds {} (covered: {}); {} scenario x model pairs, {} failing", range_text(doc["requested"]),
                     covered.empty() ? "none" : covered, results.size(), failing_pairs);
  if (!doc["shard"].get<std::string>().empty()) out += fmt::format("; shard {}", doc["shard"].get<std::string>());
  if (!results.empty() && results[0].contains("explore")) out += fmt::format("; explore {}", results[0]["explore"].get<std::string>());
  out += ".";
  if (doc["budget_stopped"].get<bool>()) out += " The time budget ended the sweep.";
  if (doc["fail_fast_stopped"].get<bool>()) out += " `--fail-fast` ended the sweep at its first failing seed.";
  if (doc["verify_determinism_percent"].get<std::uint64_t>() > 0) {
    out += fmt::format(" Determinism: {}% of the seeds run twice.", doc["verify_determinism_percent"].get<std::uint64_t>());
  }
  out += "\n";

  std::size_t corpus_failed = 0;
  for (const Json& c : doc["corpus"]) corpus_failed += c["verdict"] == "fail" ? 1 : 0;
  if (!doc["corpus"].empty()) {
    out += fmt::format("\nCorpus: {} replayed, {} failing.\n", plural(doc["corpus"].size(), "repro", "repros"), corpus_failed);
    if (corpus_failed > 0) {
      out += "\n| repro | scenario | model | invariant | reproduced |\n|---|---|---|---|---|\n";
      for (const Json& c : doc["corpus"]) {
        if (c["verdict"] != "fail") continue;
        out += fmt::format("| {} | {} | {} | {} | {} |\n", cell(c["file"].get<std::string>()), cell(c["scenario"].get<std::string>()),
                           cell(c["model"].get<std::string>()), cell(c["invariant"].get<std::string>()),
                           c["expected_hash"] == c["trace_hash"] ? "same trace" : "another trace");
      }
    }
  }

  if (failing_pairs > 0) {
    out += "\n| scenario | model | seeds | failing | what failed |\n|---|---|---:|---:|---|\n";
    for (const Json& r : results) {
      if (r["failing_seeds"].get<std::uint64_t>() == 0 && r["divergences"].empty()) continue;
      out += fmt::format("| {} | {} | {} | {} | {} |\n", cell(r["scenario"].get<std::string>()), cell(r["model"].get<std::string>()),
                         r["seeds_run"].get<std::uint64_t>(), r["failing_seeds"].get<std::uint64_t>(), cell(what_failed(r)));
    }
  }
  const std::size_t passing = results.size() - failing_pairs;
  if (passing > 0) {
    out += fmt::format("\n<details><summary>{} passing</summary>\n\n| scenario | model | seeds |\n|---|---|---:|\n",
                       plural(passing, "pair", "pairs"));
    std::size_t listed = 0;
    for (const Json& r : results) {
      if (r["failing_seeds"].get<std::uint64_t>() > 0 || !r["divergences"].empty()) continue;
      if (++listed > kPassingRowsMax) break;
      out += fmt::format("| {} | {} | {} |\n", cell(r["scenario"].get<std::string>()), cell(r["model"].get<std::string>()),
                         r["seeds_run"].get<std::uint64_t>());
    }
    if (passing > kPassingRowsMax) out += fmt::format("\nand {} more in the JSON summary.\n", passing - kPassingRowsMax);
    out += "\n</details>\n";
  }

  std::size_t sections = 0;
  for (const Json& r : results) {
    if (r["failing_seeds"].get<std::uint64_t>() == 0 && r["divergences"].empty()) continue;
    if (++sections > kFailureSectionsMax) {
      out += fmt::format("\n{} more failing pairs: the JSON summary and the job's log have them.\n", failing_pairs - kFailureSectionsMax);
      break;
    }
    failure_section(out, r);
  }
  return out;
}

}  // namespace syncstorm
