// Text in, text out for decoder-only LLMs: a CausalGenerator with its tokenizer and chat
// template. Prompts are encoded as transformers does (a plain prompt with the tokenizer's
// special tokens; a conversation rendered by the chat template and encoded without them, as
// apply_chat_template(tokenize=True)); replies are decoded incrementally for streaming and
// end at EOS, the token budget or a stop string. `xling chat` and `xling generate --prompt`
// use it.
#pragma once

#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "generate/causal_scorer.hpp"
#include "tokenize/chat_template.hpp"
#include "tokenize/text_tokenizer.hpp"

namespace xling::generate {

struct TextReply {
  std::string text;                 // special tokens skipped, a stop string kept (as HF's stop_strings)
  std::vector<int64_t> ids;         // the generated ids
  std::string finish_reason;        // "stop" (EOS or a stop string) or "length"
};

class TextGenerator {
 public:
  // dtype: f32, bf16, f16 or int8 (CPU). template_name picks a named chat template ("" =
  // default). A missing chat template is not an error here; chat() refuses then.
  static TextGenerator load(const std::string& dir, const CausalLoadOptions& options, const std::string& template_name,
                            const std::string& purpose);

  // A template was found (it may still be outside xling's Jinja subset: chat() says so).
  bool has_chat_template() const { return chat_template_ != nullptr || template_error_ != nullptr; }
  // A plain prompt's ids (the tokenizer's special tokens added, e.g. Llama's BOS).
  std::vector<int64_t> encode_prompt(const std::string& text) const;
  // A conversation (JSON array of {"role", "content"}) rendered and encoded. Throws
  // InvalidArgument naming the directory when the model has no chat template, and the
  // template's own message when it refuses the conversation (raise_exception).
  std::vector<int64_t> encode_chat(const nlohmann::json& messages, bool add_generation_prompt) const;
  std::string render_chat(const nlohmann::json& messages, bool add_generation_prompt) const;

  // One reply; `on_text` receives each new piece of text as it is decoded (whole UTF-8
  // characters only) and returns false to stop early.
  TextReply reply(const std::vector<int64_t>& prompt, const GenerationOverrides& overrides,
                  const std::vector<std::string>& stop = {},
                  const std::function<bool(std::string_view)>& on_text = {});
  // Several prompts at once (left-padded together, no streaming); one reply each.
  std::vector<TextReply> reply_batch(const std::vector<std::vector<int64_t>>& prompts, const GenerationOverrides& overrides,
                                     const std::vector<std::string>& stop = {});

  // Special tokens skipped, and ids past the tokenizer's vocabulary (padded embedding rows), as HF.
  std::string decode(const std::vector<int64_t>& ids) const;
  int64_t context_length() const;  // max_position_embeddings; 0 without a fixed limit (ALiBi, dynamic NTK RoPE)
  CausalGenerator& generator() { return generator_; }
  const std::string& dir() const { return dir_; }

 private:
  // A generated hypothesis (prompt + new ids) as a reply: decoded, cut at the first stop string,
  // "stop" when cut or ended by an EOS id, else "length".
  TextReply finished_reply(const std::vector<int64_t>& hypothesis, std::size_t prompt_length,
                           const std::vector<std::string>& stop, const std::vector<int64_t>& eos) const;
  std::string dir_;
  CausalGenerator generator_;
  std::unique_ptr<tokenize::TextTokenizer> tokenizer_;
  std::unique_ptr<tokenize::ChatTemplate> chat_template_;
  std::exception_ptr template_error_;  // the template did not parse
};

}  // namespace xling::generate
