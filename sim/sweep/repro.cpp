#include "sim/sweep/repro.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <span>
#include <type_traits>
#include <sstream>
#include <toml++/toml.h>
#include <ranges>
#include <utility>
#include <cctype>

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

/// Reads the keys of one TOML table into typed fields, keeping the first mistake and rejecting keys
/// it was never asked for (a typo in a hand-edited repro must not be silently ignored).
class Fields {
 public:
  Fields(const toml::node& table, std::string path, const std::string& file, std::optional<InputError>& error)
      : table_(table.as_table()), where_(table.source()), path_(std::move(path)), file_(file), error_(error) {}

  const toml::node* take(std::string_view key, bool required = true) {
    used_.insert(std::string(key));
    const toml::node* node = table_ ? table_->get(key) : nullptr;
    if (!node && required) fail_at(where_, key, "missing key");
    return node;
  }

  template <typename T>
  void integer(std::string_view key, T& out, bool required = true) {
    const toml::node* node = take(key, required);
    if (!node || error_) return;
    const auto value = node->value<std::int64_t>();
    if (!node->is_integer() || !value) return fail_at(node->source(), key, "expected an integer");
    if (!std::in_range<T>(*value)) return fail_at(node->source(), key, fmt::format("{} is out of range", *value));
    out = static_cast<T>(*value);
  }

  void duration(std::string_view key, Duration& out, bool required = true) { integer(key, out.us, required); }

  void boolean(std::string_view key, bool& out, bool required = true) {
    const toml::node* node = take(key, required);
    if (!node || error_) return;
    if (!node->is_boolean()) return fail_at(node->source(), key, "expected true or false");
    out = *node->value<bool>();
  }

  void string(std::string_view key, std::string& out, bool required = true) {
    const toml::node* node = take(key, required);
    if (!node || error_) return;
    if (!node->is_string()) return fail_at(node->source(), key, "expected a string");
    out = *node->value<std::string>();
  }

  /// A hexadecimal string such as "00c0ffee00c0ffee" (TOML integers are signed 64-bit).
  void hex(std::string_view key, std::uint64_t& out) {
    std::string text;
    string(key, text);
    if (error_) return;
    const bool valid = !text.empty() && text.size() <= 16 &&
                       std::all_of(text.begin(), text.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); });
    if (!valid) return fail_at(take(key)->source(), key, "expected up to 16 hexadecimal digits");
    out = std::stoull(text, nullptr, 16);
  }

  template <typename E>
  void enumeration(std::string_view key, E& out, EnumNames<std::type_identity_t<E>> names) {
    std::string text;
    string(key, text);
    if (error_) return;
    if (std::optional<E> value = parse_enum(names, text)) {
      out = *value;
      return;
    }
    fail_at(take(key)->source(), key, fmt::format("unknown value \"{}\" (expected one of {})", text, names_list(names, "\"")));
  }

  void nodes(std::string_view key, std::vector<NodeId>& out, bool required = true) {
    const toml::node* node = take(key, required);
    if (!node || error_) return;
    const toml::array* array = node->as_array();
    if (!array) return fail_at(node->source(), key, "expected an array of node numbers");
    for (const toml::node& element : *array) {
      const auto value = element.value<std::int64_t>();
      if (!element.is_integer() || !value || !std::in_range<std::uint32_t>(*value)) {
        return fail_at(element.source(), key, "expected a node number");
      }
      out.push_back(NodeId{static_cast<std::uint32_t>(*value)});
    }
  }

  /// Every key present but never asked for is a mistake.
  void finish() {
    if (error_ || !table_) return;
    for (const auto& [key, node] : *table_) {
      if (!used_.contains(std::string(key.str()))) return fail_at(node.source(), key.str(), "unknown key");
    }
  }

  void fail_at(const toml::source_region& region, std::string_view key, std::string message) {
    if (error_) return;
    error_ = InputError{file_, static_cast<std::uint32_t>(region.begin.line), static_cast<std::uint32_t>(region.begin.column),
                        path_.empty() ? std::string(key) : path_ + "." + std::string(key), std::move(message)};
  }

  bool failed() const { return error_.has_value(); }

 private:
  const toml::table* table_;
  toml::source_region where_;
  std::string path_;
  const std::string& file_;
  std::optional<InputError>& error_;
  std::set<std::string> used_;
};

void read_latency(Fields& parent, std::string_view key, const std::string& path, LatencyOptions& l,
                  const std::string& file, std::optional<InputError>& error) {
  const toml::node* node = parent.take(key);
  if (!node || error) return;
  if (!node->is_table()) return parent.fail_at(node->source(), key, "expected a table");
  Fields f(*node, path, file, error);
  f.duration("min_us", l.min);
  f.duration("median_us", l.median);
  f.duration("p99_us", l.p99);
  f.finish();
}

void read_network(const toml::node& node, NetworkOptions& n, const std::string& file, std::optional<InputError>& error) {
  Fields f(node, "network", file, error);
  f.enumeration("client_link", n.client_link, kLinkKindNames);
  f.integer("bandwidth_bytes_per_s", n.bandwidth_bytes_per_s);
  f.integer("drop_ppm", n.drop);
  f.integer("duplicate_ppm", n.duplicate);
  f.integer("reorder_ppm", n.reorder);
  f.duration("reorder_delay_us", n.reorder_delay);
  f.duration("dead_connection_timeout_us", n.dead_connection_timeout);
  f.duration("connect_timeout_us", n.connect_timeout);
  f.enumeration("assignment", n.assignment, kServerAssignmentNames);
  read_latency(f, "latency", "network.latency", n.latency, file, error);
  read_latency(f, "peer_latency", "network.peer_latency", n.peer_latency, file, error);
  read_latency(f, "server_latency", "network.server_latency", n.server_latency, file, error);
  const toml::node* backoff = f.take("backoff");
  if (backoff && !error) {
    Fields b(*backoff, "network.backoff", file, error);
    BackoffOptions& o = n.backoff;
    b.enumeration("policy", o.policy, kBackoffPolicyNames);
    b.duration("base_us", o.base);
    b.duration("max_us", o.max);
    b.integer("multiplier_milli", o.multiplier_milli);
    b.enumeration("jitter", o.jitter, kJitterNames);
    b.integer("randomization_ppm", o.randomization);
    b.boolean("jitter_first_attempt", o.jitter_first_attempt);
    b.finish();
  }
  f.finish();
}

/// Calls `read` on every table of the array of tables `key` ("operation", "fault").
template <typename Read>
void each_table(Fields& top, std::string_view key, const std::string& file, std::optional<InputError>& error, Read read) {
  const toml::node* node = top.take(key, false);
  if (!node || error) return;
  const toml::array* array = node->as_array();
  if (!array || !array->is_array_of_tables()) return top.fail_at(node->source(), key, "expected [[" + std::string(key) + "]] tables");
  for (std::size_t i = 0; i < array->size() && !error; ++i) {
    Fields f(*array->get(i), fmt::format("{}[{}]", key, i), file, error);
    read(f);
    f.finish();
  }
}

void read_operation(Fields& f, Schedule& s) {
  Operation op;
  std::string kind;
  f.integer("id", op.id.value);
  f.integer("client", op.client.value);
  f.integer("at_us", op.issued_at.us);
  f.string("kind", kind);
  f.integer("key", op.key.value);
  f.integer("amount", op.amount, false);
  f.integer("position_ppm", op.position_ppm, false);
  if (f.failed()) return;
  const std::optional<OpKind> parsed = parse_op_kind(kind);
  if (!parsed) return f.fail_at(f.take("kind")->source(), "kind", fmt::format("unknown operation kind \"{}\"", kind));
  op.kind = *parsed;
  if (op.client.value < s.servers || op.client.value >= s.node_count()) {
    return f.fail_at(f.take("client")->source(), "client", fmt::format("node {} is not a client of this schedule", op.client.value));
  }
  s.operations.push_back(op);
}

void read_fault(Fields& f, Schedule& s) {
  ScheduledFault fault;
  std::string kind;
  f.string("kind", kind);
  f.integer("start_us", fault.start.us);
  f.duration("duration_us", fault.duration);
  f.nodes("side_a", fault.side_a);
  f.nodes("side_b", fault.side_b, false);
  f.nodes("bridge", fault.bridge, false);
  f.boolean("one_way", fault.one_way, false);
  f.duration("amount_us", fault.amount, false);
  f.integer("bytes", fault.bytes, false);
  f.integer("ppm", fault.ppm, false);
  if (f.failed()) return;
  const auto parsed = parse_fault_kind(kind);
  if (!parsed) return f.fail_at(f.take("kind")->source(), "kind", fmt::format("unknown fault kind \"{}\"", kind));
  fault.kind = *parsed;
  for (const auto* side : {&fault.side_a, &fault.side_b, &fault.bridge}) {
    for (NodeId n : *side) {
      if (n.value >= s.node_count()) {
        return f.fail_at(f.take("side_a")->source(), "side_a", fmt::format("node {} does not exist in this schedule", n.value));
      }
    }
  }
  s.faults.push_back(std::move(fault));
}

void read_invariants(const toml::node& node, InvariantOptions& o, const std::string& file, std::optional<InputError>& error) {
  Fields f(node, "invariants", file, error);
  const toml::node* enabled = f.take("enabled");
  if (enabled && !error) {
    o.enabled.clear();
    const toml::array* array = enabled->as_array();
    if (!array) f.fail_at(enabled->source(), "enabled", "expected an array of invariant names");
    for (std::size_t i = 0; array && i < array->size() && !error; ++i) {
      const auto name = array->get(i)->value<std::string>();
      const auto invariant = name ? parse_invariant(*name) : std::nullopt;
      if (!invariant) f.fail_at(array->get(i)->source(), "enabled", "unknown invariant");
      else o.enabled.push_back(*invariant);
    }
  }
  f.duration("settle_us", o.settle);
  f.duration("convergence_bound_us", o.convergence_bound);
  f.integer("metadata_bytes_max", o.metadata_bytes_max);
  // Absent from repro files written before the growth check: they replay with its defaults.
  f.integer("metadata_growth_milli_max", o.metadata_growth_milli_max, false);
  f.integer("metadata_growth_bytes_min", o.metadata_growth_bytes_min, false);
  f.finish();
}

void read_schedule_table(const toml::node& node, Schedule& s, const std::string& file, std::optional<InputError>& error) {
  Fields f(node, "schedule", file, error);
  f.integer("servers", s.servers);
  f.integer("clients", s.clients);
  f.integer("workload_end_us", s.workload_end.us);
  f.duration("settle_us", s.settle);
  const toml::node* skew = f.take("clock_skew_us");
  const toml::node* drift = f.take("clock_drift_ppm");
  const toml::node* streams = f.take("streams", false);
  if (error) return;
  if (streams) {
    const toml::array* list = streams->as_array();
    if (!list || list->size() != s.node_count()) {
      return f.fail_at(streams->source(), "streams", fmt::format("expected an array of {} node numbers, one per node", s.node_count()));
    }
    for (std::size_t i = 0; i < list->size(); ++i) {
      const auto v = list->get(i)->value<std::int64_t>();
      if (!v || !list->get(i)->is_integer() || !std::in_range<std::uint32_t>(*v)) {
        return f.fail_at(list->get(i)->source(), "streams", "expected a node number (a non-negative integer)");
      }
      s.streams.push_back(static_cast<std::uint32_t>(*v));
    }
  }
  const toml::array* skews = skew->as_array();
  const toml::array* drifts = drift->as_array();
  if (!skews || skews->size() != s.node_count()) {
    return f.fail_at(skew->source(), "clock_skew_us", fmt::format("expected an array of {} integers, one per node", s.node_count()));
  }
  if (!drifts || drifts->size() != s.node_count()) {
    return f.fail_at(drift->source(), "clock_drift_ppm", fmt::format("expected an array of {} integers, one per node", s.node_count()));
  }
  for (std::size_t i = 0; i < s.node_count(); ++i) {
    const auto k = skews->get(i)->value<std::int64_t>();
    const auto d = drifts->get(i)->value<std::int64_t>();
    if (!k || !skews->get(i)->is_integer()) return f.fail_at(skews->get(i)->source(), "clock_skew_us", "expected an integer");
    if (!d || !std::in_range<std::int32_t>(*d)) return f.fail_at(drifts->get(i)->source(), "clock_drift_ppm", "expected an integer");
    s.clock_skew.push_back(Duration{*k});
    s.clock_drift_ppm.push_back(static_cast<std::int32_t>(*d));
  }
  if (s.clients == 0) f.fail_at(node.source(), "clients", "a schedule needs at least one client");
  f.finish();
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

Result<Repro> read_repro(const toml::table& doc, const std::string& file) {
  std::optional<InputError> error;
  Repro r;
  Fields top(doc, "", file, error);
  std::int64_t format = 0;
  top.integer("format", format);
  if (!error && format != kReproFormat) {
    top.fail_at(top.take("format")->source(), "format", fmt::format("unsupported repro format {} (this syncstorm reads {})", format, kReproFormat));
  }
  top.string("scenario", r.scenario_name);
  top.string("scenario_file", r.scenario_file);
  top.string("model", r.model);
  top.integer("seed", r.seed);
  top.string("invariant", r.invariant);
  top.hex("trace_hash", r.trace_hash);
  if (!error && r.invariant != kAbortedVerdict && !parse_invariant(r.invariant)) {
    top.fail_at(top.take("invariant")->source(), "invariant", fmt::format("unknown invariant \"{}\"", r.invariant));
  }
  if (const toml::node* original = top.take("original"); original && !error) {
    Fields o(*original, "original", file, error);
    o.integer("clients", r.original.clients);
    o.integer("operations", r.original.operations);
    o.integer("faults", r.original.faults);
    o.finish();
  }
  if (const toml::node* persistence = top.take("persistence"); persistence && !error) {
    Fields p(*persistence, "persistence", file, error);
    p.boolean("client", r.persistence.client);
    p.boolean("server", r.persistence.server);
    p.boolean("lose_unflushed", r.persistence.lose_unflushed);
    p.finish();
  }
  if (const toml::node* invariants = top.take("invariants"); invariants && !error) read_invariants(*invariants, r.invariants, file, error);
  if (const toml::node* schedule = top.take("schedule"); schedule && !error) read_schedule_table(*schedule, r.schedule, file, error);
  if (const toml::node* network = top.take("network"); network && !error) read_network(*network, r.schedule.network, file, error);
  each_table(top, "operation", file, error, [&](Fields& f) { read_operation(f, r.schedule); });
  each_table(top, "fault", file, error, [&](Fields& f) { read_fault(f, r.schedule); });
  top.finish();
  if (error) return *error;
  if (auto order = check_order(r.schedule, file)) return *order;
  return r;
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
  out += fmt::format("clock_skew_us = [{}]\n", fmt::join(s.clock_skew | std::views::transform([](Duration d) { return d.us; }), ", "));
  out += fmt::format("clock_drift_ppm = [{}]\n", fmt::join(s.clock_drift_ppm, ", "));
  if (!s.streams.empty()) {
    out += "# The node number each node's random streams come from (shrinking removed clients).\n";
    out += fmt::format("streams = [{}]\n", fmt::join(s.streams, ", "));
  }
  write_network(out, s.network);
  for (const Operation& op : s.operations) write_operation(out, op);
  for (const ScheduledFault& f : s.faults) write_fault(out, f);
  return out;
}

Result<Repro> parse_repro(std::string_view text, const std::string& file) {
  try {
    const toml::table doc = toml::parse(text, file);
    return read_repro(doc, file);
  } catch (const toml::parse_error& e) {
    return InputError{file, static_cast<std::uint32_t>(e.source().begin.line), static_cast<std::uint32_t>(e.source().begin.column),
                      "", std::string(e.description())};
  }
}

Result<Repro> load_repro(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return InputError{path, 0, 0, "", "cannot open the repro file"};
  std::ostringstream text;
  text << in.rdbuf();
  return parse_repro(text.str(), path);
}

std::optional<InputError> save_repro(const Repro& repro, const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path parent = fs::path(path).parent_path();
  if (!parent.empty()) fs::create_directories(parent, ec);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return InputError{path, 0, 0, "", "cannot write the repro file"};
  out << format_repro(repro);
  out.close();
  if (!out) return InputError{path, 0, 0, "", "cannot write the repro file"};
  return std::nullopt;
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

std::string replay_command(std::string_view scenario_arg, std::string_view model_name, std::uint64_t seed) {
  const bool plain = model_name.find_first_not_of(
                         "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:/") == std::string_view::npos;
  std::string quoted = "'";
  for (char c : model_name) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  quoted += "'";
  return fmt::format("syncstorm replay {} --model {} --seed {}", scenario_arg, plain ? std::string(model_name) : quoted, seed);
}

std::string replay_command(const Scenario& scenario, const ModelInfo& model, std::uint64_t seed) {
  return replay_command(scenario_argument(scenario), model.name, seed);
}

}  // namespace syncstorm
