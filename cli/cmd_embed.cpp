// `xling embed`: sentence embeddings as sentence-transformers computes them, to .npy or
// .jsonl, rows in input order.
#include <chrono>
#include <iostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/common.hpp"
#include "io/model_location.hpp"
#include "cli/text_input.hpp"
#include "core/atomic_file.hpp"
#include "core/memory.hpp"
#include "models/registry.hpp"
#include "tasks/sentence_encoder.hpp"
#include "xling/errors.hpp"

namespace xling::cli {
namespace {

struct EmbedOptions {
  std::string model, input = "-", output;
  std::size_t batch_tokens = 0;
  std::string dtype = "f32", device = "cpu";
  bool normalize = false;
  std::string pooling, prompt_name, prompt;
  std::size_t max_length = 0;
};

// NumPy .npy v1.0: magic, header dict padded so the data starts at a multiple of 64.
std::string npy_header(int64_t rows, int64_t cols) {
  std::string dict = fmt::format("{{'descr': '<f4', 'fortran_order': False, 'shape': ({}, {}), }}", rows, cols);
  std::size_t total = 10 + dict.size() + 1;
  dict.append((64 - total % 64) % 64, ' ');
  dict.push_back('\n');
  std::string h = "\x93NUMPY";
  h.push_back('\x01');
  h.push_back('\x00');
  h.push_back(static_cast<char>(dict.size() & 0xFF));
  h.push_back(static_cast<char>((dict.size() >> 8) & 0xFF));
  return h + dict;
}

int run_embed(const EmbedOptions& opt) {
  std::optional<tasks::Pooling> pooling;
  if (!opt.pooling.empty()) pooling = tasks::parse_pooling(opt.pooling);
  auto records = read_text_records(opt.input);
  const auto t0 = std::chrono::steady_clock::now();
  auto enc = tasks::SentenceEncoder::load(opt.model, pooling, opt.normalize, models::LoadOptions::with_dtype(models::parse_compute_dtype(opt.dtype), models::parse_device(opt.device)));
  const auto t1 = std::chrono::steady_clock::now();
  std::vector<std::string> texts;
  for (auto& r : records) texts.push_back(std::move(r.text));
  tasks::EncodeOptions eo;
  eo.batch_tokens = opt.batch_tokens;
  if (opt.max_length) eo.max_length = opt.max_length;
  eo.prompt_name = opt.prompt_name;
  eo.prompt = opt.prompt;
  tasks::EncodeStats st;
  torch::Tensor emb = enc.encode(texts, eo, &st).contiguous();
  const auto t2 = std::chrono::steady_clock::now();
  auto secs = [](auto a, auto b) { return std::chrono::duration<double>(b - a).count(); };
  if (st.truncated) std::cerr << fmt::format("xling embed: {} of {} texts truncated to the model's maximum length\n", st.truncated, st.texts);
  if (has_extension(opt.output, ".npy")) {
    core::AtomicFile f(opt.output);
    f.write(npy_header(emb.size(0), emb.size(1)));
    f.write(emb.data_ptr<float>(), static_cast<std::size_t>(emb.nbytes()));
    f.commit();
  } else {
    TextOutput out(opt.output);
    auto acc = emb.accessor<float, 2>();
    for (int64_t i = 0; i < emb.size(0); ++i) {
      std::vector<float> row(emb.size(1));
      for (int64_t k = 0; k < emb.size(1); ++k) row[static_cast<std::size_t>(k)] = acc[i][k];
      out.stream() << nlohmann::json({{"embedding", row}}).dump() << "\n";
    }
    out.commit();
  }
  std::cerr << fmt::format(
      "xling embed: {} texts -> {} x {} ({} tokens, {} with padding, {:.1f}% padding); load {:.2f} s, encode {:.2f} s, "
      "peak RSS {:.0f} MB\n",
      st.texts, emb.size(0), emb.size(1), st.tokens, st.padded_tokens,
      st.padded_tokens ? 100.0 * static_cast<double>(st.padded_tokens - st.tokens) / static_cast<double>(st.padded_tokens) : 0.0,
      secs(t0, t1), secs(t1, t2), static_cast<double>(core::peak_rss_bytes()) / 1e6);
  return kExitOk;
}

}  // namespace

void add_embed_command(CLI::App& app, CommandList& commands) {
  auto opt = std::make_shared<EmbedOptions>();
  CLI::App* sub = app.add_subcommand(
      "embed",
      "Sentence embeddings as sentence-transformers computes them. A sentence-transformers directory uses its own "
      "modules (pooling, dense, normalize, prompts); a plain HF encoder directory needs --pooling. Input: .txt (one "
      "text per line) or .jsonl (a JSON string or {\"text\": ...}); output: .npy (float32 [N, D]) or .jsonl "
      "({\"embedding\": [...]}), rows in input order.");
  sub->add_option("--model,-m", opt->model,
                  "Model directory or a shipped model's name (default: xling-mini, the embedded multilingual encoder)");
  sub->add_option("--input,-i", opt->input, "Texts ('-' = stdin, read as .txt)")->capture_default_str();
  sub->add_option("--output,-o", opt->output, "Output .npy or .jsonl ('-' = JSONL on stdout)")->required();
  sub->add_option("--batch-tokens", opt->batch_tokens, "Token budget per batch, padding included (0 = 1024 on CPU, 16384 on CUDA)")->capture_default_str();
  sub->add_flag("--normalize", opt->normalize, "L2-normalize (adds Normalize when the model has none)");
  sub->add_option("--pooling", opt->pooling, "cls, mean, max, mean_sqrt_len, lasttoken, weightedmean");
  sub->add_option("--prompt-name", opt->prompt_name, "A prompt of config_sentence_transformers.json (e.g. query)");
  sub->add_option("--prompt", opt->prompt, "A literal prompt prepended to every text (e.g. \"query: \")");
  add_compute_options(sub, opt->device, opt->dtype);
  sub->add_option("--max-length", opt->max_length, "Truncate to N tokens (default: the model's maximum)");
  commands.push_back({sub, [opt]() {
    opt->model = io::resolve_model(opt->model);  // "" = the embedded default model
    return run_embed(*opt);
  }});
}

}  // namespace xling::cli
