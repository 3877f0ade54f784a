// tokenizer.json loading and the encode/decode pipeline (see tokenizer.hpp).
#include "tokenize/tokenizer.hpp"

#include <algorithm>
#include <filesystem>

#include <fmt/format.h>

#include "core/json.hpp"
#include "xling/errors.hpp"

namespace xling::tokenize {

Tokenizer Tokenizer::from_json(const nlohmann::json& j, const std::string& source) {
  core::JsonFields f(j, source);
  Tokenizer t;
  t.normalizer_ = make_normalizer(j.value("normalizer", nlohmann::json()), source);
  t.pre_tokenizer_ = make_pre_tokenizer(j.value("pre_tokenizer", nlohmann::json()), source);
  const auto& model = f.raw("model");
  t.model_ = make_model(model, source);
  t.model_type_ = model.value("type", std::string("?"));
  t.post_processor_ = make_post_processor(j.value("post_processor", nlohmann::json()), source);
  t.decoder_ = make_decoder(j.value("decoder", nlohmann::json()), source);
  std::vector<AddedToken> added;
  if (f.has("added_tokens")) {
    const auto& list = f.raw("added_tokens");
    if (!list.is_array()) f.fail("added_tokens", "expected a list");
    for (const auto& a : list) added.push_back(parse_added_token(a, source));
  }
  t.added_ = std::make_shared<AddedVocabulary>(std::move(added), t.normalizer_.get());
  if (f.has("padding")) {
    core::JsonFields p(f.raw("padding"), source + ": padding");
    t.default_padding_.pad_id = static_cast<int>(p.integer_or("pad_id", 0));
    t.default_padding_.pad_token = p.string_or("pad_token", "");
    t.default_padding_.pad_type_id = static_cast<int>(p.integer_or("pad_type_id", 0));
    t.default_padding_.side = p.string_or("direction", "Right") == "Left" ? Side::kLeft : Side::kRight;
  }
  return t;
}

namespace {

// tokenizer_config.json may write a token as "text" or {"content": "text", ...}.
std::optional<std::string> config_token(const nlohmann::json& cfg, const char* key) {
  auto it = cfg.find(key);
  if (it == cfg.end()) return std::nullopt;
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object() && it->contains("content") && (*it)["content"].is_string()) return (*it)["content"].get<std::string>();
  return std::nullopt;
}

}  // namespace

Tokenizer Tokenizer::from_file(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path file = fs::is_directory(path, ec) ? fs::path(path) / "tokenizer.json" : fs::path(path);
  if (!fs::exists(file, ec)) {
    throw IoError(fmt::format("{}: no tokenizer.json (a sentencepiece .model file can be given instead)", path));
  }
  Tokenizer t = from_json(core::parse_json(core::read_text_file(file.string(), 1u << 30), file.string()), file.string());
  fs::path cfg_path = file.parent_path() / "tokenizer_config.json";
  if (fs::exists(cfg_path, ec)) {
    nlohmann::json cfg = core::read_json_file(cfg_path.string());
    if (cfg.is_object()) {
      auto pad = config_token(cfg, "pad_token");
      if (!pad) pad = config_token(cfg, "eos_token");  // what HF users set when there is none
      if (pad) {
        if (auto id = t.token_to_id(*pad)) {
          t.default_padding_.pad_token = *pad;
          t.default_padding_.pad_id = *id;
        }
      }
      if (auto mask = config_token(cfg, "mask_token")) t.mask_id_ = t.token_to_id(*mask);
      std::string side = cfg.value("padding_side", std::string());
      std::string cls = cfg.value("tokenizer_class", std::string());
      // transformers' Llama/Gemma tokenizer classes pad on the left by default.
      if (side == "left" || (side.empty() && (cls.rfind("LlamaTokenizer", 0) == 0 || cls.rfind("CodeLlamaTokenizer", 0) == 0 ||
                                              cls.rfind("GemmaTokenizer", 0) == 0))) {
        t.default_padding_.side = Side::kLeft;
      } else if (side == "right") {
        t.default_padding_.side = Side::kRight;
      }
    }
  }
  return t;
}

Encoding Tokenizer::encode_one(std::string_view text, int sequence) const {
  Encoding e;
  std::vector<AddedSplit> splits = added_->extract_and_normalize(text, normalizer_.get());
  std::vector<NormalizedString> pieces;
  std::vector<ModelToken> toks;
  for (auto& split : splits) {
    if (split.id) {
      const AddedToken* a = added_->find_id(*split.id);
      e.push(*split.id, a ? a->content : split.text.get(), split.text.original_offsets(0, split.text.get().size()), 0,
             false, sequence);
      continue;
    }
    pieces.clear();
    pieces.push_back(std::move(split.text));
    pre_tokenize(pre_tokenizer_.get(), pieces);
    for (const auto& piece : pieces) {
      toks.clear();
      model_->tokenize(piece.get(), toks);
      for (const auto& tk : toks) {
        const std::string* s = model_->id_to_token(tk.id);
        e.push(tk.id, s ? *s : std::string(), piece.original_offsets(tk.begin, tk.end), 0, false, sequence);
      }
    }
  }
  return e;
}

Encoding Tokenizer::encode(std::string_view text, bool add_special) const {
  Encoding a = encode_one(text, 0);
  if (!post_processor_) return a;
  return post_processor_->process(std::move(a), std::nullopt, add_special, text, "");
}

Encoding Tokenizer::encode_pair(std::string_view a, std::string_view b, bool add_special) const {
  if (b.empty()) return encode(a, add_special);  // transformers treats an empty pair as none
  Encoding ea = encode_one(a, 0);
  Encoding eb = encode_one(b, 1);
  if (!post_processor_) return default_process(std::move(ea), std::move(eb));
  return post_processor_->process(std::move(ea), std::move(eb), add_special, a, b);
}

WordsEncoding Tokenizer::encode_words(const std::vector<std::string>& words, bool add_special,
                                     const TruncationOptions& trunc) const {
  Encoding a;
  std::vector<int> content_words;
  for (std::size_t w = 0; w < words.size(); ++w) {
    Encoding e = encode_one(words[w], 0);
    a.append(e);
    content_words.insert(content_words.end(), e.size(), static_cast<int>(w));
  }
  if (trunc.max_length > 0) {
    std::size_t extra = add_special && post_processor_ ? post_processor_->added_tokens(false) : 0;
    if (trunc.max_length < extra) {
      throw InvalidArgument(
          fmt::format("max_length {} is smaller than the {} special tokens added", trunc.max_length, extra));
    }
    truncate_pair(a, nullptr, trunc.max_length - extra, trunc.side);
    if (trunc.side == Side::kRight) {
      content_words.resize(a.size());
    } else {
      content_words.erase(content_words.begin(), content_words.end() - static_cast<std::ptrdiff_t>(a.size()));
    }
  }
  WordsEncoding out;
  // The original text only matters to offset trimming, which reads the token strings.
  out.encoding = post_processor_ ? post_processor_->process(std::move(a), std::nullopt, add_special, "", "")
                                 : default_process(std::move(a), std::nullopt);
  // Post-processors copy the content tokens in order and mark only what they add as special.
  std::size_t next = 0;
  out.word_ids.reserve(out.encoding.size());
  for (std::size_t i = 0; i < out.encoding.size(); ++i) {
    out.word_ids.push_back(out.encoding.special[i] ? -1 : content_words.at(next++));
  }
  return out;
}

void Tokenizer::truncate_pair(Encoding& a, Encoding* b, std::size_t max_tokens, Side side) const {
  auto cut = [&](Encoding& e, std::size_t keep) {
    if (e.size() <= keep) return;
    if (side == Side::kRight) {
      e.truncate(keep);
    } else {
      Encoding tail;
      for (std::size_t i = e.size() - keep; i < e.size(); ++i) {
        tail.push(e.ids[i], e.tokens[i], e.offsets[i], e.type_ids[i], e.special[i] != 0, e.sequence[i]);
      }
      e = std::move(tail);
    }
  };
  if (!b) {
    cut(a, max_tokens);
    return;
  }
  // longest_first: remove from the longer one, one token at a time.
  std::size_t la = a.size(), lb = b->size();
  while (la + lb > max_tokens) {
    if (la >= lb) --la;
    else --lb;
  }
  cut(a, la);
  cut(*b, lb);
}

std::vector<Encoding> Tokenizer::encode_batch(const std::vector<std::string>& texts, const std::vector<std::string>* pairs,
                                              bool add_special, const TruncationOptions& trunc,
                                              const PaddingOptions& pad) const {
  std::vector<Encoding> out;
  out.reserve(texts.size());
  for (std::size_t i = 0; i < texts.size(); ++i) {
    Encoding a = encode_one(texts[i], 0);
    std::optional<Encoding> b;
    if (pairs && !(*pairs)[i].empty()) b = encode_one((*pairs)[i], 1);  // empty pair = none (transformers)
    if (trunc.max_length > 0) {
      std::size_t extra = add_special && post_processor_ ? post_processor_->added_tokens(b.has_value()) : 0;
      if (trunc.max_length < extra) {
        throw InvalidArgument(fmt::format("max_length {} is smaller than the {} special tokens added", trunc.max_length, extra));
      }
      truncate_pair(a, b ? &*b : nullptr, trunc.max_length - extra, trunc.side);
    }
    if (post_processor_) {
      bool has_b = b.has_value();
      out.push_back(post_processor_->process(std::move(a), std::move(b), add_special, texts[i],
                                             has_b ? std::string_view((*pairs)[i]) : std::string_view()));
    } else {
      out.push_back(default_process(std::move(a), std::move(b)));
    }
  }
  if (pad.enabled) {
    std::size_t target = pad.length;
    if (target == 0) {
      for (const auto& e : out) target = std::max(target, e.size());
    }
    for (auto& e : out) {
      if (e.size() >= target) continue;
      std::size_t n = target - e.size();
      Encoding padding;
      for (std::size_t k = 0; k < n; ++k) padding.push(pad.pad_id, pad.pad_token, {0, 0}, pad.pad_type_id, true, -1);
      std::fill(padding.attention_mask.begin(), padding.attention_mask.end(), 0);
      if (pad.side == Side::kRight) {
        e.append(padding);
      } else {
        padding.append(e);
        e = std::move(padding);
      }
    }
  }
  return out;
}

std::string Tokenizer::decode(const std::vector<int>& ids, bool skip_special) const {
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (int id : ids) {
    if (const AddedToken* a = added_->find_id(id)) {
      if (skip_special && a->special) continue;
      tokens.push_back(a->content);
      continue;
    }
    if (const std::string* s = model_->id_to_token(id)) {
      tokens.push_back(*s);
    } else {
      throw InvalidArgument(fmt::format("token id {} is outside the vocabulary (size {})", id, vocab_size()));
    }
  }
  return decode_tokens(std::move(tokens));
}

std::string Tokenizer::decode_tokens(std::vector<std::string> tokens) const {
  if (!decoder_) {
    std::string out;
    for (std::size_t i = 0; i < tokens.size(); ++i) out += (i ? " " : "") + tokens[i];
    return out;
  }
  decoder_->decode_chain(tokens);
  std::string out;
  for (const auto& t : tokens) out += t;
  return out;
}

std::optional<int> Tokenizer::token_to_id(std::string_view token) const {
  if (auto id = added_->find_content(token)) return id;
  return model_->token_to_id(token);
}

std::optional<std::string> Tokenizer::id_to_token(int id) const {
  if (const AddedToken* a = added_->find_id(id)) return a->content;
  if (const std::string* s = model_->id_to_token(id)) return *s;
  return std::nullopt;
}

std::size_t Tokenizer::vocab_size() const {
  std::size_t n = model_->vocab_size();
  for (const auto& a : added_->tokens()) {
    if (!model_->id_to_token(a.id)) ++n;
  }
  return n;
}

std::vector<int> Tokenizer::special_ids() const {
  std::vector<int> out;
  for (const auto& a : added_->tokens()) {
    if (a.special) out.push_back(a.id);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::vector<Offsets> to_char_offsets(std::string_view text, const std::vector<Offsets>& byte_offsets) {
  // char index of every byte position (bytes inside a char map to that char).
  std::vector<uint32_t> char_of(text.size() + 1, 0);
  uint32_t ci = 0;
  for (std::size_t i = 0; i < text.size();) {
    char32_t c;
    int n = decode_utf8(text, i, c);
    for (int k = 0; k < n; ++k) char_of[i + k] = ci;
    i += static_cast<std::size_t>(n);
    ++ci;
  }
  std::vector<Offsets> out;
  out.reserve(byte_offsets.size());
  for (auto [s, e] : byte_offsets) {
    if (s >= text.size()) {  // HF leaves offsets it cannot map as they are
      out.push_back({s, e});
      continue;
    }
    uint32_t cs = char_of[s];
    uint32_t ce;
    if (e < text.size()) ce = char_of[e];
    else ce = (e >= 1 && e - 1 < text.size() ? char_of[e - 1] : cs) + 1;
    out.push_back({cs, ce});
  }
  return out;
}

}  // namespace xling::tokenize
