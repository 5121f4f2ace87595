#include "sim/sweep/repro.hpp"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <ranges>
#include <sstream>
#include <utility>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "sim/base/atomic_file.hpp"
#include "sim/scenario/limits.hpp"
#include "sim/scenario/toml_file.hpp"

namespace syncstorm {

namespace {

// ---- writing ----

std::string toml_string(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out + "\"";
}

std::string node_list(const std::vector<NodeId>& nodes) {
  std::string out = "[";
  for (std::size_t i = 0; i < nodes.size(); ++i) out += fmt::format("{}{}", i ? ", " : "", nodes[i].value);
  return out + "]";
}

void write_latency(std::string& out, std::string_view table, const LatencyOptions& l) {
  out += fmt::format("\n[{}]\nmin_us = {}\nmedian_us = {}\np99_us = {}\n", table, l.min.us, l.median.us, l.p99.us);
}

void write_network(std::string& out, const NetworkOptions& n) {
  out += "\n# The network settings of this run, after swarm mode's draws.\n[network]\n";
  out += fmt::format("client_link = \"{}\"\n", name_of(kLinkKindNames, n.client_link));
  out += fmt::format("bandwidth_bytes_per_s = {}\ndrop_ppm = {}\nduplicate_ppm = {}\nreorder_ppm = {}\n",
                     n.bandwidth_bytes_per_s, n.drop, n.duplicate, n.reorder);
  out += fmt::format("reorder_delay_us = {}\ndead_connection_timeout_us = {}\nconnect_timeout_us = {}\n",
                     n.reorder_delay.us, n.dead_connection_timeout.us, n.connect_timeout.us);
  out += fmt::format("assignment = \"{}\"\n", name_of(kServerAssignmentNames, n.assignment));
  write_latency(out, "network.latency", n.latency);
  write_latency(out, "network.peer_latency", n.peer_latency);
  write_latency(out, "network.server_latency", n.server_latency);
  const BackoffOptions& b = n.backoff;
  out += fmt::format("\n[network.backoff]\npolicy = \"{}\"\nbase_us = {}\nmax_us = {}\nmultiplier_milli = {}\n",
                     name_of(kBackoffPolicyNames, b.policy), b.base.us, b.max.us, b.multiplier_milli);
  out += fmt::format("jitter = \"{}\"\nrandomization_ppm = {}\njitter_first_attempt = {}\n", name_of(kJitterNames, b.jitter),
                     b.randomization, b.jitter_first_attempt);
}

void write_operation(std::string& out, const Operation& op) {
  out += fmt::format("\n[[operation]]\nid = {}\nclient = {}\nat_us = {}\nkind = \"{}\"\nkey = {}\n", op.id.value,
                     op.client.value, op.issued_at.us, to_string(op.kind), op.key.value);
  if (op.amount != 0) out += fmt::format("amount = {}\n", op.amount);
  if (op.position_ppm != 0) out += fmt::format("position_ppm = {}\n", op.position_ppm);
}

void write_fault(std::string& out, const ScheduledFault& f) {
  out += fmt::format("\n[[fault]]\nkind = \"{}\"\nstart_us = {}\nduration_us = {}\nside_a = {}\n", to_string(f.kind),
                     f.start.us, f.duration.us, node_list(f.side_a));
  if (!f.side_b.empty()) out += fmt::format("side_b = {}\n", node_list(f.side_b));
  if (!f.bridge.empty()) out += fmt::format("bridge = {}\n", node_list(f.bridge));
  if (f.one_way) out += "one_way = true\n";
  if (f.amount.us != 0) out += fmt::format("amount_us = {}\n", f.amount.us);
  if (f.bytes != 0) out += fmt::format("bytes = {}\n", f.bytes);
  if (f.ppm != 0) out += fmt::format("ppm = {}\n", f.ppm);
}

// ---- reading ----

// The keys a repro file accepts, table by table: every key format_repro writes. A key not listed is
// an error (a typo in a hand-edited repro must not be silently ignored).
constexpr std::string_view kTopKeys[] = {"format", "scenario", "scenario_file", "model", "seed", "invariant",
                                         "trace_hash", "original", "persistence", "invariants", "schedule",
                                         "network", "operation", "fault"};
constexpr std::string_view kOriginalKeys[] = {"clients", "operations", "faults"};
constexpr std::string_view kPersistenceKeys[] = {"client", "server", "lose_unflushed"};
constexpr std::string_view kInvariantKeys[] = {"enabled", "settle_us", "convergence_bound_us", "metadata_bytes_max",
                                               "metadata_growth_milli_max", "metadata_growth_bytes_min"};
constexpr std::string_view kScheduleKeys[] = {"servers", "clients", "workload_end_us", "settle_us",
                                              "clock_skew_us", "clock_drift_ppm", "streams", "explore"};
constexpr std::string_view kNetworkKeys[] = {"client_link", "bandwidth_bytes_per_s", "drop_ppm", "duplicate_ppm",
                                             "reorder_ppm", "reorder_delay_us", "dead_connection_timeout_us",
                                             "connect_timeout_us", "assignment", "latency", "peer_latency",
                                             "server_latency", "backoff"};
constexpr std::string_view kLatencyKeys[] = {"min_us", "median_us", "p99_us"};
constexpr std::string_view kBackoffKeys[] = {"policy", "base_us", "max_us", "multiplier_milli", "jitter",
                                             "randomization_ppm", "jitter_first_attempt"};
constexpr std::string_view kOperationKeys[] = {"id", "client", "at_us", "kind", "key", "amount", "position_ppm"};
constexpr std::string_view kFaultKeys[] = {"kind", "start_us", "duration_us", "side_a", "side_b",
                                           "bridge", "one_way", "amount_us", "bytes", "ppm"};

constexpr TomlKeys kSchema[] = {
    {"", kTopKeys},
    {"original", kOriginalKeys},
    {"persistence", kPersistenceKeys},
    {"invariants", kInvariantKeys},
    {"schedule", kScheduleKeys},
    {"network", kNetworkKeys},
    {"network.latency", kLatencyKeys},
    {"network.peer_latency", kLatencyKeys},
    {"network.server_latency", kLatencyKeys},
    {"network.backoff", kBackoffKeys},
    {"operation", kOperationKeys, true},
    {"fault", kFaultKeys, true},
};

/// A hexadecimal string such as "00c0ffee00c0ffee" (TOML integers are signed 64-bit).
TomlStatus read_hex(const TomlTable& t, std::string_view key, std::uint64_t& out) {
  std::string text;
  SYNCSTORM_TRY(t.string(key, text));
  const bool valid = !text.empty() && text.size() <= 16 &&
                     std::all_of(text.begin(), text.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); });
  if (!valid) return t.error(key, fmt::format("expected up to 16 hexadecimal digits, got \"{}\"", text));
  out = std::stoull(text, nullptr, 16);
  return std::nullopt;
}

constexpr std::int64_t kDurationMaxUs = limits::kDurationMax.us;
constexpr std::int64_t kBytesMax = static_cast<std::int64_t>(limits::kBytesMax);

/// A time or duration in microseconds, from `lo` to limits::kDurationMax.
TomlStatus read_us(const TomlTable& t, std::string_view key, std::int64_t& out, std::int64_t lo = 0) {
  return t.integer(key, out, lo, kDurationMaxUs);
}

/// An array of node numbers, each a node of the schedule.
TomlStatus read_nodes(const TomlTable& t, std::string_view key, std::vector<NodeId>& out, const Schedule& s) {
  std::vector<std::uint32_t> numbers;
  SYNCSTORM_TRY(t.integers(key, numbers));
  for (std::uint32_t n : numbers) {
    if (n >= s.node_count()) return t.error(key, fmt::format("node {} does not exist in this schedule", n));
    out.push_back(NodeId{n});
  }
  return std::nullopt;
}

TomlStatus read_original(const TomlTable& t, ScheduleSize& o) {
  SYNCSTORM_TRY(t.require({"clients", "operations", "faults"}));
  SYNCSTORM_TRY(t.integer("clients", o.clients));
  SYNCSTORM_TRY(t.integer("operations", o.operations));
  return t.integer("faults", o.faults);
}

TomlStatus read_persistence(const TomlTable& t, PersistenceOptions& p) {
  SYNCSTORM_TRY(t.require({"client", "server", "lose_unflushed"}));
  SYNCSTORM_TRY(t.boolean("client", p.client));
  SYNCSTORM_TRY(t.boolean("server", p.server));
  return t.boolean("lose_unflushed", p.lose_unflushed);
}

TomlStatus read_latency(const TomlTable& t, LatencyOptions& l) {
  SYNCSTORM_TRY(t.require({"min_us", "median_us", "p99_us"}));
  SYNCSTORM_TRY(read_us(t, "min_us", l.min.us));
  SYNCSTORM_TRY(read_us(t, "median_us", l.median.us));
  return read_us(t, "p99_us", l.p99.us);
}

TomlStatus read_backoff(const TomlTable& t, BackoffOptions& o) {
  SYNCSTORM_TRY(t.require({"policy", "base_us", "max_us", "multiplier_milli", "jitter", "randomization_ppm",
                           "jitter_first_attempt"}));
  SYNCSTORM_TRY(t.choice<BackoffPolicy>("policy", o.policy, kBackoffPolicyNames));
  SYNCSTORM_TRY(read_us(t, "base_us", o.base.us));
  SYNCSTORM_TRY(read_us(t, "max_us", o.max.us));
  SYNCSTORM_TRY(t.integer("multiplier_milli", o.multiplier_milli, 1'000, 100'000));
  SYNCSTORM_TRY(t.choice<Jitter>("jitter", o.jitter, kJitterNames));
  SYNCSTORM_TRY(t.integer("randomization_ppm", o.randomization, 0, kPpmOne));
  return t.boolean("jitter_first_attempt", o.jitter_first_attempt);
}

TomlStatus read_network(const TomlTable& t, NetworkOptions& n) {
  SYNCSTORM_TRY(t.require({"client_link", "bandwidth_bytes_per_s", "drop_ppm", "duplicate_ppm", "reorder_ppm",
                           "reorder_delay_us", "dead_connection_timeout_us", "connect_timeout_us", "assignment",
                           "latency", "peer_latency", "server_latency", "backoff"}));
  SYNCSTORM_TRY(t.choice<LinkKind>("client_link", n.client_link, kLinkKindNames));
  SYNCSTORM_TRY(t.integer("bandwidth_bytes_per_s", n.bandwidth_bytes_per_s, 0, kBytesMax));
  SYNCSTORM_TRY(t.integer("drop_ppm", n.drop, 0, kPpmOne - 1));
  SYNCSTORM_TRY(t.integer("duplicate_ppm", n.duplicate, 0, kPpmOne));
  SYNCSTORM_TRY(t.integer("reorder_ppm", n.reorder, 0, kPpmOne));
  SYNCSTORM_TRY(read_us(t, "reorder_delay_us", n.reorder_delay.us));
  SYNCSTORM_TRY(read_us(t, "dead_connection_timeout_us", n.dead_connection_timeout.us, 1));
  SYNCSTORM_TRY(read_us(t, "connect_timeout_us", n.connect_timeout.us, 1));
  SYNCSTORM_TRY(t.choice<ServerAssignment>("assignment", n.assignment, kServerAssignmentNames));
  SYNCSTORM_TRY(t.section("latency", [&](const TomlTable& l) { return read_latency(l, n.latency); }));
  SYNCSTORM_TRY(t.section("peer_latency", [&](const TomlTable& l) { return read_latency(l, n.peer_latency); }));
  SYNCSTORM_TRY(t.section("server_latency", [&](const TomlTable& l) { return read_latency(l, n.server_latency); }));
  return t.section("backoff", [&](const TomlTable& b) { return read_backoff(b, n.backoff); });
}

TomlStatus read_operation(const TomlTable& t, Schedule& s) {
  if (s.operations.size() >= limits::kOperationsMax) {
    return t.error("id", fmt::format("more than {} operations (limits::kOperationsMax)", limits::kOperationsMax));
  }
  Operation op;
  SYNCSTORM_TRY(t.require({"id", "client", "at_us", "kind", "key"}));
  SYNCSTORM_TRY(t.integer("id", op.id.value));
  SYNCSTORM_TRY(t.integer("client", op.client.value));
  SYNCSTORM_TRY(read_us(t, "at_us", op.issued_at.us));
  SYNCSTORM_TRY(t.choice<OpKind>("kind", op.kind, kOpKindNames));
  SYNCSTORM_TRY(t.integer("key", op.key.value, 0, limits::kKeysMax - 1));
  SYNCSTORM_TRY(t.integer("amount", op.amount, -limits::kCounterAmountMax, limits::kCounterAmountMax));
  SYNCSTORM_TRY(t.integer("position_ppm", op.position_ppm, 0, kPpmOne));
  if (op.client.value < s.servers || op.client.value >= s.node_count()) {
    return t.error("client", fmt::format("node {} is not a client of this schedule", op.client.value));
  }
  s.operations.push_back(op);
  return std::nullopt;
}

/// Faults a schedule may hold: the scenario's, the swarm's and one offline period per client.
constexpr std::uint64_t kScheduleFaultsMax = std::uint64_t{limits::kFaultsMax} + limits::kSwarmFaultsMax + limits::kClientsMax;

TomlStatus read_fault(const TomlTable& t, Schedule& s) {
  if (s.faults.size() >= kScheduleFaultsMax) {
    return t.error("kind", fmt::format("more than {} faults (limits::kFaultsMax + kSwarmFaultsMax + kClientsMax)", kScheduleFaultsMax));
  }
  ScheduledFault fault;
  SYNCSTORM_TRY(t.require({"kind", "start_us", "duration_us", "side_a"}));
  SYNCSTORM_TRY(t.choice<FaultKind>("kind", fault.kind, kFaultKindNames));
  SYNCSTORM_TRY(read_us(t, "start_us", fault.start.us));
  SYNCSTORM_TRY(read_us(t, "duration_us", fault.duration.us));
  SYNCSTORM_TRY(read_nodes(t, "side_a", fault.side_a, s));
  SYNCSTORM_TRY(read_nodes(t, "side_b", fault.side_b, s));
  SYNCSTORM_TRY(read_nodes(t, "bridge", fault.bridge, s));
  SYNCSTORM_TRY(t.boolean("one_way", fault.one_way));
  SYNCSTORM_TRY(read_us(t, "amount_us", fault.amount.us, -kDurationMaxUs));
  SYNCSTORM_TRY(t.integer("bytes", fault.bytes, 0, kBytesMax));
  SYNCSTORM_TRY(t.integer("ppm", fault.ppm, 0, kPpmOne));
  s.faults.push_back(std::move(fault));
  return std::nullopt;
}

TomlStatus read_invariants(const TomlTable& t, InvariantOptions& o) {
  SYNCSTORM_TRY(t.require({"enabled", "settle_us", "convergence_bound_us", "metadata_bytes_max"}));
  SYNCSTORM_TRY(t.choices<Invariant>("enabled", o.enabled, kInvariantNames));
  SYNCSTORM_TRY(read_us(t, "settle_us", o.settle.us, 1));
  SYNCSTORM_TRY(read_us(t, "convergence_bound_us", o.convergence_bound.us, 1));
  SYNCSTORM_TRY(t.integer("metadata_bytes_max", o.metadata_bytes_max, 0, kBytesMax));
  // Absent from repro files written before the growth check: they replay with its defaults.
  SYNCSTORM_TRY(t.integer("metadata_growth_milli_max", o.metadata_growth_milli_max));
  return t.integer("metadata_growth_bytes_min", o.metadata_growth_bytes_min, 0, kBytesMax);
}

TomlStatus read_schedule(const TomlTable& t, Schedule& s) {
  SYNCSTORM_TRY(t.require({"servers", "clients", "workload_end_us", "settle_us", "clock_skew_us", "clock_drift_ppm"}));
  SYNCSTORM_TRY(t.integer("servers", s.servers, 0, limits::kServersMax));
  SYNCSTORM_TRY(t.integer("clients", s.clients, 1, limits::kClientsMax));
  SYNCSTORM_TRY(read_us(t, "workload_end_us", s.workload_end.us));
  SYNCSTORM_TRY(read_us(t, "settle_us", s.settle.us, 1));
  // One value per node, in node order.
  const auto per_node = [&](std::string_view key, std::size_t size, std::string_view what) -> TomlStatus {
    if (size == s.node_count()) return std::nullopt;
    return t.error(key, fmt::format("expected an array of {} {}, one per node, got {}", s.node_count(), what, size));
  };
  // Absent from repros of random runs (and from every repro written before strategies existed).
  SYNCSTORM_TRY(t.choice<Exploration>("explore", s.explore, kExplorationNames));
  SYNCSTORM_TRY(t.integers("streams", s.streams, 0, limits::kClientsMax + limits::kServersMax - 1));
  if (t.has("streams")) SYNCSTORM_TRY(per_node("streams", s.streams.size(), "node numbers"));
  std::vector<std::int64_t> skews;
  SYNCSTORM_TRY(t.integers("clock_skew_us", skews, -kDurationMaxUs, kDurationMaxUs));
  SYNCSTORM_TRY(per_node("clock_skew_us", skews.size(), "integers"));
  for (std::int64_t us : skews) s.clock_skew.push_back(Duration{us});
  SYNCSTORM_TRY(t.integers("clock_drift_ppm", s.clock_drift_ppm, -100'000, 100'000));
  return per_node("clock_drift_ppm", s.clock_drift_ppm.size(), "integers");
}

/// Checks what TOML cannot: operation ids are 1..n in time order, as normalise() leaves them.
std::optional<InputError> check_order(const Schedule& s, const std::string& file) {
  Schedule sorted = s;
  normalise(sorted);
  if (sorted.operations != s.operations) {
    return InputError{file, 0, 0, "operation", "operations must be in time order with ids 1, 2, 3, ... (as syncstorm writes them)"};
  }
  return std::nullopt;
}

TomlStatus read_repro(const TomlTable& top, Repro& r) {
  SYNCSTORM_TRY(top.require({"format", "scenario", "scenario_file", "model", "seed", "invariant", "trace_hash", "original",
                             "persistence", "invariants", "schedule", "network"}));
  std::int64_t format = 0;
  SYNCSTORM_TRY(top.integer("format", format));
  if (format != kReproFormat) {
    return top.error("format", fmt::format("unsupported repro format {} (this syncstorm reads {})", format, kReproFormat));
  }
  SYNCSTORM_TRY(top.string("scenario", r.scenario_name));
  SYNCSTORM_TRY(top.string("scenario_file", r.scenario_file));
  SYNCSTORM_TRY(top.string("model", r.model));
  SYNCSTORM_TRY(top.integer("seed", r.seed));
  SYNCSTORM_TRY(top.string("invariant", r.invariant));
  if (r.invariant != kAbortedVerdict && !parse_invariant(r.invariant)) {
    return top.error("invariant", fmt::format("unknown value \"{}\": expected {} or one of {}", r.invariant, kAbortedVerdict,
                                              names_list(kInvariantNames)));
  }
  SYNCSTORM_TRY(read_hex(top, "trace_hash", r.trace_hash));
  SYNCSTORM_TRY(top.section("original", [&](const TomlTable& t) { return read_original(t, r.original); }));
  SYNCSTORM_TRY(top.section("persistence", [&](const TomlTable& t) { return read_persistence(t, r.persistence); }));
  SYNCSTORM_TRY(top.section("invariants", [&](const TomlTable& t) { return read_invariants(t, r.invariants); }));
  SYNCSTORM_TRY(top.section("schedule", [&](const TomlTable& t) { return read_schedule(t, r.schedule); }));
  SYNCSTORM_TRY(top.section("network", [&](const TomlTable& t) { return read_network(t, r.schedule.network); }));
  SYNCSTORM_TRY(top.each("operation", "operation", [&](const TomlTable& t) { return read_operation(t, r.schedule); }));
  return top.each("fault", "fault", [&](const TomlTable& t) { return read_fault(t, r.schedule); });
}

}  // namespace

ScheduleSize size_of(const Schedule& schedule) {
  return ScheduleSize{schedule.clients, schedule.operations.size(), schedule.faults.size()};
}

std::string format_repro(const Repro& r) {
  const Schedule& s = r.schedule;
  std::string out;
  out += "# A shrunk syncstorm failure. Replay it with: syncstorm replay THIS_FILE\n";
  out += "# It holds the explicit schedule, so it replays the same situation after the model changes.\n";
  out += fmt::format("format = {}\nscenario = {}\nscenario_file = {}\nmodel = {}\nseed = {}\ninvariant = {}\n", kReproFormat,
                     toml_string(r.scenario_name), toml_string(r.scenario_file), toml_string(r.model), r.seed, toml_string(r.invariant));
  out += fmt::format("trace_hash = \"{:016x}\"\n", r.trace_hash);
  out += fmt::format("\n# The size of the schedule before shrinking.\n[original]\nclients = {}\noperations = {}\nfaults = {}\n",
                     r.original.clients, r.original.operations, r.original.faults);
  out += fmt::format("\n[persistence]\nclient = {}\nserver = {}\nlose_unflushed = {}\n", r.persistence.client,
                     r.persistence.server, r.persistence.lose_unflushed);
  std::string enabled;
  for (Invariant i : r.invariants.enabled) enabled += fmt::format("{}\"{}\"", enabled.empty() ? "" : ", ", to_string(i));
  out += fmt::format("\n[invariants]\nenabled = [{}]\nsettle_us = {}\nconvergence_bound_us = {}\nmetadata_bytes_max = {}\n",
                     enabled, r.invariants.settle.us, r.invariants.convergence_bound.us, r.invariants.metadata_bytes_max);
  out += fmt::format("metadata_growth_milli_max = {}\nmetadata_growth_bytes_min = {}\n", r.invariants.metadata_growth_milli_max,
                     r.invariants.metadata_growth_bytes_min);
  out += "\n# Nodes 0..servers-1 are servers, then the clients.\n[schedule]\n";
  out += fmt::format("servers = {}\nclients = {}\nworkload_end_us = {}\nsettle_us = {}\n", s.servers, s.clients,
                     s.workload_end.us, s.settle.us);
  // A plain loop, not std::views::transform: Clang 14 cannot compile that view over libstdc++ 12.
  std::vector<std::int64_t> clock_skew_us;
  for (Duration d : s.clock_skew) clock_skew_us.push_back(d.us);
  out += fmt::format("clock_skew_us = [{}]\n", fmt::join(clock_skew_us, ", "));
  out += fmt::format("clock_drift_ppm = [{}]\n", fmt::join(s.clock_drift_ppm, ", "));
  if (!s.streams.empty()) {
    out += "# The node number each node's random streams come from (shrinking removed clients).\n";
    out += fmt::format("streams = [{}]\n", fmt::join(s.streams, ", "));
  }
  if (s.explore != Exploration::random) {
    out += "# The exploration strategy that chose this run's delays (and added some of its faults).\n";
    out += fmt::format("explore = \"{}\"\n", name_of(kExplorationNames, s.explore));
  }
  write_network(out, s.network);
  for (const Operation& op : s.operations) write_operation(out, op);
  for (const ScheduledFault& f : s.faults) write_fault(out, f);
  return out;
}

Result<Repro> parse_repro(std::string_view text, const std::string& file) {
  Result<TomlFile> doc = TomlFile::parse(text, file, kSchema);
  if (!doc) return doc.error();
  Repro r;
  SYNCSTORM_TRY(doc.value().read([&](const TomlTable& top) { return read_repro(top, r); }));
  SYNCSTORM_TRY(check_order(r.schedule, file));
  return r;
}

Result<Repro> load_repro(const std::string& path) {
  std::error_code ec;
  if (const std::uintmax_t size = std::filesystem::file_size(path, ec); !ec && size > limits::kReproFileBytesMax) {
    return InputError{path, 0, 0, "", fmt::format("the file has {} bytes, above the limit of {} for a repro file "
                                                  "(limits::kReproFileBytesMax)", size, limits::kReproFileBytesMax)};
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return InputError{path, 0, 0, "", "cannot open the repro file"};
  std::ostringstream text;
  text << in.rdbuf();
  return parse_repro(text.str(), path);
}

/// Names tried for one repro before giving up: a folder holding a thousand repros of one failure
/// needs a person's look, not another file.
constexpr std::uint32_t kReproNamesMax = 1'000;

Result<std::string> save_repro(const Repro& repro, const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path target(path);
  if (target.has_parent_path()) fs::create_directories(target.parent_path(), ec);
  const std::string text = format_repro(repro);
  // An existing repro is never replaced (it may be committed, or another failure's): the new one
  // takes the first free name NAME-2.repro.toml, NAME-3, ...; one with the same bytes is kept as is.
  const std::string stem = path.substr(0, path.size() - std::string_view(".repro.toml").size());
  for (std::uint32_t n = 1; n <= kReproNamesMax; ++n) {
    const std::string candidate = n == 1 ? path : fmt::format("{}-{}.repro.toml", stem, n);
    ec = write_file_atomically(candidate, text, IfExists::keep);
    if (!ec) return candidate;
    if (ec != std::errc::file_exists) return InputError{candidate, 0, 0, "", "cannot write the repro file: " + ec.message()};
    std::ifstream old(candidate, std::ios::binary);
    std::ostringstream bytes;
    bytes << old.rdbuf();
    if (old && bytes.str() == text) return candidate;
  }
  return InputError{path, 0, 0, "", fmt::format("{} repro files of this name exist already; move some away", kReproNamesMax)};
}

Scenario repro_scenario(const Repro& repro) {
  Scenario s;
  s.name = repro.scenario_name;
  s.file = repro.scenario_file;
  s.servers = repro.schedule.servers;
  s.network = repro.schedule.network;
  s.persistence = repro.persistence;
  s.invariants = repro.invariants;
  s.workload.clients = repro.schedule.clients;
  return s;
}

bool is_repro_path(std::string_view path) { return path.ends_with(".repro.toml"); }

std::string scenario_argument(const Scenario& scenario) {
  namespace fs = std::filesystem;
  if (scenario.file.empty()) return scenario.name;
  std::error_code ec;
  const fs::path relative = fs::relative(scenario.file, fs::current_path(), ec);
  if (!ec && !relative.empty() && relative.string().size() < scenario.file.size()) return relative.string();
  return scenario.file;
}

std::string repro_scenario_file(const Scenario& scenario) {
  return scenario.file.empty() ? std::string() : scenario_argument(scenario);
}

std::string replay_command(std::string_view scenario_arg, std::string_view model_name, std::uint64_t seed,
                           Exploration explore, const std::vector<std::uint64_t>& lineage) {
  const bool plain = model_name.find_first_not_of(
                         "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:/") == std::string_view::npos;
  std::string quoted = "'";
  for (char c : model_name) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  quoted += "'";
  std::string command =
      fmt::format("syncstorm replay {} --model {} --seed {}", scenario_arg, plain ? std::string(model_name) : quoted, seed);
  if (explore != Exploration::random) command += fmt::format(" --explore {}", name_of(kExplorationNames, explore));
  if (lineage.size() > 1) command += fmt::format(" --lineage {}", fmt::join(lineage.begin(), lineage.end() - 1, ","));
  return command;
}

std::string replay_command(const Scenario& scenario, const ModelInfo& model, std::uint64_t seed, Exploration explore,
                           const std::vector<std::uint64_t>& lineage) {
  return replay_command(scenario_argument(scenario), model.name, seed, explore, lineage);
}

}  // namespace syncstorm
