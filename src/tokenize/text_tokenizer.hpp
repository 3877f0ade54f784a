// One interface over the tokenizer kinds xling loads: a Hugging Face tokenizer.json (or a
// directory with one) and a raw sentencepiece .model file. The CLI, the server and the
// model runners take this.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tokenize/encoding.hpp"
#include "tokenize/tokenizer.hpp"

namespace xling::tokenize {

class TextTokenizer {
 public:
  virtual ~TextTokenizer() = default;
  virtual Encoding encode(std::string_view text, bool add_special) const = 0;
  virtual std::vector<Encoding> encode_batch(const std::vector<std::string>& texts, const std::vector<std::string>* pairs,
                                             bool add_special, const TruncationOptions& trunc,
                                             const PaddingOptions& pad) const = 0;
  virtual std::string decode(const std::vector<int>& ids, bool skip_special) const = 0;
  virtual const PaddingOptions& default_padding() const = 0;
  virtual std::size_t vocab_size() const = 0;
  virtual std::string kind() const = 0;       // "tokenizer.json (Unigram)", "sentencepiece (BPE)"
  virtual bool has_offsets() const = 0;       // false: Encoding::offsets are not meaningful
};

// `path`: a directory with tokenizer.json, a tokenizer.json file, or a sentencepiece .model
// file. Throws IoError / InvalidArgument / UnsupportedModel naming the file.
std::unique_ptr<TextTokenizer> load_text_tokenizer(const std::string& path);

}  // namespace xling::tokenize
