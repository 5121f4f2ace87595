// Runs the benchmarks with Google Benchmark and prints, after its own output, one table: each figure
// beside its baseline from the same process and their ratio. Speed is published here, never asserted
// in a unit test.
#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

namespace {

class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& run : runs) {
      if (run.error_occurred) continue;
      const auto count = [&](const char* counter) {
        auto c = run.counters.find(counter);
        return c != run.counters.end() ? static_cast<double>(c->second) : 0.0;
      };
      const double rate = count("items_per_second");
      const std::string name = run.benchmark_name();
      // Keep the median of repetitions when they are aggregated, else the plain run.
      if (run.run_type == Run::RT_Aggregate && run.aggregate_name != "median") continue;
      std::string key = name.substr(0, name.find("_median"));
      if (const auto real = key.find("/real_time"); real != std::string::npos) key.erase(real, 10);
      if (const auto iterations = key.find("/iterations:"); iterations != std::string::npos) key.erase(iterations);
      rates_[key] = rate;
      if (key.starts_with("scale/")) {
        const double storms = std::max(1.0, count("storms"));
        scale_[key] = Scale{run.GetAdjustedRealTime() / storms, count("peak_rss_MB"), count("bytes_per_client")};
      }
      if (key.starts_with("work/")) {
        work_[key] = Work{rate, count("events_per_s"), count("sim_s_per_s")};
      }
    }
  }
  void Finalize() override {
    ConsoleReporter::Finalize();
    // Machine-readable: one "rate NAME ITEMS_PER_WALL_SECOND" line per figure, for run_all.sh.
    fmt::print("\n");
    for (const auto& [name, rate] : rates_) {
      if (rate > 0) fmt::print("rate {} {:.0f}\n", name, rate);  // timed-only figures (shrink) have no rate
    }
    fmt::print("\n{:<44} {:>16} {:>16} {:>8}\n", "figure (items per second, median)", "syncstorm", "baseline", "ratio");
    for (const auto& [name, rate] : rates_) {
      // A figure "X/engine/..." pairs with "X/baseline/..." of the same arguments, ".../jobs2"
      // (two threads) with ".../jobs1", and ".../v2" with ".../v1" and ".../v2-unpinned".
      std::string baseline = name;
      if (const auto at = name.find("/engine"); at != std::string::npos) {
        baseline.replace(at, 7, "/baseline");
      } else if (name.ends_with("/jobs2")) {
        baseline.replace(baseline.size() - 5, 5, "jobs1");
      } else if (name.ends_with("/v2")) {  // an adapter in protocol version 2, against version 1
        baseline.replace(baseline.size() - 2, 2, "v1");
        // and against itself with the adapter left wherever the scheduler puts it
        const auto unpinned = rates_.find(name + "-unpinned");
        if (unpinned != rates_.end() && unpinned->second > 0) {
          fmt::print("{:<44} {:>16.0f} {:>16.0f} {:>8.2f}\n", name + " vs unpinned", rate, unpinned->second, rate / unpinned->second);
        }
      } else {
        continue;
      }
      auto b = rates_.find(baseline);
      if (b == rates_.end() || b->second <= 0) continue;
      fmt::print("{:<44} {:>16.0f} {:>16.0f} {:>8.2f}\n", name, rate, b->second, rate / b->second);
    }
    print_work();
    print_scale();
  }

 private:
  struct Scale {
    double real_time = 0;  ///< of one storm, in the benchmark's unit (milliseconds)
    double peak_rss_mb = 0;
    double bytes_per_client = 0;
  };

  /// The scale runs ("scale/<scenario>/<model>/<clients>") beside the smallest one of the same
  /// scenario and model: how time per event (events are proportional to clients) and memory per
  /// client grow with the client count. 1.00 would be a constant cost per client.
  void print_scale() const {
    if (scale_.empty()) return;
    fmt::print("\n{:<44} {:>10} {:>12} {:>10} {:>14} {:>12}\n", "scale (median)", "wall ms", "events/s",
               "peak MB", "bytes/client", "time/event");
    std::map<std::string, std::pair<unsigned long, std::string>> smallest;  // prefix -> (clients, figure)
    for (const auto& [name, figure] : scale_) {
      const auto slash = name.rfind('/');
      const unsigned long clients = std::stoul(name.substr(slash + 1));
      auto [it, fresh] = smallest.try_emplace(name.substr(0, slash), clients, name);
      if (!fresh && clients < it->second.first) it->second = {clients, name};
    }
    for (const auto& [name, figure] : scale_) {
      const std::string& base = smallest.at(name.substr(0, name.rfind('/'))).second;
      const double rate = rates_.at(name);
      const double base_rate = rates_.at(base);
      fmt::print("{:<44} {:>10.0f} {:>12.0f} {:>10.0f} {:>14.0f} {:>11.2f}x\n", name, figure.real_time, rate,
                 figure.peak_rss_mb, figure.bytes_per_client, rate > 0 ? base_rate / rate : 0.0);
    }
    print_scale_reference(smallest);
  }

  /// What the memory hierarchy alone does to a per-item cost over the same sizes: the hold pattern
  /// with our engine and with the bare binary heap (whose work per event grows only as log n),
  /// when those ran in this process too. A storm whose time per event grows no more than the bare
  /// heap's does no work per message in proportion to its clients.
  void print_scale_reference(const std::map<std::string, std::pair<unsigned long, std::string>>& smallest) const {
    for (const auto& [family, base] : smallest) {
      std::vector<unsigned long> sizes;
      for (const auto& [name, figure] : scale_) {
        if (name.starts_with(family + "/")) sizes.push_back(std::stoul(name.substr(family.size() + 1)));
      }
      for (const char* reference : {"hold/baseline", "hold/engine"}) {
        const auto small = rates_.find(fmt::format("{}/{}", reference, base.first));
        if (small == rates_.end() || small->second <= 0) continue;
        for (const unsigned long n : sizes) {
          const auto large = rates_.find(fmt::format("{}/{}", reference, n));
          if (n == base.first || large == rates_.end() || large->second <= 0) continue;
          fmt::print("{:<44} {:>61.2f}x\n", fmt::format("  reference: {}/{}", reference, n), small->second / large->second);
        }
      }
    }
  }

  struct Work {
    double seeds_per_s = 0;
    double events_per_s = 0;
    double simulated_s_per_s = 0;  ///< simulated seconds per wall second
  };

  static double median_of(std::vector<double> values) {
    if (values.empty()) return 0;
    std::sort(values.begin(), values.end());
    const std::size_t mid = values.size() / 2;
    return values.size() % 2 == 1 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
  }

  /// The real work ("work/<scenario>/<model>/jobs1|jobs2"): each pair's seeds per second on one
  /// and two jobs, its events and simulated seconds per wall second on one, then each scenario
  /// over its models (the median, and the slowest model, which is what bounds a CI sweep).
  void print_work() const {
    struct Pair {
      const Work* one = nullptr;
      const Work* two = nullptr;
    };
    std::map<std::string, Pair> pairs;  // "scenario/model"
    for (const auto& [name, figure] : work_) {
      const auto jobs = name.rfind("/jobs");
      if (jobs == std::string::npos) continue;
      Pair& pair = pairs[name.substr(5, jobs - 5)];
      (name.ends_with("/jobs1") ? pair.one : pair.two) = &figure;
    }
    if (pairs.empty()) return;
    const auto seeds = [](const Work* w) { return w != nullptr ? w->seeds_per_s : 0.0; };
    fmt::print("\n{:<52} {:>10} {:>10} {:>12} {:>12} {:>10}\n", "real work (median)", "seeds/s j1", "seeds/s j2",
               "ms/seed j1", "events/s j1", "sim s/s j1");
    for (const auto& [name, pair] : pairs) {
      const double one = seeds(pair.one);
      fmt::print("{:<52} {:>10.0f} {:>10.0f} {:>12.2f} {:>12.0f} {:>10.0f}\n", name, one, seeds(pair.two),
                 one > 0 ? 1000 / one : 0.0, pair.one ? pair.one->events_per_s : 0.0,
                 pair.one ? pair.one->simulated_s_per_s : 0.0);
    }
    struct Family {
      std::vector<double> one, two, events, simulated;
      std::string slowest;
      double slowest_two = 0;
    };
    std::map<std::string, Family> scenarios;
    for (const auto& [name, pair] : pairs) {
      const auto slash = name.find('/');
      Family& f = scenarios[name.substr(0, slash)];
      if (pair.one != nullptr) {
        f.one.push_back(pair.one->seeds_per_s);
        f.events.push_back(pair.one->events_per_s);
        f.simulated.push_back(pair.one->simulated_s_per_s);
      }
      if (pair.two != nullptr) {
        f.two.push_back(pair.two->seeds_per_s);
        if (f.slowest.empty() || pair.two->seeds_per_s < f.slowest_two) {
          f.slowest = name.substr(slash + 1);
          f.slowest_two = pair.two->seeds_per_s;
        }
      }
    }
    fmt::print("\n{:<44} {:>6} {:>10} {:>10} {:>12} {:>10}   {}\n", "real work by scenario (median of models)",
               "models", "seeds/s j1", "seeds/s j2", "events/s j1", "sim s/s j1", "slowest model on 2 jobs (seeds/s)");
    for (const auto& [name, f] : scenarios) {
      fmt::print("{:<44} {:>6} {:>10.0f} {:>10.0f} {:>12.0f} {:>10.0f}   {} ({:.0f})\n", name, f.two.size(), median_of(f.one),
                 median_of(f.two), median_of(f.events), median_of(f.simulated), f.slowest, f.slowest_two);
    }
  }

  std::map<std::string, double> rates_;
  std::map<std::string, Scale> scale_;
  std::map<std::string, Work> work_;
};

}  // namespace

void register_work_benchmarks();
void register_shrink_benchmarks();
void register_external_benchmarks();
void register_exploration_benchmarks();
void print_exploration_table();

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  register_work_benchmarks();
  register_shrink_benchmarks();
  register_external_benchmarks();
  register_exploration_benchmarks();
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  print_exploration_table();
  benchmark::Shutdown();
  return 0;
}
