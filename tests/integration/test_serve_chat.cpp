// `xling serve` with decoder-only LLMs: OpenAI /v1/chat/completions over loopback, plain and
// streamed (server-sent events), on a random-weight Qwen2-shaped model with the real Qwen2
// chat template; a LoRA adapter served as a model of its own; errors.
#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "../unit/test_util.hpp"
#include "generate/text_generator.hpp"
#include "random_model.hpp"
#include "server_process.hpp"

namespace fs = std::filesystem;
using namespace xling;
using json = nlohmann::json;
using xling::testing::post_json;
using xling::testing::ScratchDir;
using xling::testing::ServerProcess;

namespace {

const std::string kFixtures = XLING_FIXTURES;

std::string qwen2_template() {
  return xling::testing::read_bytes(std::string(XLING_SOURCE_DIR) + "/tests/data/chat_templates/qwen2-instruct.jinja");
}

// The library's greedy reply to a conversation (what the endpoint must return), the stop
// sequence left out.
generate::TextReply library_reply(const std::string& model, const std::string& adapter, const json& messages, int max_tokens,
                                  const std::vector<std::string>& stop = {}) {
  torch::InferenceMode guard;
  generate::CausalLoadOptions lo;
  lo.adapter = adapter;
  auto tg = generate::TextGenerator::load(model, lo, "", "test");
  generate::GenerationOverrides ov;
  ov.max_new_tokens = max_tokens;
  ov.do_sample = false;
  auto r = tg.reply(tg.encode_chat(messages, true), ov, stop);
  std::size_t cut = std::string::npos;
  for (const auto& s : stop) cut = std::min(cut, r.text.find(s));
  if (cut != std::string::npos) r.text.resize(cut);
  return r;
}

// The deltas of a server-sent-events body, checked for OpenAI's framing.
struct Streamed {
  std::string content, finish_reason, role;
  std::size_t chunks = 0;
  bool done = false;
};

Streamed parse_events(const std::string& body) {
  Streamed s;
  std::size_t at = 0;
  while (at < body.size()) {
    const auto end = body.find("\n\n", at);
    EXPECT_NE(end, std::string::npos) << "an event without its blank line: " << body.substr(at);
    if (end == std::string::npos) break;
    const std::string ev = body.substr(at, end - at);
    at = end + 2;
    EXPECT_EQ(ev.rfind("data: ", 0), 0u) << ev;
    const std::string data = ev.substr(6);
    if (data == "[DONE]") {
      s.done = true;
      continue;
    }
    EXPECT_FALSE(s.done) << "data after [DONE]";
    auto j = json::parse(data);
    EXPECT_EQ(j["object"], "chat.completion.chunk");
    const auto& c = j["choices"][0];
    if (c["delta"].contains("role")) s.role = c["delta"]["role"];
    if (c["delta"].contains("content")) s.content += c["delta"]["content"].get<std::string>();
    if (!c["finish_reason"].is_null()) s.finish_reason = c["finish_reason"];
    ++s.chunks;
  }
  return s;
}

}  // namespace

TEST(ServeChat, CompletionsPlainAndStreamedEqualTheLibrarysReplies) {
  ScratchDir scratch;
  const auto m = xling::testing::make_random_qwen2(scratch.path() / "qwen", kFixtures, qwen2_template());
  ServerProcess server({"--model", "qwen=" + m});
  ASSERT_TRUE(server.running()) << server.log();
  auto c = server.client();
  const json messages = {{{"role", "system"}, {"content", "Du bist hilfreich."}}, {{"role", "user"}, {"content", "Wie spät ist es?"}}};
  int status = 0;
  auto r = post_json(c, "/v1/chat/completions",
                     json({{"model", "qwen"}, {"messages", messages}, {"max_tokens", 12}, {"temperature", 0}}).dump(), &status);
  ASSERT_EQ(status, 200) << r.dump();
  auto want = library_reply(m, "", messages, 12);
  EXPECT_EQ(r["object"], "chat.completion");
  EXPECT_EQ(r["model"], "qwen");
  EXPECT_EQ(r["choices"][0]["message"]["role"], "assistant");
  EXPECT_EQ(r["choices"][0]["message"]["content"], want.text);
  EXPECT_EQ(r["choices"][0]["finish_reason"], want.finish_reason);
  EXPECT_EQ(r["usage"]["completion_tokens"], want.ids.size());
  EXPECT_EQ(r["usage"]["total_tokens"].get<int64_t>(),
            r["usage"]["prompt_tokens"].get<int64_t>() + r["usage"]["completion_tokens"].get<int64_t>());
  EXPECT_EQ(r["id"].get<std::string>().rfind("chatcmpl-", 0), 0u);

  // Streamed: the deltas add up to the same reply; role first, finish_reason last, [DONE].
  auto s = c.Post("/v1/chat/completions",
                  json({{"messages", messages}, {"max_tokens", 12}, {"temperature", 0}, {"stream", true}}).dump(),
                  "application/json");
  ASSERT_TRUE(s);
  ASSERT_EQ(s->status, 200) << s->body;
  EXPECT_EQ(s->get_header_value("Content-Type").rfind("text/event-stream", 0), 0u);
  auto ev = parse_events(s->body);
  EXPECT_TRUE(ev.done);
  EXPECT_EQ(ev.role, "assistant");
  EXPECT_EQ(ev.content, want.text);
  EXPECT_EQ(ev.finish_reason, want.finish_reason);
  EXPECT_GE(ev.chunks, 3u);

  // A stop sequence: cut out of the reply, plain and streamed alike. The stop string is a
  // piece of the reply itself, so it occurs.
  const std::string text = want.text;
  ASSERT_GE(text.size(), 6u);
  std::size_t from = 3;
  while (from < text.size() && (static_cast<unsigned char>(text[from]) & 0xC0) == 0x80) ++from;
  std::size_t to = from + 1;
  while (to < text.size() && (static_cast<unsigned char>(text[to]) & 0xC0) == 0x80) ++to;
  const std::string stop = text.substr(from, to - from);
  auto want_stop = library_reply(m, "", messages, 12, {stop});
  r = post_json(c, "/v1/chat/completions",
                json({{"messages", messages}, {"max_tokens", 12}, {"temperature", 0}, {"stop", stop}}).dump(), &status);
  ASSERT_EQ(status, 200) << r.dump();
  EXPECT_EQ(r["choices"][0]["message"]["content"], want_stop.text);
  EXPECT_EQ(r["choices"][0]["finish_reason"], "stop");
  EXPECT_EQ(r["choices"][0]["message"]["content"].get<std::string>().find(stop), std::string::npos);
  s = c.Post("/v1/chat/completions",
             json({{"messages", messages}, {"max_tokens", 12}, {"temperature", 0}, {"stop", {stop}}, {"stream", true}}).dump(),
             "application/json");
  ASSERT_TRUE(s);
  ev = parse_events(s->body);
  EXPECT_EQ(ev.content, want_stop.text);
  EXPECT_EQ(ev.finish_reason, "stop");

  // Seeded sampling repeats itself; OpenAI content parts are joined.
  const json parts = {{{"role", "user"}, {"content", {{{"type", "text"}, {"text", "Wie spät "}}, {{"type", "text"}, {"text", "ist es?"}}}}}};
  auto a = post_json(c, "/v1/chat/completions", json({{"messages", parts}, {"max_tokens", 8}, {"temperature", 0.9}, {"seed", 7}}).dump(), &status);
  ASSERT_EQ(status, 200) << a.dump();
  auto b = post_json(c, "/v1/chat/completions", json({{"messages", parts}, {"max_tokens", 8}, {"temperature", 0.9}, {"seed", 7}}).dump(), &status);
  EXPECT_EQ(a["choices"][0]["message"]["content"], b["choices"][0]["message"]["content"]);

  // /info lists the chat model and its endpoint.
  auto info = c.Get("/info");
  ASSERT_TRUE(info);
  auto ij = json::parse(info->body);
  EXPECT_EQ(ij["models"][0]["kind"], "chat");
  EXPECT_EQ(ij["models"][0]["endpoints"], json({"/v1/chat/completions"}));
}

TEST(ServeChat, AdaptersAreModelsOfTheirOwnAndErrorsAreClear) {
  ScratchDir scratch;
  const auto m = xling::testing::make_random_qwen2(scratch.path() / "qwen", kFixtures, qwen2_template(), 96);
  // A LoRA adapter trained for a few steps (learning rate high enough to change greedy replies).
  std::string train;
  for (int i = 0; i < 16; ++i) {
    train += json({{"messages", {{{"role", "user"}, {"content", fmt::format("Zahl {}", i)}},
                                 {{"role", "assistant"}, {"content", fmt::format("Number {} ok", i)}}}}}).dump() + "\n";
  }
  std::ofstream(scratch.file("train.jsonl")) << train;
  const std::string lora = (scratch.path() / "lora").string();
  auto ft = xling::testing::run_command(XLING_BIN, {"finetune", "--task", "causal-lm", "--model", m, "--train", scratch.file("train.jsonl"),
                                                    "--output", lora, "--peft", "lora", "--max-steps", "8", "--lr", "5e-2", "-q"});
  ASSERT_EQ(ft.code, 0) << ft.err;
  ServerProcess server({"--model", "base=" + m, "--adapter", "numbers=" + lora});
  ASSERT_TRUE(server.running()) << server.log();
  auto c = server.client();
  const json messages = {{{"role", "user"}, {"content", "Zahl 3"}}};
  int status = 0;
  auto base = post_json(c, "/v1/chat/completions", json({{"model", "base"}, {"messages", messages}, {"max_tokens", 6}, {"temperature", 0}}).dump(), &status);
  ASSERT_EQ(status, 200) << base.dump();
  auto tuned = post_json(c, "/v1/chat/completions", json({{"model", "numbers"}, {"messages", messages}, {"max_tokens", 6}, {"temperature", 0}}).dump(), &status);
  ASSERT_EQ(status, 200) << tuned.dump();
  EXPECT_EQ(base["choices"][0]["message"]["content"], library_reply(m, "", messages, 6).text);
  EXPECT_EQ(tuned["choices"][0]["message"]["content"], library_reply(m, lora, messages, 6).text);
  EXPECT_NE(base["choices"][0]["message"]["content"], tuned["choices"][0]["message"]["content"]);
  EXPECT_EQ(tuned["model"], "numbers");

  auto expect_error = [&](const json& body, int want, const std::string& needle) {
    int st = 0;
    auto e = post_json(c, "/v1/chat/completions", body.dump(), &st);
    EXPECT_EQ(st, want) << body.dump() << " -> " << e.dump();
    EXPECT_NE(e.value("error", "").find(needle), std::string::npos) << body.dump() << " -> " << e.dump();
  };
  expect_error({{"messages", json::array()}}, 400, "messages");
  expect_error({{"messages", {{{"role", "user"}}}}}, 400, "content");
  expect_error({{"messages", messages}, {"n", 2}}, 400, "n = 1");
  expect_error({{"messages", messages}, {"temperature", 3}}, 400, "temperature");
  expect_error({{"messages", messages}, {"stop", {"a", "b", "c", "d", "e"}}}, 400, "stop");
  expect_error({{"messages", messages}, {"max_tokens", 90}}, 400, "context");  // 96-token context
  expect_error({{"messages", {{{"role", "user"}, {"content", std::string(400, 'x')}}}}}, 400, "context");
  expect_error({{"messages", messages}, {"model", "nope"}}, 404, "nope");
  expect_error({{"messages", {{{"role", "user"}, {"content", {{{"type", "image_url"}}}}}}}}, 400, "text content");
}
