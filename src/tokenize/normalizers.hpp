// tokenizer.json normalizers: BertNormalizer, NFC/NFD/NFKC/NFKD, Lowercase, StripAccents,
// Replace, Prepend, Strip, Precompiled (sentencepiece charsmap), Sequence.
#pragma once

#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "tokenize/normalized_string.hpp"

namespace xling::tokenize {

class Normalizer {
 public:
  virtual ~Normalizer() = default;
  virtual void normalize(NormalizedString& s) const = 0;
};

// Builds from the tokenizer.json "normalizer" object (null -> nullptr). Throws
// InvalidArgument naming `source` and the offending type/field.
std::unique_ptr<Normalizer> make_normalizer(const nlohmann::json& j, const std::string& source);

}  // namespace xling::tokenize
