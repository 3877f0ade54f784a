// Regular expressions for tokenizer patterns through Oniguruma (the engine HF tokenizers
// uses): lookahead and \p{L}-style properties, UTF-8 subjects.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "tokenize/normalized_string.hpp"

namespace xling::tokenize {

class Regex {
 public:
  // Throws InvalidArgument naming `source` and the pattern when it does not compile.
  Regex(const std::string& pattern, const std::string& source);
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  // Full cover of `s` with (range, is_match), as HF's find_matches; empty matches skipped.
  MatchList find_matches(std::string_view s) const;

 private:
  void* regex_ = nullptr;  // OnigRegex
};

// Escapes a literal string for use inside a pattern.
std::string regex_escape(std::string_view literal);

}  // namespace xling::tokenize
