// xling's version, and the versions of the reference tools whose results it matches.
#pragma once

namespace xling {

inline constexpr const char* kVersion = "0.1.0";
// The PyPI torch wheel xling is built and tested against (pinned in the Makefile).
inline constexpr const char* kPinnedTorch = "2.11.0";

}  // namespace xling
