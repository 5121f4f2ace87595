// A failed assertion prints our ids, times, states and enums in the words of the violation reports
// (tests/printers.hpp), not as Catch's `{?}` or a bare number.
#include <catch2/catch.hpp>

#include <optional>
#include <vector>

#include "models/model.hpp"
#include "sim/base/data.hpp"
#include "tests/printers.hpp"

using namespace syncstorm;
using Catch::Detail::stringify;

TEST_CASE("ids print as the reports name them", "[printers]") {
  CHECK(stringify(OpId{7}) == "op7");
  CHECK(stringify(NodeId{2}) == "node 2");
  CHECK(stringify(KeyId{3}) == "k3");
  CHECK(stringify(std::vector<OpId>{OpId{1}, OpId{2}}) == "{ op1, op2 }");
}

TEST_CASE("times print in milliseconds to the microsecond", "[printers]") {
  CHECK(stringify(Duration::micros(1'500)) == "1.500 ms");
  CHECK(stringify(Duration::micros(-2)) == "-0.002 ms");
  CHECK(stringify(Duration::seconds(2)) == "2000.000 ms");
  CHECK(stringify(Instant{250}) == "at 0.250 ms");
  CHECK(stringify(Instant::never()) == "never");
}

TEST_CASE("states, operations and enums print as the reports write them", "[printers]") {
  State map;
  map.fields = {{KeyId{1}, OpId{2}}, {KeyId{3}, OpId{4}}};
  CHECK(stringify(map) == "map {k1=op2, k3=op4}");
  State list;
  list.type = DataType::list;
  list.items = {Item{KeyId{5}, OpId{9}}};
  CHECK(stringify(list) == "list [item5=op9]");

  Operation op;
  op.id = OpId{7};
  op.client = NodeId{5};
  op.issued_at = Instant{1'000};
  op.kind = OpKind::map_set;
  op.key = KeyId{3};
  CHECK(stringify(op) == "op7 by node 5 at 1.000 ms: set k3");
  op.kind = OpKind::counter_add;
  op.amount = -4;
  CHECK(stringify(op) == "op7 by node 5 at 1.000 ms: increment by -4");

  CHECK(stringify(Invariant::lost_acknowledged_write) == std::string(to_string(Invariant::lost_acknowledged_write)));
  CHECK(stringify(std::optional<Invariant>(Invariant::convergence)) == "convergence");
  CHECK(stringify(Lifecycle::acknowledged) == "acknowledged");
  CHECK(stringify(DataType::text) == "text");
}
