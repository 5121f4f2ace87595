// The network behaves like the real ones: streams are FIFO and lossless inside a connection,
// resets lose what was in flight, reconnects follow the backoff policy, datagrams are lost,
// duplicated and reordered at the configured rates, partitions cut exactly what they say.
#include <catch2/catch.hpp>

#include <map>
#include <sstream>

#include "sim/engine/simulation.hpp"
#include "tests/printers.hpp"
#include "tests/sim/probe_model.hpp"

using namespace syncstorm;
using namespace syncstorm::testing;

namespace {

ScheduledFault fault(FaultKind kind, Instant start, Duration duration, std::vector<NodeId> a, std::vector<NodeId> b = {}) {
  ScheduledFault f;
  f.kind = kind;
  f.start = start;
  f.duration = duration;
  f.side_a = std::move(a);
  f.side_b = std::move(b);
  return f;
}

struct Line {
  std::int64_t t;
  std::string ev;
  std::uint32_t node;
  std::uint32_t peer;
  std::uint64_t a;
};

std::vector<Line> parse_trace(const std::string& jsonl) {
  std::vector<Line> out;
  std::istringstream in(jsonl);
  std::string line;
  while (std::getline(in, line)) {
    Line l{};
    char ev[32] = {0};
    // {"t":0,"ev":"connect_attempt","node":1,"peer":0,"token":1,...}
    if (std::sscanf(line.c_str(), "{\"t\":%ld,\"ev\":\"%31[^\"]\",\"node\":%u,\"peer\":%u,\"%*[a-z]\":%lu", &l.t, ev, &l.node,
                    &l.peer, &l.a) == 5) {
      l.ev = ev;
      out.push_back(l);
    }
  }
  return out;
}

}  // namespace

TEST_CASE("inside one stream connection nothing is lost or reordered, even under resets and jitter", "[sim][network]") {
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    auto rec = std::make_shared<Recorder>();
    const ModelInfo model = probe_model(rec, Duration::millis(7));
    Scenario scenario = quiet_scenario(4, Duration::seconds(20));
    scenario.network.latency = LatencyOptions{Duration::millis(5), Duration::millis(40), Duration::millis(400)};
    Schedule schedule = make_schedule(scenario, DataType::map, seed);
    schedule.operations.clear();
    schedule.faults.push_back(fault(FaultKind::reset, Instant{Duration::seconds(5).us}, Duration::millis(1), {schedule.client(0)}));
    schedule.faults.push_back(fault(FaultKind::jitter, Instant{Duration::seconds(8).us}, Duration::seconds(4), {schedule.client(1)}));
    schedule.faults.back().amount = Duration::millis(300);
    schedule.faults.push_back(fault(FaultKind::crash, Instant{Duration::seconds(12).us}, Duration::seconds(2), {schedule.server(0)}));
    normalise(schedule);
    const RunResult r = run_simulation(scenario, model, schedule, seed);
    REQUIRE(r.metrics.connection_resets >= 5);  // one reset, then four clients when the server crashes
    // Per client, the sequence numbers the server received: within a connection they must rise by
    // exactly one; a gap is allowed only where the connection was reset in between.
    std::map<std::uint32_t, std::uint64_t> last;
    for (const Receipt& receipt : rec->receipts) {
      if (receipt.to != schedule.server(0)) continue;
      auto [it, fresh] = last.try_emplace(receipt.from.value, receipt.seq);
      if (!fresh) {
        INFO("seed " << seed << " client " << receipt.from.value << " at " << receipt.at.us);
        REQUIRE(receipt.seq > it->second);  // never reordered, never duplicated
        if (receipt.seq != it->second + 1) {
          // A gap: some reset of this client's connection happened between the two receipts.
          bool reset_between = false;
          for (auto& [node, when] : rec->disconnects) reset_between |= node == receipt.from && when <= receipt.at;
          REQUIRE(reset_between);
        }
        it->second = receipt.seq;
      }
    }
    REQUIRE(last.size() == 4);
  }
}

TEST_CASE("after a reset the client reconnects at the gaps its backoff policy gives", "[sim][network]") {
  const Jitter jitter = GENERATE(Jitter::none, Jitter::full, Jitter::equal);
  auto rec = std::make_shared<Recorder>();
  const ModelInfo model = probe_model(rec, Duration::zero());
  Scenario scenario = quiet_scenario(1, Duration::seconds(5));
  scenario.network.backoff = BackoffOptions{BackoffPolicy::exponential, Duration::millis(500), Duration::seconds(4), 2'000,
                                            jitter, 0, true};
  Schedule schedule = make_schedule(scenario, DataType::map, 9);
  schedule.operations.clear();
  // The server is down for 20 s, so every attempt in that window is refused after one round trip.
  schedule.faults.push_back(fault(FaultKind::crash, Instant{Duration::seconds(1).us}, Duration::seconds(20), {schedule.server(0)}));
  normalise(schedule);
  std::ostringstream trace;
  run_simulation(scenario, model, schedule, 9, RunOptions{&trace});
  std::vector<std::int64_t> attempts;
  for (const Line& l : parse_trace(trace.str())) {
    if (l.ev == "connect_attempt" && l.t >= Duration::seconds(1).us) attempts.push_back(l.t);
  }
  REQUIRE(attempts.size() >= 6);
  // The first attempt waits backoff(0) from the reset; each later one waits for the refusal (one
  // round trip of the fixed 10 ms links) and then backoff(k).
  const std::int64_t round_trip = Duration::millis(20).us;
  std::int64_t nominal = Duration::millis(500).us;
  for (std::size_t k = 0; k < attempts.size(); ++k) {
    const std::int64_t gap = k == 0 ? attempts[0] - Duration::seconds(1).us : attempts[k] - attempts[k - 1] - round_trip;
    INFO("attempt " << k << " gap " << gap << " nominal " << nominal);
    switch (jitter) {
      case Jitter::none: REQUIRE(gap == nominal); break;
      case Jitter::full: REQUIRE((gap >= 0 && gap <= nominal)); break;
      case Jitter::equal: REQUIRE((gap >= nominal / 2 && gap <= nominal)); break;
      default: break;
    }
    nominal = std::min<std::int64_t>(nominal * 2, Duration::seconds(4).us);
  }
}

TEST_CASE("a client still waiting out its backoff at the heal is back when its connection is", "[sim][network]") {
  // History::clients_back: the moment the convergence bound runs from when the heal found a client
  // without its connection. The server is down from 1 to 21 s; the client's attempts back off up to
  // 4 s, so the heal finds it waiting and it connects some time after.
  auto rec = std::make_shared<Recorder>();
  const ModelInfo model = probe_model(rec, Duration::zero());
  Scenario scenario = quiet_scenario(2, Duration::seconds(5));
  scenario.network.backoff = BackoffOptions{BackoffPolicy::exponential, Duration::millis(500), Duration::seconds(4), 2'000,
                                            Jitter::none, 0, true};
  Schedule schedule = make_schedule(scenario, DataType::map, 9);
  schedule.operations.clear();
  schedule.faults.push_back(fault(FaultKind::crash, Instant{Duration::seconds(1).us}, Duration::seconds(20), {schedule.server(0)}));
  normalise(schedule);
  std::ostringstream trace;
  const RunResult r = run_simulation(scenario, model, schedule, 9, RunOptions{&trace});
  const Instant heal{Duration::seconds(21).us};
  REQUIRE(r.history.last_heal == heal);
  std::int64_t last_connected = 0;
  for (const Line& l : parse_trace(trace.str())) {
    if (l.ev == "connected" && l.t >= heal.us) last_connected = std::max(last_connected, l.t);
  }
  REQUIRE(last_connected > heal.us);
  REQUIRE(r.history.clients_back.has_value());
  CHECK(r.history.clients_back->us == last_connected);

  // No fault: the heal is the end of the writes, every client is connected then, and none is back.
  Schedule quiet = make_schedule(scenario, DataType::map, 9);
  quiet.operations.clear();
  const RunResult calm = run_simulation(scenario, model, quiet, 9);
  CHECK_FALSE(calm.history.clients_back.has_value());
}

TEST_CASE("datagram links drop, duplicate and reorder at the configured rates", "[sim][network]") {
  std::uint64_t sent = 0, dropped = 0, duplicated = 0, reordered = 0, receipts = 0;
  for (std::uint64_t seed = 1; seed <= 30; ++seed) {
    auto rec = std::make_shared<Recorder>();
    const ModelInfo model = probe_model(rec, Duration::millis(20), /*peer=*/true);
    Scenario scenario = quiet_scenario(4, Duration::seconds(10));
    scenario.servers = 0;
    scenario.network.drop = 100'000;       // 10%
    scenario.network.duplicate = 50'000;   // 5%
    scenario.network.reorder = 200'000;    // 20%, held back up to 50 ms: later datagrams overtake
    Schedule schedule = make_schedule(scenario, DataType::map, seed);
    schedule.operations.clear();
    const RunResult r = run_simulation(scenario, model, schedule, seed);
    sent += r.metrics.messages_sent;
    dropped += r.metrics.messages_dropped;
    duplicated += r.metrics.messages_duplicated;
    std::map<std::pair<std::uint32_t, std::uint32_t>, std::uint64_t> highest;
    for (const Receipt& receipt : rec->receipts) {
      ++receipts;
      auto& h = highest[{receipt.from.value, receipt.to.value}];
      if (receipt.seq < h) ++reordered;
      h = std::max(h, receipt.seq);
    }
  }
  REQUIRE(sent > 20'000);
  const double drop_rate = static_cast<double>(dropped) / static_cast<double>(sent);
  const double dup_rate = static_cast<double>(duplicated) / static_cast<double>(sent - dropped);
  CHECK(drop_rate == Approx(0.10).margin(0.01));
  CHECK(dup_rate == Approx(0.05).margin(0.01));
  // Datagrams still in flight when a run ends are neither delivered nor dropped: a few per client.
  CHECK(receipts <= sent - dropped + duplicated);
  CHECK(sent - dropped + duplicated - receipts <= 30 * 4 * 4);
  CHECK(reordered > 0);  // some datagrams arrived after later ones from the same sender
}

TEST_CASE("a partition cuts exactly the configured pairs, in the configured direction, for its duration", "[sim][network]") {
  const bool one_way = GENERATE(false, true);
  auto rec = std::make_shared<Recorder>();
  const ModelInfo model = probe_model(rec, Duration::millis(5), /*peer=*/true);
  Scenario scenario = quiet_scenario(4, Duration::seconds(10));
  scenario.servers = 0;
  Schedule schedule = make_schedule(scenario, DataType::map, 3);
  schedule.operations.clear();
  const Instant start{Duration::seconds(3).us};
  const Instant end{Duration::seconds(6).us};
  ScheduledFault f = fault(FaultKind::partition, start, end - start, {schedule.client(0)},
                           {schedule.client(1), schedule.client(2)});  // client 3 is on no side
  f.one_way = one_way;
  schedule.faults.push_back(f);
  normalise(schedule);
  std::ostringstream trace;
  run_simulation(scenario, model, schedule, 3, RunOptions{&trace});
  // Sends are traced at the sender; a send that the cut drops is followed at once by its drop.
  const auto lines = parse_trace(trace.str());
  std::map<std::uint64_t, bool> delivered;
  for (const Line& l : lines) {
    if (l.ev == "deliver") delivered[l.a] = true;
  }
  std::uint64_t cut_sends = 0;
  for (const Line& l : lines) {
    if (l.ev != "send") continue;
    const bool a_to_b = l.node == schedule.client(0).value && (l.peer == 1 || l.peer == 2);
    const bool b_to_a = (l.node == 1 || l.node == 2) && l.peer == schedule.client(0).value;
    const bool inside = l.t >= start.us && l.t < end.us;
    // Fixed 10 ms latency: a datagram sent 10 ms before the end lands after it and gets through.
    const bool lands_inside = l.t + Duration::millis(10).us < end.us;
    const bool should_cut = inside && lands_inside && (a_to_b || (b_to_a && !one_way));
    INFO("send at " << l.t << " from " << l.node << " to " << l.peer);
    if (should_cut) {
      REQUIRE_FALSE(delivered[l.a]);
      ++cut_sends;
    } else if (!inside && l.t + Duration::millis(10).us < start.us) {
      REQUIRE(delivered[l.a]);  // outside the window every pair talks (no loss configured)
    } else if (inside && (l.node == 3 || l.peer == 3)) {
      REQUIRE(delivered[l.a]);  // the node on no side is never cut
    } else if (inside && b_to_a && one_way) {
      REQUIRE(delivered[l.a]);  // one way: the isolated node still hears the others
    }
  }
  REQUIRE(cut_sends > 50);
}

namespace {

/// One client offline from 4 s to 8 s on links of a fixed 200 ms, so that messages are in flight
/// when the fault starts; every other node keeps talking. The trace of the run.
struct OfflineRun {
  std::vector<Line> lines;
  std::uint32_t offline = 0;
  std::int64_t start = Duration::seconds(4).us;
  std::int64_t end = Duration::seconds(8).us;

  OfflineRun(LinkKind client_link, bool peers) {
    auto rec = std::make_shared<Recorder>();
    const ModelInfo model = probe_model(rec, Duration::millis(20), peers, /*echo=*/true);
    Scenario scenario = quiet_scenario(3, Duration::seconds(12));
    scenario.network.latency = LatencyOptions{Duration::millis(200), Duration::millis(200), Duration::millis(200)};
    scenario.network.peer_latency = scenario.network.latency;
    scenario.network.client_link = client_link;
    if (peers) scenario.servers = 0;
    Schedule schedule = make_schedule(scenario, DataType::map, 5);
    schedule.operations.clear();
    offline = schedule.client(0).value;
    schedule.faults.push_back(fault(FaultKind::offline, Instant{start}, Duration{end - start}, {schedule.client(0)}));
    normalise(schedule);
    std::ostringstream trace;
    run_simulation(scenario, model, schedule, 5, RunOptions{&trace});
    lines = parse_trace(trace.str());
  }

  /// Checks what the fault must cut and what it must leave alone.
  void check() const {
    std::map<std::uint64_t, std::int64_t> delivered_at;
    for (const Line& l : lines) {
      if (l.ev == "deliver") delivered_at[l.a] = l.t;
    }
    std::uint64_t in_flight_cut = 0, others_inside = 0, back_out = 0, back_in = 0;
    for (const Line& l : lines) {
      if (l.ev != "send") continue;
      const bool from_it = l.node == offline;
      const bool to_it = l.peer == offline;
      const auto it = delivered_at.find(l.a);
      const bool delivered = it != delivered_at.end();
      const bool sent_inside = l.t >= start && l.t < end;
      INFO("send at " << l.t << " from " << l.node << " to " << l.peer);
      if (from_it || to_it) {
        // Nothing it sends and nothing sent to it while offline gets through, whenever it lands.
        if (sent_inside) REQUIRE_FALSE(delivered);
        // Nothing reaches it, or leaves it, while the fault lasts: what was in flight is cut too.
        if (delivered) REQUIRE((it->second < start || it->second >= end));
        if (!sent_inside && l.t < start && l.t + Duration::millis(200).us >= start) in_flight_cut += delivered ? 0 : 1;
        if (delivered && l.t >= end + Duration::seconds(1).us) (from_it ? back_out : back_in) += 1;
      } else if (sent_inside && delivered) {
        ++others_inside;
      }
    }
    REQUIRE(in_flight_cut > 0);   // messages sent just before the fault and landing inside it
    REQUIRE(others_inside > 50);  // the other nodes are not cut
    REQUIRE(back_out > 10);       // once the fault ends it talks again, both ways
    REQUIRE(back_in > 10);
  }
};

}  // namespace

TEST_CASE("an offline fault cuts a client's stream connection to its server both ways for its duration", "[sim][network][faults]") {
  OfflineRun(LinkKind::stream, /*peers=*/false).check();
}

TEST_CASE("an offline fault cuts a client's datagram link to its server both ways, datagrams in flight included", "[sim][network][faults]") {
  OfflineRun(LinkKind::datagram, /*peers=*/false).check();
}

TEST_CASE("an offline fault cuts every datagram link of a peer both ways, datagrams in flight included", "[sim][network][faults]") {
  OfflineRun(LinkKind::stream, /*peers=*/true).check();
}

TEST_CASE("a reset of a peer loses the datagrams in flight to and from it, and nothing sent after", "[sim][network][faults]") {
  // Links of a fixed 200 ms, so that datagrams are in flight at the reset; no loss configured.
  auto rec = std::make_shared<Recorder>();
  const ModelInfo model = probe_model(rec, Duration::millis(20), /*peers=*/true, /*echo=*/true);
  Scenario scenario = quiet_scenario(3, Duration::seconds(12));
  scenario.network.peer_latency = LatencyOptions{Duration::millis(200), Duration::millis(200), Duration::millis(200)};
  scenario.servers = 0;
  Schedule schedule = make_schedule(scenario, DataType::map, 5);
  schedule.operations.clear();
  const std::uint32_t target = schedule.client(0).value;
  const std::int64_t at = Duration::seconds(4).us;
  schedule.faults.push_back(fault(FaultKind::reset, Instant{at}, Duration::millis(1), {schedule.client(0)}));
  normalise(schedule);
  std::ostringstream trace;
  run_simulation(scenario, model, schedule, 5, RunOptions{&trace});
  const std::vector<Line> lines = parse_trace(trace.str());
  std::map<std::uint64_t, std::int64_t> delivered_at;
  for (const Line& l : lines) {
    if (l.ev == "deliver") delivered_at[l.a] = l.t;
  }
  std::uint64_t lost_in_flight = 0, others_in_flight = 0, after = 0;
  const std::int64_t last = lines.back().t;
  for (const Line& l : lines) {
    if (l.ev != "send" || l.t + Duration::millis(200).us > last) continue;  // still on the wire at the end
    INFO("send at " << l.t << " from " << l.node << " to " << l.peer);
    const bool delivered = delivered_at.contains(l.a);
    if (l.t + Duration::millis(200).us == at) continue;  // lands at the reset's instant: either order holds
    const bool in_flight = l.t <= at && l.t + Duration::millis(200).us > at;
    const bool touches = l.node == target || l.peer == target;
    if (in_flight && touches) {
      REQUIRE_FALSE(delivered);  // to or from the peer, on the wire at the reset: lost
      ++lost_in_flight;
    } else {
      REQUIRE(delivered);  // everything else arrives: the reset cuts no link for longer
      others_in_flight += in_flight ? 1 : 0;
      after += touches && l.t > at ? 1 : 0;
    }
  }
  CHECK(lost_in_flight > 5);
  CHECK(others_in_flight > 5);  // between the other peers, in flight at the same moment
  CHECK(after > 50);            // the peer talks again at once
}

TEST_CASE("a connect attempt fails at its timeout whatever latency was drawn, and the backoff retries", "[sim][network]") {
  SECTION("a handshake slower than the timeout never completes") {
    auto rec = std::make_shared<Recorder>();
    const ModelInfo model = probe_model(rec, Duration::zero());
    Scenario scenario = quiet_scenario(1, Duration::seconds(5));
    // A 4 s handshake under a 1 s timeout: each attempt fails at 1 s, the next comes 500 ms later.
    scenario.network.latency = LatencyOptions{Duration::seconds(2), Duration::seconds(2), Duration::seconds(2)};
    scenario.network.connect_timeout = Duration::seconds(1);
    scenario.network.backoff = BackoffOptions{BackoffPolicy::fixed, Duration::millis(500), Duration::millis(500), 1'000,
                                              Jitter::none, 0, true};
    Schedule schedule = make_schedule(scenario, DataType::map, 2);
    schedule.operations.clear();
    normalise(schedule);
    std::ostringstream trace;
    const RunResult r = run_simulation(scenario, model, schedule, 2, RunOptions{&trace});
    std::vector<std::int64_t> attempts, failures;
    for (const Line& l : parse_trace(trace.str())) {
      if (l.ev == "connect_attempt") attempts.push_back(l.t);
      if (l.ev == "connect_failed") failures.push_back(l.t);
    }
    REQUIRE(r.metrics.connections_established == 0);
    REQUIRE(rec->connects.empty());
    REQUIRE(attempts.size() >= 5);
    REQUIRE(failures.size() >= attempts.size() - 1);
    for (std::size_t k = 0; k < failures.size(); ++k) {
      INFO("attempt " << k);
      REQUIRE(attempts[k] == static_cast<std::int64_t>(k) * Duration::millis(1'500).us);
      REQUIRE(failures[k] == attempts[k] + Duration::seconds(1).us);
    }
  }
  SECTION("under a heavy latency tail every attempt ends within the timeout, and every client connects") {
    std::uint64_t timed_out = 0;
    for (std::uint64_t seed = 1; seed <= 20; ++seed) {
      auto rec = std::make_shared<Recorder>();
      const ModelInfo model = probe_model(rec, Duration::zero());
      Scenario scenario = quiet_scenario(4, Duration::seconds(20));
      scenario.network.latency = LatencyOptions{Duration::millis(5), Duration::millis(100), Duration::seconds(5)};
      scenario.network.connect_timeout = Duration::millis(500);
      Schedule schedule = make_schedule(scenario, DataType::map, seed);
      schedule.operations.clear();
      normalise(schedule);
      std::ostringstream trace;
      const RunResult r = run_simulation(scenario, model, schedule, seed, RunOptions{&trace});
      std::map<std::uint32_t, std::int64_t> pending;  // client -> its attempt in flight
      for (const Line& l : parse_trace(trace.str())) {
        if (l.ev == "connect_attempt") pending[l.node] = l.t;
        if (l.ev != "connect_failed" && l.ev != "connected") continue;
        INFO("seed " << seed << " client " << l.node << " at " << l.t);
        REQUIRE(pending.count(l.node) == 1);
        REQUIRE(l.t - pending[l.node] <= Duration::millis(500).us);
        timed_out += l.ev == "connect_failed" && l.t - pending[l.node] == Duration::millis(500).us ? 1 : 0;
        pending.erase(l.node);
      }
      INFO("seed " << seed);
      REQUIRE(r.metrics.connections_established >= 4);
    }
    REQUIRE(timed_out > 0);  // the tail was met, and the backoff took over
  }
}
