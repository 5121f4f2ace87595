// JUnit XML for a check: the report format GitHub Actions, GitLab and Jenkins all render. One
// testsuite per scenario (and one named "corpus" for replayed repros), one testcase per scenario x
// model, a <failure> holding the violation report and the command that replays it.
#pragma once

#include <string>
#include <string_view>

#include "sim/sweep/check.hpp"

namespace syncstorm {

/// The JUnit XML document of `report`. Test times are wall-clock seconds (JUnit has no other kind).
std::string check_junit(const CheckReport& report);

/// Escapes text for an XML attribute or element: & < > " ' and control characters.
std::string xml_escape(std::string_view text);

}  // namespace syncstorm
