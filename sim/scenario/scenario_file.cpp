// Loading scenarios from TOML, through the shared reader of toml_file.hpp, so that the most useful
// error comes first: every key of the file is checked against the accepted keys (kSchema) before
// anything is read, and every unknown key is named in one message; then each section is read into
// the option structs of scenario.hpp, checking types and ranges, and combinations that cannot work
// together (a bound longer than the settle time, a target that does not exist) are checked as soon
// as the values they relate are known; last, a key accepted but never read is reported as a bug.
#include "sim/scenario/scenario_file.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <span>
#include <sstream>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "sim/base/shipped_dirs.hpp"
#include "sim/scenario/limits.hpp"
#include "sim/scenario/toml_file.hpp"

namespace syncstorm {

namespace {

// ---------------------------------------------------------------------------------------------
// Numbers with units, read exactly with integers: "1.5s" is 1,500,000 us with no rounding.

/// A non-negative decimal read without floating point: value = mantissa / 10^decimals.
struct Decimal {
  std::uint64_t mantissa = 0;
  std::uint32_t decimals = 0;
};

/// Reads the leading "digits[.digits]" of `text` and removes them from it. At most 18 digits, so
/// that the mantissa and every product below fit in 64 bits.
std::optional<Decimal> take_decimal(std::string_view& text) {
  Decimal d;
  std::size_t i = 0;
  std::uint32_t digits = 0;
  bool seen_point = false;
  for (; i < text.size(); ++i) {
    char c = text[i];
    if (c == '.' && !seen_point) {
      seen_point = true;
      continue;
    }
    if (c < '0' || c > '9') break;
    if (++digits > 18) return std::nullopt;
    d.mantissa = d.mantissa * 10 + static_cast<std::uint64_t>(c - '0');
    if (seen_point) ++d.decimals;
  }
  if (digits == 0 || text[i - 1] == '.') return std::nullopt;
  text.remove_prefix(i);
  return d;
}

std::uint64_t pow10(std::uint32_t n) {
  std::uint64_t p = 1;
  while (n-- > 0) p *= 10;
  return p;
}

/// mantissa * unit / 10^decimals when that is a whole number that fits; nullopt otherwise.
/// `exact` false rounds half up instead of refusing a remainder.
std::optional<std::uint64_t> scale(Decimal d, std::uint64_t unit, bool exact) {
  std::uint64_t divisor = pow10(d.decimals);
  if (unit != 0 && d.mantissa > std::numeric_limits<std::uint64_t>::max() / unit) return std::nullopt;
  std::uint64_t product = d.mantissa * unit;
  if (exact && product % divisor != 0) return std::nullopt;
  return (product + (exact ? 0 : divisor / 2)) / divisor;
}

struct Unit {
  std::string_view name;
  std::uint64_t size;
};

constexpr Unit kDurationUnits[] = {
    {"us", 1}, {"ms", 1'000}, {"s", 1'000'000}, {"m", 60'000'000}, {"h", 3'600'000'000}};
constexpr Unit kByteUnits[] = {{"B", 1},
                               {"KB", 1'000},
                               {"kB", 1'000},
                               {"MB", 1'000'000},
                               {"GB", 1'000'000'000}};
constexpr Unit kRateUnits[] = {{"s", 1'000'000}, {"m", 60'000'000}, {"h", 3'600'000'000}};

std::optional<std::uint64_t> unit_size(std::span<const Unit> units, std::string_view name) {
  for (const Unit& u : units) {
    if (u.name == name) return u.size;
  }
  return std::nullopt;
}

InputError value_error(std::string message) { return InputError{"", 0, 0, "", std::move(message)}; }

}  // namespace

Result<Duration> parse_duration(std::string_view text) {
  const std::string expected = "expected a duration like \"40ms\" (units: us, ms, s, m, h)";
  std::string_view rest = text;
  bool negative = !rest.empty() && rest.front() == '-';
  if (negative) rest.remove_prefix(1);
  std::optional<Decimal> number = take_decimal(rest);
  if (!number) return value_error(fmt::format("{}, got \"{}\"", expected, text));
  if (rest.empty() && number->mantissa == 0) return Duration::zero();
  if (rest.empty()) return value_error(fmt::format("missing unit in \"{}\": {}", text, expected));
  std::optional<std::uint64_t> unit = unit_size(kDurationUnits, rest);
  if (!unit) return value_error(fmt::format("unknown duration unit \"{}\" (units: us, ms, s, m, h)", rest));
  std::optional<std::uint64_t> us = scale(*number, *unit, true);
  if (!us) return value_error(fmt::format("\"{}\" is not a whole number of microseconds", text));
  if (*us > static_cast<std::uint64_t>(Duration::max().us)) {
    return value_error(fmt::format("\"{}\" is too long", text));
  }
  auto signed_us = static_cast<std::int64_t>(*us);
  return Duration::micros(negative ? -signed_us : signed_us);
}

Result<std::uint64_t> parse_bytes(std::string_view text) {
  const std::string expected = "expected a size like \"10KB\" (units: B, KB, MB, GB; powers of 1000)";
  std::string_view rest = text;
  std::optional<Decimal> number = take_decimal(rest);
  if (!number) return value_error(fmt::format("{}, got \"{}\"", expected, text));
  std::uint64_t unit = 1;
  if (!rest.empty()) {
    std::optional<std::uint64_t> found = unit_size(kByteUnits, rest);
    if (!found) return value_error(fmt::format("unknown size unit \"{}\" (units: B, KB, MB, GB)", rest));
    unit = *found;
  }
  std::optional<std::uint64_t> bytes = scale(*number, unit, true);
  if (!bytes) return value_error(fmt::format("\"{}\" is not a whole number of bytes", text));
  return *bytes;
}

namespace {

/// "2/s", "30/m", "0.5/h": per-client operations per unit of time, as the mean gap between them.
Result<Duration> parse_rate(std::string_view text) {
  const std::string expected = "expected a rate like \"2/s\" (per s, m or h)";
  std::string_view rest = text;
  std::optional<Decimal> number = take_decimal(rest);
  if (!number || rest.size() < 2 || rest.front() != '/' || number->decimals > 6) {
    return value_error(fmt::format("{}, got \"{}\"", expected, text));
  }
  std::optional<std::uint64_t> unit = unit_size(kRateUnits, rest.substr(1));
  if (!unit) return value_error(fmt::format("unknown rate unit \"{}\" (per s, m or h)", rest));
  if (number->mantissa == 0) return value_error("the rate must be above zero");
  // The mean gap is unit / (mantissa / 10^decimals), rounded to the nearest microsecond.
  std::uint64_t numerator = *unit * pow10(number->decimals);
  std::uint64_t gap = (numerator + number->mantissa / 2) / number->mantissa;
  if (gap == 0) return value_error(fmt::format("\"{}\" is too fast: the mean gap would be under 1us", text));
  return Duration::micros(static_cast<std::int64_t>(gap));
}

/// "5%" or "0.25%": a share in parts per million, rounded to the nearest ppm.
std::optional<Ppm> parse_percent(std::string_view text) {
  std::string_view rest = text;
  std::optional<Decimal> number = take_decimal(rest);
  if (!number || rest != "%") return std::nullopt;
  std::optional<std::uint64_t> ppm = scale(*number, kPpmOne / 100, false);
  if (!ppm || *ppm > kPpmOne) return std::nullopt;
  return static_cast<Ppm>(*ppm);
}

// ---------------------------------------------------------------------------------------------
// The accepted keys, in one place. Pass 1 checks the file against it; the readers below read
// exactly these keys (the final pass proves it for every file the tests load).

constexpr std::string_view kTopKeys[] = {"name",     "description", "data_type", "models", "servers",
                                         "network",  "backoff",     "clocks",    "persistence",
                                         "workload", "fault",       "swarm",     "invariants"};
constexpr std::string_view kNetworkKeys[] = {"link",      "latency",   "peer_latency", "server_latency",
                                             "bandwidth", "drop",      "duplicate",    "reorder",
                                             "reorder_delay", "dead_connection_timeout", "connect_timeout",
                                             "assignment"};
constexpr std::string_view kLatencyKeys[] = {"min", "median", "p99"};
constexpr std::string_view kBackoffKeys[] = {"preset", "policy",     "base",          "max",
                                             "multiplier", "jitter", "randomization", "jitter_first_attempt"};
constexpr std::string_view kClockKeys[] = {"skew", "drift_ppm"};
constexpr std::string_view kPersistenceKeys[] = {"client", "server", "lose_unflushed"};
constexpr std::string_view kWorkloadKeys[] = {"clients",      "rate",         "think_time",      "duration",
                                              "keys",         "distribution", "hot_keys",        "hot_share",
                                              "remove_share", "update_share", "decrement_share", "offline_clients",
                                              "offline"};
constexpr std::string_view kWindowKeys[] = {"min", "max"};
constexpr std::string_view kFaultKeys[] = {"kind", "at", "duration", "target", "shape", "amount", "bytes", "rate"};
constexpr std::string_view kSwarmKeys[] = {"enabled", "kinds", "max_faults", "max_fault_duration"};
constexpr std::string_view kInvariantKeys[] = {"check",           "settle",         "convergence_bound",
                                               "metadata_max",    "metadata_growth", "metadata_growth_min"};

constexpr TomlKeys kSchema[] = {
    {"", kTopKeys},
    {"network", kNetworkKeys},
    {"network.latency", kLatencyKeys},
    {"network.peer_latency", kLatencyKeys},
    {"network.server_latency", kLatencyKeys},
    {"backoff", kBackoffKeys},
    {"clocks", kClockKeys},
    {"persistence", kPersistenceKeys},
    {"workload", kWorkloadKeys},
    {"workload.offline", kWindowKeys},
    {"fault", kFaultKeys, true},
    {"swarm", kSwarmKeys},
    {"invariants", kInvariantKeys},
};

// ---------------------------------------------------------------------------------------------
// The scenario file's own value kinds, read through the shared table reader (toml_file.hpp).

/// A duration string; `allow_negative` only for clock jumps, `allow_zero` where zero means "none".
TomlStatus read_duration(const TomlTable& sec, std::string_view key, Duration& out, bool allow_zero = true,
                         bool allow_negative = false) {
  const toml::node* node = sec.get(key);
  if (!node) return std::nullopt;
  if (!node->is_string()) {
    return sec.error(key, fmt::format("expected a duration string like \"40ms\", got {}", TomlTable::type_name(*node)));
  }
  Result<Duration> d = parse_duration(node->as_string()->get());
  if (!d) return sec.error(key, d.error());
  if (!allow_negative && d.value() < Duration::zero()) return sec.error(key, "a negative duration is not allowed here");
  if (!allow_zero && d.value() == Duration::zero()) return sec.error(key, "must be longer than zero");
  if (d.value() > limits::kDurationMax || d.value() < Duration::zero() - limits::kDurationMax) {
    return sec.error(key, fmt::format("\"{}\" is beyond the limit of {} days on any duration (limits::kDurationMax)",
                                      node->as_string()->get(), limits::kDurationMax.us / 86'400'000'000));
  }
  out = d.value();
  return std::nullopt;
}

TomlStatus check_bytes_limit(const TomlTable& sec, std::string_view key, std::uint64_t bytes) {
  if (bytes <= limits::kBytesMax) return std::nullopt;
  return sec.error(key, fmt::format("{} bytes is beyond the limit of {} bytes (1TB) on any size (limits::kBytesMax)", bytes,
                                    limits::kBytesMax));
}

/// A byte count: a whole number, or a string like "10KB"; `per_second` also accepts "10KB/s".
TomlStatus read_bytes(const TomlTable& sec, std::string_view key, std::uint64_t& out, bool per_second = false) {
  const toml::node* node = sec.get(key);
  if (!node) return std::nullopt;
  if (node->is_integer()) {
    std::int64_t v = node->as_integer()->get();
    if (v < 0) return sec.error(key, "a size cannot be negative");
    out = static_cast<std::uint64_t>(v);
    return check_bytes_limit(sec, key, out);
  }
  if (!node->is_string()) return sec.error(key, fmt::format("expected a size like \"10KB\", got {}", TomlTable::type_name(*node)));
  std::string_view text = node->as_string()->get();
  if (per_second && text.ends_with("/s")) text.remove_suffix(2);
  Result<std::uint64_t> b = parse_bytes(text);
  if (!b) return sec.error(key, b.error());
  out = b.value();
  return check_bytes_limit(sec, key, out);
}

/// A probability: a number from 0 to 1, or a percentage string like "5%".
TomlStatus read_probability(const TomlTable& sec, std::string_view key, Ppm& out) {
  const toml::node* node = sec.get(key);
  if (!node) return std::nullopt;
  const std::string range = "expected a probability from 0 to 1 or a percentage like \"5%\"";
  if (node->is_string()) {
    std::optional<Ppm> ppm = parse_percent(node->as_string()->get());
    if (!ppm) return sec.error(key, fmt::format("{}, got \"{}\"", range, node->as_string()->get()));
    out = *ppm;
    return std::nullopt;
  }
  if (!node->is_number()) return sec.error(key, fmt::format("{}, got {}", range, TomlTable::type_name(*node)));
  double x = node->value<double>().value_or(-1.0);
  if (!(x >= 0.0 && x <= 1.0)) return sec.error(key, fmt::format("{} is out of range: {}", x, range));
  // Converted once, here; the run itself only ever sees the integer.
  out = static_cast<Ppm>(std::llround(x * 1e6));
  return std::nullopt;
}

/// A number with a fractional part, stored times 1000 (e.g. a backoff multiplier).
TomlStatus read_milli(const TomlTable& sec, std::string_view key, std::uint32_t& out, double lo, double hi) {
  double x = 0.0;
  if (!sec.has(key)) return std::nullopt;
  SYNCSTORM_TRY(sec.number(key, x, lo, hi));
  out = static_cast<std::uint32_t>(std::llround(x * 1000.0));
  return std::nullopt;
}

// ---------------------------------------------------------------------------------------------
// Section readers.

TomlStatus read_top(const TomlTable& top, Scenario& s) {
  SYNCSTORM_TRY(top.string("name", s.name));
  if (top.has("name") && s.name.empty()) return top.error("name", "a name cannot be empty");
  if (!std::all_of(s.name.begin(), s.name.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
      })) {
    return top.error("name", "a name is letters, digits, '-', '_' and '.' only (it names output files)");
  }
  SYNCSTORM_TRY(top.string("description", s.description));
  if (s.description.find('\n') != std::string::npos) return top.error("description", "a description is one line");
  DataType type = DataType::map;
  if (top.has("data_type")) {
    SYNCSTORM_TRY(top.choice<DataType>("data_type", type, kDataTypeNames));
    s.data_type = type;
  }
  if (top.has("models")) {
    // The strategies the scenario is about: only they fit it (as a pinned data type narrows it).
    const toml::array* names = top.get("models")->as_array();
    if (!names || names->empty()) return top.error("models", "expected a non-empty list of model names");
    for (const toml::node& item : *names) {
      std::optional<std::string> name = item.value<std::string>();
      if (!name || name->empty()) return top.error("models", "expected model names (non-empty strings)");
      if (std::find(s.models.begin(), s.models.end(), *name) != s.models.end()) {
        return top.error("models", fmt::format("\"{}\" is listed twice", *name));
      }
      s.models.push_back(*name);
    }
  }
  return top.integer("servers", s.servers, 0, limits::kServersMax);
}

/// A latency: a table { min, median, p99 } with all three keys, or one duration for a fixed delay.
TomlStatus read_latency(const TomlTable& net, std::string_view key, LatencyOptions& out) {
  const toml::node* node = net.get(key);
  if (!node) return std::nullopt;
  if (node->is_string()) {
    Duration fixed;
    SYNCSTORM_TRY(read_duration(net, key, fixed));
    out = LatencyOptions{fixed, fixed, fixed};
    return std::nullopt;
  }
  Result<TomlTable> lat = net.sub(key);
  if (!lat) return net.error(key, "expected { min = \"5ms\", median = \"30ms\", p99 = \"150ms\" } or one duration");
  for (std::string_view part : {"min", "median", "p99"}) {
    if (!lat.value().has(part)) {
      return net.error(key, fmt::format("missing '{}': a latency gives min, median and p99", part));
    }
  }
  SYNCSTORM_TRY(read_duration(lat.value(), "min", out.min));
  SYNCSTORM_TRY(read_duration(lat.value(), "median", out.median));
  SYNCSTORM_TRY(read_duration(lat.value(), "p99", out.p99));
  if (out.min > out.median) return lat.value().error("min", "min is above median");
  if (out.median > out.p99) return lat.value().error("p99", "p99 is below median");
  if (out.median == out.min && out.p99 > out.min) {
    return lat.value().error("median", "median equals min, so the log-normal excess is always zero and p99 cannot exceed min");
  }
  return std::nullopt;
}

TomlStatus read_network(const TomlTable& net, NetworkOptions& n) {
  SYNCSTORM_TRY(net.choice<LinkKind>("link", n.client_link, kLinkKindNames));
  SYNCSTORM_TRY(read_latency(net, "latency", n.latency));
  // Peer links follow the general latency unless the file gives their own; server-to-server links
  // keep their datacenter default, because a slow access network says nothing about the backbone.
  n.peer_latency = n.latency;
  SYNCSTORM_TRY(read_latency(net, "peer_latency", n.peer_latency));
  SYNCSTORM_TRY(read_latency(net, "server_latency", n.server_latency));
  if (const toml::node* bw = net.get("bandwidth"); bw && bw->value<std::string>() == "unlimited") {
    n.bandwidth_bytes_per_s = 0;
  } else {
    SYNCSTORM_TRY(read_bytes(net, "bandwidth", n.bandwidth_bytes_per_s, true));
    if (bw && n.bandwidth_bytes_per_s == 0) return net.error("bandwidth", "zero bandwidth delivers nothing; write \"unlimited\" for no cap");
  }
  SYNCSTORM_TRY(read_probability(net, "drop", n.drop));
  SYNCSTORM_TRY(read_probability(net, "duplicate", n.duplicate));
  SYNCSTORM_TRY(read_probability(net, "reorder", n.reorder));
  if (n.drop == kPpmOne) return net.error("drop", "a drop of 1 loses every datagram and nothing could ever converge");
  SYNCSTORM_TRY(read_duration(net, "reorder_delay", n.reorder_delay));
  SYNCSTORM_TRY(read_duration(net, "dead_connection_timeout", n.dead_connection_timeout, false));
  SYNCSTORM_TRY(read_duration(net, "connect_timeout", n.connect_timeout, false));
  return net.choice<ServerAssignment>("assignment", n.assignment, kServerAssignmentNames);
}

}  // namespace

std::optional<BackoffOptions> backoff_preset(std::string_view name) {
  if (name == "socket.io") {
    return BackoffOptions{BackoffPolicy::exponential, Duration::seconds(1), Duration::seconds(5), 2'000,
                          Jitter::proportional, 500'000, true};
  }
  if (name == "grpc") {
    // gRPC tries to connect at once and backs off only after a failed attempt.
    return BackoffOptions{BackoffPolicy::exponential, Duration::seconds(1), Duration::seconds(120), 1'600,
                          Jitter::proportional, 200'000, false};
  }
  return std::nullopt;
}

namespace {

TomlStatus read_backoff(const TomlTable& sec, BackoffOptions& b) {
  std::string preset;
  SYNCSTORM_TRY(sec.string("preset", preset));
  if (sec.has("preset")) {
    std::optional<BackoffOptions> p = backoff_preset(preset);
    if (!p) return sec.error("preset", fmt::format("unknown value \"{}\": expected one of socket.io, grpc", preset));
    b = *p;
  }
  SYNCSTORM_TRY(sec.choice<BackoffPolicy>("policy", b.policy, kBackoffPolicyNames));
  SYNCSTORM_TRY(read_duration(sec, "base", b.base, false));
  SYNCSTORM_TRY(read_duration(sec, "max", b.max, false));
  SYNCSTORM_TRY(read_milli(sec, "multiplier", b.multiplier_milli, 1.0, 100.0));
  SYNCSTORM_TRY(sec.choice<Jitter>("jitter", b.jitter, kJitterNames));
  SYNCSTORM_TRY(read_probability(sec, "randomization", b.randomization));
  SYNCSTORM_TRY(sec.boolean("jitter_first_attempt", b.jitter_first_attempt));
  if (b.base > b.max) return sec.error(sec.has("max") ? "max" : "base", "max is below base: no delay could respect both");
  if (sec.has("randomization") && b.jitter != Jitter::proportional) {
    return sec.error("randomization", "randomization applies only to jitter = \"proportional\"");
  }
  if (sec.has("multiplier") && b.policy != BackoffPolicy::exponential) {
    return sec.error("multiplier", "multiplier applies only to policy = \"exponential\"");
  }
  return std::nullopt;
}

TomlStatus read_clocks(const TomlTable& sec, ClockOptions& c) {
  SYNCSTORM_TRY(read_duration(sec, "skew", c.skew_max));
  // Quartz drifts by tens of ppm; 10% is already far beyond any real clock.
  return sec.integer("drift_ppm", c.drift_ppm_max, 0, 100'000);
}

TomlStatus read_persistence(const TomlTable& sec, PersistenceOptions& p) {
  SYNCSTORM_TRY(sec.boolean("client", p.client));
  SYNCSTORM_TRY(sec.boolean("server", p.server));
  // Unset, a crash is a machine's: it loses what was not flushed wherever a store persists at all.
  if (!sec.has("lose_unflushed")) {
    p.lose_unflushed = p.client || p.server;
    return std::nullopt;
  }
  SYNCSTORM_TRY(sec.boolean("lose_unflushed", p.lose_unflushed));
  if (p.lose_unflushed && !p.client && !p.server) {
    return sec.error("lose_unflushed", "lose_unflushed needs client or server persistence: nothing is flushed");
  }
  return std::nullopt;
}

TomlStatus read_offline_window(const TomlTable& work, WorkloadOptions& w) {
  Result<TomlTable> off = work.sub("offline");
  if (!off) return off.error();
  if (off.value().table() && w.offline_clients == 0) {
    return work.error("offline", "offline applies only when offline_clients is above zero");
  }
  SYNCSTORM_TRY(read_duration(off.value(), "min", w.offline_min, false));
  SYNCSTORM_TRY(read_duration(off.value(), "max", w.offline_max, false));
  if (w.offline_min > w.offline_max) return off.value().error("min", "offline min is above max");
  return std::nullopt;
}

TomlStatus read_workload(const TomlTable& sec, WorkloadOptions& w) {
  SYNCSTORM_TRY(sec.integer("clients", w.clients, 1, limits::kClientsMax));
  if (sec.has("rate") && sec.has("think_time")) {
    return sec.error("think_time", "give rate or think_time, not both: one is the inverse of the other");
  }
  if (const toml::node* rate = sec.get("rate")) {
    if (!rate->is_string()) return sec.error("rate", fmt::format("expected a rate like \"2/s\", got {}", TomlTable::type_name(*rate)));
    Result<Duration> gap = parse_rate(rate->as_string()->get());
    if (!gap) return sec.error("rate", gap.error());
    w.think_time_mean = gap.value();
  }
  SYNCSTORM_TRY(read_duration(sec, "think_time", w.think_time_mean, false));
  SYNCSTORM_TRY(read_duration(sec, "duration", w.duration, false));
  SYNCSTORM_TRY(sec.integer("keys", w.keys, 1, limits::kKeysMax));
  SYNCSTORM_TRY(sec.choice<KeyDistribution>("distribution", w.distribution, kKeyDistributionNames));
  for (std::string_view key : {"hot_keys", "hot_share"}) {
    if (sec.has(key) && w.distribution != KeyDistribution::hot) {
      return sec.error(key, fmt::format("{} applies only to distribution = \"hot\"", key));
    }
  }
  SYNCSTORM_TRY(sec.integer("hot_keys", w.hot_keys, 1, limits::kKeysMax));
  SYNCSTORM_TRY(read_probability(sec, "hot_share", w.hot_share));
  if (w.distribution == KeyDistribution::hot && w.hot_keys > w.keys) {
    return sec.error(sec.has("hot_keys") ? "hot_keys" : "keys",
                     fmt::format("hot_keys ({}) is above keys ({})", w.hot_keys, w.keys));
  }
  SYNCSTORM_TRY(read_probability(sec, "remove_share", w.remove_share));
  SYNCSTORM_TRY(read_probability(sec, "update_share", w.update_share));
  if (std::uint64_t{w.remove_share} + w.update_share > kPpmOne) {
    return sec.error(sec.has("update_share") ? "update_share" : "remove_share",
                     "remove_share plus update_share is above 1: they are shares of one operation mix");
  }
  SYNCSTORM_TRY(read_probability(sec, "decrement_share", w.decrement_share));
  SYNCSTORM_TRY(read_probability(sec, "offline_clients", w.offline_clients));
  return read_offline_window(sec, w);
}

/// The bounds of a malicious fault's `bytes`: room for a real message plus padding, and far below
/// the engine's own message limit, so an attack never stops a run.
constexpr std::uint64_t kHostileBytesMin = 64;
constexpr std::uint64_t kHostileBytesMax = 16'000'000;

/// Which optional keys each fault kind takes, besides `kind` and `at`.
struct FaultKeys {
  bool duration = true;  ///< false for instantaneous faults
  bool amount = false;
  bool bytes = false;
  bool rate = false;
  bool shape = false;
};

FaultKeys keys_of(FaultKind kind) {
  switch (kind) {
    case FaultKind::partition: return {.shape = true};
    case FaultKind::reset: return {.duration = false};
    case FaultKind::clock_jump: return {.duration = false, .amount = true};
    case FaultKind::latency:
    case FaultKind::jitter:
    case FaultKind::timeout:
    case FaultKind::slow_close: return {.amount = true};
    case FaultKind::bandwidth:
    case FaultKind::limit_data: return {.bytes = true};
    case FaultKind::slicer:
    case FaultKind::malicious: return {.amount = true, .bytes = true};
    case FaultKind::drop:
    case FaultKind::duplicate:
    case FaultKind::reorder: return {.rate = true};
    case FaultKind::crash:
    case FaultKind::crash_after_flush:
    case FaultKind::offline:
    case FaultKind::down: return {};
  }
  return {};
}

std::vector<std::string_view> accepted_fault_keys(FaultKeys k, bool target) {
  std::vector<std::string_view> out = {"kind", "at"};
  if (k.duration) out.push_back("duration");
  if (target) out.push_back("target");
  if (k.shape) out.push_back("shape");
  if (k.amount) out.push_back("amount");
  if (k.bytes) out.push_back("bytes");
  if (k.rate) out.push_back("rate");
  return out;
}

/// "all", "clients", "servers", "client:N", "server:N", "random_client", "random_server".
std::optional<Target> parse_target(std::string_view text) {
  if (std::optional<Target::Kind> whole = parse_enum(kWholeTargetNames, text)) return Target{*whole, 0};
  for (auto [prefix, kind] : {std::pair{std::string_view("client:"), Target::Kind::client},
                              std::pair{std::string_view("server:"), Target::Kind::server}}) {
    if (!text.starts_with(prefix)) continue;
    std::string_view digits = text.substr(prefix.size());
    if (digits.empty() || digits.size() > 9 ||
        !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return std::nullopt;
    }
    return Target{kind, static_cast<std::uint32_t>(std::stoul(std::string(digits)))};
  }
  return std::nullopt;
}

bool clients_only(const Target& t) {
  return t.kind == Target::Kind::clients || t.kind == Target::Kind::client || t.kind == Target::Kind::random_client;
}
bool touches_servers(const Target& t) {
  return t.kind == Target::Kind::servers || t.kind == Target::Kind::server || t.kind == Target::Kind::random_server;
}

/// Whether a partition of this shape names its target. Halves, bridge and isolate_servers split
/// every node (the engine draws the halves and the bridge node per seed), so a target would be ignored.
bool shape_takes_target(PartitionShape shape) {
  return shape == PartitionShape::isolate || shape == PartitionShape::one_way;
}

TomlStatus read_target(const TomlTable& f, const Scenario& s, FaultSpec& out) {
  std::string text;
  SYNCSTORM_TRY(f.string("target", text));
  std::optional<Target> t = parse_target(text);
  if (!t) {
    return f.error("target", fmt::format("unknown target \"{}\": expected all, clients, servers, client:N, server:N, "
                                         "random_client or random_server", text));
  }
  if (t->kind == Target::Kind::client && t->index >= s.workload.clients) {
    return f.error("target", fmt::format("client:{} does not exist: there are {} clients (client:0 to client:{})",
                                         t->index, s.workload.clients, s.workload.clients - 1));
  }
  if (t->kind == Target::Kind::server && t->index >= s.servers) {
    return f.error("target", fmt::format("server:{} does not exist: there {} {} server{}", t->index,
                                         s.servers == 1 ? "is" : "are", s.servers, s.servers == 1 ? "" : "s"));
  }
  if (touches_servers(*t) && s.servers == 0) return f.error("target", "this scenario has no servers");
  out.target = *t;
  return std::nullopt;
}

/// Rules between a fault's kind, shape and target.
TomlStatus check_fault_target(const TomlTable& f, const FaultSpec& fault) {
  if ((fault.kind == FaultKind::crash || fault.kind == FaultKind::crash_after_flush) && fault.target.kind == Target::Kind::all) {
    return f.error("target", "a crash of every node at once leaves nothing to converge; target clients or servers");
  }
  if (fault.kind == FaultKind::malicious && fault.target.kind != Target::Kind::client &&
      fault.target.kind != Target::Kind::random_client) {
    return f.error("target", "a malicious fault turns one client hostile: target client:N or random_client");
  }
  if (fault.kind == FaultKind::offline && !clients_only(fault.target)) {
    return f.error("target", "only clients go offline: target clients, client:N or random_client");
  }
  if (fault.kind != FaultKind::partition || !shape_takes_target(fault.shape)) return std::nullopt;
  if (fault.target.kind == Target::Kind::all) {
    return f.error("target", fmt::format("a {} partition needs a part of the nodes, not all", to_string(fault.shape)));
  }
  return std::nullopt;
}

/// The keys a fault's kind needs, each read with its own rules.
TomlStatus read_fault_values(const TomlTable& f, FaultKeys keys, FaultSpec& fault) {
  std::string_view kind = to_string(fault.kind);
  auto require = [&](std::string_view key, std::string_view what) {
    return f.require(key, fmt::format("a {} fault needs {} ({})", kind, key, what));
  };
  if (keys.duration) {
    SYNCSTORM_TRY(require("duration", "how long it lasts, e.g. \"10s\""));
    SYNCSTORM_TRY(read_duration(f, "duration", fault.duration, fault.kind == FaultKind::crash));
  } else {
    fault.duration = Duration::zero();  // instantaneous
  }
  const bool malicious = fault.kind == FaultKind::malicious;
  if (keys.amount) {
    SYNCSTORM_TRY(require("amount", fault.kind == FaultKind::clock_jump ? "the jump, e.g. \"-2s\""
                                    : malicious                         ? "the gap between hostile messages, e.g. \"200ms\""
                                                                        : "a delay, e.g. \"200ms\""));
    bool jump = fault.kind == FaultKind::clock_jump;
    SYNCSTORM_TRY(read_duration(f, "amount", fault.amount, false, jump));
  }
  if (keys.bytes) {
    SYNCSTORM_TRY(require("bytes", fault.kind == FaultKind::bandwidth ? "bytes per second, e.g. \"10KB\""
                                   : malicious                         ? "the largest hostile message, e.g. \"256KB\""
                                                                       : "a size, e.g. \"10KB\""));
    SYNCSTORM_TRY(read_bytes(f, "bytes", fault.bytes, fault.kind == FaultKind::bandwidth));
    if (fault.bytes == 0) return f.error("bytes", "must be above zero");
    if (malicious && (fault.bytes < kHostileBytesMin || fault.bytes > kHostileBytesMax)) {
      return f.error("bytes", fmt::format("the largest hostile message must be from {}B to {}MB, got {}B", kHostileBytesMin,
                                          kHostileBytesMax / 1'000'000, fault.bytes));
    }
  }
  if (keys.rate) {
    SYNCSTORM_TRY(require("rate", "a probability, e.g. 0.2 or \"20%\""));
    SYNCSTORM_TRY(read_probability(f, "rate", fault.ppm));
    if (fault.ppm == 0) return f.error("rate", "a rate of zero does nothing");
  }
  return std::nullopt;
}

TomlStatus read_fault(const TomlTable& f, const Scenario& s, FaultSpec& fault) {
  fault.line = f.table()->source().begin.line;
  SYNCSTORM_TRY(f.require("kind", "every fault needs a kind"));
  SYNCSTORM_TRY(f.choice<FaultKind>("kind", fault.kind, kFaultKindNames));
  if (fault.kind == FaultKind::partition) SYNCSTORM_TRY(f.choice<PartitionShape>("shape", fault.shape, kPartitionShapeNames));
  FaultKeys keys = keys_of(fault.kind);
  bool takes_target = fault.kind != FaultKind::partition || shape_takes_target(fault.shape);
  std::vector<std::string_view> accepted = accepted_fault_keys(keys, takes_target);
  for (const auto& [key, node] : *f.table()) {
    if (std::find(accepted.begin(), accepted.end(), key.str()) != accepted.end()) continue;
    std::string what = fault.kind == FaultKind::partition ? fmt::format("a {} partition", to_string(fault.shape))
                                                          : fmt::format("a {} fault", to_string(fault.kind));
    return f.error(key.str(), fmt::format("does not apply to {} (it takes: {})", what, fmt::join(accepted, ", ")));
  }
  SYNCSTORM_TRY(f.require("at", "every fault needs at (when it starts, e.g. \"10s\")"));
  Duration at;
  SYNCSTORM_TRY(read_duration(f, "at", at, true, true));
  if (at < Duration::zero()) return f.error("at", "a fault cannot start before the run (at is negative)");
  fault.at = Instant::start() + at;
  if (takes_target) {
    SYNCSTORM_TRY(f.require("target", fmt::format("a {} fault needs a target", to_string(fault.kind))));
    SYNCSTORM_TRY(read_target(f, s, fault));
    SYNCSTORM_TRY(check_fault_target(f, fault));
  }
  SYNCSTORM_TRY(read_fault_values(f, keys, fault));
  if (fault.kind == FaultKind::malicious && s.servers == 0) {
    return f.error("kind", "a malicious client sends its hostile messages to its server, and this scenario has none");
  }
  if (fault.kind == FaultKind::partition) {
    if (std::optional<std::string> why = empty_side(fault.shape, fault.target, s.servers, s.workload.clients)) {
      return f.error(shape_takes_target(fault.shape) && f.has("target") ? "target" : "shape", *why);
    }
  }
  return std::nullopt;
}

TomlStatus read_faults(const TomlTable& top, Scenario& s) {
  return top.each("fault", "fault", [&](const TomlTable& f) -> TomlStatus {
    if (s.faults.size() >= limits::kFaultsMax) {
      return f.error("kind", fmt::format("more than {} faults (limits::kFaultsMax); swarm mode draws many faults from a "
                                         "few lines", limits::kFaultsMax));
    }
    FaultSpec fault;
    SYNCSTORM_TRY(read_fault(f, s, fault));
    s.faults.push_back(fault);
    return std::nullopt;
  });
}

TomlStatus read_swarm(const TomlTable& sec, SwarmOptions& w, const Scenario& s) {
  SYNCSTORM_TRY(sec.boolean("enabled", w.enabled));
  if (sec.has("kinds")) {
    SYNCSTORM_TRY(sec.choices<FaultKind>("kinds", w.kinds, kFaultKindNames));
  }
  SYNCSTORM_TRY(sec.integer("max_faults", w.max_faults, 1, limits::kSwarmFaultsMax));
  SYNCSTORM_TRY(read_duration(sec, "max_fault_duration", w.max_fault_duration, false));
  if (w.enabled && w.kinds.empty()) {
    return sec.error("kinds", "swarm is enabled with no fault kinds to draw from");
  }
  // The swarm draws only partitions that split something (see draw_swarm); with one node none does.
  const bool partitions = std::find(w.kinds.begin(), w.kinds.end(), FaultKind::partition) != w.kinds.end();
  if (w.enabled && partitions && s.servers + std::uint64_t{s.workload.clients} < 2) {
    return sec.error("kinds", "partition: a partition needs two nodes, and this scenario has one");
  }
  const bool malicious = std::find(w.kinds.begin(), w.kinds.end(), FaultKind::malicious) != w.kinds.end();
  if (w.enabled && malicious && s.servers == 0) {
    return sec.error("kinds", "malicious: a malicious client sends its hostile messages to its server, and this "
                              "scenario has none");
  }
  return std::nullopt;
}

TomlStatus read_invariants(const TomlTable& sec, InvariantOptions& inv) {
  if (const toml::node* check = sec.get("check"); check && check->value<std::string>() == "all") {
    inv.enabled.assign(std::begin(kAllInvariants), std::end(kAllInvariants));
  } else if (check) {
    if (check->is_string()) {
      return sec.error("check", fmt::format("expected \"all\" or a list of names from: {}", names_list(kInvariantNames)));
    }
    SYNCSTORM_TRY(sec.choices<Invariant>("check", inv.enabled, kInvariantNames));
  }
  SYNCSTORM_TRY(read_duration(sec, "settle", inv.settle, false));
  SYNCSTORM_TRY(read_duration(sec, "convergence_bound", inv.convergence_bound, false));
  SYNCSTORM_TRY(read_bytes(sec, "metadata_max", inv.metadata_bytes_max));
  // Below 1 the check would flag metadata that only keeps pace with its state.
  SYNCSTORM_TRY(read_milli(sec, "metadata_growth", inv.metadata_growth_milli_max, 1.0, 1'000.0));
  SYNCSTORM_TRY(read_bytes(sec, "metadata_growth_min", inv.metadata_growth_bytes_min));
  if (inv.convergence_bound > inv.settle) {
    return sec.error(sec.has("convergence_bound") ? "convergence_bound" : "settle",
                     "convergence_bound is longer than settle: the check runs at the end of settle, so it could "
                     "never see a late convergence");
  }
  return std::nullopt;
}

/// The error for a run too large as a whole, at the first of `keys` the file sets in `section`.
InputError size_error(const TomlTable& top, std::string_view section, std::initializer_list<std::string_view> keys,
                      std::string message) {
  Result<TomlTable> sec = top.sub(section);
  if (!sec || !sec.value().table()) return top.error(section, std::move(message));
  for (std::string_view key : keys) {
    if (sec.value().has(key)) return sec.value().error(key, std::move(message));
  }
  return top.error(section, std::move(message));
}

std::string days(Duration d) { return fmt::format("{:.1f} days", static_cast<double>(d.us) / 86'400e6); }

/// What the values allow only together: the expected number of operations, drawn before the run,
/// and the simulated span (the last heal plus settle), against limits.hpp.
TomlStatus check_run_size(const TomlTable& top, const Scenario& s) {
  const WorkloadOptions& w = s.workload;
  // At most 1e6 clients x 6.05e11 us: the product fits in 64 bits.
  const std::uint64_t operations =
      std::uint64_t{w.clients} * static_cast<std::uint64_t>(w.duration.us) / static_cast<std::uint64_t>(w.think_time_mean.us);
  if (operations > limits::kOperationsMax) {
    return size_error(top, "workload", {"duration", "rate", "think_time", "clients"},
                      fmt::format("the users would issue about {} operations ({} clients for {} s at one per {} s), above "
                                  "the limit of {} per run (limits::kOperationsMax): shorten the duration, lower the rate "
                                  "or use fewer clients",
                                  operations, w.clients, w.duration.to_seconds(), w.think_time_mean.to_seconds(),
                                  limits::kOperationsMax));
  }
  Duration heal = w.duration;
  const FaultSpec* last = nullptr;  // the fault that heals last, when one outlasts the users
  for (const FaultSpec& f : s.faults) {
    if ((f.at - Instant::start()) + f.duration > heal) {
      heal = (f.at - Instant::start()) + f.duration;
      last = &f;
    }
  }
  if (s.swarm.enabled && w.duration + s.swarm.max_fault_duration > heal) {
    heal = w.duration + s.swarm.max_fault_duration;
    last = nullptr;
  }
  const Duration span = heal + s.invariants.settle;
  if (span <= limits::kDurationMax) return std::nullopt;
  const std::string message = fmt::format("the run would last {} (its last heal at {} plus settle), above the limit of {} "
                                          "(limits::kDurationMax)", days(span), days(heal), days(limits::kDurationMax));
  if (last != nullptr) {
    const auto index = static_cast<std::size_t>(last - s.faults.data());
    return InputError{s.file, last->line, 1, fmt::format("fault[{}].duration", index), message};
  }
  return size_error(top, "invariants", {"settle"}, message);
}

TomlStatus read_document(const TomlTable& top, Scenario& s) {
  SYNCSTORM_TRY(read_top(top, s));
  SYNCSTORM_TRY(top.section("network", [&](const TomlTable& sec) { return read_network(sec, s.network); }));
  SYNCSTORM_TRY(top.section("backoff", [&](const TomlTable& sec) { return read_backoff(sec, s.network.backoff); }));
  SYNCSTORM_TRY(top.section("clocks", [&](const TomlTable& sec) { return read_clocks(sec, s.clocks); }));
  SYNCSTORM_TRY(top.section("persistence", [&](const TomlTable& sec) { return read_persistence(sec, s.persistence); }));
  // Workload before faults: a fault's target is checked against the number of clients.
  SYNCSTORM_TRY(top.section("workload", [&](const TomlTable& sec) { return read_workload(sec, s.workload); }));
  SYNCSTORM_TRY(top.section("swarm", [&](const TomlTable& sec) { return read_swarm(sec, s.swarm, s); }));
  SYNCSTORM_TRY(top.section("invariants", [&](const TomlTable& sec) { return read_invariants(sec, s.invariants); }));
  SYNCSTORM_TRY(read_faults(top, s));
  return check_run_size(top, s);
}

}  // namespace

Result<Scenario> parse_scenario(std::string_view toml_text, const std::string& file) {
  Result<TomlFile> doc = TomlFile::parse(toml_text, file, kSchema);
  if (!doc) return doc.error();
  Scenario s;
  s.file = file;
  s.name = std::filesystem::path(file).stem().string();
  if (s.name.empty()) s.name = "unnamed";
  SYNCSTORM_TRY(doc.value().read([&](const TomlTable& top) { return read_document(top, s); }));
  return s;
}

Result<Scenario> load_scenario(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    return InputError{path, 0, 0, "", std::filesystem::exists(path, ec) ? "not a regular file" : "no such file"};
  }
  if (const std::uintmax_t size = std::filesystem::file_size(path, ec); !ec && size > limits::kScenarioFileBytesMax) {
    return InputError{path, 0, 0, "", fmt::format("the file has {} bytes, above the limit of {} for a scenario file "
                                                  "(limits::kScenarioFileBytesMax)", size, limits::kScenarioFileBytesMax)};
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return InputError{path, 0, 0, "", "cannot open the file"};
  std::ostringstream text;
  text << in.rdbuf();
  return parse_scenario(text.str(), path);
}

std::string shipped_scenario_dir() { return shipped_dir("SYNCSTORM_SCENARIOS", "scenarios", "scenarios"); }

std::vector<std::string> scenario_files_in(const std::string& dir) {
  std::vector<std::string> files;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.is_regular_file(ec) && entry.path().extension() == ".toml") files.push_back(entry.path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace syncstorm
