// TranslationTokenizer: language-code logic of the transformers 5.17 MT tokenizer classes on top
// of the tokenizer.json pipeline (NLLB, mBART, T5) or of sentencepiece + vocab.json with the
// slow tokenizers' added-token splitting (M2M-100, Marian). Why each rule: the class's source in
// transformers/models/{nllb,m2m_100,mbart,mbart50,marian,t5}/tokenization_*.py.
#include "tokenize/translation_tokenizer.hpp"

#include <algorithm>
#include <cctype>
#include <climits>
#include <filesystem>
#include <map>
#include <set>
#include <unordered_map>
#include <utility>

#include <fmt/format.h>

#include "core/json.hpp"
#include "core/utf8.hpp"
#include "tokenize/sentencepiece_tokenizer.hpp"
#include "tokenize/tokenizer.hpp"
#include "xling/errors.hpp"

namespace xling::tokenize {

namespace {

#include "tokenize/translation_languages.inc"

namespace fs = std::filesystem;
using nlohmann::json;

template <std::size_t N>
std::vector<std::string> to_list(const char* const (&codes)[N]) {
  return std::vector<std::string>(std::begin(codes), std::end(codes));
}

// tokenizer_config.json writes a token as "text" or {"content": "text", ...}.
std::optional<std::string> token_text(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string()) return v["content"].get<std::string>();
  return std::nullopt;
}

std::string config_token(const json& cfg, const char* key, const std::string& fallback) {
  auto it = cfg.find(key);
  if (it == cfg.end()) return fallback;
  auto t = token_text(*it);
  return t ? *t : fallback;
}

// Every string of a list (or the keys/values of a dict) of tokens.
void collect_tokens(const json& v, std::vector<std::string>& out) {
  if (v.is_array()) {
    for (const auto& x : v) {
      if (auto t = token_text(x)) out.push_back(*t);
    }
  } else if (v.is_object()) {
    for (const auto& [k, x] : v.items()) {
      if (auto t = token_text(x)) out.push_back(*t);
      else if (x.is_array()) collect_tokens(x, out);
    }
  }
}

// Python's str.isspace for one code point.
bool py_space(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

std::string py_rstrip(std::string s) {
  std::u32string u = core::utf8_to_u32(s);
  while (!u.empty() && py_space(u.back())) u.pop_back();
  std::string out;
  for (char32_t c : u) core::append_utf8(out, c);
  return out;
}

std::string py_lstrip(std::string s) {
  std::u32string u = core::utf8_to_u32(s);
  std::size_t i = 0;
  while (i < u.size() && py_space(u[i])) ++i;
  std::string out;
  for (std::size_t k = i; k < u.size(); ++k) core::append_utf8(out, u[k]);
  return out;
}

std::string py_strip(std::string s) { return py_lstrip(py_rstrip(std::move(s))); }

void replace_all(std::string& s, std::string_view from, std::string_view to) {
  for (std::size_t pos = 0; (pos = s.find(from, pos)) != std::string::npos; pos += to.size()) s.replace(pos, from.size(), to);
}

// transformers' clean_up_tokenization (applied when tokenizer_config says so).
std::string clean_up_tokenization(std::string t) {
  static const std::pair<const char*, const char*> kRules[] = {
      {" .", "."}, {" ?", "?"}, {" !", "!"}, {" ,", ","}, {" ' ", "'"}, {" n't", "n't"},
      {" 'm", "'m"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}};
  for (const auto& [a, b] : kRules) replace_all(t, a, b);
  return t;
}

std::string base64_encode(std::string_view in) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out += kAlphabet[(v >> s) & 63];
  }
  if (i + 1 == in.size()) {
    uint32_t v = uint8_t(in[i]) << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

std::string family_label(TranslationFamily f) {
  switch (f) {
    case TranslationFamily::kNllb: return "NLLB";
    case TranslationFamily::kM2m100: return "M2M-100";
    case TranslationFamily::kSmall100: return "SMaLL-100";
    case TranslationFamily::kMbart50: return "mBART-50";
    case TranslationFamily::kMbart: return "mBART-cc25";
    case TranslationFamily::kMarian: return "Marian";
    case TranslationFamily::kT5: return "T5";
  }
  return "?";
}

json read_json_if(const fs::path& p) {
  std::error_code ec;
  if (!fs::exists(p, ec)) return json::object();
  json j = core::read_json_file(p.string());
  if (!j.is_object()) throw IoError(fmt::format("{}: expected a JSON object", p.string()));
  return j;
}

fs::path require_file(const fs::path& dir, const std::string& name, const std::string& why) {
  std::error_code ec;
  fs::path p = dir / name;
  if (!fs::is_regular_file(p, ec)) throw IoError(fmt::format("{}: missing {} ({})", dir.string(), name, why));
  return p;
}

// A "token -> id" vocab.json, in id order (Python keeps the file's order; ids are what counts).
std::vector<std::pair<std::string, int64_t>> read_vocab(const fs::path& p) {
  json j = core::read_json_file(p.string());
  if (!j.is_object()) throw IoError(fmt::format("{}: expected an object of token -> id", p.string()));
  std::vector<std::pair<std::string, int64_t>> out;
  for (const auto& [k, v] : j.items()) {
    if (!v.is_number_integer()) throw IoError(fmt::format("{}: token '{}': expected an integer id, found {}", p.string(), k, core::json_excerpt(v)));
    out.emplace_back(k, v.get<int64_t>());
  }
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.second < b.second; });
  return out;
}

bool is_nllb_code(const std::string& s) {  // xxx_Xxxx
  if (s.size() != 8 || s[3] != '_') return false;
  for (int i : {0, 1, 2, 5, 6, 7}) if (s[i] < 'a' || s[i] > 'z') return false;
  return s[4] >= 'A' && s[4] <= 'Z';
}

bool is_mbart_code(const std::string& s) {  // xx_XX
  return s.size() == 5 && s[2] == '_' && std::islower(static_cast<unsigned char>(s[0])) &&
         std::islower(static_cast<unsigned char>(s[1])) && std::isupper(static_cast<unsigned char>(s[3])) &&
         std::isupper(static_cast<unsigned char>(s[4]));
}

struct SlowAdded {
  std::string content;
  int64_t id;
  bool lstrip = false, rstrip = false, single_word = false;
};

}  // namespace

struct TranslationTokenizer::Impl {
  TranslationFamily family{};
  std::string dir;
  std::vector<std::string> langs;
  std::unordered_map<std::string, int64_t> lang_ids;
  bool nllb_legacy = false;
  bool clean_up = false;
  int64_t eos = 2, pad = 1, unk = 3;
  std::string unk_token = "<unk>";
  std::size_t model_max_length = 0;

  // tokenizer.json families
  std::optional<Tokenizer> fast;
  bool fast_bpe = false;

  // slow families (M2M-100, SMaLL-100, Marian)
  std::optional<SentencePieceTokenizer> spm_src, spm_tgt;
  std::unordered_map<std::string, int64_t> encoder;  // source vocab
  std::unordered_map<int64_t, std::string> decoder;  // target (or shared) vocab, inverted
  std::unordered_map<std::string, int64_t> tgt_encoder;  // Marian separate vocabs: target_vocab.json
  std::optional<int64_t> tgt_unk;                       // its unk_token id (absent: HF's KeyError)
  std::string tgt_vocab_path;
  std::unordered_map<int64_t, std::string> lang_token_by_id;  // M2M-100: ids past vocab.json
  std::vector<SlowAdded> added;
  std::unordered_map<std::string, std::size_t> added_by_content;
  std::unordered_map<int64_t, std::size_t> added_by_id;
  std::set<std::string> special_strings;
  std::set<int64_t> special_ids;
  bool marian_separate = false;

  std::string unknown_code_message(const std::string& code) const;
  // target: the tokenizer's target mode (Marian: target.spm, and target_vocab.json when the
  // vocabularies are separate; the other slow families tokenize the same in both modes).
  std::vector<std::string> slow_tokenize(const std::string& text, bool target = false) const;
  std::vector<int64_t> slow_encode(const std::string& text, bool target = false) const;
  std::vector<int64_t> text_ids(std::string_view text, bool target) const;
  std::string slow_decode(const std::vector<int64_t>& ids) const;
};

// ---- loading -------------------------------------------------------------------------------

namespace {

std::optional<TranslationFamily> family_from_class(std::string cls) {
  if (cls.size() > 4 && cls.compare(cls.size() - 4, 4, "Fast") == 0) cls.resize(cls.size() - 4);
  static const std::map<std::string, TranslationFamily> kClasses = {
      {"NllbTokenizer", TranslationFamily::kNllb},       {"M2M100Tokenizer", TranslationFamily::kM2m100},
      {"SMALL100Tokenizer", TranslationFamily::kSmall100}, {"MBart50Tokenizer", TranslationFamily::kMbart50},
      {"MBartTokenizer", TranslationFamily::kMbart},     {"MarianTokenizer", TranslationFamily::kMarian},
      {"T5Tokenizer", TranslationFamily::kT5},           {"MT5Tokenizer", TranslationFamily::kT5}};
  auto it = kClasses.find(cls);
  if (it == kClasses.end()) return std::nullopt;
  return it->second;
}

TranslationFamily detect_family(const fs::path& dir, const json& cfg) {
  std::error_code ec;
  if (auto f = family_from_class(cfg.value("tokenizer_class", std::string()))) return *f;
  json model_cfg = read_json_if(dir / "config.json");
  std::string mt = model_cfg.value("model_type", std::string());
  bool has_tj = fs::exists(dir / "tokenizer.json", ec);
  if (mt == "marian" || fs::exists(dir / "source.spm", ec)) return TranslationFamily::kMarian;
  if (mt == "t5" || mt == "mt5" || mt == "umt5") return TranslationFamily::kT5;
  if (mt == "mbart") {
    if (has_tj && core::read_text_file((dir / "tokenizer.json").string(), 1u << 30).find("\"af_ZA\"") != std::string::npos)
      return TranslationFamily::kMbart50;
    return TranslationFamily::kMbart;
  }
  if (fs::exists(dir / "vocab.json", ec) && fs::exists(dir / "sentencepiece.bpe.model", ec)) return TranslationFamily::kM2m100;
  if ((mt == "m2m_100" || mt == "nllb-moe") && has_tj) return TranslationFamily::kNllb;
  throw UnsupportedModel(fmt::format(
      "{}: not a translation tokenizer xling knows (tokenizer_config.json tokenizer_class '{}', config.json model_type '{}'); "
      "supported: NLLB, M2M-100, SMaLL-100, mBART-50, mBART-cc25, Marian, T5/mT5",
      dir.string(), cfg.value("tokenizer_class", std::string()), mt));
}

json metaspace() {
  return json{{"type", "Metaspace"}, {"replacement", "\u2581"}, {"prepend_scheme", "always"}, {"split", true}};
}

std::optional<std::string> find_charsmap(const json& normalizer) {
  if (normalizer.is_null()) return std::nullopt;
  if (normalizer.value("type", std::string()) == "Precompiled" && normalizer.contains("precompiled_charsmap") &&
      normalizer["precompiled_charsmap"].is_string())
    return normalizer["precompiled_charsmap"].get<std::string>();
  if (normalizer.value("type", std::string()) == "Sequence" && normalizer.contains("normalizers")) {
    for (const auto& n : normalizer["normalizers"]) {
      if (auto c = find_charsmap(n)) return c;
    }
  }
  return std::nullopt;
}

// transformers 5 does not run a tokenizer.json as written for these classes: it keeps the
// vocabulary (and merges, added tokens) and rebuilds normalizer, pre-tokenizer and decoder the
// way the class's __init__ does. Hub files from older converters differ (mBART-cc25's had a
// Precompiled normalizer that transformers 5 drops), so do the same.
void rebuild_like_transformers(TranslationFamily family, json& tj) {
  auto charsmap = find_charsmap(tj.value("normalizer", json()));
  json replace = {{"type", "Replace"}, {"pattern", {{"Regex", " {2,}"}}}, {"content", " "}};
  json precompiled = charsmap ? json{{"type", "Precompiled"}, {"precompiled_charsmap", *charsmap}} : json();
  json& model = tj["model"];
  switch (family) {
    case TranslationFamily::kNllb:
      tj["normalizer"] = charsmap ? json{{"type", "Sequence"}, {"normalizers", {precompiled, replace}}} : json();
      tj["pre_tokenizer"] = metaspace();
      model["dropout"] = nullptr;
      model["fuse_unk"] = true;
      model["byte_fallback"] = false;
      break;
    case TranslationFamily::kMbart50: {
      json list = json::array();
      if (charsmap) list.push_back(precompiled);
      list.push_back(replace);
      tj["normalizer"] = {{"type", "Sequence"}, {"normalizers", list}};
      tj["pre_tokenizer"] = metaspace();
      model["unk_id"] = 3;
      model["byte_fallback"] = false;
      break;
    }
    case TranslationFamily::kMbart:
    case TranslationFamily::kT5:
      tj["normalizer"] = family == TranslationFamily::kT5 && charsmap ? precompiled : json();
      tj["pre_tokenizer"] = {{"type", "Sequence"}, {"pretokenizers", {json{{"type", "WhitespaceSplit"}}, metaspace()}}};
      model["unk_id"] = family == TranslationFamily::kT5 ? 2 : 3;
      model["byte_fallback"] = false;
      break;
    default:
      break;
  }
  tj["decoder"] = metaspace();
  tj["post_processor"] = nullptr;  // the special tokens are added by TranslationTokenizer
  tj["truncation"] = nullptr;
  tj["padding"] = nullptr;
}

// T5Tokenizer.from_pretrained on a directory with only spiece.model: the Unigram vocabulary of
// the .model with unk_id 2, its charsmap, the spm control pieces as special added tokens
// (user-defined pieces as plain ones), and <extra_id_i> at vocab_size + extra_ids - 1 - i.
json t5_json_from_spm(const fs::path& spm_path, const json& cfg) {
  SpmModelProto proto = SpmModelProto::load(spm_path.string());
  json vocab = json::array();
  json added = json::array();
  std::unordered_map<std::string, int64_t> ids;
  for (std::size_t i = 0; i < proto.pieces.size(); ++i) {
    const auto& p = proto.pieces[i];
    vocab.push_back(json::array({p.piece, p.score}));
    ids.emplace(p.piece, static_cast<int64_t>(i));
  }
  auto add = [&](const std::string& content, int64_t id, bool special) {
    for (const auto& a : added) if (a["content"] == content) return;
    added.push_back({{"id", id}, {"content", content}, {"single_word", false}, {"lstrip", false}, {"rstrip", false},
                     {"normalized", false}, {"special", special}});
  };
  for (std::size_t i = 0; i < proto.pieces.size(); ++i) {
    auto t = proto.pieces[i].type;
    if (t == SpmPieceType::kControl || t == SpmPieceType::kUserDefined)
      add(proto.pieces[i].piece, static_cast<int64_t>(i), t == SpmPieceType::kControl);
  }
  int64_t next = static_cast<int64_t>(proto.pieces.size());
  int64_t extra = cfg.value("extra_ids", 100);
  if (extra < 0) extra = 0;
  for (const char* key : {"eos_token", "unk_token", "pad_token"}) {
    std::string fallback = key == std::string("eos_token") ? "</s>" : key == std::string("unk_token") ? "<unk>" : "<pad>";
    std::string tok = config_token(cfg, key, fallback);
    auto it = ids.find(tok);
    if (it != ids.end()) add(tok, it->second, true);
  }
  for (int64_t i = 0; i < extra; ++i) add(fmt::format("<extra_id_{}>", i), next + extra - 1 - i, true);
  json tj = {{"version", "1.0"}, {"truncation", nullptr}, {"padding", nullptr}, {"added_tokens", added},
             {"normalizer", proto.normalizer_spec.precompiled_charsmap.empty()
                                ? json()
                                : json{{"type", "Precompiled"},
                                       {"precompiled_charsmap", base64_encode(proto.normalizer_spec.precompiled_charsmap)}}},
             {"pre_tokenizer", nullptr}, {"post_processor", nullptr}, {"decoder", nullptr},
             {"model", {{"type", "Unigram"}, {"unk_id", 2}, {"vocab", vocab}, {"byte_fallback", false}}}};
  return tj;
}

}  // namespace

TranslationTokenizer::TranslationTokenizer(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}

TranslationTokenizer TranslationTokenizer::load(const std::string& model_dir) {
  std::error_code ec;
  fs::path dir(model_dir);
  if (!fs::is_directory(dir, ec)) throw IoError(fmt::format("{}: not a directory", model_dir));
  auto impl = std::make_shared<Impl>();
  impl->dir = model_dir;
  json cfg = read_json_if(dir / "tokenizer_config.json");
  json stm = read_json_if(dir / "special_tokens_map.json");
  impl->family = detect_family(dir, cfg);
  const TranslationFamily fam = impl->family;
  impl->clean_up = cfg.value("clean_up_tokenization_spaces", false);
  if (auto it = cfg.find("model_max_length"); it != cfg.end() && it->is_number() && it->get<double>() > 0 &&
                                              it->get<double>() < 1e18)
    impl->model_max_length = static_cast<std::size_t>(it->get<double>());
  const std::string eos_tok = config_token(cfg, "eos_token", "</s>");
  const std::string pad_tok = config_token(cfg, "pad_token", "<pad>");
  const std::string unk_tok = config_token(cfg, "unk_token", "<unk>");

  // Tokens the config lists as extra special tokens (transformers 5 and 4 spellings).
  std::vector<std::string> extra_specials;
  for (const json* j : {&cfg, &stm}) {
    for (const char* key : {"extra_special_tokens", "additional_special_tokens"}) {
      if (auto it = j->find(key); it != j->end()) collect_tokens(*it, extra_specials);
    }
  }

  if (fam == TranslationFamily::kNllb || fam == TranslationFamily::kMbart50 || fam == TranslationFamily::kMbart ||
      fam == TranslationFamily::kT5) {
    json tj;
    std::string source;
    if (fs::exists(dir / "tokenizer.json", ec)) {
      source = (dir / "tokenizer.json").string();
      tj = core::parse_json(core::read_text_file(source, 1u << 30), source);
      if (!tj.is_object() || !tj.contains("model") || !tj["model"].is_object())
        throw IoError(fmt::format("{}: no \"model\" object", source));
      rebuild_like_transformers(fam, tj);
    } else if (fam == TranslationFamily::kT5 && fs::exists(dir / "spiece.model", ec)) {
      source = (dir / "spiece.model").string();
      tj = t5_json_from_spm(dir / "spiece.model", cfg);
      rebuild_like_transformers(fam, tj);
    } else {
      throw IoError(fmt::format("{}: missing tokenizer.json (needed for {}{})", model_dir, family_label(fam),
                                fam == TranslationFamily::kT5 ? "; or spiece.model" : ""));
    }
    impl->fast_bpe = tj["model"].value("type", std::string()) == "BPE";
    impl->fast.emplace(Tokenizer::from_json(tj, source));
    const Tokenizer& tok = *impl->fast;
    auto id_of = [&](const std::string& t, const char* what) -> int64_t {
      auto id = tok.token_to_id(t);
      if (!id) throw IoError(fmt::format("{}: {} '{}' is not in the vocabulary", source, what, t));
      return *id;
    };
    impl->eos = id_of(eos_tok, "eos_token");
    impl->pad = tok.token_to_id(pad_tok).value_or(-1);
    impl->nllb_legacy = fam == TranslationFamily::kNllb && cfg.value("legacy_behaviour", false);
    std::vector<std::string> base;
    bool (*pattern)(const std::string&) = nullptr;
    if (fam == TranslationFamily::kNllb) base = to_list(kNllbCodes), pattern = is_nllb_code;
    if (fam == TranslationFamily::kMbart50) base = to_list(kMbart50Codes), pattern = is_mbart_code;
    if (fam == TranslationFamily::kMbart) base = to_list(kMbartCc25Codes), pattern = is_mbart_code;
    if (pattern) {
      for (const auto& t : extra_specials) {
        if (pattern(t) && std::find(base.begin(), base.end(), t) == base.end()) base.push_back(t);
      }
    }
    for (const auto& code : base) {
      if (auto id = tok.token_to_id(code); id && impl->lang_ids.emplace(code, *id).second) impl->langs.push_back(code);
    }
    return TranslationTokenizer(impl);
  }

  // ---- slow tokenizers: sentencepiece + vocab.json ----
  const bool marian = fam == TranslationFamily::kMarian;
  fs::path vocab_path = require_file(dir, "vocab.json", "the token -> id vocabulary");
  auto vocab = read_vocab(vocab_path);
  for (const auto& [t, id] : vocab) impl->encoder.emplace(t, id);
  std::vector<std::pair<std::string, int64_t>> tgt_vocab = vocab;
  if (marian) {
    impl->spm_src.emplace(SentencePieceTokenizer::load(require_file(dir, "source.spm", "Marian's source sentencepiece model").string()));
    impl->spm_tgt.emplace(SentencePieceTokenizer::load(require_file(dir, "target.spm", "Marian's target sentencepiece model").string()));
    impl->marian_separate = cfg.value("separate_vocabs", false);
    if (impl->marian_separate) {
      std::string name = "target_vocab.json";
      if (auto it = cfg.find("target_vocab_file"); it != cfg.end() && it->is_string() &&
                                                  fs::exists(dir / fs::path(it->get<std::string>()).filename(), ec))
        name = fs::path(it->get<std::string>()).filename().string();
      fs::path tgt_path = require_file(dir, name, "separate_vocabs is true in tokenizer_config.json");
      tgt_vocab = read_vocab(tgt_path);
      impl->tgt_vocab_path = tgt_path.string();
      for (const auto& [t, id] : tgt_vocab) impl->tgt_encoder.emplace(t, id);
      if (auto it = impl->tgt_encoder.find(unk_tok); it != impl->tgt_encoder.end()) impl->tgt_unk = it->second;
    }
  } else {
    std::string spm_name = "sentencepiece.bpe.model";
    impl->spm_src.emplace(SentencePieceTokenizer::load(require_file(dir, spm_name, "M2M-100's sentencepiece model").string()));
  }
  for (const auto& [t, id] : tgt_vocab) impl->decoder.emplace(id, t);
  auto enc_id = [&](const std::string& t) -> std::optional<int64_t> {
    auto it = impl->encoder.find(t);
    if (it == impl->encoder.end()) return std::nullopt;
    return it->second;
  };
  if (!enc_id(unk_tok)) throw IoError(fmt::format("{}: unk_token '{}' is not in the vocabulary", vocab_path.string(), unk_tok));
  impl->unk = *enc_id(unk_tok);
  impl->unk_token = unk_tok;

  std::unordered_map<std::string, int64_t> lang_token_ids;  // M2M-100: "__fr__" -> id
  if (!marian) {
    std::string set = cfg.value("language_codes", std::string("m2m100"));
    std::vector<std::string> codes;
    if (set == "m2m100") codes = to_list(kM2m100Codes);
    else if (set == "wmt21") codes = to_list(kWmt21Codes);
    else throw InvalidArgument(fmt::format("{}: key 'language_codes': expected \"m2m100\" or \"wmt21\", found \"{}\"",
                                           (dir / "tokenizer_config.json").string(), set));
    const auto base = static_cast<int64_t>(impl->encoder.size());
    for (std::size_t i = 0; i < codes.size(); ++i) {
      int64_t id = base + static_cast<int64_t>(i);
      std::string token = "__" + codes[i] + "__";
      impl->langs.push_back(codes[i]);
      impl->lang_ids.emplace(codes[i], id);
      lang_token_ids.emplace(token, id);
      impl->lang_token_by_id.emplace(id, token);
    }
  }

  // Added tokens: tokenizer_config.json's added_tokens_decoder, then the named and extra special
  // tokens (as PreTrainedTokenizer.__init__ adds them).
  auto add = [&](SlowAdded a) {
    if (a.content.empty() || impl->added_by_content.count(a.content)) return;
    impl->added_by_content.emplace(a.content, impl->added.size());
    impl->added_by_id.emplace(a.id, impl->added.size());
    impl->added.push_back(std::move(a));
  };
  if (auto it = cfg.find("added_tokens_decoder"); it != cfg.end() && it->is_object()) {
    for (const auto& [k, v] : it->items()) {
      auto content = token_text(v);
      if (!content) continue;
      SlowAdded a{*content, 0};
      try {
        a.id = std::stoll(k);
      } catch (const std::exception&) {
        throw IoError(fmt::format("{}: added_tokens_decoder key '{}' is not an id", (dir / "tokenizer_config.json").string(), k));
      }
      if (v.is_object()) {
        a.lstrip = v.value("lstrip", false);
        a.rstrip = v.value("rstrip", false);
        a.single_word = v.value("single_word", false);
      }
      add(std::move(a));
    }
  }
  std::vector<std::string> named = {eos_tok, unk_tok, pad_tok};
  if (!marian) {
    named.push_back(config_token(cfg, "bos_token", "<s>"));
    named.push_back(config_token(cfg, "sep_token", "</s>"));
  }
  for (const auto& t : named) impl->special_strings.insert(t);
  for (const auto& t : extra_specials) impl->special_strings.insert(t);
  for (const auto& t : impl->special_strings) {
    auto lt = lang_token_ids.find(t);
    std::optional<int64_t> id = lt != lang_token_ids.end() ? std::optional<int64_t>(lt->second) : enc_id(t);
    if (auto a = impl->added_by_content.find(t); a != impl->added_by_content.end()) id = impl->added[a->second].id;
    if (!id) continue;
    add(SlowAdded{t, *id});
    impl->special_ids.insert(*id);
  }
  impl->eos = impl->added[impl->added_by_content.at(eos_tok)].id;
  impl->pad = enc_id(pad_tok).value_or(-1);
  if (marian && !impl->marian_separate) {
    for (const auto& [t, id] : vocab) {
      if (t.size() > 4 && t.rfind(">>", 0) == 0 && t.compare(t.size() - 2, 2, "<<") == 0) {
        std::string code = t.substr(2, t.size() - 4);
        if (impl->lang_ids.emplace(code, id).second) impl->langs.push_back(code);
      }
    }
  }
  return TranslationTokenizer(impl);
}

// ---- slow tokenizers: PreTrainedTokenizer.tokenize ------------------------------------------

std::vector<std::string> TranslationTokenizer::Impl::slow_tokenize(const std::string& text, bool target) const {
  // Trie.split on the added tokens: leftmost match, longest at that position.
  std::vector<std::string> chunks;
  std::size_t start = 0, i = 0;
  while (i < text.size()) {
    std::size_t best = 0;
    for (const auto& a : added) {
      if (a.content.size() > best && text.compare(i, a.content.size(), a.content) == 0) best = a.content.size();
    }
    if (best == 0) { ++i; continue; }
    if (i > start) chunks.push_back(text.substr(start, i - start));
    chunks.push_back(text.substr(i, best));
    i += best;
    start = i;
  }
  if (start < text.size()) chunks.push_back(text.substr(start));
  for (std::size_t k = 0; k < chunks.size(); ++k) {
    auto it = added_by_content.find(chunks[k]);
    if (it == added_by_content.end()) continue;
    const SlowAdded& a = added[it->second];
    const bool has_left = k > 0 && !chunks[k - 1].empty();
    const bool has_right = k + 1 < chunks.size() && !chunks[k + 1].empty();
    if (a.rstrip && has_right) chunks[k + 1] = py_lstrip(chunks[k + 1]);
    if (a.lstrip && has_left) chunks[k - 1] = py_rstrip(chunks[k - 1]);
    if (a.single_word) {
      if (k > 0 && !chunks[k - 1].empty() && chunks[k - 1].back() != ' ') {
        chunks[k - 1] += chunks[k];
        chunks[k].clear();
      } else if (k + 1 < chunks.size() && !chunks[k + 1].empty() && chunks[k + 1][0] != ' ') {
        chunks[k + 1] = chunks[k] + chunks[k + 1];
        chunks[k].clear();
      }
    }
  }
  std::vector<std::string> out;
  for (const auto& c : chunks) {
    if (c.empty()) continue;
    if (added_by_content.count(c) || special_strings.count(c)) {
      out.push_back(c);
      continue;
    }
    std::string_view rest = c;
    if (family == TranslationFamily::kMarian && rest.rfind(">>", 0) == 0) {
      // MarianTokenizer.remove_language_code: a leading ">>xx<<" is one token.
      if (std::size_t end = rest.find("<<"); end != std::string_view::npos) {
        out.emplace_back(rest.substr(0, end + 2));
        rest.remove_prefix(end + 2);
      }
    }
    // MarianTokenizer._switch_to_target_mode: current_spm = spm_target.
    const SentencePieceTokenizer& sp = target && family == TranslationFamily::kMarian ? *spm_tgt : *spm_src;
    for (auto& p : sp.encode_pieces(rest)) out.push_back(std::move(p));
  }
  return out;
}

std::vector<int64_t> TranslationTokenizer::Impl::slow_encode(const std::string& text, bool target) const {
  // MarianTokenizer._switch_to_target_mode: current_encoder = target_encoder when the
  // vocabularies are separate (added tokens keep their ids: _added_tokens_encoder comes first).
  const bool tgt_vocab = target && family == TranslationFamily::kMarian && marian_separate;
  const auto& enc = tgt_vocab ? tgt_encoder : encoder;
  std::vector<int64_t> ids;
  for (const auto& t : slow_tokenize(text, target)) {
    if (auto a = added_by_content.find(t); a != added_by_content.end()) {
      ids.push_back(added[a->second].id);
    } else if (auto e = enc.find(t); e != enc.end()) {
      ids.push_back(e->second);
    } else if (!tgt_vocab) {
      ids.push_back(unk);
    } else if (tgt_unk) {
      ids.push_back(*tgt_unk);
    } else {
      throw IoError(fmt::format("{}: unk_token '{}' is not in the target vocabulary (needed for the piece '{}')",
                                tgt_vocab_path, unk_token, t));
    }
  }
  return ids;
}

std::vector<int64_t> TranslationTokenizer::Impl::text_ids(std::string_view text, bool target) const {
  std::vector<int64_t> body;
  if (fast) {
    for (int id : fast->encode(text, /*add_special=*/false).ids) body.push_back(id);
  } else {
    body = slow_encode(std::string(text), target);
  }
  return body;
}

std::string TranslationTokenizer::Impl::slow_decode(const std::vector<int64_t>& ids) const {
  const bool marian = family == TranslationFamily::kMarian;
  // Marian decodes with the source model unless the vocabularies are separate (transformers 5).
  const SentencePieceTokenizer& sp = marian && marian_separate ? *spm_tgt : *spm_src;
  std::vector<std::string> tokens;
  for (int64_t id : ids) {
    if (id < 0) throw InvalidArgument(fmt::format("token id {} is negative", id));
    if (special_ids.count(id)) continue;
    if (auto a = added_by_id.find(id); a != added_by_id.end()) {
      tokens.push_back(added[a->second].content);
    } else if (auto l = lang_token_by_id.find(id); l != lang_token_by_id.end()) {
      tokens.push_back(l->second);
    } else if (auto d = decoder.find(id); d != decoder.end()) {
      tokens.push_back(d->second);
    } else if (!marian) {
      tokens.push_back(unk_token);  // M2M100Tokenizer: decoder.get(index, unk_token)
    } else if (static_cast<std::size_t>(id) < sp.vocab_size()) {
      const std::string& piece = sp.id_to_piece(static_cast<int>(id));
      tokens.push_back(piece.empty() ? unk_token : piece);
    } else {
      throw InvalidArgument(fmt::format("token id {} is outside the vocabulary of {} (size {})", id, dir, decoder.size()));
    }
  }
  auto decode_pieces = [&](const std::vector<std::string>& pieces) { return sp.decode_pieces(pieces); };
  std::string out;
  std::vector<std::string> current;
  for (const auto& t : tokens) {
    if (special_strings.count(t)) {
      out += decode_pieces(current) + t;
      if (marian) out += " ";
      current.clear();
    } else {
      current.push_back(t);
    }
  }
  out += decode_pieces(current);
  if (marian) replace_all(out, "\u2581", " ");
  return py_strip(std::move(out));
}

// ---- public API ----------------------------------------------------------------------------

TranslationFamily TranslationTokenizer::family() const { return impl_->family; }
std::string TranslationTokenizer::family_name() const { return family_label(impl_->family); }
const std::vector<std::string>& TranslationTokenizer::languages() const { return impl_->langs; }
int64_t TranslationTokenizer::eos_id() const { return impl_->eos; }
int64_t TranslationTokenizer::pad_id() const { return impl_->pad; }
std::size_t TranslationTokenizer::model_max_length() const { return impl_->model_max_length; }

bool TranslationTokenizer::uses_source_language() const {
  auto f = impl_->family;
  return f == TranslationFamily::kNllb || f == TranslationFamily::kM2m100 || f == TranslationFamily::kMbart50 ||
         f == TranslationFamily::kMbart;
}

bool TranslationTokenizer::uses_target_language() const {
  return uses_source_language() || impl_->family == TranslationFamily::kSmall100 ||
         (impl_->family == TranslationFamily::kMarian && !impl_->langs.empty());
}

std::string TranslationTokenizer::Impl::unknown_code_message(const std::string& code) const {
  std::string list;
  for (const auto& l : langs) list += (list.empty() ? "" : " ") + l;
  std::string hint;
  std::vector<std::string> close;
  for (const auto& l : langs) {
    if (!code.empty() && (l.rfind(code, 0) == 0 || code.rfind(l, 0) == 0)) close.push_back(l);
  }
  if (!close.empty() && close.size() <= 8) {
    hint = " (did you mean";
    for (const auto& c : close) hint += " " + c;
    hint += "?)";
  }
  return fmt::format("unknown language code '{}' for the {} tokenizer in {}{}; valid codes ({}): {}", code,
                     family_label(family), dir, hint, langs.size(), list);
}

int64_t TranslationTokenizer::language_token_id(const std::string& code) const {
  const Impl& m = *impl_;
  if (m.langs.empty()) {
    throw InvalidArgument(fmt::format("the {} tokenizer in {} has no language tokens (asked for '{}')",
                                      family_label(m.family), m.dir, code));
  }
  std::string key = code;
  if (m.family == TranslationFamily::kMarian && key.size() > 4 && key.rfind(">>", 0) == 0 &&
      key.compare(key.size() - 2, 2, "<<") == 0)
    key = key.substr(2, key.size() - 4);
  if ((m.family == TranslationFamily::kM2m100 || m.family == TranslationFamily::kSmall100) && key.size() > 4 &&
      key.rfind("__", 0) == 0 && key.compare(key.size() - 2, 2, "__") == 0)
    key = key.substr(2, key.size() - 4);
  auto it = m.lang_ids.find(key);
  if (it == m.lang_ids.end()) throw InvalidArgument(m.unknown_code_message(code));
  return it->second;
}

namespace {

// prefix + body + suffix, the body cut on the right so that the whole has at most max_length ids
// (truncation=True, max_length=n: the special tokens always stay).
std::vector<int64_t> assemble(const std::vector<int64_t>& prefix, std::vector<int64_t> body,
                              const std::vector<int64_t>& suffix, const SourceOptions& options, TranslationFamily family,
                              const char* side) {
  if (options.max_length > 0) {
    std::size_t specials = prefix.size() + suffix.size();
    if (options.max_length < specials)
      throw InvalidArgument(fmt::format("max_length {} is smaller than the {} special tokens of the {} {}",
                                        options.max_length, specials, family_label(family), side));
    if (body.size() > options.max_length - specials) body.resize(options.max_length - specials);
  }
  std::vector<int64_t> out = prefix;
  out.insert(out.end(), body.begin(), body.end());
  out.insert(out.end(), suffix.begin(), suffix.end());
  return out;
}

}  // namespace

std::vector<int64_t> TranslationTokenizer::encode_source(std::string_view text, const std::string& src_lang,
                                                         const std::string& tgt_lang, const SourceOptions& options) const {
  const Impl& m = *impl_;
  if (auto bad = core::find_invalid_utf8(text); bad != std::string_view::npos)
    throw InvalidArgument(fmt::format("source text: invalid UTF-8 at byte {}", bad));
  std::vector<int64_t> prefix, suffix{m.eos}, body;
  switch (m.family) {
    case TranslationFamily::kNllb:
      if (m.nllb_legacy) suffix.push_back(language_token_id(src_lang));
      else prefix.push_back(language_token_id(src_lang));
      break;
    case TranslationFamily::kM2m100:
    case TranslationFamily::kMbart50:
      prefix.push_back(language_token_id(src_lang));
      break;
    case TranslationFamily::kSmall100:
      prefix.push_back(language_token_id(tgt_lang));
      break;
    case TranslationFamily::kMbart:
      suffix.push_back(language_token_id(src_lang));
      break;
    case TranslationFamily::kMarian:
    case TranslationFamily::kT5:
      break;
  }
  if (m.family == TranslationFamily::kMarian && !m.langs.empty()) {
    if (tgt_lang.empty())
      throw InvalidArgument(m.unknown_code_message("") + " (this multi-target Marian model needs a target language)");
    language_token_id(tgt_lang);  // validates
    std::string code = tgt_lang.rfind(">>", 0) == 0 ? tgt_lang : ">>" + tgt_lang + "<<";
    body = m.text_ids(code + " " + std::string(text), /*target=*/false);  // what users of multi-target OPUS-MT models write
  } else {
    body = m.text_ids(text, /*target=*/false);
  }
  return assemble(prefix, std::move(body), suffix, options, m.family, "source");
}

std::vector<int64_t> TranslationTokenizer::encode_target(std::string_view text, const std::string& tgt_lang,
                                                         const SourceOptions& options) const {
  const Impl& m = *impl_;
  if (auto bad = core::find_invalid_utf8(text); bad != std::string_view::npos)
    throw InvalidArgument(fmt::format("target text: invalid UTF-8 at byte {}", bad));
  // The special tokens of each class's set_tgt_lang_special_tokens / _switch_to_target_mode.
  std::vector<int64_t> prefix, suffix{m.eos};
  switch (m.family) {
    case TranslationFamily::kNllb:
      if (m.nllb_legacy) suffix.push_back(language_token_id(tgt_lang));
      else prefix.push_back(language_token_id(tgt_lang));
      break;
    case TranslationFamily::kM2m100:
    case TranslationFamily::kMbart50:
      prefix.push_back(language_token_id(tgt_lang));
      break;
    case TranslationFamily::kMbart:
      suffix.push_back(language_token_id(tgt_lang));
      break;
    case TranslationFamily::kSmall100:
      // SMALL100Tokenizer._switch_to_target_mode: prefix_tokens = None, suffix [eos]; the target
      // language is in the source only. A given code is still checked.
    case TranslationFamily::kMarian:
      // Labels carry no ">>tgt<<" (that is source-side); a given code is still checked.
      if (!tgt_lang.empty() && !m.langs.empty()) language_token_id(tgt_lang);
      break;
    case TranslationFamily::kT5:
      break;
  }
  return assemble(prefix, m.text_ids(text, /*target=*/true), suffix, options, m.family, "target");
}

std::optional<int64_t> TranslationTokenizer::forced_bos(const std::string& tgt_lang) const {
  if (!uses_source_language()) return std::nullopt;
  return language_token_id(tgt_lang);
}

std::string TranslationTokenizer::decode_target(const std::vector<int64_t>& ids) const {
  const Impl& m = *impl_;
  std::string text;
  if (m.fast) {
    std::vector<int> kept;
    for (int64_t id : ids) {
      if (id < 0) throw InvalidArgument(fmt::format("token id {} is negative", id));
      if (id <= INT32_MAX && m.fast->id_to_token(static_cast<int>(id))) kept.push_back(static_cast<int>(id));
    }
    text = m.fast->decode(kept, /*skip_special=*/true);
    // transformers 5 skips the clean-up for BPE models (it would eat spaces before punctuation).
    if (m.clean_up && !m.fast_bpe) text = clean_up_tokenization(std::move(text));
  } else {
    text = m.slow_decode(ids);
    if (m.clean_up) text = clean_up_tokenization(std::move(text));
  }
  return text;
}

std::vector<std::string> TranslationTokenizer::decode_target_batch(const std::vector<std::vector<int64_t>>& batch) const {
  std::vector<std::string> out;
  out.reserve(batch.size());
  for (const auto& ids : batch) out.push_back(decode_target(ids));
  return out;
}

}  // namespace xling::tokenize
