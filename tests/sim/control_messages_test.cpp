// Control messages (Context::send_control) carry no causal past. A strategy whose handshakes run
// ahead of its data (a reconnecting Yjs client sends its state vector before its offline writes) must
// not be accused of losing a write that a concurrent one legitimately beat, and marking control
// messages must not excuse a loss along the messages that do carry data.
#include <catch2/catch.hpp>

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "models/kit/fields.hpp"
#include "models/kit/server_mirror.hpp"
#include "models/model.hpp"
#include "sim/base/codec.hpp"
#include "sim/cli/commands.hpp"
#include "sim/engine/simulation.hpp"
#include "tests/printers.hpp"

using namespace syncstorm;

namespace {

enum Tag : std::uint8_t { kOp = 1, kAck = 2, kState = 3, kPing = 4 };

/// How the test model sends its "I wrote something" ping: as data (the past flows), as control, or
/// not at all; or as data that the server holds (Context::hold_message) instead of passing it on,
/// until the write it announces arrives, or releases early, at the next message of any client.
enum class Ping : std::uint8_t { data, control, none, held, held_released_early };
constexpr std::uint64_t kPingHold = 7;  ///< the tag the server holds pings under
/// Whether its server applies a resent write again (a bug: the resend overwrites what came after).
enum class Resend : std::uint8_t { ignored, applied_again };
constexpr std::uint64_t kRetry = std::uint64_t{1} << 63;  ///< timer tag bit: the resend

/// A last-writer-wins map whose first client announces its one write at once (a ping the server
/// passes on to the other client) and sends the write itself 5 s later, while the other client
/// sends its writes at once: the server applies them in arrival order, so the delayed write beats
/// the other client's writes of the same field made in between. Under last-writer-wins those are
/// concurrent: the other client never saw the delayed write, only the ping. The first client sends
/// its write once more 5 s later; a server that applies it again overwrites writes made after the
/// other client had received it, a loss along data messages.
/// How many writes the first client makes; whether its delayed sends declare that they carry its
/// own writes only through the one they send (Context::send_with_own_writes_through), or that they
/// lack every other one (Context::send_without_own_writes); and whether the first write waits 7 s
/// instead of 5, so that the second goes out before it.
struct Deferral {
  int writes = 1;
  bool declares_through = false;
  bool declares_lacking = false;
  bool newest_first = false;
};

class DeferredClient final : public Node {
 public:
  DeferredClient(Ping ping, Deferral deferral) : ping_(ping), deferral_(deferral) {}

  void on_start(Context& ctx) override { mirror_.restore(ctx); }

  void on_user_operation(Context& ctx, const Operation& op) override {
    const bool deferring = ctx.clients().front() == ctx.self();
    if (op.kind != OpKind::map_set || (deferring && wrote_ == deferral_.writes)) {
      ctx.report(op.id, Lifecycle::rejected);
      return;
    }
    mirror_.write(ctx, op);
    const auto server = ctx.connected_server();
    if (!deferring) {
      if (server) ctx.send(*server, Writer().u8(kOp).bytes(op.encode()).take());
      return;
    }
    ++wrote_;
    own_.push_back(op.id);
    if (server) send_ping(ctx, ping_, *server);
    ctx.set_timer(Duration::seconds(deferral_.newest_first && wrote_ == 1 ? 7 : 5), op.id.value);
    ctx.set_timer(Duration::seconds(10), op.id.value | kRetry);
  }

  void on_timer(Context& ctx, std::uint64_t tag) override {
    const OpId id{tag & ~kRetry};
    if ((tag & kRetry) == 0) {
      const auto it = mirror_.outbox().entries().find(id);
      if (it != mirror_.outbox().entries().end()) sent_[id] = it->second.op;
    }
    const auto server = ctx.connected_server();
    const auto sent = sent_.find(id);
    if (!server || sent == sent_.end()) return;
    const std::string bytes = Writer().u8(kOp).bytes(sent->second.encode()).take();
    if (deferral_.declares_through) {
      ctx.send_with_own_writes_through(*server, bytes, id);
    } else if (deferral_.declares_lacking) {
      std::vector<OpId> lacking = own_;
      std::erase(lacking, id);
      ctx.send_without_own_writes(*server, bytes, lacking);
    } else {
      ctx.send(*server, bytes);
    }
  }

  void on_message(Context& ctx, NodeId, std::string_view payload) override {
    Reader r(payload);
    const std::uint8_t tag = r.u8();
    if (tag == kAck) {
      mirror_.read_ack(ctx, r);
    } else if (tag == kState && mirror_.read_snapshot(ctx, r, true)) {
      mirror_.refresh();
    }
  }

  void on_connected(Context& ctx, NodeId peer) override {
    if (ctx.clients().front() == ctx.self()) return;  // its write goes on its timer
    for (const auto& [id, entry] : mirror_.outbox().entries()) ctx.send(peer, Writer().u8(kOp).bytes(entry.op.encode()).take());
  }

  std::optional<State> state() const override { return mirror_.state(); }

  static void send_ping(Context& ctx, Ping ping, NodeId to) {
    const std::string bytes = Writer().u8(kPing).take();
    if (ping == Ping::control) ctx.send_control(to, bytes);
    if (ping == Ping::data || ping == Ping::held || ping == Ping::held_released_early) ctx.send(to, bytes);
  }

 private:
  Ping ping_;
  Deferral deferral_;
  int wrote_ = 0;
  std::vector<OpId> own_;           ///< the delayed writes, oldest first
  std::map<OpId, Operation> sent_;  ///< the delayed writes, once sent: what the resend sends again
  ServerMirror mirror_;
};

class DeferredServer final : public Node {
 public:
  DeferredServer(Ping ping, Resend resend) : ping_(ping), resend_(resend) {}

  void on_start(Context&) override {}

  void on_message(Context& ctx, NodeId from, std::string_view payload) override {
    Reader r(payload);
    const std::uint8_t tag = r.u8();
    const bool holds = ping_ == Ping::held || ping_ == Ping::held_released_early;
    // The write the ping announced is here (or, early, any message): what the ping ordered holds.
    if (holds && (ping_ == Ping::held_released_early || (tag == kOp && from == ctx.clients().front()))) {
      ctx.release_held(kPingHold);
    }
    if (tag == kPing && holds) {
      ctx.hold_message(kPingHold);
      return;
    }
    if (tag == kPing) {
      for (NodeId client : ctx.clients()) {
        if (client != from && ctx.connected(client)) DeferredClient::send_ping(ctx, ping_, client);
      }
      return;
    }
    auto op = tag == kOp ? Operation::decode(r.bytes()) : std::nullopt;
    if (!r.ok() || !op) return;
    if (applied_.insert(op->id).second || resend_ == Resend::applied_again) fields_[op->key] = op->id;
    ctx.send(from, Writer().u8(kAck).u64(op->id.value).take());
    const std::string state = fields_message(kState, fields_);
    for (NodeId client : ctx.clients()) {
      if (ctx.connected(client)) ctx.send(client, state);
    }
  }

  void on_connected(Context& ctx, NodeId peer) override { ctx.send(peer, fields_message(kState, fields_)); }

  std::optional<State> state() const override { return to_state(fields_); }

 private:
  Ping ping_;
  Resend resend_;
  Fields fields_;
  std::set<OpId> applied_;
};

ModelInfo deferred_model(Ping ping, Resend resend = Resend::ignored, Deferral deferral = {}) {
  return ModelInfo{
      .name = "deferred-ping",
      .description = "last-writer-wins map whose first client announces a write 5 s before sending it",
      .data_type = DataType::map,
      .topology = Topology::client_server,
      .rule = SupersedeRule::last_writer_wins,
      .breaks = std::nullopt,
      .make_client = [ping, deferral](NodeId) { return std::make_unique<DeferredClient>(ping, deferral); },
      .make_server = [ping, resend](NodeId) { return std::make_unique<DeferredServer>(ping, resend); },
      .holds_messages = ping == Ping::held || ping == Ping::held_released_early,
  };
}
/// Seeds among 1..20 whose run reports a lost acknowledged write.
int runs_with_lost_writes(const ModelInfo& model, const char* duration = "4s") {
  Result<Scenario> scenario = parse_scenario(
      std::string("[workload]\nclients = 2\nrate = \"4/s\"\nduration = \"") + duration + "\"\nkeys = 1\n"
      "[network]\nlatency = { min = \"20ms\", median = \"40ms\", p99 = \"80ms\" }\n"
      "[invariants]\nsettle = \"20s\"\n",
      "deferred.toml");
  REQUIRE(scenario.ok());
  int failing = 0;
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    const Schedule schedule = make_schedule(scenario.value(), model, seed);
    const RunResult r = run_simulation(scenario.value(), model, schedule, seed);
    REQUIRE(r.aborted.empty());
    bool lost = false;
    for (const auto& v : r.violations) lost = lost || v.invariant == Invariant::lost_acknowledged_write;
    failing += lost ? 1 : 0;
  }
  return failing;
}

}  // namespace

TEST_CASE("happens-before flows along data messages and not along control messages", "[sim][history]") {
  // The same runs, byte for byte on the wire: only the ping's declaration differs. Sent as data, the
  // ping makes the other client's writes "follow" the delayed write they never saw, and the delayed
  // write's arrival looks like an overwrite of later acknowledged writes.
  CHECK(runs_with_lost_writes(deferred_model(Ping::data)) >= 5);
  // Sent as control, the writes are concurrent and the delayed one may win.
  CHECK(runs_with_lost_writes(deferred_model(Ping::control)) == 0);
  // A resend applied again overwrites writes made after the state that carried it: that loss runs
  // along data messages, and control pings do not hide it.
  CHECK(runs_with_lost_writes(deferred_model(Ping::control, Resend::applied_again), "10s") >= 3);
}

TEST_CASE("a message that carries its sender's writes only through one does not order the newer ones", "[sim][history]") {
  // The first client makes two writes and sends each 5 s later, oldest first. The first write's
  // message leaves after the second write was made and carries only the first; the other client
  // writes after the first reaches it, and the second then beats that write on arrival. Counted
  // whole, the first message's past orders the other client's write after the second write.
  const Deferral whole{2, false};
  const Deferral through{2, true};
  CHECK(runs_with_lost_writes(deferred_model(Ping::none, Resend::ignored, whole), "6s") >= 3);
  CHECK(runs_with_lost_writes(deferred_model(Ping::none, Resend::ignored, through), "6s") == 0);
  // Declared through each write, a resend applied again still overwrites what followed it.
  CHECK(runs_with_lost_writes(deferred_model(Ping::none, Resend::applied_again, through), "6s") >= 3);
}

TEST_CASE("a message that lacks an older write of its sender does not order it", "[sim][history]") {
  // The first client makes two writes and sends the newer first (a Yjs delete goes out ahead of
  // the offline inserts before it). The other client writes after the newer one reaches it; the
  // older one then beats that write on arrival. Counted as a prefix, the newer write's message
  // orders the other client's write after the older write it never carried.
  const Deferral whole{.writes = 2, .newest_first = true};
  const Deferral lacking{.writes = 2, .declares_lacking = true, .newest_first = true};
  CHECK(runs_with_lost_writes(deferred_model(Ping::none, Resend::ignored, whole), "6s") >= 3);
  CHECK(runs_with_lost_writes(deferred_model(Ping::none, Resend::ignored, lacking), "6s") == 0);
  // Declared lacking the other write, a resend applied again still overwrites what followed it.
  CHECK(runs_with_lost_writes(deferred_model(Ping::none, Resend::applied_again, lacking), "10s") >= 3);
}

TEST_CASE("a message declared to lack a write its sender did not issue aborts the run", "[sim][history]") {
  struct Liar final : Node {
    void on_start(Context&) override {}
    void on_message(Context&, NodeId, std::string_view) override {}
    void on_user_operation(Context& ctx, const Operation& op) override {
      ctx.report(op.id, Lifecycle::applied);
      const OpId other{op.id.value + 1000};
      if (auto server = ctx.connected_server()) ctx.send_without_own_writes(*server, "x", std::span(&other, 1));
    }
    std::optional<State> state() const override { return std::nullopt; }
  };
  Result<Scenario> scenario = parse_scenario(
      "[workload]\nclients = 2\nrate = \"4/s\"\nduration = \"2s\"\nkeys = 1\n", "liar.toml");
  REQUIRE(scenario.ok());
  ModelInfo liar = deferred_model(Ping::none);
  liar.make_client = [](NodeId) { return std::make_unique<Liar>(); };
  const Schedule schedule = make_schedule(scenario.value(), liar, 1);
  const RunResult r = run_simulation(scenario.value(), liar, schedule, 1);
  CHECK_THAT(r.aborted, Catch::Contains("declared to lack its own write"));
}

TEST_CASE("a held message orders nothing until its receiver releases it", "[sim][history]") {
  // The ping travels as data, but the server holds it (what it announces is not there yet) and
  // passes nothing on: the other client's writes do not follow the delayed write, which may win.
  CHECK(runs_with_lost_writes(deferred_model(Ping::held)) == 0);
  // Released early, at the other client's next write, the ping's past is the server's again: every
  // state it sends orders the other client's next writes after the delayed write.
  CHECK(runs_with_lost_writes(deferred_model(Ping::held_released_early)) >= 5);
  // Released when the write arrives, a resend applied again still overwrites what followed it.
  CHECK(runs_with_lost_writes(deferred_model(Ping::held, Resend::applied_again), "10s") >= 3);
}

TEST_CASE("a hold by a model that does not declare holds, or outside a delivery, aborts the run", "[sim][history]") {
  Result<Scenario> scenario = parse_scenario(
      "[workload]\nclients = 2\nrate = \"4/s\"\nduration = \"2s\"\nkeys = 1\n", "holds.toml");
  REQUIRE(scenario.ok());
  ModelInfo undeclared = deferred_model(Ping::held);
  undeclared.holds_messages = false;
  const Schedule schedule = make_schedule(scenario.value(), undeclared, 1);
  const RunResult r = run_simulation(scenario.value(), undeclared, schedule, 1);
  CHECK_THAT(r.aborted, Catch::Contains("does not declare that its nodes hold messages"));

  // A client that holds in a timer: not a delivery.
  struct TimerHolder final : Node {
    void on_start(Context& ctx) override { ctx.set_timer(Duration::seconds(1), 1); }
    void on_timer(Context& ctx, std::uint64_t) override { ctx.hold_message(1); }
    void on_message(Context&, NodeId, std::string_view) override {}
    void on_user_operation(Context& ctx, const Operation& op) override { ctx.report(op.id, Lifecycle::rejected); }
    std::optional<State> state() const override { return std::nullopt; }
  };
  ModelInfo timer_holder = deferred_model(Ping::held);
  timer_holder.make_client = [](NodeId) { return std::make_unique<TimerHolder>(); };
  const RunResult t = run_simulation(scenario.value(), timer_holder, schedule, 1);
  CHECK_THAT(t.aborted, Catch::Contains("held a message outside the delivery of one"));
}

namespace {

/// Two servers; clients 0 and 2 write to server 0, client 1 to server 1 (sticky assignment). Server 0
/// forwards client 0's writes to server 1, which passes them on to client 1, and keeps client 2's
/// to itself: nothing that reaches server 1 or client 1 carries a write of client 2. Server 0
/// declares its forwards to carry the write they hold alone (Context::send_carrying_op), or sends
/// them as ordinary messages; `forged` forwards name a write that was never issued.
enum class Forward : std::uint8_t { whole_past, carrying_op, forged };

class RelayClient final : public Node {
 public:
  void on_start(Context&) override {}
  void on_user_operation(Context& ctx, const Operation& op) override {
    ctx.report(op.id, Lifecycle::applied);
    if (auto server = ctx.connected_server()) ctx.send(*server, Writer().u64(op.id.value).take());
  }
  void on_message(Context&, NodeId, std::string_view) override {}
  std::optional<State> state() const override { return std::nullopt; }
};

class RelayServer final : public Node {
 public:
  explicit RelayServer(Forward forward) : forward_(forward) {}
  void on_start(Context&) override {}
  void on_message(Context& ctx, NodeId from, std::string_view payload) override {
    Reader r(payload);
    const OpId op{r.u64()};
    if (!r.ok()) return;
    if (ctx.self() == ctx.servers()[0] && from == ctx.clients()[0]) {
      const NodeId next = ctx.servers()[1];
      if (forward_ == Forward::whole_past) ctx.send(next, payload);
      if (forward_ == Forward::carrying_op) ctx.send_carrying_op(next, payload, op);
      if (forward_ == Forward::forged) ctx.send_carrying_op(next, payload, OpId{op.value + 1000});
    } else if (ctx.self() == ctx.servers()[1] && from == ctx.servers()[0]) {
      ctx.send(ctx.clients()[1], payload);
    }
  }
  std::optional<State> state() const override { return std::nullopt; }

 private:
  Forward forward_;
};

ModelInfo relay_model(Forward forward) {
  return ModelInfo{
      .name = "forwarding-relay",
      .description = "server 0 forwards one client's writes to server 1",
      .data_type = DataType::map,
      .topology = Topology::client_server,
      .rule = SupersedeRule::last_writer_wins,
      .breaks = std::nullopt,
      .make_client = [](NodeId) { return std::make_unique<RelayClient>(); },
      .make_server = [forward](NodeId) { return std::make_unique<RelayServer>(forward); },
      .multi_server = true,
  };
}

/// Over seeds 1..5: how many of client 1's writes follow a write of client `writer`.
int writes_of_client_1_following(const ModelInfo& model, std::uint32_t writer, std::string* aborted = nullptr) {
  Result<Scenario> scenario = parse_scenario(
      "servers = 2\n[workload]\nclients = 3\nrate = \"4/s\"\nduration = \"4s\"\nkeys = 1\n", "relay.toml");
  REQUIRE(scenario.ok());
  int following = 0;
  for (std::uint64_t seed = 1; seed <= 5; ++seed) {
    const Schedule schedule = make_schedule(scenario.value(), model, seed);
    const RunResult r = run_simulation(scenario.value(), model, schedule, seed);
    if (aborted != nullptr) {
      *aborted = r.aborted;
      return 0;
    }
    REQUIRE(r.aborted.empty());
    const NodeId client_1 = NodeId{schedule.servers + 1};
    const NodeId other = NodeId{schedule.servers + writer};
    for (const OpRecord& w : r.history.ops) {
      if (w.issued && w.op.client == client_1 && w.past->seen_from(other) > 0) ++following;
    }
  }
  return following;
}

}  // namespace

TEST_CASE("a forward declared to carry one write orders only that write and its past", "[sim][history]") {
  // Sent as an ordinary message, server 0's forward carries everything server 0 had taken in,
  // client 2's writes too, which nothing ever brings to client 1: its writes would follow them.
  CHECK(writes_of_client_1_following(relay_model(Forward::whole_past), 2) >= 5);
  // Declared to carry the forwarded write alone, it orders client 1's writes after client 0's
  // writes (what it does bring), and after none of client 2's.
  CHECK(writes_of_client_1_following(relay_model(Forward::carrying_op), 2) == 0);
  CHECK(writes_of_client_1_following(relay_model(Forward::carrying_op), 0) >= 5);
  // A forward that names a write its sender never saw is a false declaration: the run aborts.
  std::string aborted;
  writes_of_client_1_following(relay_model(Forward::forged), 0, &aborted);
  CHECK_THAT(aborted, Catch::Contains("declared to carry op"));
}
