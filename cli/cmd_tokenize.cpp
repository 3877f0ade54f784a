// `xling tokenize` and `xling decode`: JSONL in, JSONL out, in input order; exact HF
// tokenizers results (ids, tokens, offsets, type ids), batched over all threads.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <future>
#include <iostream>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/common.hpp"
#include "tokenize/chat_template.hpp"
#include "tokenize/text_tokenizer.hpp"
#include "tokenize/unicode.hpp"
#include "xling/errors.hpp"

namespace xling::cli {
namespace {

struct TokenizeOptions {
  std::string tokenizer;
  std::string input = "-";
  std::string output = "-";
  std::vector<std::string> texts;
  bool no_special = false;
  std::size_t max_length = 0;
  bool truncation = false;
  std::string padding = "none";
  std::string padding_side;
  std::string offsets = "chars";
  std::string errors = "strict";
  std::size_t batch_size = 256;
  std::string chat;           // JSONL of conversations to render with the chat template
  std::string chat_template;  // a named template ("default" unless given)
};

// Reads lines from a file or stdin; names file and line in errors.
class LineReader {
 public:
  explicit LineReader(const std::string& path) : path_(path == "-" ? "<stdin>" : path) {
    if (path != "-") {
      file_.open(path, std::ios::binary);
      if (!file_) throw IoError(fmt::format("{}: cannot open for reading", path));
      in_ = &file_;
    }
  }
  bool next(std::string& line) {
    if (!std::getline(*in_, line)) {
      if (in_->bad()) throw IoError(fmt::format("{}: read error after line {}", path_, line_no_));
      return false;
    }
    ++line_no_;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    return true;
  }
  std::size_t line_no() const { return line_no_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::ifstream file_;
  std::istream* in_ = &std::cin;
  std::size_t line_no_ = 0;
};

struct Record {
  std::string text, pair;
  bool has_pair = false;
};

Record parse_record(std::string line, const LineReader& r, bool replace_errors) {
  if (replace_errors) line = tokenize::replace_invalid_utf8(line);
  else if (auto bad = tokenize::find_invalid_utf8(line); bad != std::string::npos) {
    throw InvalidArgument(fmt::format("{}:{}: invalid UTF-8 at byte {} (use --errors replace to substitute U+FFFD)",
                                      r.path(), r.line_no(), bad));
  }
  Record rec;
  if (line.find_first_not_of(" \t") == std::string::npos) return rec;  // an empty line is an empty text
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(line);
  } catch (const nlohmann::json::exception&) {
    throw InvalidArgument(fmt::format("{}:{}: not JSON: expected a JSON string or {{\"text\": ..., \"text_pair\": ...}}",
                                      r.path(), r.line_no()));
  }
  if (j.is_string()) {
    rec.text = j.get<std::string>();
  } else if (j.is_object() && j.contains("text") && j["text"].is_string()) {
    rec.text = j["text"].get<std::string>();
    if (j.contains("text_pair") && !j["text_pair"].is_null()) {
      if (!j["text_pair"].is_string()) {
        throw InvalidArgument(fmt::format("{}:{}: 'text_pair' must be a string", r.path(), r.line_no()));
      }
      rec.pair = j["text_pair"].get<std::string>();
      rec.has_pair = true;
    }
  } else {
    throw InvalidArgument(fmt::format("{}:{}: expected a JSON string or an object with a string 'text'", r.path(), r.line_no()));
  }
  return rec;
}

nlohmann::json to_json(const tokenize::Encoding& e, const std::string& text, const std::string& pair, bool chars,
                       bool with_mask, bool with_offsets) {
  nlohmann::json j;
  j["input_ids"] = e.ids;
  j["tokens"] = e.tokens;
  if (!with_offsets) {
    j["token_type_ids"] = e.type_ids;
    if (with_mask) j["attention_mask"] = std::vector<int>(e.attention_mask.begin(), e.attention_mask.end());
    return j;
  }
  std::vector<tokenize::Offsets> offs = e.offsets;
  if (chars) {
    // Offsets refer to the token's own sequence (text or text_pair), as in HF.
    std::vector<tokenize::Offsets> a, b;
    std::vector<std::size_t> ia, ib;
    for (std::size_t i = 0; i < e.size(); ++i) {
      if (e.sequence[i] == 1) { b.push_back(e.offsets[i]); ib.push_back(i); }
      else if (e.sequence[i] == 0) { a.push_back(e.offsets[i]); ia.push_back(i); }
    }
    a = tokenize::to_char_offsets(text, a);
    b = tokenize::to_char_offsets(pair, b);
    for (std::size_t k = 0; k < ia.size(); ++k) offs[ia[k]] = a[k];
    for (std::size_t k = 0; k < ib.size(); ++k) offs[ib[k]] = b[k];
  }
  nlohmann::json o = nlohmann::json::array();
  for (auto [s, en] : offs) o.push_back({s, en});
  j["offsets"] = std::move(o);
  j["token_type_ids"] = e.type_ids;
  if (with_mask) j["attention_mask"] = std::vector<int>(e.attention_mask.begin(), e.attention_mask.end());
  return j;
}

// `--chat FILE`: each line {"messages": [...], "add_generation_prompt": bool (default true), other
// template variables...} -> {"text": rendered, "ids": [...]}, the ids encoded without special
// tokens as apply_chat_template(tokenize=True) does.
int run_chat(const TokenizeOptions& opt) {
  namespace fs = std::filesystem;
  const std::string dir = fs::is_directory(opt.tokenizer) ? opt.tokenizer : fs::path(opt.tokenizer).parent_path().string();
  auto tmpl = tokenize::ChatTemplate::from_directory(dir.empty() ? "." : dir, opt.chat_template);
  auto tok = tokenize::load_text_tokenizer(opt.tokenizer);
  LineReader reader(opt.chat);
  TextOutput out(opt.output);
  std::string line;
  while (reader.next(line)) {
    auto where = [&] { return fmt::format("{}:{}", reader.path(), reader.line_no()); };
    nlohmann::ordered_json j;
    try {
      j = nlohmann::ordered_json::parse(line);
    } catch (const nlohmann::json::exception&) {
      throw InvalidArgument(fmt::format("{}: not JSON: expected {{\"messages\": [...], \"add_generation_prompt\": ...}}", where()));
    }
    if (!j.is_object() || !j.contains("messages") || !j["messages"].is_array()) {
      throw InvalidArgument(fmt::format("{}: expected an object with a 'messages' array", where()));
    }
    tokenize::ChatRenderOptions ropt;
    ropt.add_generation_prompt = true;
    for (const auto& [k, v] : j.items()) {
      if (k == "messages") continue;
      if (k == "add_generation_prompt") {
        if (!v.is_boolean()) throw InvalidArgument(fmt::format("{}: 'add_generation_prompt' must be true or false", where()));
        ropt.add_generation_prompt = v.get<bool>();
      } else {
        ropt.extra[k] = v;
      }
    }
    std::string text;
    try {
      text = tmpl.render(j["messages"], ropt);
    } catch (const Error& e) {
      throw InvalidArgument(fmt::format("{}: {}", where(), e.what()));
    }
    nlohmann::ordered_json o;
    o["text"] = text;
    o["ids"] = tok->encode(text, /*add_special=*/false).ids;
    out.stream() << o.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  }
  out.commit();
  return kExitOk;
}

int run_tokenize(const TokenizeOptions& opt) {
  if (!opt.chat.empty()) return run_chat(opt);
  if (!opt.chat_template.empty()) throw InvalidArgument("--chat-template needs --chat FILE");
  auto tok = tokenize::load_text_tokenizer(opt.tokenizer);
  tokenize::TruncationOptions trunc;
  if (opt.truncation || opt.max_length > 0) {
    if (opt.max_length == 0) throw InvalidArgument("--truncation needs --max-length N");
    trunc.max_length = opt.max_length;
  }
  tokenize::PaddingOptions pad = tok->default_padding();
  pad.enabled = opt.padding != "none";
  if (opt.padding == "max_length") {
    if (opt.max_length == 0) throw InvalidArgument("--padding max_length needs --max-length N");
    pad.length = opt.max_length;
  }
  if (opt.padding_side == "left") pad.side = tokenize::Side::kLeft;
  if (opt.padding_side == "right") pad.side = tokenize::Side::kRight;
  const bool chars = opt.offsets == "chars";
  const bool replace = opt.errors == "replace";
  const bool add_special = !opt.no_special;

  TextOutput out(opt.output);
  std::ostream& os = out.stream();
  unsigned threads = std::max(1u, std::thread::hardware_concurrency());

  auto flush = [&](std::vector<Record>& batch) {
    if (batch.empty()) return;
    // Records with and without a pair are encoded separately, then put back in order.
    std::vector<tokenize::Encoding> encs(batch.size());
    bool any_pair = std::any_of(batch.begin(), batch.end(), [](const Record& r) { return r.has_pair; });
    if (pad.enabled || trunc.max_length > 0 || any_pair) {
      std::vector<std::string> texts, pairs;
      for (const auto& r : batch) {
        texts.push_back(r.text);
        pairs.push_back(r.pair);
      }
      encs = tok->encode_batch(texts, any_pair ? &pairs : nullptr, add_special, trunc, pad);
    } else {
      std::size_t chunk = (batch.size() + threads - 1) / threads;
      std::vector<std::future<void>> jobs;
      for (std::size_t start = 0; start < batch.size(); start += chunk) {
        jobs.push_back(std::async(std::launch::async, [&, start] {
          for (std::size_t i = start; i < std::min(batch.size(), start + chunk); ++i) encs[i] = tok->encode(batch[i].text, add_special);
        }));
      }
      for (auto& j : jobs) j.get();
    }
    for (std::size_t i = 0; i < batch.size(); ++i) {
      os << to_json(encs[i], batch[i].text, batch[i].pair, chars, pad.enabled, tok->has_offsets()).dump(-1, ' ', false,
                                                                                   nlohmann::json::error_handler_t::replace)
         << "\n";
    }
    batch.clear();
  };

  std::vector<Record> batch;
  if (!opt.texts.empty()) {
    for (const auto& t : opt.texts) {
      if (!replace && tokenize::find_invalid_utf8(t) != std::string::npos) throw InvalidArgument("--text: invalid UTF-8");
      batch.push_back({replace ? tokenize::replace_invalid_utf8(t) : t, "", false});
    }
    flush(batch);
  } else {
    LineReader reader(opt.input);
    std::string line;
    while (reader.next(line)) {
      batch.push_back(parse_record(std::move(line), reader, replace));
      if (batch.size() >= opt.batch_size) flush(batch);
    }
    flush(batch);
  }
  out.commit();
  return kExitOk;
}

struct DecodeOptions {
  std::string tokenizer;
  std::string input = "-";
  std::string output = "-";
  bool skip_special = false;
};

int run_decode(const DecodeOptions& opt) {
  auto tok = tokenize::load_text_tokenizer(opt.tokenizer);
  LineReader reader(opt.input);
  TextOutput out(opt.output);
  std::string line;
  while (reader.next(line)) {
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception&) {
      throw InvalidArgument(fmt::format("{}:{}: not JSON: expected {{\"input_ids\": [...]}}", reader.path(), reader.line_no()));
    }
    const nlohmann::json* ids = nullptr;
    if (j.is_object() && j.contains("input_ids")) ids = &j["input_ids"];
    else if (j.is_array()) ids = &j;
    if (!ids || !ids->is_array()) {
      throw InvalidArgument(fmt::format("{}:{}: expected {{\"input_ids\": [...]}}", reader.path(), reader.line_no()));
    }
    std::vector<int> v;
    for (const auto& x : *ids) {
      if (!x.is_number_integer()) {
        throw InvalidArgument(fmt::format("{}:{}: input_ids must be integers, found {}", reader.path(), reader.line_no(),
                                          x.dump()));
      }
      v.push_back(x.get<int>());
    }
    std::string text;
    try {
      text = tok->decode(v, opt.skip_special);
    } catch (const InvalidArgument& e) {
      throw InvalidArgument(fmt::format("{}:{}: {}", reader.path(), reader.line_no(), e.what()));
    }
    out.stream() << nlohmann::json(text).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  }
  out.commit();
  return kExitOk;
}

}  // namespace

void add_tokenize_command(CLI::App& app, CommandList& commands) {
  auto opt = std::make_shared<TokenizeOptions>();
  CLI::App* sub = app.add_subcommand(
      "tokenize",
      "Tokenize texts exactly as Hugging Face tokenizers does. Input: JSONL, each line a JSON string or "
      "{\"text\": ..., \"text_pair\": ...} (an empty line is an empty text). Output: one JSON object per input "
      "line, in order: {\"input_ids\", \"tokens\", \"offsets\", \"token_type_ids\"} (+ \"attention_mask\" with "
      "padding). Offsets are [start, end) in characters (code points) of the token's own text, as HF returns "
      "them in Python, or in UTF-8 bytes with --offsets bytes.");
  sub->add_option("--tokenizer,-t", opt->tokenizer,
                  "A directory with tokenizer.json (tokenizer_config.json is read too), a tokenizer.json file, or a "
                  "sentencepiece .model file")
      ->required();
  sub->add_option("--input,-i", opt->input, "JSONL input ('-' = stdin)")->capture_default_str();
  sub->add_option("--output,-o", opt->output, "JSONL output ('-' = stdout)")->capture_default_str();
  sub->add_option("--text", opt->texts, "Tokenize this text instead of --input (repeatable)");
  sub->add_flag("--no-special", opt->no_special, "Do not add special tokens ([CLS], <s>, </s>, ...)");
  sub->add_option("--max-length", opt->max_length, "Truncate to N tokens, special tokens included");
  sub->add_flag("--truncation", opt->truncation, "Truncate (longest_first for pairs); needs --max-length");
  sub->add_option("--padding", opt->padding, "Pad each batch: none, longest, max_length")
      ->capture_default_str()
      ->check(CLI::IsMember({"none", "longest", "max_length"}));
  sub->add_option("--padding-side", opt->padding_side, "left or right (default: the tokenizer's, e.g. left for Llama)")
      ->check(CLI::IsMember({"left", "right"}));
  sub->add_option("--offsets", opt->offsets, "Offset units: chars (code points) or bytes")
      ->capture_default_str()
      ->check(CLI::IsMember({"chars", "bytes"}));
  sub->add_option("--errors", opt->errors, "Invalid UTF-8: strict (error naming the line) or replace (U+FFFD)")
      ->capture_default_str()
      ->check(CLI::IsMember({"strict", "replace"}));
  sub->add_option("--batch-size", opt->batch_size, "Lines per batch (padding applies per batch)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  sub->add_option("--chat", opt->chat,
                  "Render conversations with the tokenizer directory's chat template instead: JSONL, each line "
                  "{\"messages\": [...], \"add_generation_prompt\": bool (default true), other template variables "
                  "(tools, documents, ...)}; output lines {\"text\", \"ids\"} (ids without special tokens, as "
                  "apply_chat_template(tokenize=True)) ('-' = stdin)");
  sub->add_option("--chat-template", opt->chat_template,
                  "With --chat: the named template of a tokenizer_config.json list (default: 'default')");
  commands.push_back({sub, [opt]() { return run_tokenize(*opt); }});

  auto dopt = std::make_shared<DecodeOptions>();
  CLI::App* dec = app.add_subcommand(
      "decode", "Decode token ids back to text. Input lines: {\"input_ids\": [...]} (or a bare list); output lines: "
                "JSON strings, in order.");
  dec->add_option("--tokenizer,-t", dopt->tokenizer, "Tokenizer directory, tokenizer.json or .model file")->required();
  dec->add_option("--input,-i", dopt->input, "JSONL input ('-' = stdin)")->capture_default_str();
  dec->add_option("--output,-o", dopt->output, "JSONL output ('-' = stdout)")->capture_default_str();
  dec->add_flag("--skip-special", dopt->skip_special, "Drop special tokens (as skip_special_tokens=True)");
  commands.push_back({dec, [dopt]() { return run_decode(*dopt); }});
}

}  // namespace xling::cli
