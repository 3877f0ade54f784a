// tokenizer.json post-processors: TemplateProcessing, BertProcessing, RobertaProcessing,
// ByteLevel (offset trimming), Sequence. They add special tokens and type ids.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "tokenize/encoding.hpp"

namespace xling::tokenize {

class PostProcessor {
 public:
  virtual ~PostProcessor() = default;
  // Special tokens added for a single input (false) or a pair (true).
  virtual std::size_t added_tokens(bool pair) const = 0;
  // `a` and optional `b` -> final encoding; `original_a/b` are the texts (offset trimming).
  virtual Encoding process(Encoding a, std::optional<Encoding> b, bool add_special, std::string_view original_a,
                           std::string_view original_b) const = 0;
};

std::unique_ptr<PostProcessor> make_post_processor(const nlohmann::json& j, const std::string& source);

// Without a post-processor: pair sequences get type id 1, nothing added.
Encoding default_process(Encoding a, std::optional<Encoding> b);

}  // namespace xling::tokenize
