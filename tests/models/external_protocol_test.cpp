// How an external replica reads its adapter's answer lines, without a process: every line a buggy
// adapter can write is a protocol error or a valid action, never an exception out of the replica.
// The lines below are the regression inputs of tests/fuzz/ (the protocol harness).
#include <catch2/catch.hpp>

#include <optional>
#include <string>

#include "models/external/external.hpp"
#include "tests/printers.hpp"

using namespace syncstorm;

TEST_CASE("the actions a shipped adapter writes are valid protocol lines", "[external]") {
  CHECK(protocol_line_error(R"({"a":"done"})", DataType::map) == std::nullopt);
  CHECK(protocol_line_error(R"({"a":"send","to":0,"data":"AQEB"})", DataType::map) == std::nullopt);
  CHECK(protocol_line_error(R"({"a":"send","to":0,"data":"AQEB","control":true})", DataType::map) == std::nullopt);
  CHECK(protocol_line_error(R"({"a":"send","to":0,"data":"AQEB","control":false})", DataType::map) == std::nullopt);
  CHECK(protocol_line_error(R"({"a":"send","to":0,"data":"AQEB","own_writes_through":4})", DataType::map) == std::nullopt);
  CHECK(protocol_line_error(R"({"a":"send","to":0,"data":"AQEB","lacks_own_writes":[2,5]})", DataType::map) ==
        std::nullopt);
  CHECK(protocol_line_error(R"({"a":"send","to":0,"data":"AQEB","lacks_own_writes":[]})", DataType::map) == std::nullopt);
  CHECK(protocol_line_error(R"({"a":"report","op":1,"lifecycle":"applied"})", DataType::map) == std::nullopt);
  CHECK(protocol_line_error(R"({"a":"hold","tag":3})", DataType::map) == std::nullopt);
  CHECK(protocol_line_error(R"({"a":"release","tag":3})", DataType::map) == std::nullopt);
  CHECK(protocol_line_error(R"({"a":"state","state":{"type":"list","items":[[3,2]]},"metadata_bytes":38})", DataType::list) ==
        std::nullopt);
  CHECK(protocol_line_error(
            R"({"a":"describe","name":"yjs-list","data_type":"list","topology":"client_server","rule":"add_wins","protocol":2})",
            DataType::map) == std::nullopt);
}

TEST_CASE("a line that breaks the protocol is an error saying what it lacks", "[external]") {
  CHECK(protocol_line_error("not json", DataType::map) == "wrote a line that is not protocol");
  CHECK(protocol_line_error(R"({"a":7})", DataType::map) == "wrote a line that is not protocol");
  CHECK(protocol_line_error(R"({"a":"send","to":0,"data":"A"})", DataType::map).value().starts_with("a send needs"));
  CHECK(protocol_line_error(R"({"a":"put","key":1,"value":"AAAA"})", DataType::map).value().starts_with("a put needs"));
  CHECK(protocol_line_error(R"({"a":"send","to":0,"data":"AQEB","control":"yes"})", DataType::map).value().starts_with(
      "a send's \"control\" must be true or false"));
  const auto send_with = [](const std::string& extra) {
    return protocol_line_error(R"({"a":"send","to":0,"data":"AQEB",)" + extra + "}", DataType::map).value_or("");
  };
  CHECK(send_with(R"("lacks_own_writes":3)") == "a send's \"lacks_own_writes\" must be an array of op ids");
  CHECK(send_with(R"("lacks_own_writes":[1,0])") == "a send's \"lacks_own_writes\" must be an array of op ids");
  CHECK(send_with(R"("lacks_own_writes":["1"])") == "a send's \"lacks_own_writes\" must be an array of op ids");
  CHECK(send_with(R"("lacks_own_writes":[1],"control":true)").starts_with("a control send carries no write"));
  CHECK(send_with(R"("lacks_own_writes":[1],"own_writes_through":2)") ==
        "a send declares \"own_writes_through\" or \"lacks_own_writes\", not both");
  std::string many = R"("lacks_own_writes":[1)";
  for (int i = 2; i <= 4'097; ++i) many += "," + std::to_string(i);
  CHECK(send_with(many + "]").starts_with("a send's \"lacks_own_writes\" names 4097 ops (at most 4096)"));
  CHECK(protocol_line_error(R"({"a":"state","state":{"type":"map","fields":{"x":1}}})", DataType::map) ==
        "a state that is not a canonical map state");
  CHECK(protocol_line_error(R"({"a":"hold"})", DataType::map) == "a hold needs \"tag\" (an integer naming what is held)");
  CHECK(protocol_line_error(R"({"a":"release","tag":"x"})", DataType::map).value().starts_with("a release needs"));
  CHECK(protocol_line_error(R"({"a":"jump"})", DataType::map) == "unknown action");
}

TEST_CASE("fields of the wrong JSON type are errors or defaults, never an exception", "[external]") {
  // nlohmann's value() throws when the field has another type: these once escaped the replica.
  CHECK(protocol_line_error(R"({"a":"error","message":5})", DataType::map) == std::nullopt);
  const auto describe = [](const std::string& extra) {
    return protocol_line_error(
        R"({"a":"describe","data_type":"map","topology":"client_server","rule":"add_wins")" + extra + "}", DataType::map);
  };
  CHECK(describe(R"(,"description":[1])") == std::nullopt);
  CHECK(describe(R"(,"correct":"no")").value().find("\"correct\" that is not true or false") != std::string::npos);
  CHECK(describe(R"(,"correct":false)").value().find("names no invariant") != std::string::npos);
  CHECK(describe(R"(,"correct":false,"breaks":"convergence")") == std::nullopt);
  // A deployment declaration must be a boolean: "yes" read as no would keep the adapter off the
  // scenarios its author meant it for, without a word.
  CHECK(describe(R"(,"multi_server":"yes")").value().find("\"multi_server\" that is not true or false") != std::string::npos);
  CHECK(describe(R"(,"datagram_links":1)").value().find("\"datagram_links\" that is not true or false") != std::string::npos);
  CHECK(describe(R"(,"multi_server":true,"datagram_links":false)") == std::nullopt);
  // So must a promise to the writes-follow-reads check: a misspelt one would leave it unjudged.
  CHECK(describe(R"(,"writes_follow_reads":"promised")") == std::nullopt);
  CHECK(describe(R"(,"writes_follow_reads":"over_streams")") == std::nullopt);
  CHECK(describe(R"(,"writes_follow_reads":"not-promised")") == std::nullopt);
  CHECK(describe(R"(,"writes_follow_reads":"always")").value().find("\"writes_follow_reads\" that is not") != std::string::npos);
  CHECK(describe(R"(,"writes_follow_reads":true)").value().find("\"writes_follow_reads\" that is not") != std::string::npos);
  // And one to order a user's writes across keys.
  CHECK(describe(R"(,"writes_in_order":"over-streams")") == std::nullopt);
  CHECK(describe(R"(,"writes_in_order":"in order")").value().find("\"writes_in_order\" that is not") != std::string::npos);
  // And a declaration of how its metadata grows: a misspelt one would hold it to the strictest bound.
  CHECK(describe(R"(,"metadata_growth":"keeps_every_change")") == std::nullopt);
  CHECK(describe(R"(,"metadata_growth":"with_state")") == std::nullopt);
  CHECK(describe(R"(,"metadata_growth":"keeps-every-change")") == std::nullopt);
  CHECK(describe(R"(,"metadata_growth":"every change")").value().find("\"metadata_growth\" that is not") != std::string::npos);
  CHECK(describe(R"(,"metadata_growth":true)").value().find("\"metadata_growth\" that is not") != std::string::npos);
}
