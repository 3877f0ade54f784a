// `xling serve` end to end: the real binary on a loopback port (--port 0), a real HTTP client
// (cpp-httplib). Embeddings, rerank scores, predictions and tags equal the CLI's (`embed`,
// `rerank`, `classify`, `tag`) for the same inputs; every error has its status
// and JSON body; 64 concurrent clients each get their own results while the server merges their
// requests into shared batches; SIGTERM drains and exits 0.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <chrono>
#include <cmath>
#include <fstream>
#include <regex>
#include <thread>

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "../unit/test_util.hpp"
#include "server_process.hpp"

using xling::testing::ScratchDir;
using xling::testing::ServerProcess;
using xling::testing::post_json;
using json = nlohmann::json;

namespace {

const std::string kFixtures = XLING_FIXTURES;
const std::string kE5 = kFixtures + "/sentence_transformers/e5_like_mean";
const std::string kLabse = kFixtures + "/sentence_transformers/labse_like_cls_dense";

// `xling embed` of `texts` (JSONL rows).
std::vector<std::vector<float>> cli_embed(const std::string& model, const std::vector<std::string>& texts) {
  ScratchDir s;
  {
    std::ofstream in(s.file("in.jsonl"));
    for (const auto& t : texts) in << json(t).dump() << '\n';
  }
  auto r = xling::testing::run_command(XLING_BIN, {"embed", "--model", model, "--input", s.file("in.jsonl"), "--output",
                                                   s.file("out.jsonl")});
  EXPECT_EQ(r.code, 0) << r.err;
  std::vector<std::vector<float>> out;
  std::ifstream f(s.file("out.jsonl"));
  std::string line;
  while (std::getline(f, line)) out.push_back(json::parse(line)["embedding"].get<std::vector<float>>());
  return out;
}

void expect_close(const std::vector<float>& a, const std::vector<float>& b, double tol, const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  double worst = 0;
  for (std::size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(static_cast<double>(a[i]) - b[i]));
  EXPECT_LE(worst, tol) << what;
}

const std::vector<std::string> kTexts = {"Der Hund schläft im Garten.", "", "Кошка сидит на окне.", "猫は窓辺に座っている。",
                                         "C'est la vie !", "   ", "مرحبا بالعالم"};

// A raw TCP connection to the server on loopback (for clients that do not speak proper HTTP);
// -1 when connect fails.
int connect_loopback(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd >= 0 && connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// 60 distinct words: longer than xling-mini's 64-token maximum, so every request costs a full
// forward pass (sent with "truncate": true).
std::string long_text() {
  std::string text;
  for (int i = 0; i < 60; ++i) text += "wort" + std::to_string(i) + " ";
  return text;
}

TEST(Serve, EmbedEqualsTheCli) {
  ServerProcess srv({"--model", "e5=" + kE5, "--model", "labse=" + kLabse});
  ASSERT_TRUE(srv.running()) << srv.log();
  auto c = srv.client();
  for (const char* model : {"e5", "labse"}) {
    const std::string dir = std::string(model) == "e5" ? kE5 : kLabse;
    auto expected = cli_embed(dir, kTexts);
    int status = 0;
    auto got = post_json(c, "/embed", json({{"inputs", kTexts}, {"normalize", false}, {"model", model}}).dump(), &status);
    ASSERT_EQ(status, 200) << got.dump();
    ASSERT_EQ(got.size(), kTexts.size());
    for (std::size_t i = 0; i < kTexts.size(); ++i) {
      expect_close(got[i].get<std::vector<float>>(), expected[i], 1e-5, std::string(model) + " text " + std::to_string(i));
    }
    // one string -> still a list of one vector (TEI); normalize (default true) -> unit length
    got = post_json(c, "/embed", json({{"inputs", kTexts[0]}, {"model", model}}).dump(), &status);
    ASSERT_EQ(status, 200);
    ASSERT_EQ(got.size(), 1u);
    double norm = 0;
    for (float x : got[0].get<std::vector<float>>()) norm += static_cast<double>(x) * x;
    EXPECT_NEAR(std::sqrt(norm), 1.0, 1e-5);
  }
  // default model = the first
  int status = 0;
  auto first = post_json(c, "/embed", json({{"inputs", {"Hallo Welt"}}, {"normalize", false}}).dump(), &status);
  ASSERT_EQ(status, 200);
  expect_close(first[0].get<std::vector<float>>(), cli_embed(kE5, {"Hallo Welt"})[0], 1e-5, "default model");
  // `curl -d @file` sends JSON labelled as a form: read as JSON at any size (httplib's own reader
  // refused such bodies over 8 KiB with 413).
  std::vector<std::string> many(400, "Der Hund schläft im Garten.");
  const std::string big = json({{"inputs", many}, {"normalize", false}}).dump();
  ASSERT_GT(big.size(), 8192u);
  auto r = c.Post("/embed", big, "application/x-www-form-urlencoded");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body.substr(0, 300);
  auto rows = json::parse(r->body);
  ASSERT_EQ(rows.size(), many.size());
  expect_close(rows[399].get<std::vector<float>>(), cli_embed(kE5, {many[0]})[0], 1e-5, "form-encoded body");
}

TEST(Serve, OpenAIEmbeddingsTokenizeDecodeAndInfo) {
  ServerProcess srv({"--model", kE5});
  ASSERT_TRUE(srv.running()) << srv.log();
  auto c = srv.client();
  int status = 0;
  auto f = post_json(c, "/v1/embeddings", json({{"input", {"eins", "zwei"}}, {"model", "e5_like_mean"}}).dump(), &status);
  ASSERT_EQ(status, 200) << f.dump();
  EXPECT_EQ(f["object"], "list");
  EXPECT_EQ(f["model"], "e5_like_mean");
  ASSERT_EQ(f["data"].size(), 2u);
  EXPECT_GT(f["usage"]["prompt_tokens"].get<int>(), 2);
  auto b = post_json(c, "/v1/embeddings", json({{"input", {"eins", "zwei"}}, {"encoding_format", "base64"}}).dump(), &status);
  ASSERT_EQ(status, 200);
  for (int i = 0; i < 2; ++i) {
    // decode the base64 little-endian float32 and compare with the float response
    const std::string b64 = b["data"][i]["embedding"];
    std::string bytes;
    int val = 0, bits = -8;
    for (char ch : b64) {
      if (ch == '=') break;
      const auto pos = std::string("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/").find(ch);
      ASSERT_NE(pos, std::string::npos);
      val = (val << 6) + static_cast<int>(pos);
      bits += 6;
      if (bits >= 0) {
        bytes.push_back(static_cast<char>((val >> bits) & 0xFF));
        bits -= 8;
      }
    }
    auto fl = f["data"][i]["embedding"].get<std::vector<float>>();
    ASSERT_EQ(bytes.size(), fl.size() * 4);
    for (std::size_t k = 0; k < fl.size(); ++k) {
      float v;
      std::memcpy(&v, bytes.data() + 4 * k, 4);
      EXPECT_EQ(v, fl[k]);
    }
  }
  // /tokenize -> /decode round trip
  auto t = post_json(c, "/tokenize", json({{"inputs", "Grüße aus Köln"}}).dump(), &status);
  ASSERT_EQ(status, 200) << t.dump();
  ASSERT_EQ(t.size(), 1u);
  std::vector<int> ids;
  std::string rebuilt;
  for (const auto& tok : t[0]) {
    ids.push_back(tok["id"]);
    if (!tok["special"].get<bool>()) {
      EXPECT_EQ(tok["text"].get<std::string>(),
                std::string("Grüße aus Köln").substr(tok["start"].get<std::size_t>(),
                                                      tok["stop"].get<std::size_t>() - tok["start"].get<std::size_t>()));
    }
  }
  EXPECT_TRUE(t[0].front()["special"].get<bool>());
  auto d = post_json(c, "/decode", json({{"ids", ids}}).dump(), &status);
  ASSERT_EQ(status, 200) << d.dump();
  EXPECT_EQ(d, json({"Grüße aus Köln"}));
  // /health, /info, /metrics
  auto h = c.Get("/health");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 200);
  auto info = c.Get("/info");
  ASSERT_TRUE(info);
  auto ij = json::parse(info->body);
  EXPECT_EQ(ij["models"][0]["name"], "e5_like_mean");
  EXPECT_GT(ij["models"][0]["dimension"].get<int>(), 0);
  auto m = c.Get("/metrics");
  ASSERT_TRUE(m);
  EXPECT_NE(m->body.find("xling_requests_total{endpoint=\"/v1/embeddings\",status=\"200\"} 2"), std::string::npos);
  EXPECT_EQ(srv.stop(), 0) << srv.log();
}

TEST(Serve, BadRequestsGetTheirStatusAndTheServerStaysUp) {
  ServerProcess srv({"--model", kE5, "--max-input-tokens", "16", "--max-request-bytes", "100000",
                     "--max-client-batch-size", "50"});
  ASSERT_TRUE(srv.running()) << srv.log();
  auto c = srv.client();
  struct Case {
    std::string path, body;
    int status;
    std::string type;
  };
  const std::string long_text(400, 'a');
  std::string nested(200, '[');
  std::vector<Case> cases = {
      {"/embed", "{\"inputs\": ", 400, "Validation"},
      {"/embed", "inputs=hello", 400, "Validation"},  // curl -d form bodies are read as JSON
      {"/embed", R"({"inputs": 5})", 400, "Validation"},
      {"/embed", "{\"inputs\": \"bad \xff\xfe utf8\"}", 400, "Validation"},
      {"/embed", R"({"inputs": []})", 400, "Validation"},
      {"/embed", "{\"inputs\": " + nested + "}", 400, "Validation"},
      {"/embed", json({{"inputs", std::vector<std::string>(51, "x")}}).dump(), 413, "PayloadTooLarge"},
      {"/embed", json({{"inputs", std::string(200000, 'x')}}).dump(), 413, "PayloadTooLarge"},
      {"/embed", json({{"inputs", long_text}}).dump(), 422, "Validation"},
      {"/embed", json({{"inputs", "hi"}, {"model", "nope"}}).dump(), 404, "NotFound"},
      {"/embed", json({{"inputs", "hi"}, {"prompt_name", "nope"}}).dump(), 400, "Validation"},
      {"/nowhere", "{}", 404, "NotFound"},
      {"/decode", R"({"ids": [99999999]})", 400, "Validation"},
  };
  for (const auto& k : cases) {
    auto r = c.Post(k.path, k.body, "application/json");
    ASSERT_TRUE(r) << k.path << " " << k.body.substr(0, 80);
    EXPECT_EQ(r->status, k.status) << k.body.substr(0, 80) << " -> " << r->body;
    auto j = json::parse(r->body, nullptr, false);
    ASSERT_TRUE(j.is_object()) << r->body;
    EXPECT_EQ(j.value("error_type", ""), k.type) << r->body;
    EXPECT_FALSE(j.value("error", "").empty());
  }
  // truncate=true embeds the long text
  int status = 0;
  post_json(c, "/embed", json({{"inputs", long_text}, {"truncate", true}}).dump(), &status);
  EXPECT_EQ(status, 200);
  auto g = c.Get("/embed");
  ASSERT_TRUE(g);
  EXPECT_EQ(g->status, 405);
  auto h = c.Get("/health");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 200);
}

// /rerank and /predict on the cross-encoder fixture equal `xling rerank` / `xling classify`;
// /tag on a token classifier made by `xling finetune --task token-cls` equals `xling tag`.
std::vector<json> cli_jsonl(const std::vector<std::string>& args, const std::string& input) {
  ScratchDir s;
  std::ofstream(s.file("in.jsonl")) << input;
  auto a = args;
  a.insert(a.end(), {"--input", s.file("in.jsonl"), "--output", s.file("out.jsonl")});
  auto r = xling::testing::run_command(XLING_BIN, a);
  EXPECT_EQ(r.code, 0) << r.err;
  std::vector<json> rows;
  std::ifstream f(s.file("out.jsonl"));
  std::string line;
  while (std::getline(f, line)) rows.push_back(json::parse(line));
  return rows;
}

TEST(Serve, RerankPredictAndTagEqualTheCli) {
  const std::string ce = kFixtures + "/sentence_transformers/cross_encoder_xlmr";
  ScratchDir tmp;
  std::ofstream(tmp.file("train.jsonl"))
      << R"({"tokens": ["Angela", "Merkel", "besuchte", "Paris"], "ner_tags": ["B-PER", "I-PER", "O", "B-LOC"]})" << "\n"
      << R"({"tokens": ["Der", "Hund", "in", "Berlin"], "ner_tags": ["O", "O", "O", "B-LOC"]})" << "\n";
  auto ft = xling::testing::run_command(XLING_BIN, {"finetune", "--task", "token-cls", "--model", ce, "--train",
                                                    tmp.file("train.jsonl"), "--max-steps", "3", "--lr", "1e-2",
                                                    "--output", tmp.file("tagger"), "--quiet"});
  ASSERT_EQ(ft.code, 0) << ft.err;
  ServerProcess srv({"--model", "ce=" + ce, "--model", "ner=" + tmp.file("tagger"), "--model", "emb=" + kE5});
  ASSERT_TRUE(srv.running()) << srv.log();
  auto c = srv.client();
  const std::string query = "Wo schläft der Hund?";
  const std::vector<std::string> texts = {"Der Hund schläft im Garten.", "Кошка сидит на окне.", "", "Le chien dort."};
  std::string pairs;
  for (const auto& t : texts) pairs += json({{"text", query}, {"text_pair", t}}).dump() + "\n";
  auto cli_scores = cli_jsonl({"rerank", "--model", ce}, pairs);
  ASSERT_EQ(cli_scores.size(), texts.size());
  for (bool raw : {false, true}) {
    auto cli_raw = raw ? cli_jsonl({"rerank", "--model", ce, "--raw"}, pairs) : cli_scores;
    int status = 0;
    auto r = post_json(c, "/rerank",
                       json({{"query", query}, {"texts", texts}, {"raw_scores", raw}, {"return_text", true}, {"model", "ce"}}).dump(),
                       &status);
    ASSERT_EQ(status, 200) << r.dump();
    ASSERT_EQ(r.size(), texts.size());
    for (std::size_t k = 0; k < r.size(); ++k) {
      const std::size_t i = r[k]["index"];
      EXPECT_NEAR(r[k]["score"].get<double>(), cli_raw[i]["score"].get<double>(), 1e-5) << "text " << i;
      EXPECT_EQ(r[k]["text"], texts[i]);
      if (k) {
        EXPECT_GE(r[k - 1]["score"].get<double>(), r[k]["score"].get<double>());
      }
    }
  }
  int status = 0;
  auto top = post_json(c, "/rerank", json({{"query", query}, {"texts", texts}, {"top_n", 2}, {"model", "ce"}}).dump(), &status);
  ASSERT_EQ(status, 200);
  EXPECT_EQ(top.size(), 2u);
  // /predict: a batch of pairs and a single text
  auto cli_cls = cli_jsonl({"classify", "--model", ce}, pairs);
  json batch = json::array();
  for (const auto& t : texts) batch.push_back({query, t});
  auto p = post_json(c, "/predict", json({{"inputs", batch}, {"model", "ce"}}).dump(), &status);
  ASSERT_EQ(status, 200) << p.dump();
  ASSERT_EQ(p.size(), texts.size());
  for (std::size_t i = 0; i < texts.size(); ++i) {
    EXPECT_EQ(p[i][0]["label"], cli_cls[i]["label"]);
    EXPECT_NEAR(p[i][0]["score"].get<double>(), cli_cls[i]["score"].get<double>(), 1e-5);
  }
  auto single = post_json(c, "/predict", json({{"inputs", "nur ein Text"}, {"model", "ce"}}).dump(), &status);
  ASSERT_EQ(status, 200);
  ASSERT_TRUE(single.is_array());
  EXPECT_TRUE(single[0].is_object()) << single.dump();  // one input -> a flat list of predictions
  // /tag
  const std::vector<std::string> sentences = {"Angela Merkel besuchte Paris", "Der Hund in Berlin", ""};
  for (const char* agg : {"none", "simple"}) {
    std::string lines;
    for (const auto& t : sentences) lines += json(t).dump() + "\n";
    auto cli_tags = cli_jsonl({"tag", "--model", tmp.file("tagger"), "--aggregation", agg}, lines);
    auto t = post_json(c, "/tag",
                       json({{"inputs", sentences}, {"aggregation_strategy", agg}, {"model", "ner"}}).dump(), &status);
    ASSERT_EQ(status, 200) << t.dump();
    ASSERT_EQ(t.size(), sentences.size());
    for (std::size_t i = 0; i < sentences.size(); ++i) {
      const auto& want = cli_tags[i]["entities"];
      ASSERT_EQ(t[i].size(), want.size()) << agg << " " << i << ": " << t[i].dump() << " vs " << want.dump();
      for (std::size_t e = 0; e < want.size(); ++e) {
        for (const char* key : {"word", "start", "end", "entity", "entity_group", "index"}) {
          EXPECT_EQ(t[i][e].contains(key), want[e].contains(key)) << key;
          if (want[e].contains(key)) {
            EXPECT_EQ(t[i][e][key], want[e][key]) << key;
          }
        }
        EXPECT_NEAR(t[i][e]["score"].get<double>(), want[e]["score"].get<double>(), 1e-5);
      }
    }
  }
  // an endpoint the model does not serve names the right ones
  auto wrong = post_json(c, "/embed", json({{"inputs", "x"}, {"model", "ce"}}).dump(), &status);
  EXPECT_EQ(status, 400);
  EXPECT_NE(wrong["error"].get<std::string>().find("/predict"), std::string::npos) << wrong.dump();
  wrong = post_json(c, "/rerank", json({{"query", "q"}, {"texts", {"a"}}, {"model", "emb"}}).dump(), &status);
  EXPECT_EQ(status, 400);
}

// Hostile clients: a 10 MB body, a client that opens connections and sends half a request
// (slow loris), one that sends garbage instead of HTTP. Each gets its answer or is dropped,
// and the server keeps serving the others.
TEST(Serve, HostileClientsDoNotStopTheServer) {
  ServerProcess srv({"--model", kE5, "--read-timeout-s", "1"});
  ASSERT_TRUE(srv.running()) << srv.log();
  auto c = srv.client();
  auto big = c.Post("/embed", std::string(10 << 20, '['), "application/json");
  ASSERT_TRUE(big);
  EXPECT_EQ(big->status, 413);
  EXPECT_NE(big->body.find("PayloadTooLarge"), std::string::npos) << big->body;
  // slow loris: 20 connections each send a partial request and stall
  std::vector<int> socks;
  for (int i = 0; i < 20; ++i) {
    const int fd = connect_loopback(srv.port());
    ASSERT_GE(fd, 0);
    const std::string partial = i % 2 ? "POST /embed HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"in"
                                      : "GET /hea";
    ASSERT_GT(write(fd, partial.data(), partial.size()), 0);
    socks.push_back(fd);
  }
  const int garbage = connect_loopback(srv.port());
  ASSERT_GE(garbage, 0);
  const std::string junk = "\x16\x03\x01 not http at all\r\n\r\n";
  ASSERT_GT(write(garbage, junk.data(), junk.size()), 0);
  // others are served meanwhile
  int status = 0;
  post_json(c, "/embed", json({{"inputs", "still here"}}).dump(), &status);
  EXPECT_EQ(status, 200);
  // the stalled connections are closed by the server after the read timeout
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  int closed = 0;
  for (int fd : socks) {
    char buf[512];
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 2000) > 0) {
      const auto n = read(fd, buf, sizeof buf);  // EOF (0) or an error response, then EOF
      if (n >= 0) ++closed;
    }
    close(fd);
  }
  close(garbage);
  EXPECT_EQ(closed, 20);
  post_json(c, "/embed", json({{"inputs", "and still here"}}).dump(), &status);
  EXPECT_EQ(status, 200);
  EXPECT_EQ(srv.stop(), 0) << srv.log();
}

// Clients that send a request and hang up: their queued work is dropped (answered 499 to no
// one), the others' requests still complete. One text per batch keeps the queue long enough
// for the disconnect watcher to see the closed sockets.
TEST(Serve, ClientsThatLeaveHaveTheirQueuedWorkDropped) {
  ServerProcess srv({"--max-batch-requests", "1"});  // the embedded xling-mini
  ASSERT_TRUE(srv.running()) << srv.log();
  const int kRequests = 240;
  const std::string body = json({{"inputs", long_text()}, {"truncate", true}}).dump();
  const std::string request = "POST /embed HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
                              std::to_string(body.size()) + "\r\n\r\n" + body;
  std::vector<int> kept;
  for (int i = 0; i < kRequests; ++i) {
    const int fd = connect_loopback(srv.port());
    ASSERT_GE(fd, 0);
    ASSERT_EQ(write(fd, request.data(), request.size()), static_cast<ssize_t>(request.size()));
    if (i % 4 == 0) {
      kept.push_back(fd);
    } else {
      shutdown(fd, SHUT_WR);  // FIN: the client is gone
      close(fd);
    }
  }
  int answered = 0;
  for (int fd : kept) {
    std::string got;
    char buf[4096];
    pollfd p{fd, POLLIN, 0};
    while (got.find("\r\n\r\n") == std::string::npos && poll(&p, 1, 30000) > 0) {
      const auto n = read(fd, buf, sizeof buf);
      if (n <= 0) break;
      got.append(buf, static_cast<std::size_t>(n));
    }
    if (got.rfind("HTTP/1.1 200", 0) == 0) ++answered;
    close(fd);
  }
  EXPECT_EQ(answered, static_cast<int>(kept.size()));
  // wait for the queue to drain, then read what happened to the others
  std::string metrics;
  std::smatch m;
  std::regex cancelled_re(R"re(xling_requests_total\{endpoint="/embed",status="499"\} (\d+))re");
  std::regex items_re(R"re(xling_batch_items_sum\{model="xling-mini"\} (\d+))re");
  for (int i = 0; i < 100; ++i) {
    auto r = srv.client().Get("/metrics");
    ASSERT_TRUE(r);
    metrics = r->body;
    if (std::regex_search(metrics, m, items_re) && std::regex_search(metrics, cancelled_re)) {
      std::smatch c;
      std::regex_search(metrics, c, cancelled_re);
      if (std::stoi(m[1]) + std::stoi(c[1]) >= kRequests) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(std::regex_search(metrics, m, cancelled_re)) << metrics.substr(0, 1500);
  const int cancelled = std::stoi(m[1]);
  ASSERT_TRUE(std::regex_search(metrics, m, items_re));
  const int run = std::stoi(m[1]);
  EXPECT_GT(cancelled, 0) << run << " ran";
  std::cerr << "dropped " << cancelled << ", ran " << run << " of " << kRequests << "\n";
  EXPECT_LT(run, kRequests) << "every request ran although most clients had left";
  EXPECT_EQ(srv.stop(), 0) << srv.log();
}

// Backpressure: a full queue answers 429 with Retry-After, a request that cannot finish within
// --request-timeout-ms answers 504; every answer is accounted for and the server stays up.
TEST(Serve, FullQueueAnswers429AndSlowRequests504) {
  {
    ServerProcess srv({"--max-queue", "2", "--max-batch-requests", "1"});  // xling-mini
    ASSERT_TRUE(srv.running()) << srv.log();
    const std::string body = json({{"inputs", std::vector<std::string>(2, long_text())}, {"truncate", true}}).dump();
    std::atomic<int> ok{0}, busy{0}, other{0}, retry_after{0};
    std::vector<std::thread> clients;
    for (int c = 0; c < 32; ++c) {
      clients.emplace_back([&] {
        auto cl = srv.client();
        for (int r = 0; r < 4; ++r) {
          auto res = cl.Post("/embed", body, "application/json");
          if (res && res->status == 200) {
            ++ok;
          } else if (res && res->status == 429) {
            ++busy;
            if (res->get_header_value("Retry-After") == "1" && res->body.find("Overloaded") != std::string::npos) ++retry_after;
          } else {
            ++other;
          }
        }
      });
    }
    for (auto& t : clients) t.join();
    EXPECT_GT(ok.load(), 0);
    EXPECT_GT(busy.load(), 0) << "a queue of 2 texts never filled under 32 clients";
    EXPECT_EQ(retry_after.load(), busy.load());
    EXPECT_EQ(other.load(), 0);
    auto h = srv.client().Get("/health");
    ASSERT_TRUE(h);
    EXPECT_EQ(h->status, 200);
  }
  {
    ServerProcess srv({"--model", kE5, "--request-timeout-ms", "1", "--max-batch-requests", "1"});
    ASSERT_TRUE(srv.running()) << srv.log();
    std::vector<std::string> many(400, "ein Satz, der etwas Zeit braucht, um eingebettet zu werden");
    int status = 0;
    auto cl = srv.client();
    auto r = post_json(cl, "/embed", json({{"inputs", many}}).dump(), &status);
    EXPECT_EQ(status, 504) << r.dump();
    EXPECT_EQ(r.value("error_type", ""), "Timeout");
    auto h = srv.client().Get("/health");
    ASSERT_TRUE(h);
    EXPECT_EQ(h->status, 200);
  }
  {  // more requests in flight than --max-concurrent-requests: 429 before any work is queued
    ServerProcess srv({"--max-concurrent-requests", "2", "--max-batch-requests", "1"});  // xling-mini
    ASSERT_TRUE(srv.running()) << srv.log();
    const std::string body = json({{"inputs", std::vector<std::string>(8, long_text())}, {"truncate", true}}).dump();
    std::atomic<int> ok{0}, busy{0}, other{0};
    std::vector<std::thread> clients;
    for (int c = 0; c < 16; ++c) {
      clients.emplace_back([&] {
        auto res = srv.client().Post("/embed", body, "application/json");
        if (res && res->status == 200) {
          ++ok;
        } else if (res && res->status == 429 && res->get_header_value("Retry-After") == "1" &&
                   res->body.find("--max-concurrent-requests") != std::string::npos) {
          ++busy;
        } else {
          ++other;
        }
      });
    }
    for (auto& t : clients) t.join();
    EXPECT_GE(ok.load(), 1);
    EXPECT_GT(busy.load(), 0) << "16 simultaneous requests never exceeded 2 in flight";
    EXPECT_EQ(other.load(), 0);
    EXPECT_EQ(ok.load() + busy.load(), 16);
  }
}

// The server listens while it loads: /health and the endpoints answer 503 until every model is
// in, then 200.
TEST(Serve, AnswersUnavailableWhileLoading) {
  std::vector<std::string> args;
  for (int i = 0; i < 60; ++i) args.insert(args.end(), {"--model", "m" + std::to_string(i) + "=" + kE5});
  ServerProcess srv(args, /*wait_ready=*/false);
  ASSERT_GT(srv.port(), 0) << srv.log();
  auto c = srv.client();
  auto health = c.Get("/health");
  int status = 0;
  auto embed = post_json(c, "/embed", json({{"inputs", "Hallo Welt"}}).dump(), &status);
  const bool loaded_before = srv.log().find("xling serve: ready") != std::string::npos;
  ASSERT_FALSE(loaded_before) << "60 models loaded before the first answer; the test needs a longer load";
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 503);
  EXPECT_NE(health->body.find("Unhealthy"), std::string::npos) << health->body;
  EXPECT_EQ(status, 503) << embed.dump();
  EXPECT_EQ(embed.value("error_type", ""), "Unhealthy");
  ASSERT_TRUE(srv.wait_ready()) << srv.log();
  health = c.Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  post_json(c, "/embed", json({{"inputs", "Hallo Welt"}, {"model", "m59"}}).dump(), &status);
  EXPECT_EQ(status, 200);
}

TEST(Serve, ApiKeyIsRequiredWhenSet) {
  ServerProcess srv({"--model", kE5, "--api-key", "s3cret"});
  ASSERT_TRUE(srv.running()) << srv.log();
  auto c = srv.client();
  auto r = c.Post("/embed", R"({"inputs": "hi"})", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  httplib::Headers hdr = {{"Authorization", "Bearer s3cret"}};
  r = c.Post("/embed", hdr, R"({"inputs": "hi"})", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  auto h = c.Get("/health");  // load balancers probe without the key
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 200);
}

TEST(Serve, RefusesAPublicAddressWithoutAKey) {
  auto r = xling::testing::run_command(XLING_BIN, {"serve", "--host", "0.0.0.0", "--port", "0", "--model", kE5});
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("--api-key"), std::string::npos) << r.err;
}

// 64 clients at once, each sending its own texts many times: every response must hold the
// embeddings of that request's texts (checked against single-text references), no 5xx, and
// the batch histogram must show batches that merged several requests.
TEST(Serve, SixtyFourConcurrentClientsGetTheirOwnResults) {
  ServerProcess srv({"--model", kE5, "--max-wait-ms", "5"});
  ASSERT_TRUE(srv.running()) << srv.log();
  const int kClients = 64, kRounds = 4;
  std::vector<std::string> texts;
  for (int i = 0; i < kClients * 2; ++i) texts.push_back("client text number " + std::to_string(i) + " " + kTexts[i % kTexts.size()]);
  auto reference = cli_embed(kE5, texts);
  std::atomic<int> ok{0}, bad{0}, mismatched{0};
  std::mutex log_mutex;
  std::string failures;
  auto fmt_status = [](int status, const std::string& body) { return std::to_string(status) + " " + body.substr(0, 200) + "\n"; };
  std::vector<std::thread> pool;
  for (int cl = 0; cl < kClients; ++cl) {
    pool.emplace_back([&, cl] {
      auto c = srv.client();
      c.set_keep_alive(true);
      for (int r = 0; r < kRounds; ++r) {
        const std::vector<std::string> mine = {texts[2 * cl], texts[2 * cl + 1]};
        auto res = c.Post("/embed", json({{"inputs", mine}, {"normalize", false}}).dump(), "application/json");
        if (!res || res->status != 200) {
          if (++bad <= 3) {
            std::lock_guard<std::mutex> lock(log_mutex);
            failures += res ? fmt_status(res->status, res->body) : "error " + httplib::to_string(res.error()) + "\n";
          }
          continue;
        }
        auto j = json::parse(res->body);
        bool same = j.size() == 2;
        for (int k = 0; same && k < 2; ++k) {
          auto v = j[k].get<std::vector<float>>();
          const auto& ref = reference[static_cast<std::size_t>(2 * cl + k)];
          same = v.size() == ref.size();
          for (std::size_t i = 0; same && i < v.size(); ++i) same = std::abs(v[i] - ref[i]) <= 1e-5;
        }
        (same ? ok : mismatched)++;
      }
    });
  }
  for (auto& t : pool) t.join();
  EXPECT_EQ(bad.load(), 0) << failures;
  EXPECT_EQ(mismatched.load(), 0);
  EXPECT_EQ(ok.load(), kClients * kRounds);
  // batches merged requests: some batch saw more than one request
  auto m = srv.client().Get("/metrics");
  ASSERT_TRUE(m);
  std::regex count_le1(R"re(xling_batch_requests_bucket\{model="e5_like_mean",le="1"\} (\d+))re");
  std::regex count_all(R"re(xling_batch_requests_count\{model="e5_like_mean"\} (\d+))re");
  std::smatch a, b;
  ASSERT_TRUE(std::regex_search(m->body, a, count_le1)) << m->body.substr(0, 3000);
  ASSERT_TRUE(std::regex_search(m->body, b, count_all));
  EXPECT_LT(std::stoi(a[1]), std::stoi(b[1])) << "no batch merged two requests";
  EXPECT_EQ(srv.stop(), 0) << srv.log();
}

}  // namespace
