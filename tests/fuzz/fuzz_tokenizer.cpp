// libFuzzer target for the tokenizers: the first byte picks the mode.
//   0: the rest is a tokenizer.json document -> load, then encode a fixed text with it;
//   1: the rest is text -> encode and decode it with every fixture tokenizer;
//   2: the rest is a sentencepiece .model file -> load, then encode a fixed text.
// Any outcome but success or an xling::Error is a bug.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "core/json.hpp"
#include "tokenize/sentencepiece_model.hpp"
#include "tokenize/sentencepiece_tokenizer.hpp"
#include "tokenize/tokenizer.hpp"
#include "tokenize/unicode.hpp"
#include "xling/errors.hpp"

using namespace xling::tokenize;

namespace {

const std::vector<std::unique_ptr<Tokenizer>>& fixture_tokenizers() {
  static std::vector<std::unique_ptr<Tokenizer>> all = [] {
    std::vector<std::unique_ptr<Tokenizer>> out;
    for (const auto& e : std::filesystem::directory_iterator(std::string(XLING_FIXTURES) + "/tokenizers")) {
      if (std::filesystem::exists(e.path() / "tokenizer.json")) {
        out.push_back(std::make_unique<Tokenizer>(Tokenizer::from_file(e.path().string())));
      }
    }
    return out;
  }();
  return all;
}

void exercise(const Tokenizer& t, const std::string& text) {
  auto e = t.encode(text);
  auto p = t.encode_pair(text, "x y", /*add_special=*/true);
  (void)to_char_offsets(text, e.offsets);
  (void)t.decode(e.ids, /*skip_special=*/true);
  (void)p;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  std::string rest(reinterpret_cast<const char*>(data + 1), size - 1);
  int mode = data[0] % 3;
  try {
    if (mode == 0) {
      auto json = xling::core::parse_json(rest, "fuzz/tokenizer.json");
      Tokenizer t = Tokenizer::from_json(json, "fuzz/tokenizer.json");
      exercise(t, "Hello wörld, 123 <s> 東京 🇩🇪 ");
    } else if (mode == 1) {
      std::string text = replace_invalid_utf8(rest);
      for (const auto& t : fixture_tokenizers()) exercise(*t, text);
    } else {
      auto proto = SpmModelProto::parse(rest, "fuzz.model");
      auto spm = SentencePieceTokenizer::from_proto(std::move(proto), "fuzz.model");
      auto ids = spm.encode("Hello wörld, 123 東京 🇩🇪 ");
      (void)spm.encode_with_offsets("  Hello\twörld ﬁ ①  ");
      (void)spm.decode(ids);
    }
  } catch (const xling::Error&) {
  }
  return 0;
}
