// Decoder-only LLMs through the CLI: `xling forward` and `xling generate` on the Llama, Qwen2
// and BLOOM fixtures (their goldens), and on a random-weight Qwen2-shaped model with a real
// byte-level BPE tokenizer and the real Qwen2 chat template: `xling generate --prompt/--input`
// and `xling chat` (streamed replies, /reset, missing or unsupported templates, prompts beyond
// the context).
#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "../unit/test_util.hpp"
#include "random_model.hpp"
#include "core/json.hpp"
#include "generate/text_generator.hpp"
#include "io/checkpoint.hpp"
#include "io/safetensors_writer.hpp"
#include "models/registry.hpp"

namespace fs = std::filesystem;
using namespace xling;
using xling::testing::CommandResult;
using xling::testing::ScratchDir;

namespace {

const std::string kFixtures = XLING_FIXTURES;
const std::string kTemplates = std::string(XLING_SOURCE_DIR) + "/tests/data/chat_templates";

CommandResult run(const std::vector<std::string>& args, const std::string& stdin_file = "/dev/null") {
  return xling::testing::run_command(XLING_BIN, args, stdin_file);
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (std::size_t nl; (nl = text.find('\n', start)) != std::string::npos; start = nl + 1) out.push_back(text.substr(start, nl - start));
  return out;
}

void write_text(const std::string& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

std::vector<int64_t> ids_of(const nlohmann::json& j) { return j.get<std::vector<int64_t>>(); }

std::string make_qwen2(const ScratchDir& scratch, const std::string& name, const std::string& chat_template,
                       int64_t max_positions = 512) {
  return xling::testing::make_random_qwen2(scratch.path() / name, kFixtures, chat_template, max_positions);
}

std::string read_template(const std::string& name) { return xling::testing::read_bytes(kTemplates + "/" + name); }

}  // namespace

TEST(LlmCli, ForwardMatchesTheDecoderGoldens) {
  ScratchDir dir;
  for (const char* name : {"llama__LlamaForCausalLM", "qwen2__Qwen2ForCausalLM", "bloom__BloomForCausalLM"}) {
    const std::string m = kFixtures + "/models/" + name;
    auto meta = core::read_json_file(m + "/golden.json");
    const std::string out = dir.file(std::string(name) + ".safetensors");
    auto r = run({"forward", "--model", m, "--inputs", m + "/golden.safetensors", "--output", out});
    ASSERT_EQ(r.code, 0) << r.err;
    auto d = run({"diff", out, m + "/golden.safetensors", "--ignore-missing", "--atol", std::to_string(meta.value("atol", 1e-4)),
                  "--rtol", std::to_string(meta.value("rtol", 1e-4))});
    EXPECT_EQ(d.code, 0) << name << "\n" << d.out << d.err;
  }
}

TEST(LlmCli, GenerateMatchesTheDecoderGoldens) {
  ScratchDir dir;
  for (const char* name : {"llama__LlamaForCausalLM", "qwen2__Qwen2ForCausalLM", "bloom__BloomForCausalLM"}) {
    const std::string m = kFixtures + "/models/" + name;
    auto gen = core::read_json_file(m + "/golden.json")["generation"];
    {  // each prompt alone, and both in one batch (same length: no padding)
      write_text(dir.file("in.jsonl"), nlohmann::json({{"input_ids", gen["greedy.0"]["prompt_ids"]}}).dump() + "\n" +
                                           nlohmann::json({{"input_ids", gen["greedy.1"]["prompt_ids"]}}).dump() + "\n");
      // f32-packed (oneDNN-prepacked weights) rounds differently but keeps these ids.
      for (const auto& [batch, dtype] : std::vector<std::pair<std::string, std::string>>{{"1", "f32"}, {"2", "f32"}, {"2", "f32-packed"}}) {
        auto r = run({"generate", "--model", m, "--input-ids", dir.file("in.jsonl"), "--max-new-tokens", "12",
                      "--min-new-tokens", "12", "--batch-size", batch, "--dtype", dtype});
        ASSERT_EQ(r.code, 0) << r.err;
        auto out = lines_of(r.out);
        ASSERT_EQ(out.size(), 2u) << r.out;
        for (int i = 0; i < 2; ++i) {
          auto got = nlohmann::json::parse(out[static_cast<std::size_t>(i)]);
          EXPECT_EQ(got["output_ids"], gen[fmt::format("greedy.{}", i)]["output_ids"]) << name << " " << i << " batch " << batch << " " << dtype;
          EXPECT_TRUE(got["score"].is_null());
        }
      }
    }
    // The left-padded batch of the fixture: prompts of different lengths generated together.
    const auto& b = gen["greedy.left_padded_batch"];
    std::string lines;
    std::vector<std::vector<int64_t>> wants;
    for (std::size_t r = 0; r < 2; ++r) {
      auto padded = ids_of(b["prompt_ids"][r]), mask = ids_of(b["attention_mask"][r]), out = ids_of(b["output_ids"][r]);
      const auto pads = static_cast<std::ptrdiff_t>(std::count(mask.begin(), mask.end(), 0));
      lines += nlohmann::json({{"input_ids", std::vector<int64_t>(padded.begin() + pads, padded.end())}}).dump() + "\n";
      wants.emplace_back(out.begin() + pads, out.end());
    }
    write_text(dir.file("batch.jsonl"), lines);
    auto r = run({"generate", "--model", m, "--input-ids", dir.file("batch.jsonl"), "--max-new-tokens", "10",
                  "--min-new-tokens", "10", "--batch-size", "2"});
    ASSERT_EQ(r.code, 0) << r.err;
    auto out = lines_of(r.out);
    ASSERT_EQ(out.size(), 2u);
    for (std::size_t i = 0; i < 2; ++i) EXPECT_EQ(ids_of(nlohmann::json::parse(out[i])["output_ids"]), wants[i]) << name << " padded row " << i;
  }
}

TEST(LlmCli, TextPromptsAndConversations) {
  ScratchDir scratch;
  const auto m = make_qwen2(scratch, "qwen", read_template("qwen2-instruct.jinja"));
  // Plain prompts and a conversation through the template; greedy is deterministic and the
  // text equals the library's decode of the same ids.
  write_text(scratch.file("in.jsonl"), "\"Guten Morgen\"\n{\"prompt\": \"Доброе утро\"}\n"
                                       "{\"messages\": [{\"role\": \"user\", \"content\": \"你好\"}]}\n");
  auto a = run({"generate", "--model", m, "--input", scratch.file("in.jsonl"), "--max-new-tokens", "8", "--batch-size", "3"});
  ASSERT_EQ(a.code, 0) << a.err;
  auto b = run({"generate", "--model", m, "--input", scratch.file("in.jsonl"), "--max-new-tokens", "8", "--batch-size", "1"});
  ASSERT_EQ(b.code, 0) << b.err;
  auto la = lines_of(a.out), lb = lines_of(b.out);
  ASSERT_EQ(la.size(), 3u);
  torch::InferenceMode guard;
  auto tg = generate::TextGenerator::load(m, {}, "", "test");
  const std::vector<std::vector<int64_t>> prompts = {
      tg.encode_prompt("Guten Morgen"), tg.encode_prompt("Доброе утро"),
      tg.encode_chat(nlohmann::json::array({{{"role", "user"}, {"content", "你好"}}}), true)};
  generate::GenerationOverrides ov;
  ov.max_new_tokens = 8;
  for (std::size_t i = 0; i < 3; ++i) {
    auto ja = nlohmann::json::parse(la[i]), jb = nlohmann::json::parse(lb[i]);
    EXPECT_EQ(ja["text"], jb["text"]) << "batching changed prompt " << i;
    EXPECT_EQ(ja["prompt_tokens"].get<std::size_t>(), prompts[i].size());
    auto alone = tg.reply(prompts[i], ov);
    EXPECT_EQ(ja["text"].get<std::string>(), alone.text) << i;
    EXPECT_EQ(ja["new_tokens"].get<std::size_t>(), alone.ids.size());
  }
  // --chat wraps a plain prompt as a user turn: the same as the conversation above.
  auto c = run({"generate", "--model", m, "--prompt", "你好", "--chat", "--max-new-tokens", "8"});
  ASSERT_EQ(c.code, 0) << c.err;
  EXPECT_EQ(nlohmann::json::parse(lines_of(c.out).at(0))["text"], nlohmann::json::parse(la[2])["text"]);
  // Errors: no input, two inputs, bad lines named by file:line.
  EXPECT_NE(run({"generate", "--model", m}).code, 0);
  EXPECT_NE(run({"generate", "--model", m, "--prompt", "a", "--input", scratch.file("in.jsonl")}).code, 0);
  write_text(scratch.file("bad.jsonl"), "\"ok\"\n{\"text\": 3}\n");
  auto bad = run({"generate", "--model", m, "--input", scratch.file("bad.jsonl")});
  EXPECT_EQ(bad.code, 1);
  EXPECT_NE(bad.err.find("bad.jsonl:2"), std::string::npos) << bad.err;
}

TEST(LlmCli, ChatStreamsRepliesThroughTheModelsTemplate) {
  ScratchDir scratch;
  const auto m = make_qwen2(scratch, "qwen", read_template("qwen2-instruct.jinja"));
  write_text(scratch.file("turns.txt"), "Hallo, wie geht es?\nقل لي شيئا\n/reset\nHallo, wie geht es?\n");
  auto r = run({"chat", "--model", m, "--greedy", "--max-new-tokens", "6", "--system", "Du bist hilfreich."}, scratch.file("turns.txt"));
  ASSERT_EQ(r.code, 0) << r.err;
  auto replies = lines_of(r.out);
  ASSERT_EQ(replies.size(), 3u) << r.out;
  // After /reset the same first turn gets the same reply; the second turn saw the first.
  EXPECT_EQ(replies[0], replies[2]);
  // The first reply is what the library generates for the rendered conversation.
  torch::InferenceMode guard;
  auto tg = generate::TextGenerator::load(m, {}, "", "test");
  nlohmann::json conv = nlohmann::json::array({{{"role", "system"}, {"content", "Du bist hilfreich."}},
                                               {{"role", "user"}, {"content", "Hallo, wie geht es?"}}});
  generate::GenerationOverrides ov;
  ov.max_new_tokens = 6;
  ov.do_sample = false;
  std::string streamed;
  auto want = tg.reply(tg.encode_chat(conv, true), ov, {}, [&](std::string_view piece) {
    streamed += piece;
    return true;
  });
  EXPECT_EQ(streamed, want.text);
  // A reply's own line breaks would split lines; compare up to the first one.
  EXPECT_EQ(replies[0], want.text.substr(0, want.text.find('\n')));
}

TEST(LlmCli, ChatAndGenerateErrorsAreClear) {
  ScratchDir scratch;
  // No chat template: chat refuses and says what to do; generate --chat names the directory.
  const auto plain = make_qwen2(scratch, "plain", "");
  write_text(scratch.file("turn.txt"), "hello\n");
  auto r = run({"chat", "--model", plain}, scratch.file("turn.txt"));
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("no chat template"), std::string::npos) << r.err;
  r = run({"generate", "--model", plain, "--prompt", "hi", "--chat"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("no chat template"), std::string::npos) << r.err;
  // A template construct outside xling's Jinja subset is named.
  const auto odd = make_qwen2(scratch, "odd", "{% filter upper %}{{ messages[0]['content'] }}{% endfilter %}");
  r = run({"generate", "--model", odd, "--prompt", "hi", "--chat"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("filter"), std::string::npos) << r.err;
  // A template that raises (Gemma refuses a system role): chat says so and goes on.
  const auto gemma = make_qwen2(scratch, "gemma", read_template("gemma-it.jinja"));
  write_text(scratch.file("two.txt"), "hello\nhello again\n");
  r = run({"chat", "--model", gemma, "--system", "be brief", "--max-new-tokens", "2"}, scratch.file("two.txt"));
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("refuses"), std::string::npos) << r.err;
  // A prompt beyond the model's context.
  const auto small = make_qwen2(scratch, "small", read_template("qwen2-instruct.jinja"), 16);
  std::string long_prompt;
  for (int i = 0; i < 40; ++i) long_prompt += "Wort ";
  r = run({"generate", "--model", small, "--prompt", long_prompt, "--max-new-tokens", "4"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("context"), std::string::npos) << r.err;
  write_text(scratch.file("long.txt"), long_prompt + "\n");
  r = run({"chat", "--model", small}, scratch.file("long.txt"));
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.err.find("context"), std::string::npos) << r.err;
  // Invalid UTF-8 in a chat turn is reported, not fed to the model.
  write_text(scratch.file("bad.txt"), "ok\n\xff\xfe\n");
  r = run({"chat", "--model", make_qwen2(scratch, "q2", read_template("qwen2-instruct.jinja")), "--max-new-tokens", "2"},
          scratch.file("bad.txt"));
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.err.find("UTF-8"), std::string::npos) << r.err;
}

// `xling finetune --task causal-lm`: conversations through the chat template (loss on the
// assistant turns), full weights and LoRA; the LoRA output is a PEFT adapter that xling loads
// on top of the base model (`make parity` loads it with peft).
TEST(LlmCli, FinetuneCausalLmLearnsAndWritesAPeftAdapter) {
  ScratchDir scratch;
  const auto m = make_qwen2(scratch, "qwen", read_template("qwen2-instruct.jinja"));
  const std::vector<std::pair<std::string, std::string>> pairs = {
      {"Open file", "Ouvrir le fichier"}, {"Save as", "Enregistrer sous"}, {"Close window", "Fermer la fenêtre"},
      {"Print", "Imprimer"},              {"Help", "Aide"},                {"New folder", "Nouveau dossier"},
      {"Delete", "Supprimer"},            {"Copy", "Copier"},              {"Paste", "Coller"},
      {"Quit", "Quitter"}};
  std::string train, dev;
  for (int rep = 0; rep < 4; ++rep) {
    for (const auto& [en, fr] : pairs) {
      train += nlohmann::json({{"messages", {{{"role", "system"}, {"content", "Translate into French."}},
                                            {{"role", "user"}, {"content", en}},
                                            {{"role", "assistant"}, {"content", fr}}}}})
                   .dump() + "\n";
    }
  }
  for (std::size_t i = 0; i < 3; ++i) {
    dev += nlohmann::json({{"messages", {{{"role", "user"}, {"content", pairs[i].first}},
                                         {{"role", "assistant"}, {"content", pairs[i].second}}}}})
               .dump() + "\n";
  }
  write_text(scratch.file("train.jsonl"), train);
  write_text(scratch.file("dev.jsonl"), dev);
  auto eval_losses = [](const std::string& err) {
    std::vector<double> out;
    std::size_t at = 0;
    while ((at = err.find("dev.jsonl at step", at)) != std::string::npos) {
      const auto l = err.find("loss ", at);
      out.push_back(std::stod(err.substr(l + 5)));
      at = l;
    }
    return out;
  };
  const std::string full = (scratch.path() / "full").string(), lora = (scratch.path() / "lora").string();
  auto r = run({"finetune", "--task", "causal-lm", "--model", m, "--train", scratch.file("train.jsonl"), "--eval",
                scratch.file("dev.jsonl"), "--output", full, "--epochs", "3", "--lr", "3e-3", "--batch-size", "8",
                "--eval-steps", "15"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("40 conversations"), std::string::npos) << r.err;
  auto losses = eval_losses(r.err);
  ASSERT_GE(losses.size(), 2u) << r.err;
  EXPECT_LT(losses.back(), losses.front() - 1.0) << r.err;  // dev loss falls on the held-out turns
  EXPECT_TRUE(fs::exists(fs::path(full) / "model.safetensors"));
  EXPECT_TRUE(fs::exists(fs::path(full) / "tokenizer_config.json"));  // the chat template travels with it
  r = run({"chat", "--model", full, "--greedy", "--max-new-tokens", "4"}, scratch.file("dev.jsonl"));
  EXPECT_EQ(r.code, 0) << r.err;

  r = run({"finetune", "--task", "causal-lm", "--model", m, "--train", scratch.file("train.jsonl"), "--eval",
           scratch.file("dev.jsonl"), "--output", lora, "--epochs", "2", "--lr", "1e-2", "--batch-size", "8", "--peft", "lora"});
  ASSERT_EQ(r.code, 0) << r.err;
  auto cfg = core::read_json_file(lora + "/adapter_config.json");
  EXPECT_EQ(cfg["task_type"], "CAUSAL_LM");
  EXPECT_EQ(cfg["peft_type"], "LORA");
  auto targets = cfg["target_modules"].get<std::vector<std::string>>();
  std::sort(targets.begin(), targets.end());
  EXPECT_EQ(targets, (std::vector<std::string>{"q_proj", "v_proj"}));
  auto keys = io::Checkpoint::open(lora + "/adapter_model.safetensors").names();
  EXPECT_EQ(keys.size(), 8u);  // q, v x A, B x 2 layers
  for (const auto& k : keys) EXPECT_EQ(k.rfind("base_model.model.model.layers.", 0), 0u) << k;
  // The adapter changes the model's output, through `xling forward` and `xling generate`.
  auto ids = torch::tensor({{1, 85, 2465, 201, 59, 1334, 289, 879, 2}}, torch::kLong);
  std::vector<io::TensorToWrite> in = {{"input_ids", DType::kI64, {1, 9}, ids.data_ptr(), static_cast<std::size_t>(ids.nbytes())}};
  io::write_safetensors(scratch.file("in.safetensors"), in);
  ASSERT_EQ(run({"forward", "--model", m, "--inputs", scratch.file("in.safetensors"), "--output", scratch.file("a.safetensors")}).code, 0);
  ASSERT_EQ(run({"forward", "--model", m, "--adapter", lora, "--inputs", scratch.file("in.safetensors"), "--output",
                 scratch.file("b.safetensors")}).code, 0);
  auto d = run({"diff", scratch.file("a.safetensors"), scratch.file("b.safetensors"), "--atol", "1e-3"});
  EXPECT_NE(d.code, 0) << "the adapter did not change the logits";
  for (const char* merge : {"", "--merge"}) {
    std::vector<std::string> args = {"generate", "--model", m, "--adapter", lora, "--prompt", "Print", "--chat", "--max-new-tokens", "3"};
    if (*merge) args.push_back(merge);
    r = run(args);
    EXPECT_EQ(r.code, 0) << r.err;
  }
  // Errors name the row: a conversation without an assistant turn, a row of another shape.
  write_text(scratch.file("bad.jsonl"), train.substr(0, train.find('\n') + 1) +
                                            R"({"messages": [{"role": "user", "content": "Hallo"}]})" + "\n");
  r = run({"finetune", "--task", "causal-lm", "--model", m, "--train", scratch.file("bad.jsonl"), "--output",
           (scratch.path() / "bad").string()});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("bad.jsonl"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("assistant"), std::string::npos) << r.err;
  r = run({"finetune", "--task", "causal-lm", "--model", kFixtures + "/models/bert__BertModel", "--train",
           scratch.file("train.jsonl"), "--output", (scratch.path() / "bert").string()});
  EXPECT_EQ(r.code, 1);
}

namespace {

// `xling translate --model LLM`'s translation of a prompt: the library's greedy reply, cut at
// its first line break, surrounding spaces trimmed.
std::string library_translation(generate::TextGenerator& tg, const std::string& prompt, int64_t max_new) {
  generate::GenerationOverrides ov;
  ov.max_new_tokens = max_new;
  auto text = tg.reply(tg.encode_prompt(prompt), ov, {"\n"}).text;
  text = text.substr(0, text.find_first_of("\r\n"));
  const auto b = text.find_first_not_of(" \t");
  return b == std::string::npos ? std::string() : text.substr(b, text.find_last_not_of(" \t") - b + 1);
}

}  // namespace

TEST(LlmCli, TranslateInContextWithSimilarExamples) {
  ScratchDir scratch;
  const auto m = make_qwen2(scratch, "qwen", "");
  // A pool of pairs; one input is a pool source (its own pair must come first and sit next to
  // the input), one is new, and an empty line stays empty.
  const std::vector<std::pair<std::string, std::string>> pool = {
      {"Open the file", "Datei öffnen"},         {"Close the window", "Fenster schließen"},
      {"Save the document as PDF", "Dokument als PDF speichern"}, {"Print the page", "Seite drucken"},
      {"The file could not be opened", "Die Datei konnte nicht geöffnet werden"}, {"Quit", "Beenden"}};
  std::string pool_text;
  for (const auto& [s, t] : pool) pool_text += nlohmann::json({{"source", s}, {"target", t}}).dump() + "\n";
  write_text(scratch.file("pool.jsonl"), pool_text);
  write_text(scratch.file("in.txt"), "Print the page\n\nCould not open the file\n");
  auto r = run({"translate", "--model", m, "--src-lang", "en", "--tgt-lang", "de", "--examples", scratch.file("pool.jsonl"),
                "--k", "2", "--max-new-tokens", "6", "--prompts-out", scratch.file("prompts.jsonl"), "-q", "-i", scratch.file("in.txt")});
  ASSERT_EQ(r.code, 0) << r.err;
  auto out = lines_of(r.out);
  ASSERT_EQ(out.size(), 3u) << r.out;
  EXPECT_EQ(out[1], "");
  auto prompts = lines_of(xling::testing::read_bytes(scratch.file("prompts.jsonl")));
  ASSERT_EQ(prompts.size(), 2u);
  auto own = nlohmann::json::parse(prompts[0]), other = nlohmann::json::parse(prompts[1]);
  EXPECT_EQ(own["line"], 1);
  EXPECT_EQ(other["line"], 3);
  ASSERT_EQ(own["examples"].size(), 2u);
  ASSERT_EQ(other["examples"].size(), 2u);
  EXPECT_EQ(own["examples"][0]["source"], "Print the page");
  EXPECT_GT(own["examples"][0]["score"].get<double>(), 0.99);
  EXPECT_GE(other["examples"][0]["score"].get<double>(), other["examples"][1]["score"].get<double>());
  const std::string own_prompt = own["prompt"];
  const std::string tail = "English: Print the page\nGerman: Seite drucken\n\nEnglish: Print the page\nGerman:";
  EXPECT_EQ(own_prompt.substr(own_prompt.size() - tail.size()), tail) << own_prompt;  // most similar last, next to the input
  EXPECT_EQ(own_prompt.rfind("English: ", 0), 0u);
  // The translations are the library's greedy replies to those prompts.
  torch::InferenceMode guard;
  auto tg = generate::TextGenerator::load(m, {}, "", "test");
  // ids of the padded embedding rows (6002-6015 here) decode to nothing, as in HF.
  EXPECT_EQ(tg.decode({85, 6010, 86}), tg.decode({85, 86}));
  EXPECT_EQ(out[0], library_translation(tg, own_prompt, 6));
  EXPECT_EQ(out[2], library_translation(tg, other["prompt"], 6));
  EXPECT_EQ(own["translation"], out[0]);
  // One prompt per call gives the same translations as the left-padded batch.
  auto one = run({"translate", "--model", m, "--src-lang", "en", "--tgt-lang", "de", "--examples", scratch.file("pool.jsonl"),
                  "--k", "2", "--max-new-tokens", "6", "--batch-size", "1", "-q", "-i", scratch.file("in.txt")});
  ASSERT_EQ(one.code, 0) << one.err;
  auto r2 = run({"translate", "--model", m, "--src-lang", "en", "--tgt-lang", "de", "--examples", scratch.file("pool.jsonl"),
                 "--k", "2", "--max-new-tokens", "6", "-q", "-i", scratch.file("in.txt")});
  EXPECT_EQ(one.out, r2.out);
  // Zero-shot without a pool; labels from --src-label/--tgt-label or the codes themselves.
  r = run({"translate", "--model", m, "--src-label", "Inglés", "--tgt-lang", "xx-Test", "--max-new-tokens", "4", "-q", "-i",
           scratch.file("in.txt"), "--prompts-out", scratch.file("zero.jsonl")});
  ASSERT_EQ(r.code, 0) << r.err;
  auto zero = nlohmann::json::parse(lines_of(xling::testing::read_bytes(scratch.file("zero.jsonl")))[0]);
  EXPECT_EQ(zero["prompt"], "Inglés: Print the page\nxx-Test:");
  EXPECT_TRUE(zero["examples"].empty());
}

TEST(LlmCli, TranslateWithAnLlmFitsTheContextOrSaysWhy) {
  ScratchDir scratch;
  const auto m = make_qwen2(scratch, "small", "", 48);  // a 48-token context
  std::string pool;
  for (int i = 0; i < 4; ++i) {
    pool += nlohmann::json({{"source", fmt::format("Open the file number {} in the editor window", i)},
                            {"target", fmt::format("Datei Nummer {} im Editorfenster öffnen", i)}}).dump() + "\n";
  }
  write_text(scratch.file("pool.jsonl"), pool);
  write_text(scratch.file("in.txt"), "Open the file\n");
  // Four examples do not fit with 8 new tokens: the least similar are left out, with a note.
  auto r = run({"translate", "--model", m, "--src-lang", "en", "--tgt-lang", "de", "--examples", scratch.file("pool.jsonl"),
                "--k", "4", "--max-new-tokens", "8", "--prompts-out", scratch.file("p.jsonl"), "-i", scratch.file("in.txt")});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("left out"), std::string::npos) << r.err;
  auto p = nlohmann::json::parse(lines_of(xling::testing::read_bytes(scratch.file("p.jsonl")))[0]);
  EXPECT_LT(p["examples"].size(), 4u);
  EXPECT_LE(p["prompt_tokens"].get<int64_t>() + 8, 48);
  // A line that does not fit even alone is an error naming it.
  write_text(scratch.file("long.txt"), "ok\n" + std::string(300, 'x') + "\n");
  r = run({"translate", "--model", m, "--src-lang", "en", "--tgt-lang", "de", "-i", scratch.file("long.txt"), "-q"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("line 2"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("context"), std::string::npos) << r.err;
  // An LLM needs to know the target language; in-context flags need an LLM.
  r = run({"translate", "--model", m, "--src-lang", "en", "-i", scratch.file("in.txt")});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("--tgt-lang"), std::string::npos) << r.err;
  r = run({"translate", "--model", kFixtures + "/models/marian__MarianMTModel", "--examples", scratch.file("pool.jsonl"), "-i",
           scratch.file("in.txt")});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("decoder-only"), std::string::npos) << r.err;
}
