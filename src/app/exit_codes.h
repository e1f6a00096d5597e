#pragma once
// Process exit codes, documented in docs/cli.md.

namespace sluice {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;        // a runtime failure: cannot bind, cannot open data
inline constexpr int kExitUsage = 2;          // bad command line
inline constexpr int kExitInvalidConfig = 3;  // the configuration has errors

}  // namespace sluice
