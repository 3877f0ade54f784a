// `xling generate` and `xling translate` with the real binary. generate: the seq2seq fixtures'
// golden greedy / beam outputs and scores through the id-level JSONL contract, independent of
// --batch-size. translate: for each MT tokenizer family (tests/data/translation_tokenizers,
// made by transformers) a small random-weight model of the matching class is written next to
// the tokenizer files; the CLI's lines must equal the library pipeline run one segment at a
// time (tokenizer -> generate -> decode), whatever the batching, with empty lines kept, and
// --sentence-split must equal translating the sentences one by one. Bad inputs fail clearly.
#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "../unit/test_util.hpp"
#ifdef XLING_HAVE_SERVER
#include "random_model.hpp"
#include "server_process.hpp"
#endif
#include "core/json.hpp"
#include "generate/seq2seq_scorer.hpp"
#include "io/generation_config.hpp"
#include "io/safetensors_writer.hpp"
#include "layers/torch_runtime.hpp"
#include "models/registry.hpp"
#include "tokenize/sentence_splitter.hpp"
#include "tokenize/translation_tokenizer.hpp"

namespace fs = std::filesystem;
using namespace xling;
using xling::testing::CommandResult;
using xling::testing::ScratchDir;

namespace {

const std::string kFixtures = XLING_FIXTURES;
const std::string kTokenizers = std::string(XLING_SOURCE_DIR) + "/tests/data/translation_tokenizers";

CommandResult run(const std::vector<std::string>& args) { return xling::testing::run_command(XLING_BIN, args, "/dev/null"); }

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (std::size_t nl; (nl = text.find('\n', start)) != std::string::npos; start = nl + 1) out.push_back(text.substr(start, nl - start));
  return out;
}

void write_lines(const std::string& path, const std::vector<std::string>& lines) {
  std::ofstream f(path, std::ios::binary);
  for (const auto& l : lines) f << l << '\n';
}

// The largest token id the tokenizer directory can produce, + 1.
int64_t tokenizer_vocab(const fs::path& dir) {
  int64_t top = -1;
  auto scan_map = [&](const nlohmann::json& m) {
    for (const auto& [k, v] : m.items()) {
      if (v.is_number_integer()) top = std::max<int64_t>(top, v.get<int64_t>());
    }
  };
  if (fs::exists(dir / "tokenizer.json")) {
    auto j = core::read_json_file((dir / "tokenizer.json").string());
    const auto& vocab = j["model"]["vocab"];
    if (vocab.is_object()) scan_map(vocab);
    else top = std::max<int64_t>(top, static_cast<int64_t>(vocab.size()) - 1);
    for (const auto& t : j["added_tokens"]) top = std::max<int64_t>(top, t["id"].get<int64_t>());
  }
  for (const char* f : {"vocab.json", "target_vocab.json"}) {
    if (fs::exists(dir / f)) scan_map(core::read_json_file((dir / f).string()));
  }
  return top + 1;
}

// A random-weight model of the family's class with the tokenizer's vocabulary, written into
// a copy of the tokenizer directory.
std::string make_model(const ScratchDir& scratch, const std::string& family) {
  fs::path src = fs::path(kTokenizers) / family;
  fs::path dir = scratch.path() / family;
  fs::create_directories(dir);
  for (const auto& e : fs::directory_iterator(src)) fs::copy_file(e.path(), dir / e.path().filename());
  auto tok = tokenize::TranslationTokenizer::load(dir.string());
  int64_t vocab = tokenizer_vocab(dir);
  for (const auto& code : tok.languages()) vocab = std::max(vocab, tok.language_token_id(code) + 1);  // M2M-100 appends them
  const int64_t eos = tok.eos_id(), pad = tok.pad_id();
  nlohmann::json cfg;
  if (family == "t5") {
    cfg = {{"model_type", "mt5"}, {"architectures", {"MT5ForConditionalGeneration"}}, {"d_model", 32}, {"d_kv", 8},
           {"d_ff", 64}, {"num_layers", 2}, {"num_decoder_layers", 2}, {"num_heads", 4}, {"feed_forward_proj", "gated-gelu"},
           {"decoder_start_token_id", pad}, {"tie_word_embeddings", false}};
  } else {
    const bool marian = family.rfind("marian", 0) == 0, mbart = family.rfind("mbart", 0) == 0;
    cfg = {{"model_type", marian ? "marian" : mbart ? "mbart" : "m2m_100"},
           {"architectures", {marian ? "MarianMTModel" : mbart ? "MBartForConditionalGeneration" : "M2M100ForConditionalGeneration"}},
           {"d_model", 32}, {"encoder_layers", 2}, {"decoder_layers", 2}, {"encoder_attention_heads", 4},
           {"decoder_attention_heads", 4}, {"encoder_ffn_dim", 64}, {"decoder_ffn_dim", 64},
           {"max_position_embeddings", 256}, {"scale_embedding", true}, {"decoder_start_token_id", marian ? pad : eos}};
    if (marian) cfg["forced_eos_token_id"] = eos;
  }
  cfg["vocab_size"] = vocab;
  cfg["pad_token_id"] = pad;
  cfg["eos_token_id"] = eos;
  cfg["init_std"] = 0.5;
  cfg["dropout"] = 0.0;
  std::ofstream(dir / "config.json") << cfg.dump(2);
  xling::testing::write_random_weights(dir.string(), 11);
  return dir.string();
}

struct Pair {
  std::string src, tgt;
};

Pair languages_for(const tokenize::TranslationTokenizer& tok) {
  const auto& langs = tok.languages();
  if (langs.empty()) return {"", ""};
  return {langs[langs.size() / 3], langs[(2 * langs.size()) / 3]};
}

// The library pipeline for one segment: what `xling translate` must print for it.
std::string translate_one(const std::string& dir, const std::string& text, const Pair& p, int64_t beams, int64_t max_new) {
  auto tok = tokenize::TranslationTokenizer::load(dir);
  auto m = models::load_model(dir);
  auto* s2s = models::as_seq2seq(*m.module);
  generate::GenerationOverrides ov;
  ov.num_beams = beams;
  ov.max_new_tokens = max_new;
  if (auto bos = tok.forced_bos(p.tgt)) ov.forced_bos_token_id = *bos;
  auto opts = generate::resolve_options(s2s->seq2seq_config(), nullptr, ov, 1);
  torch::InferenceMode guard;
  tokenize::SourceOptions so;
  so.max_length = tok.model_max_length();
  auto ids = tok.encode_source(text, p.src, p.tgt, so);
  auto r = generate::generate_seq2seq(*s2s, {ids}, generate::decoder_start_token(s2s->seq2seq_config(), nullptr), opts,
                                      torch::kCPU);
  std::string decoded = tok.decode_target(r.at(0).at(0).ids);
  // the CLI keeps one line per input: line breaks inside a translation become spaces
  std::string out;
  for (std::size_t i = 0; i < decoded.size(); ++i) {
    if (decoded[i] == '\r' && i + 1 < decoded.size() && decoded[i + 1] == '\n') continue;
    out.push_back(decoded[i] == '\n' || decoded[i] == '\r' ? ' ' : decoded[i]);
  }
  return out;
}

std::vector<std::string> lang_args(const Pair& p) {
  std::vector<std::string> a;
  if (!p.src.empty()) a.insert(a.end(), {"--src-lang", p.src});
  if (!p.tgt.empty()) a.insert(a.end(), {"--tgt-lang", p.tgt});
  return a;
}

}  // namespace

TEST(GenerateCli, FixtureGoldensThroughJsonl) {
  for (const char* name : {"m2m100__M2M100ForConditionalGeneration", "mbart__MBartForConditionalGeneration",
                           "marian__MarianMTModel", "mt5__MT5ForConditionalGeneration"}) {
    const std::string dir = kFixtures + "/models/" + name;
    auto meta = core::read_json_file(dir + "/golden.json");
    ScratchDir scratch;
    for (const char* kind : {"greedy", "beam4"}) {
      std::ofstream in(scratch.file("in.jsonl"));
      for (int i = 0; i < 2; ++i) {
        in << nlohmann::json({{"input_ids", meta["generation"][fmt::format("{}.{}", kind, i)]["source_ids"]}}).dump() << '\n';
      }
      in.close();
      std::vector<std::string> args = {"generate", "--model", dir, "--input-ids", scratch.file("in.jsonl"),
                                       "--max-new-tokens", "12", "--num-beams", kind == std::string("greedy") ? "1" : "4"};
      if (kind == std::string("beam4")) args.insert(args.end(), {"--early-stopping", "true", "--length-penalty", "1"});
      if (meta["generation_args"].contains("forced_bos_token_id")) {
        args.insert(args.end(), {"--forced-bos-token-id", std::to_string(meta["generation_args"]["forced_bos_token_id"].get<int64_t>())});
      }
      for (const char* batch : {"1", "2"}) {
        auto with_batch = args;
        with_batch.insert(with_batch.end(), {"--batch-size", batch});
        auto r = run(with_batch);
        ASSERT_EQ(r.code, 0) << r.err;
        auto out = lines_of(r.out);
        ASSERT_EQ(out.size(), 2u) << r.out;
        for (int i = 0; i < 2; ++i) {
          auto want = meta["generation"][fmt::format("{}.{}", kind, i)];
          auto got = nlohmann::json::parse(out[static_cast<std::size_t>(i)]);
          EXPECT_EQ(got["output_ids"], want["output_ids"]) << name << " " << kind << " " << i << " batch " << batch;
          if (want.contains("sequence_score")) {
            EXPECT_NEAR(got["score"].get<double>(), want["sequence_score"].get<double>(), 1e-4) << name << " " << kind;
          } else {
            EXPECT_TRUE(got["score"].is_null());
          }
        }
      }
    }
  }
}

TEST(GenerateCli, ReturnSequencesAndBadInput) {
  ScratchDir scratch;
  const std::string dir = kFixtures + "/models/m2m100__M2M100ForConditionalGeneration";
  write_lines(scratch.file("in.jsonl"), {R"({"input_ids": [5, 6, 7, 2]})", R"({"input_ids": [9, 2]})"});
  auto r = run({"generate", "--model", dir, "--input-ids", scratch.file("in.jsonl"), "--num-beams", "4",
                "--num-return-sequences", "3", "--max-new-tokens", "6"});
  ASSERT_EQ(r.code, 0) << r.err;
  auto out = lines_of(r.out);
  ASSERT_EQ(out.size(), 6u);
  for (int i = 0; i < 2; ++i) {  // best first
    double prev = 1e9;
    for (int k = 0; k < 3; ++k) {
      double s = nlohmann::json::parse(out[static_cast<std::size_t>(i * 3 + k)])["score"].get<double>();
      EXPECT_LE(s, prev + 1e-9);
      prev = s;
    }
  }
  r = run({"generate", "--model", dir, "--input-ids", scratch.file("in.jsonl"), "--num-beams", "2", "--num-return-sequences", "3"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("num_return_sequences"), std::string::npos) << r.err;
  write_lines(scratch.file("bad.jsonl"), {R"({"input_ids": [5, 6, 7, 2]})", R"({"input_ids": [5, 100000]})"});
  r = run({"generate", "--model", dir, "--input-ids", scratch.file("bad.jsonl")});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("100000"), std::string::npos) << r.err;
  write_lines(scratch.file("junk.jsonl"), {"not json"});
  r = run({"generate", "--model", dir, "--input-ids", scratch.file("junk.jsonl")});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("junk.jsonl:1"), std::string::npos) << r.err;
  xling::testing::write_bytes(scratch.file("empty.jsonl"), "");
  r = run({"generate", "--model", dir, "--input-ids", scratch.file("empty.jsonl")});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("empty"), std::string::npos) << r.err;
  r = run({"generate", "--model", kFixtures + "/models/xlm_roberta__XLMRobertaModel", "--input-ids", scratch.file("in.jsonl")});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("not an encoder-decoder"), std::string::npos) << r.err;
}

class TranslateCli : public ::testing::TestWithParam<std::string> {};

TEST_P(TranslateCli, LinesEqualTheLibraryPipelineWhateverTheBatching) {
  layers::set_threads(0);
  ScratchDir scratch;
  const std::string dir = make_model(scratch, GetParam());
  auto tok = tokenize::TranslationTokenizer::load(dir);
  const Pair p = languages_for(tok);
  const std::vector<std::string> input = {"Der Hund schläft im Garten.", "", "Кошка сидит на окне, а собака спит.",
                                          "猫は窓辺に座っている。", "   ", "C'est la vie ! Un deuxième essai ?"};
  write_lines(scratch.file("in.txt"), input);
  for (const char* beams : {"1", "3"}) {
    std::vector<std::string> base = {"translate", "--model", dir, "--input", scratch.file("in.txt"), "--num-beams", beams,
                                     "--max-new-tokens", "6", "--quiet"};
    auto args = base;
    {
      auto la = lang_args(p);
      args.insert(args.end(), la.begin(), la.end());
    }
    auto r = run(args);
    ASSERT_EQ(r.code, 0) << r.err;
    auto out = lines_of(r.out);
    ASSERT_EQ(out.size(), input.size()) << r.out;
    for (std::size_t i = 0; i < input.size(); ++i) {
      const bool blank = input[i].find_first_not_of(' ') == std::string::npos;
      if (blank) {
        EXPECT_EQ(out[i], "") << "line " << i;
      } else {
        EXPECT_EQ(out[i], translate_one(dir, input[i], p, std::stoi(beams), 6)) << GetParam() << " line " << i;
      }
    }
    auto tiny = args;
    tiny.insert(tiny.end(), {"--batch-tokens", "1"});
    auto r2 = run(tiny);
    ASSERT_EQ(r2.code, 0) << r2.err;
    EXPECT_EQ(r2.out, r.out) << "batching changed the output";
  }
  // --sentence-split: each sentence translated alone, joined with the original separators
  auto args = std::vector<std::string>{"translate", "--model", dir, "--input", scratch.file("in.txt"), "--sentence-split",
                                       "--max-new-tokens", "5", "--quiet"};
  {
      auto la = lang_args(p);
      args.insert(args.end(), la.begin(), la.end());
    }
  auto r = run(args);
  ASSERT_EQ(r.code, 0) << r.err;
  auto out = lines_of(r.out);
  ASSERT_EQ(out.size(), input.size());
  auto spans = tokenize::split_sentences(input[5]);
  ASSERT_EQ(spans.size(), 2u);
  std::vector<std::string> parts;
  for (const auto& s : spans) parts.push_back(translate_one(dir, s.text, p, 1, 5));
  EXPECT_EQ(out[5], tokenize::join_sentences(parts, spans));
}

INSTANTIATE_TEST_SUITE_P(Families, TranslateCli, ::testing::Values("nllb", "m2m100", "mbart50", "marian_multi", "t5"),
                         [](const auto& info) { return info.param; });

TEST(TranslateCliErrors, ClearMessages) {
  ScratchDir scratch;
  const std::string dir = make_model(scratch, "nllb");
  write_lines(scratch.file("in.txt"), {"Hallo Welt"});
  auto r = run({"translate", "--model", dir, "--src-lang", "deu_Latn", "--tgt-lang", "xx_YY", "--input", scratch.file("in.txt")});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("xx_YY"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("fra_Latn"), std::string::npos) << r.err;  // the valid codes are listed
  r = run({"translate", "--model", dir, "--tgt-lang", "fra_Latn", "--input", scratch.file("in.txt")});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("--src-lang"), std::string::npos) << r.err;
  xling::testing::write_bytes(scratch.file("empty.txt"), "");
  r = run({"translate", "--model", dir, "--src-lang", "deu_Latn", "--tgt-lang", "fra_Latn", "--input", scratch.file("empty.txt")});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("empty"), std::string::npos) << r.err;
  xling::testing::write_bytes(scratch.file("bad.txt"), "ok\nbad \xc3\x28\n");
  r = run({"translate", "--model", dir, "--src-lang", "deu_Latn", "--tgt-lang", "fra_Latn", "--input", scratch.file("bad.txt")});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("bad.txt:2"), std::string::npos) << r.err;
  // an over-long input is truncated, and says so
  std::string longline;
  for (int i = 0; i < 300; ++i) longline += "Wort ";
  write_lines(scratch.file("long.txt"), {longline});
  r = run({"translate", "--model", dir, "--src-lang", "deu_Latn", "--tgt-lang", "fra_Latn", "--input", scratch.file("long.txt"),
           "--max-input-length", "32", "--max-new-tokens", "4"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("truncated"), std::string::npos) << r.err;
  EXPECT_EQ(lines_of(r.out).size(), 1u);
}

// `xling finetune --task seq2seq` on real parallel rows (held-out catalog bitext, English ->
// French) with a small random-weight model: the dev loss falls, dev BLEU/chrF++ are logged,
// and the output directory is a complete MT directory that `xling translate` runs.
TEST(Seq2SeqFinetune, DevLossFallsAndTheOutputTranslates) {
  ScratchDir scratch;
  const std::string dir = make_model(scratch, "marian_shared");
  std::ifstream in(std::string(XLING_SOURCE_DIR) + "/models/xling-mini/eval/test/fr.jsonl");
  std::ofstream train(scratch.file("train.jsonl")), dev(scratch.file("dev.jsonl"));
  std::string line;
  int n = 0;
  while (std::getline(in, line) && n < 260) {
    auto j = nlohmann::json::parse(line);
    std::string en = j["en"], fr = j["text"];
    if (en.size() > 60 || fr.size() > 80) continue;  // short segments keep the test fast
    ((n++ < 220) ? train : dev) << nlohmann::json({{"source", en}, {"target", fr}}).dump() << '\n';
  }
  train.close();
  dev.close();
  ASSERT_EQ(n, 260);
  auto r = run({"finetune", "--task", "seq2seq", "--model", dir, "--train", scratch.file("train.jsonl"), "--eval",
                scratch.file("dev.jsonl"), "--epochs", "3", "--lr", "3e-3", "--batch-size", "16", "--eval-steps", "20",
                "--label-smoothing", "0.1", "--eval-max-new-tokens", "16", "--log", scratch.file("log.jsonl"), "--output",
                scratch.file("out"), "--quiet"});
  ASSERT_EQ(r.code, 0) << r.err;
  std::vector<nlohmann::json> evals;
  std::ifstream log(scratch.file("log.jsonl"));
  while (std::getline(log, line)) {
    auto j = nlohmann::json::parse(line);
    if (j.contains("eval")) evals.push_back(j);
  }
  ASSERT_GE(evals.size(), 3u);
  EXPECT_EQ(evals.front()["step"], 0);
  const double first = evals.front()["loss"], last = evals.back()["loss"];
  EXPECT_LT(last, first * 0.8) << "dev loss " << first << " -> " << last;
  std::cout << fmt::format("[seq2seq finetune] dev loss {:.3f} -> {:.3f}, chrF++ {:.1f} -> {:.1f}, BLEU {:.2f} -> {:.2f}\n", first,
                           last, evals.front()["chrf++"].get<double>(), evals.back()["chrf++"].get<double>(),
                           evals.front()["bleu"].get<double>(), evals.back()["bleu"].get<double>());
  for (const auto& e : evals) {
    EXPECT_TRUE(e.contains("bleu") && e.contains("chrf++")) << e.dump();
    EXPECT_GE(e["chrf++"].get<double>(), 0.0);
  }
  for (const char* f : {"config.json", "model.safetensors", "source.spm", "target.spm", "vocab.json", "tokenizer_config.json"}) {
    EXPECT_TRUE(fs::exists(fs::path(scratch.file("out")) / f)) << f;
  }
  write_lines(scratch.file("in.txt"), {"Open the file", "", "Save changes?"});
  r = run({"translate", "--model", scratch.file("out"), "--input", scratch.file("in.txt"), "--max-new-tokens", "8", "--quiet"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(lines_of(r.out).size(), 3u);
  // rows without the fields are named
  write_lines(scratch.file("bad.jsonl"), {R"({"source": "a", "target": "b"})", R"({"en": "a"})"});
  r = run({"finetune", "--task", "seq2seq", "--model", dir, "--train", scratch.file("bad.jsonl"), "--output",
           scratch.file("out2"), "--quiet"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("bad.jsonl"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("source"), std::string::npos) << r.err;
}

#ifdef XLING_HAVE_SERVER
// `xling serve` with an MT model: POST /translate equals `xling translate` line by line (blank
// texts give ""), for NLLB (source and target codes) and multi-target Marian; several clients at
// once; an unknown language code is a 400 that lists the valid ones.
TEST(ServeTranslate, EqualsTheCli) {
  ScratchDir scratch;
  const std::vector<std::string> input = {"Der Hund schläft im Garten.", "", "Кошка сидит на окне, а собака спит.",
                                          "猫は窓辺に座っている。", "C'est la vie ! Un deuxième essai ?"};
  for (const char* family : {"nllb", "marian_multi"}) {
    const std::string dir = make_model(scratch, family);
    auto tok = tokenize::TranslationTokenizer::load(dir);
    const Pair p = languages_for(tok);
    write_lines(scratch.file("in.txt"), input);
    std::vector<std::string> args = {"translate", "--model", dir, "--input", scratch.file("in.txt"), "--num-beams", "2",
                                     "--max-new-tokens", "6", "--quiet"};
    auto la = lang_args(p);
    args.insert(args.end(), la.begin(), la.end());
    auto cli = run(args);
    ASSERT_EQ(cli.code, 0) << cli.err;
    auto want = lines_of(cli.out);
    ASSERT_EQ(want.size(), input.size());

    xling::testing::ServerProcess srv({"--model", std::string("mt=") + dir});
    ASSERT_TRUE(srv.running()) << srv.log();
    nlohmann::json body = {{"text", input}, {"target_lang", p.tgt}, {"num_beams", 2}, {"max_new_tokens", 6}};
    if (!p.src.empty()) body["source_lang"] = p.src;
    std::vector<std::thread> clients;
    std::atomic<int> same{0};
    for (int c = 0; c < 8; ++c) {
      clients.emplace_back([&] {
        auto client = srv.client();
        int status = 0;
        auto r = xling::testing::post_json(client, "/translate", body.dump(), &status);
        if (status == 200 && r["translations"].get<std::vector<std::string>>() == want) ++same;
      });
    }
    for (auto& t : clients) t.join();
    EXPECT_EQ(same.load(), 8) << family;
    auto client = srv.client();
    int status = 0;
    auto bad = body;
    bad["target_lang"] = "xx_Nope";
    auto r = xling::testing::post_json(client, "/translate", bad.dump(), &status);
    EXPECT_EQ(status, 400) << r.dump();
    EXPECT_NE(r.value("error", "").find(p.tgt), std::string::npos) << "the valid codes are listed: " << r.dump();
    r = xling::testing::post_json(client, "/embed", R"({"inputs": "x"})", &status);
    EXPECT_EQ(status, 400);
    EXPECT_NE(r.value("error", "").find("/translate"), std::string::npos) << r.dump();
    EXPECT_EQ(srv.stop(), 0) << srv.log();
  }
}
#endif
