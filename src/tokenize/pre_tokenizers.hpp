// tokenizer.json pre-tokenizers: BertPreTokenizer, Whitespace, WhitespaceSplit, Metaspace,
// ByteLevel, Split, Digits, Punctuation, Sequence. Each turns one NormalizedString into
// the pieces the model tokenizes separately.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tokenize/normalized_string.hpp"

namespace xling::tokenize {

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  // Splits `piece`, appending the results (empty ones are dropped) to `out`.
  virtual void split(NormalizedString piece, std::vector<NormalizedString>& out) const = 0;
};

// Applies `pre` to every piece (nullptr: pieces unchanged).
void pre_tokenize(const PreTokenizer* pre, std::vector<NormalizedString>& pieces);

std::unique_ptr<PreTokenizer> make_pre_tokenizer(const nlohmann::json& j, const std::string& source);

// The GPT-2 pattern ByteLevel uses when use_regex is true.
inline constexpr const char* kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

// The byte-level transform (each UTF-8 byte -> its printable char), shared with the
// ByteLevel post-processor's offset trimming.
void byte_level_transform(NormalizedString& s);

}  // namespace xling::tokenize
