// Text generation for decoder-only LLMs (see text_generator.hpp).
#include "generate/text_generator.hpp"

#include <fmt/format.h>

#include "io/decoder_config.hpp"
#include "tokenize/jinja_value.hpp"
#include "xling/errors.hpp"

namespace xling::generate {
namespace {


// Decoded text that may still grow into a whole character: a trailing U+FFFD comes from a
// byte-fallback sequence cut in the middle.
bool ends_incomplete(const std::string& text) {
  return text.size() >= 3 && text.compare(text.size() - 3, 3, "\xEF\xBF\xBD") == 0;
}

// The end of a stop string in `text` at or after `from` (bytes), or npos.
std::size_t find_stop(const std::string& text, const std::vector<std::string>& stop, std::size_t from) {
  std::size_t best = std::string::npos;
  for (const auto& s : stop) {
    if (s.empty()) continue;
    const std::size_t start = from >= s.size() ? from - s.size() + 1 : 0;
    const auto at = text.find(s, start);
    if (at != std::string::npos) best = std::min(best, at + s.size());
  }
  return best;
}

bool ends_with_eos(const std::vector<int64_t>& ids, const std::vector<int64_t>& eos) {
  return !ids.empty() && std::find(eos.begin(), eos.end(), ids.back()) != eos.end();
}

}  // namespace

TextGenerator TextGenerator::load(const std::string& dir, const CausalLoadOptions& options, const std::string& template_name,
                                  const std::string& purpose) {
  TextGenerator t;
  t.dir_ = dir;
  t.generator_ = CausalGenerator::load(dir, options, purpose);
  t.tokenizer_ = tokenize::load_text_tokenizer(dir);
  try {
    t.chat_template_ = std::make_unique<tokenize::ChatTemplate>(tokenize::ChatTemplate::from_directory(dir, template_name));
  } catch (const tokenize::jinja::TemplateError&) {
    t.template_error_ = std::current_exception();  // plain prompts still work; chat() reports it
  } catch (const InvalidArgument&) {
    if (!template_name.empty()) throw;  // a named template that is not there is the caller's error
  }
  return t;
}

std::vector<int64_t> TextGenerator::encode_prompt(const std::string& text) const {
  auto e = tokenizer_->encode(text, /*add_special=*/true);
  return {e.ids.begin(), e.ids.end()};
}

std::string TextGenerator::render_chat(const nlohmann::json& messages, bool add_generation_prompt) const {
  if (template_error_) std::rethrow_exception(template_error_);
  if (!chat_template_) {
    throw InvalidArgument(fmt::format("{}: the model has no chat template (tokenizer_config.json 'chat_template', "
                                      "chat_template.jinja); give a plain prompt instead",
                                      dir_));
  }
  tokenize::ChatRenderOptions o;
  o.add_generation_prompt = add_generation_prompt;
  return chat_template_->render(messages, o);
}

std::vector<int64_t> TextGenerator::encode_chat(const nlohmann::json& messages, bool add_generation_prompt) const {
  auto e = tokenizer_->encode(render_chat(messages, add_generation_prompt), /*add_special=*/false);
  return {e.ids.begin(), e.ids.end()};
}

std::string TextGenerator::decode(const std::vector<int64_t>& ids) const {
  // A model's embedding matrix may be padded past the tokenizer (Qwen2: 151,936 rows for
  // 151,665 tokens); ids without a token decode to nothing, as in HF tokenizers' decode.
  const auto n = static_cast<int64_t>(tokenizer_->vocab_size());
  std::vector<int> known;
  known.reserve(ids.size());
  for (auto id : ids) {
    if (id >= 0 && id < n) known.push_back(static_cast<int>(id));
  }
  return tokenizer_->decode(known, /*skip_special=*/true);
}

int64_t TextGenerator::context_length() const {
  if (auto* d = dynamic_cast<const io::DecoderConfig*>(&generator_.model->causal_config())) {
    return d->rope.type == io::RopeType::kDynamic ? 0 : d->max_position_embeddings;  // dynamic NTK runs past it
  }
  return 0;
}

TextReply TextGenerator::reply(const std::vector<int64_t>& prompt, const GenerationOverrides& overrides,
                               const std::vector<std::string>& stop,
                               const std::function<bool(std::string_view)>& on_text) {
  TextReply r;
  std::string text;
  std::size_t emitted = 0;
  bool stopped = false;
  auto on_token = [&](int64_t, int64_t token) {
    r.ids.push_back(token);
    text = decode(r.ids);
    if (ends_incomplete(text)) return true;
    const auto stop_end = find_stop(text, stop, emitted);
    if (stop_end != std::string::npos) {
      text.resize(stop_end);
      stopped = true;
    }
    if (text.size() > emitted) {
      if (on_text && !on_text(std::string_view(text).substr(emitted))) stopped = true;
      emitted = text.size();
    }
    return !stopped;
  };
  auto hyps = generator_.run({prompt}, overrides, on_token);
  const auto& eos = generator_.options(overrides, static_cast<int64_t>(prompt.size())).eos_token_ids;
  if (r.ids.empty()) {  // beam search: no streaming, the whole reply at once
    r = finished_reply(hyps.at(0).at(0).ids, prompt.size(), stop, eos);
    if (on_text && !r.text.empty()) on_text(r.text);
    return r;
  }
  r.text = std::move(text);
  r.finish_reason = stopped || ends_with_eos(r.ids, eos) ? "stop" : "length";
  return r;
}

TextReply TextGenerator::finished_reply(const std::vector<int64_t>& hypothesis, std::size_t prompt_length,
                                        const std::vector<std::string>& stop, const std::vector<int64_t>& eos) const {
  TextReply r;
  r.ids.assign(hypothesis.begin() + static_cast<std::ptrdiff_t>(prompt_length), hypothesis.end());
  r.text = decode(r.ids);
  const auto stop_end = find_stop(r.text, stop, 0);
  if (stop_end != std::string::npos) r.text.resize(stop_end);
  r.finish_reason = stop_end != std::string::npos || ends_with_eos(r.ids, eos) ? "stop" : "length";
  return r;
}

std::vector<TextReply> TextGenerator::reply_batch(const std::vector<std::vector<int64_t>>& prompts,
                                                  const GenerationOverrides& overrides,
                                                  const std::vector<std::string>& stop) {
  // With stop strings, each row ends at its first one (greedy/sampling call back per token; a
  // row's text is decoded again each step, which is cheap next to a decoding step).
  int64_t longest = 0;
  for (const auto& p : prompts) longest = std::max<int64_t>(longest, static_cast<int64_t>(p.size()));
  const auto options = generator_.options(overrides, longest);
  std::vector<std::vector<int64_t>> rows(prompts.size());
  TokenCallback on_token;
  if (!stop.empty() && options.num_return_sequences == 1) {  // then a callback row is an input
    on_token = [&](int64_t row, int64_t token) {
      auto& ids = rows[static_cast<std::size_t>(row)];
      ids.push_back(token);
      const auto text = decode(ids);
      return ends_incomplete(text) || find_stop(text, stop, 0) == std::string::npos;
    };
  }
  auto hyps = generator_.run(prompts, overrides, on_token);
  std::vector<TextReply> out(prompts.size());
  const auto& eos = options.eos_token_ids;
  for (std::size_t i = 0; i < prompts.size(); ++i) out[i] = finished_reply(hyps.at(i).at(0).ids, prompts[i].size(), stop, eos);
  return out;
}

}  // namespace xling::generate
