// The canaries: every deliberately buggy baseline shipped in-process must be caught, by the invariant
// it is known to break, on some shipped scenario within 200 seeds. The test prints how many seeds each
// needed, so a checker that grows blind shows up as a number that climbs before it fails.
#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include "sim/cli/commands.hpp"
#include "sim/engine/simulation.hpp"
#include "tests/printers.hpp"

using namespace syncstorm;

namespace {

/// The names of the in-process models that say which invariant they break: the canaries. The bug
/// suite is not among them: some of its bugs need thousands of seeds (tests/models/bugs/ pins each).
std::vector<std::string> buggy_in_process(const ModelRegistry& models) {
  std::vector<std::string> names;
  for (const ModelInfo& model : models.all()) {
    if (!model.correct() && !model.external && !model.bug_suite) names.push_back(model.name);
  }
  return names;
}

/// Names joined by commas, or "none".
std::string listed(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& name : names) out += (out.empty() ? "" : ", ") + name;
  return out.empty() ? "none" : out;
}

}  // namespace

TEST_CASE("the baselines we know are buggy still say which invariant they break", "[canary]") {
  // A model is correct exactly when it names no invariant it breaks. A baseline that lost its `breaks`
  // would pass as correct, and the canary test below would quietly stop running it: this list is what
  // notices. A new baseline needs no entry here to be a canary, but deserves one.
  const std::vector<std::string> known = {
      "lww-map-wallclock", "counter-no-dedup", "server-authoritative-silent", "replace-all", "union-set-list",
      "tombstone-ttl-list", "outbox-map-memory", "outbox-map-newest-first", "outbox-map-rebuilding-server",
      "outbox-map-no-rebase", "outbox-map-subscribe-first", "outbox-map-field-shards", "eventstore-map-unbounded", "broker-map-at-most-once", "guarded-map-trusting",
      "undo-map-snapshot", "p2p-lww-map-no-gossip", "refetch-map-read-replicas", "versioned-map-no-upcast",
      "siblings-map", "index-text", "event-log-list-fire-and-forget", "event-log-list-undo-window"};
  const std::vector<std::string> shipped = buggy_in_process(shipped_models());
  std::vector<std::string> missing;
  for (const std::string& name : known) {
    if (std::find(shipped.begin(), shipped.end(), name) == shipped.end()) missing.push_back(name);
  }
  INFO("buggy in-process models shipped: " << listed(shipped));
  CHECK(listed(missing) == "none");
}

TEST_CASE("every buggy baseline is caught by its own invariant within 200 seeds of a shipped scenario",
          "[canary]") {
  const ModelRegistry models = shipped_models();
  auto scenarios = shipped_scenarios();
  REQUIRE(scenarios.ok());
  const std::vector<std::string> canaries = buggy_in_process(models);
  REQUIRE_FALSE(canaries.empty());
  std::vector<std::string> uncaught;
  for (const std::string& name : canaries) {
    const ModelInfo& model = *models.find(name);
    std::optional<std::pair<std::string, std::uint64_t>> caught;
    // Seeds are the outer loop, so the first catch is found after the fewest runs on any scenario.
    for (std::uint64_t seed = 1; seed <= 200 && !caught; ++seed) {
      for (const Scenario& scenario : scenarios.value()) {
        if (!fits(scenario, model)) continue;
        const Schedule schedule = make_schedule(scenario, model, seed);
        const RunResult r = run_simulation(scenario, model, schedule, seed);
        const bool found = std::any_of(r.violations.begin(), r.violations.end(),
                                       [&](const Violation& v) { return v.invariant == *model.breaks; });
        if (found) {
          caught.emplace(scenario.name, seed);
          break;
        }
      }
    }
    if (!caught) {
      uncaught.push_back(name + " (" + std::string(to_string(*model.breaks)) + ")");
      continue;
    }
    WARN("canary " << model.name << ": " << to_string(*model.breaks) << " caught on " << caught->first << " at seed "
                   << caught->second);
  }
  // Named, so that a failure says which baselines slipped through, not how many.
  CHECK(listed(uncaught) == "none");
}

TEST_CASE("every correct model passes the first seeds of every shipped scenario it fits", "[canary][slow]") {
  // The quick version of the CI gate (`./setup.sh test` runs 1,000 seeds of exactly these pairs).
  constexpr std::uint64_t kSeeds = 5;
  const ModelRegistry models = shipped_models();
  auto scenarios = shipped_scenarios();
  REQUIRE(scenarios.ok());
  std::vector<std::string> unjudged;  // correct models that no shipped scenario fits
  for (const ModelInfo& model : models.all()) {
    if (!model.correct() || model.external) continue;
    const bool judged = std::any_of(scenarios.value().begin(), scenarios.value().end(),
                                    [&](const Scenario& scenario) { return fits(scenario, model); });
    if (!judged) unjudged.push_back(model.name);
  }
  CHECK(listed(unjudged) == "none");
  for (const Scenario& scenario : scenarios.value()) {
    for (const ModelInfo& model : models.all()) {
      if (!model.correct() || model.external || !fits(scenario, model)) continue;
      for (std::uint64_t seed = 1; seed <= kSeeds; ++seed) {
        const RunResult r = run_simulation(scenario, model, make_schedule(scenario, model, seed), seed);
        for (const Violation& v : r.violations) {
          FAIL_CHECK(model.name << " on " << scenario.name << " seed " << seed << ": " << to_string(v.invariant) << ": "
                                << v.detail);
        }
      }
    }
  }
}

TEST_CASE("siblings-map is caught by its metadata growth where it stays far below the absolute bound", "[canary]") {
  // Its siblings add 32 bytes per write to every replica: a few KB in these runs, against a bound
  // of 1 MB. Only the growth check, which compares each replica with its own earlier samples, sees it.
  const ModelRegistry models = shipped_models();
  const ModelInfo* model = models.find("siblings-map");
  REQUIRE(model != nullptr);
  auto scenarios = shipped_scenarios();
  REQUIRE(scenarios.ok());
  std::size_t judged = 0;
  for (const Scenario& scenario : scenarios.value()) {
    if (!fits(scenario, *model) || scenario.invariants.metadata_bytes_max < InvariantOptions{}.metadata_bytes_max) continue;
    if (scenario.name != "quiet" && scenario.name != "clock-skew" && scenario.name != "swarm") continue;
    ++judged;
    std::optional<std::uint64_t> caught;
    for (std::uint64_t seed = 1; seed <= 20 && !caught; ++seed) {
      const RunResult r = run_simulation(scenario, *model, make_schedule(scenario, *model, seed), seed);
      INFO(scenario.name << " seed " << seed);
      CHECK(r.metrics.metadata_bytes_max * 50 < scenario.invariants.metadata_bytes_max);
      for (const Violation& v : r.violations) {
        if (v.invariant == Invariant::bounded_metadata && v.expected.find("grows no faster") != std::string::npos) {
          caught = seed;
        }
      }
    }
    INFO("scenario " << scenario.name);
    CHECK(caught.has_value());
  }
  CHECK(judged == 3);
}

TEST_CASE("the text canary: index-text diverges in element order, and its wrong deletes lose inserts, bring deleted ones back and pull them from views",
          "[canary]") {
  // The text paths of the checkers through the whole engine (element order in convergence, an
  // element gone without the delete that named it, a deleted element back, an element vanishing
  // from a user's view): edits applied at stale indices must show as all of them.
  const ModelRegistry models = shipped_models();
  auto scenarios = shipped_scenarios();
  REQUIRE(scenarios.ok());
  const ModelInfo& model = *models.find("index-text");
  int runs = 0;
  for (const Scenario& scenario : scenarios.value()) {
    if (scenario.name != "quiet") continue;
    ++runs;
    const RunResult r = run_simulation(scenario, model, make_schedule(scenario, model, 1), 1);
    const auto shows = [&](Invariant invariant, const std::string& words) {
      return std::any_of(r.violations.begin(), r.violations.end(), [&](const Violation& v) {
        return v.invariant == invariant && (v.detail.find(words) != std::string::npos || v.subject.find(words) != std::string::npos);
      });
    };
    CHECK(shows(Invariant::convergence, "First difference: element"));
    CHECK(shows(Invariant::lost_acknowledged_write, "text element"));
    CHECK(shows(Invariant::resurrection, "text element"));
    CHECK(shows(Invariant::monotonic_reads, "text element"));
    // The correct text CRDT on the same schedule: no finding.
    const RunResult rga = run_simulation(scenario, *models.find("rga-text"), make_schedule(scenario, DataType::text, 1), 1);
    CHECK(rga.violations.empty());
  }
  CHECK(runs == 1);
}

TEST_CASE("the list-remove rollback canary: event-log-list-fire-and-forget brings back a remove its user was never answered about",
          "[canary]") {
  // The silent-rollback path for list removes through the whole engine: a remove made offline is
  // dropped on reconnect without a word, and its item shows again on its user's own replica.
  const ModelRegistry models = shipped_models();
  auto scenarios = shipped_scenarios();
  REQUIRE(scenarios.ok());
  int runs = 0;
  for (const Scenario& scenario : scenarios.value()) {
    if (scenario.name != "offline-editing") continue;
    ++runs;
    const Schedule schedule = make_schedule(scenario, DataType::list, 14);
    const RunResult r = run_simulation(scenario, *models.find("event-log-list-fire-and-forget"), schedule, 14);
    const bool undone = std::any_of(r.violations.begin(), r.violations.end(), [](const Violation& v) {
      return v.invariant == Invariant::silent_rollback && v.detail.find("never acknowledged nor rejected") != std::string::npos &&
             v.observed.find("(the removing client)") != std::string::npos;
    });
    CHECK(undone);
    // The same strategy with its removes in the outbox, on the same schedule: no finding.
    const RunResult correct = run_simulation(scenario, *models.find("event-log-list"), schedule, 14);
    CHECK(correct.violations.empty());
  }
  CHECK(runs == 1);
}
