// jemalloc's options, compiled into the executables only when they link jemalloc (CMakeLists.txt,
// SYNCSTORM_JEMALLOC). jemalloc reads this symbol at start-up; MALLOC_CONF in the environment
// still overrides it.
//
// Transparent huge pages: a 100,000-client run holds about 700 MB of small records, read in no
// order a cache could follow. With 4 KB pages nearly every record is also a TLB miss, and the
// prefetch hints (sim/prefetch.hpp) wait for page walks; with 2 MB pages the whole working set is
// mapped by the TLB. The 100,000-client storm runs about 11% faster, small runs the same
// (README, Benchmarks). Where the kernel gives no huge pages, nothing changes.
extern "C" {
// NOLINTNEXTLINE(cppcoreguidelines-avoid-non-const-global-variables): the name jemalloc looks for
const char* malloc_conf = "thp:always,metadata_thp:always";
}
