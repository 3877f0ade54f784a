// tests/data/word_alignment_expected.json (made by tools/fixtures/word_alignment_expected.py with
// the real HF stack), read once; shared by the masking and word-label tests. Needs XLING_FIXTURES.
#pragma once

#include <filesystem>

#include <nlohmann/json.hpp>

#include "core/json.hpp"

namespace xling::testing {

inline const nlohmann::json& word_alignment_expected() {
  static const nlohmann::json j = core::read_json_file(
      (std::filesystem::path(XLING_FIXTURES).parent_path().parent_path() / "data" / "word_alignment_expected.json")
          .string());
  return j;
}

}  // namespace xling::testing
