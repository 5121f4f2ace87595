// Where the data syncstorm ships beside its code lives: the scenario files and the external adapters.
// A binary built in a source tree reads them from that tree; an installed one from
// <prefix>/share/syncstorm, wherever the prefix was moved.
#pragma once

#include <string>
#include <string_view>

namespace syncstorm {

/// The shipped folder `name` ("scenarios", "adapters"): the folder the environment variable `env`
/// names when it is set; else the first that exists of `<prefix>/share/syncstorm/<name>` beside the
/// running executable in `<prefix>/bin`, `source_path` in the source tree this library was built
/// from, and `share/syncstorm/<name>` under the install prefix it was configured with; else the
/// source tree's, so that an error names where the folder was expected.
std::string shipped_dir(const char* env, std::string_view name, std::string_view source_path);

}  // namespace syncstorm
