// A user's model, added to the shipped ones: their binary runs every syncstorm command with it.
#include <map>
#include <vector>

#include "models/model.hpp"
#include "sim/cli/cli.hpp"
#include "sim/base/codec.hpp"

namespace {

using namespace syncstorm;

// A grow-only counter through a server: each client sends its running total; the server keeps the
// largest total per client and broadcasts the map. Totals are idempotent, so resends are harmless.
class Replica final : public Node {
 public:
  explicit Replica(bool server) : server_(server) {}
  void on_start(Context&) override {}
  void on_user_operation(Context& ctx, const Operation& op) override {
    totals_[ctx.self().value] += op.amount > 0 ? op.amount : 0;
    pending_.push_back(op.id);
    ctx.report(op.id, Lifecycle::applied);
    push(ctx);
  }
  void on_message(Context& ctx, NodeId, std::string_view payload) override {
    Reader r(payload);
    const std::uint32_t n = r.u32();
    std::int64_t server_has_mine = 0;
    for (std::uint32_t i = 0; i < n && r.ok(); ++i) {
      const std::uint32_t node = r.u32();
      const std::int64_t total = r.i64();
      if (!r.ok()) break;
      if (total > totals_[node]) totals_[node] = total;
      if (node == ctx.self().value) server_has_mine = total;
    }
    if (server_) {
      for (NodeId c : ctx.clients()) {
        if (ctx.connected(c)) ctx.send(c, encode());
      }
    } else if (server_has_mine >= totals_[ctx.self().value]) {
      // The server's map holds our whole total: every pending increment is saved.
      for (OpId id : pending_) ctx.report(id, Lifecycle::acknowledged);
      pending_.clear();
    }
  }
  void on_connected(Context& ctx, NodeId) override { push(ctx); }
  std::optional<State> state() const override {
    State s;
    s.type = DataType::counter;
    for (const auto& [node, total] : totals_) s.counter += total;
    return s;
  }

 private:
  void push(Context& ctx) {
    if (server_) return;
    if (auto server = ctx.connected_server()) ctx.send(*server, encode());
  }
  std::string encode() const {
    Writer w;
    w.u32(static_cast<std::uint32_t>(totals_.size()));
    for (const auto& [node, total] : totals_) w.u32(node).i64(total);
    return w.take();
  }
  bool server_;
  std::map<std::uint32_t, std::int64_t> totals_;
  std::vector<OpId> pending_;
};

}  // namespace

int main(int argc, char** argv) {
  ModelRegistry models = shipped_models();
  ModelInfo mine;
  mine.name = "my-counter";
  mine.description = "a user's grow-only counter, built against an installed syncstorm";
  mine.data_type = DataType::counter;
  mine.make_client = [](NodeId) { return std::make_unique<Replica>(false); };
  mine.make_server = [](NodeId) { return std::make_unique<Replica>(true); };
  models.add(std::move(mine));
  return cli_main(argc, argv, models);
}
