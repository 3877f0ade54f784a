// `xling chat`: an interactive conversation with a decoder-only LLM through its own chat
// template, replies streamed token by token. Reads one user turn per line from stdin (a
// terminal or a pipe); /reset starts over, /exit (or end of input) quits.
#include <unistd.h>

#include <iostream>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/common.hpp"
#include "generate/text_generator.hpp"
#include "io/model_location.hpp"
#include "models/registry.hpp"
#include "tokenize/jinja_value.hpp"
#include "core/utf8.hpp"
#include "xling/errors.hpp"

namespace xling::cli {
namespace {

struct ChatOptions {
  std::string model, system, chat_template, dtype = "f32", device = "cpu", adapter;
  bool merge_adapter = false;
  int64_t max_new_tokens = 512;
  bool greedy = false;
  double temperature = 0, top_p = 0, repetition_penalty = 0;
  int64_t top_k = -1;
  uint64_t seed = 0;
  std::vector<std::string> stop;
};

int run_chat(const ChatOptions& opt, CLI::App* sub) {
  auto given = [&](const char* flag) { return sub->count(flag) > 0; };
  generate::CausalLoadOptions lo;
  lo.dtype = opt.dtype;
  lo.device = models::parse_device(opt.device);
  lo.adapter = opt.adapter;
  lo.merge_adapter = opt.merge_adapter;
  auto tg = generate::TextGenerator::load(opt.model, lo, opt.chat_template, "`xling chat`");
  if (!tg.has_chat_template()) {
    throw InvalidArgument(fmt::format("{}: the model has no chat template (tokenizer_config.json 'chat_template' or "
                                      "chat_template.jinja), so `xling chat` cannot format a conversation; use "
                                      "`xling generate --prompt TEXT` for plain continuation",
                                      opt.model));
  }
  generate::GenerationOverrides ov;
  ov.max_new_tokens = opt.max_new_tokens;
  if (opt.greedy) ov.do_sample = false;  // otherwise generation_config.json decides, as in HF
  if (given("--temperature")) ov.temperature = opt.temperature;
  if (given("--top-p")) ov.top_p = opt.top_p;
  if (given("--top-k")) ov.top_k = opt.top_k;
  if (given("--repetition-penalty")) ov.repetition_penalty = opt.repetition_penalty;
  ov.seed = opt.seed;
  const bool tty = isatty(STDIN_FILENO) != 0;
  nlohmann::json messages = nlohmann::json::array();
  if (!opt.system.empty()) messages.push_back({{"role", "system"}, {"content", opt.system}});
  const auto start = messages;
  if (tty) std::cerr << fmt::format("xling chat: {} ({}). /reset starts over, /exit quits.\n", opt.model, opt.device);
  std::string line;
  std::size_t turn = 0;
  torch::InferenceMode guard;
  while (true) {
    if (tty) std::cerr << "> " << std::flush;
    if (!std::getline(std::cin, line)) break;
    ++turn;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line == "/exit" || line == "/quit") break;
    if (line == "/reset") {
      messages = start;
      if (tty) std::cerr << "(conversation cleared)\n";
      continue;
    }
    if (core::find_invalid_utf8(line) != std::string::npos) {
      std::cerr << fmt::format("xling chat: input line {} is not valid UTF-8; ignored\n", turn);
      continue;
    }
    auto next = messages;
    next.push_back({{"role", "user"}, {"content", line}});
    std::vector<int64_t> prompt;
    try {
      prompt = tg.encode_chat(next, /*add_generation_prompt=*/true);
    } catch (const tokenize::jinja::TemplateRaised& e) {
      std::cerr << fmt::format("xling chat: the chat template refuses this conversation: {}\n", e.message());
      continue;
    }
    const int64_t context = tg.context_length();
    if (context > 0 && static_cast<int64_t>(prompt.size()) + 1 > context) {
      std::cerr << fmt::format("xling chat: the conversation is {} tokens, the model's context is {}; /reset to start over\n",
                               prompt.size(), context);
      continue;
    }
    auto turn_ov = ov;
    if (context > 0) turn_ov.max_new_tokens = std::min<int64_t>(opt.max_new_tokens, context - static_cast<int64_t>(prompt.size()));
    auto reply = tg.reply(prompt, turn_ov, opt.stop, [](std::string_view piece) {
      std::cout << piece << std::flush;
      return true;
    });
    std::cout << "\n" << std::flush;
    if (reply.finish_reason == "length" && tty) std::cerr << "(reply cut at the token limit)\n";
    messages = std::move(next);
    messages.push_back({{"role", "assistant"}, {"content", reply.text}});
  }
  return kExitOk;
}

}  // namespace

void add_chat_command(CLI::App& app, CommandList& commands) {
  auto opt = std::make_shared<ChatOptions>();
  CLI::App* sub = app.add_subcommand(
      "chat",
      "Talk to a decoder-only LLM (Llama, Mistral, Qwen2, Gemma, BLOOM) in its own chat template, replies streamed as "
      "they are generated. One user turn per input line (terminal or pipe); /reset starts over, /exit quits. Decoding "
      "settings not given come from the model's generation_config.json, as in HF.");
  sub->add_option("--model,-m", opt->model, "Model directory (config.json, weights, tokenizer.json, a chat template)")
      ->required();
  sub->add_option("--system", opt->system, "A system message that opens the conversation");
  sub->add_option("--chat-template", opt->chat_template, "A named template of the model (default: its default one)");
  sub->add_option("--max-new-tokens", opt->max_new_tokens, "Tokens per reply at most")->capture_default_str()->check(CLI::PositiveNumber);
  sub->add_flag("--greedy", opt->greedy, "Always take the best token (no sampling)");
  sub->add_option("--temperature", opt->temperature, "Sampling temperature");
  sub->add_option("--top-p", opt->top_p, "Nucleus sampling mass");
  sub->add_option("--top-k", opt->top_k, "Sample among the k best tokens (0 = off)");
  sub->add_option("--repetition-penalty", opt->repetition_penalty, "Penalty on tokens already present (>1 discourages)");
  sub->add_option("--seed", opt->seed, "Seed of the sampler")->capture_default_str();
  sub->add_option("--adapter", opt->adapter, "A PEFT LoRA adapter directory applied on top of --model")
      ->check(CLI::ExistingDirectory);
  sub->add_flag("--merge", opt->merge_adapter, "Fold the adapter into the weights (always with --dtype int8)");
  sub->add_option("--stop", opt->stop, "A string that ends a reply (repeatable; kept in the reply, as HF's stop_strings)");
  add_compute_options(sub, opt->device, opt->dtype);
  commands.push_back({sub, [opt, sub]() {
    opt->model = io::resolve_model(opt->model);
    return run_chat(*opt, sub);
  }});
}

}  // namespace xling::cli
