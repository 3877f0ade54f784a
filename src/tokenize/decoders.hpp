// tokenizer.json decoders: WordPiece, Metaspace, ByteLevel, ByteFallback, Fuse, Strip,
// Replace, BPEDecoder, CTC-free subset, Sequence. Token strings -> text.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace xling::tokenize {

class Decoder {
 public:
  virtual ~Decoder() = default;
  // HF decode_chain: tokens -> tokens; the final text is their concatenation.
  virtual void decode_chain(std::vector<std::string>& tokens) const = 0;
};

std::unique_ptr<Decoder> make_decoder(const nlohmann::json& j, const std::string& source);

}  // namespace xling::tokenize
