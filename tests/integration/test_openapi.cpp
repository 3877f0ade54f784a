// docs/openapi.json against the real `xling serve`: the document is well formed (every $ref
// resolves, every error response is the Error schema, 429 carries Retry-After, each request
// example fits its schema), and the server answers each documented example with 200 and a body
// that fits the documented schema, answers the documented error statuses with Error bodies, and
// serves no path the document leaves out. The schemas are checked by a small validator for the
// JSON Schema subset the document uses; an unsupported keyword is itself a failure.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "../unit/test_util.hpp"
#include "server_process.hpp"

using json = nlohmann::json;
using xling::testing::ScratchDir;
using xling::testing::ServerProcess;

namespace {

namespace fs = std::filesystem;

const std::string kFixtures = XLING_FIXTURES;
const std::string kSource = XLING_SOURCE_DIR;
const std::string kE5 = kFixtures + "/sentence_transformers/e5_like_mean";
const std::string kCrossEncoder = kFixtures + "/sentence_transformers/cross_encoder_xlmr";
const std::string kErrorRef = "#/components/schemas/Error";

// What the server implements; the document must describe exactly these operations.
const std::map<std::string, std::string> kOperations = {
    {"/health", "get"},    {"/info", "get"},    {"/metrics", "get"},   {"/embed", "post"},
    {"/v1/embeddings", "post"}, {"/rerank", "post"}, {"/predict", "post"}, {"/tag", "post"},
    {"/translate", "post"}, {"/v1/chat/completions", "post"}, {"/tokenize", "post"}, {"/decode", "post"}};

json load_document() {
  std::ifstream f(kSource + "/docs/openapi.json");
  EXPECT_TRUE(f.good()) << "cannot read docs/openapi.json";
  return json::parse(f, nullptr, /*allow_exceptions=*/false);
}

// ------------------------------------------------------------------ schema validator

// Validates instances against the document's schemas: type, nullable, enum, properties,
// required, additionalProperties (false only), items, oneOf, $ref, and the bounds minimum,
// maximum, minItems, maxItems, minLength (bytes; the document only asks for >= 1).
class Validator {
 public:
  explicit Validator(const json& doc) : doc_(doc) {}

  // The schema a "#/..." reference names; throws json::out_of_range when it names nothing.
  const json& resolve(const json& schema) const {
    if (!schema.contains("$ref")) return schema;
    const std::string ref = schema["$ref"];
    if (ref.rfind("#/", 0) != 0) throw std::invalid_argument("not a local reference: " + ref);
    return resolve(doc_.at(json::json_pointer(ref.substr(1))));
  }

  // Problems of `v` against `schema`, each prefixed with its place in the instance.
  std::vector<std::string> errors(const json& v, const json& schema, const std::string& where = "$") const {
    std::vector<std::string> out;
    check(v, schema, where, out);
    return out;
  }

 private:
  void check(const json& v, const json& raw, const std::string& at, std::vector<std::string>& out) const {
    static const std::set<std::string> kKnown = {
        "$ref", "type", "nullable", "enum", "properties", "required", "additionalProperties", "items", "oneOf",
        "minimum", "maximum", "minItems", "maxItems", "minLength", "description", "default", "example"};
    for (const auto& [key, value] : raw.items()) {
      if (!kKnown.count(key)) out.push_back(at + ": unsupported schema keyword '" + key + "'");
    }
    if (raw.contains("$ref") && raw.size() != 1) out.push_back(at + ": $ref with sibling keywords");
    const json& s = resolve(raw);
    if (&s != &raw) return check(v, s, at, out);
    if (v.is_null() && s.value("nullable", false)) return;
    if (s.contains("type")) {
      const std::string t = s["type"];
      const bool ok = t == "string"    ? v.is_string()
                      : t == "integer" ? v.is_number_integer()
                      : t == "number"  ? v.is_number()
                      : t == "boolean" ? v.is_boolean()
                      : t == "array"   ? v.is_array()
                      : t == "object"  ? v.is_object()
                                       : false;
      if (!ok) return out.push_back(at + ": expected " + t + ", found " + v.dump().substr(0, 80));
    }
    if (s.contains("enum") && std::find(s["enum"].begin(), s["enum"].end(), v) == s["enum"].end()) {
      out.push_back(at + ": " + v.dump() + " is not one of " + s["enum"].dump());
    }
    if (v.is_number()) {
      if (s.contains("minimum") && v.get<double>() < s["minimum"].get<double>()) out.push_back(at + ": below minimum");
      if (s.contains("maximum") && v.get<double>() > s["maximum"].get<double>()) out.push_back(at + ": above maximum");
    }
    if (v.is_string() && s.contains("minLength") && v.get_ref<const std::string&>().size() < s["minLength"].get<std::size_t>()) {
      out.push_back(at + ": shorter than minLength");
    }
    if (v.is_array()) {
      if (s.contains("minItems") && v.size() < s["minItems"].get<std::size_t>()) out.push_back(at + ": too few items");
      if (s.contains("maxItems") && v.size() > s["maxItems"].get<std::size_t>()) out.push_back(at + ": too many items");
      if (s.contains("items")) {
        for (std::size_t i = 0; i < v.size(); ++i) check(v[i], s["items"], at + "[" + std::to_string(i) + "]", out);
      }
    }
    if (v.is_object()) {
      for (const auto& key : s.value("required", json::array())) {
        if (!v.contains(key.get<std::string>())) out.push_back(at + ": missing required '" + key.get<std::string>() + "'");
      }
      const json props = s.value("properties", json::object());
      if (s.contains("additionalProperties") && s["additionalProperties"] != true) {
        if (s["additionalProperties"] != false) out.push_back(at + ": only additionalProperties false is supported");
        for (const auto& [key, value] : v.items()) {
          if (!props.contains(key)) out.push_back(at + ": undocumented property '" + key + "'");
        }
      }
      for (const auto& [key, sub] : props.items()) {
        if (v.contains(key)) check(v[key], sub, at + "." + key, out);
      }
    }
    if (s.contains("oneOf")) {
      int matches = 0;
      for (const auto& branch : s["oneOf"]) matches += errors(v, branch, at).empty() ? 1 : 0;
      if (matches != 1) out.push_back(at + ": matches " + std::to_string(matches) + " oneOf branches, not 1");
    }
  }

  const json& doc_;
};

// The response object of `op` for `status` ($ref followed), or null when undocumented.
json documented_response(const Validator& val, const json& op, int status) {
  const std::string code = std::to_string(status);
  if (!op.at("responses").contains(code)) return nullptr;
  return val.resolve(op.at("responses").at(code));
}

// The JSON request example of a POST operation.
json request_example(const json& op) { return op.at("requestBody").at("content").at("application/json").at("example"); }

// `res` is a documented answer of `op`: its status is listed, and its body fits the schema
// (the Error schema for every error).
void expect_documented(const Validator& val, const json& op, const std::string& what, const httplib::Result& res) {
  ASSERT_TRUE(res) << what << ": no response";
  const json doc_res = documented_response(val, op, res->status);
  ASSERT_FALSE(doc_res.is_null()) << what << ": status " << res->status << " is not documented; body " << res->body;
  const std::string type = res->get_header_value("Content-Type");
  const json& content = doc_res.at("content");
  if (content.contains("text/plain")) {
    EXPECT_EQ(type.rfind("text/plain", 0), 0u) << what << ": " << type;
    return;
  }
  EXPECT_EQ(type.rfind("application/json", 0), 0u) << what << ": " << type;
  const json body = json::parse(res->body, nullptr, /*allow_exceptions=*/false);
  ASSERT_FALSE(body.is_discarded()) << what << ": not JSON: " << res->body.substr(0, 200);
  for (const auto& e : val.errors(body, content.at("application/json").at("schema"))) {
    ADD_FAILURE() << what << " -> " << res->status << ": " << e << "\nbody: " << res->body.substr(0, 400);
  }
}

httplib::Result send(httplib::Client& c, const std::string& method, const std::string& path, const std::string& body = "",
                     const httplib::Headers& headers = {}) {
  if (method == "get") return c.Get(path, headers);
  return c.Post(path, headers, body, "application/json");
}

// ------------------------------------------------------------------ the document alone

// Every "$ref" value in `j`, as written.
void collect_refs(const json& j, std::vector<std::string>& out) {
  if (j.is_object()) {
    for (const auto& [key, value] : j.items()) {
      if (key == "$ref") out.push_back(value.is_string() ? value.get<std::string>() : value.dump());
      collect_refs(value, out);
    }
  } else if (j.is_array()) {
    for (const auto& value : j) collect_refs(value, out);
  }
}

TEST(OpenApi, DocumentIsWellFormed) {
  const json doc = load_document();
  ASSERT_TRUE(doc.is_object()) << "docs/openapi.json is not valid JSON";
  EXPECT_EQ(doc.value("openapi", ""), "3.0.3");
  EXPECT_TRUE(doc.contains("info") && doc.at("info").contains("title") && doc.at("info").contains("version"));
  const Validator val(doc);

  // every $ref resolves inside the document
  std::vector<std::string> refs;
  collect_refs(doc, refs);
  EXPECT_GT(refs.size(), 20u);
  for (const auto& ref : refs) {
    EXPECT_NO_THROW(val.resolve(json{{"$ref", ref}})) << "unresolved $ref " << ref;
  }

  // security: an optional bearer key for everything but /health
  EXPECT_EQ(doc.at("components").at("securitySchemes").at("bearerAuth").value("scheme", ""), "bearer");
  EXPECT_EQ(doc.value("security", json()), json::parse(R"([{"bearerAuth": []}, {}])"));

  // exactly the server's operations
  std::map<std::string, std::string> documented;
  for (const auto& [path, item] : doc.at("paths").items()) {
    for (const auto& [method, op] : item.items()) documented[path] += (documented[path].empty() ? "" : ",") + method;
  }
  ASSERT_EQ(documented, kOperations);

  static const std::set<std::string> kStatuses = {"200", "400", "401", "404", "405", "413", "422", "429", "500", "503", "504"};
  for (const auto& [path, method] : kOperations) {
    const json& op = doc.at("paths").at(path).at(method);
    SCOPED_TRACE(path);
    ASSERT_TRUE(op.contains("responses") && !op.at("responses").empty());
    const json& responses = op.at("responses");
    EXPECT_TRUE(responses.contains("200"));
    EXPECT_TRUE(responses.contains("405")) << "every endpoint answers the wrong method with 405";
    if (path == "/health") {
      EXPECT_EQ(op.value("security", json()), json::array()) << "/health never needs the key";
      EXPECT_FALSE(responses.contains("401"));
    } else {
      EXPECT_FALSE(op.contains("security"));
      EXPECT_TRUE(responses.contains("401"));
    }
    for (const auto& [code, raw] : responses.items()) {
      EXPECT_TRUE(kStatuses.count(code)) << "status " << code << " is not one the server documents";
      if (code[0] == '2') continue;
      const json& r = val.resolve(raw);
      EXPECT_EQ(r.at("content").at("application/json").at("schema").value("$ref", ""), kErrorRef) << code;
      EXPECT_EQ(r.at("content").size(), 1u) << code;
      if (code == "429") {
        EXPECT_TRUE(r.contains("headers") && r.at("headers").contains("Retry-After"));
      }
    }
    if (method == "post") {
      const json& media = op.at("requestBody").at("content").at("application/json");
      ASSERT_TRUE(media.contains("schema") && media.contains("example"));
      for (const auto& e : val.errors(media.at("example"), media.at("schema"))) ADD_FAILURE() << "example: " << e;
    } else {
      EXPECT_FALSE(op.contains("requestBody"));
    }
  }
}

// The validator refuses what the schemas forbid (so that the live checks can fail).
TEST(OpenApi, ValidatorRefusesWhatTheSchemasForbid) {
  const json doc = load_document();
  ASSERT_TRUE(doc.is_object());
  const Validator val(doc);
  auto schema = [](const std::string& name) { return json{{"$ref", "#/components/schemas/" + name}}; };
  struct Case {
    std::string schema, instance;
    bool valid;
  };
  const std::vector<Case> cases = {
      {"Error", R"({"error": "x", "error_type": "Validation"})", true},
      {"Error", R"({"error": "x"})", false},
      {"Error", R"({"error": "x", "error_type": "Validation", "extra": 1})", false},
      {"Error", R"({"error": "x", "error_type": "Cancelled"})", false},
      {"EmbedRequest", R"({"inputs": 5})", false},
      {"EmbedRequest", R"({"inputs": []})", false},
      {"EmbedRequest", R"({"inputs": "x", "truncate": null})", true},
      {"EmbedRequest", R"({"inputs": "x", "truncation_direction": "left"})", false},
      {"OpenAIEmbeddingsRequest", R"({"input": "x", "encoding_format": "hex"})", false},
      {"TranslateRequest", R"({"text": "x", "inputs": "y", "target_lang": "fra"})", false},
      {"TranslateRequest", R"({"inputs": "y", "target_lang": "fra", "num_beams": 17})", false},
      {"TranslateRequest", R"({"inputs": "y", "target_lang": "fra", "max_new_tokens": 4096})", true},
      {"PredictRequest", R"({"inputs": ["a", "b", "c"]})", false},
      {"PredictRequest", R"({"inputs": [["a"], ["a", "b"]]})", true},
      {"PredictResponse", R"([])", false},
      {"PredictResponse", R"([[{"label": "a", "score": 1}]])", true},
      {"TagResponse", R"([[{"entity_group": "LOC", "score": 0.5, "word": "Paris", "start": 0, "end": 5, "index": 1}]])", false},
      {"TagResponse", R"([[{"entity": "B-LOC", "score": 0.5, "word": "Paris", "start": 0, "end": 5, "index": 1}]])", true},
      {"TagRequest", R"({"inputs": "x", "aggregation_strategy": "median"})", false},
      {"DecodeRequest", R"({"ids": [[1, 2], [3.5]]})", false},
      {"Token", R"({"id": 1, "text": "a", "special": false, "start": null, "stop": 1})", true},
      {"Token", R"({"id": 1, "text": "a", "special": false, "start": "0", "stop": 1})", false},
      {"Info", R"({"version": "x"})", false},
      {"ChatRequest", R"({"messages": []})", false},
      {"ChatRequest", R"({"messages": [{"role": "user", "content": "x"}], "stop": ["a", "b", "c", "d", "e"]})", false},
      {"ChatRequest", R"({"messages": [{"role": "user", "content": [{"type": "text", "text": "x"}]}], "n": 1, "stop": "."})", true},
      {"ChatResponse", R"({"id": "c", "object": "chat.completion", "created": 1, "model": "m", "choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}})", false},
  };
  for (const auto& k : cases) {
    const auto errors = val.errors(json::parse(k.instance), schema(k.schema));
    EXPECT_EQ(errors.empty(), k.valid) << k.schema << " " << k.instance << (errors.empty() ? "" : ": " + errors[0]);
  }
  EXPECT_FALSE(val.errors(json(1), json{{"type", "integer"}, {"pattern", "x"}}).empty()) << "unknown keywords fail";
  EXPECT_THROW(val.resolve(json{{"$ref", "#/components/schemas/Nope"}}), json::exception);
}

// ------------------------------------------------------------------ the live server

// A token tagger made by `xling finetune --task token-cls` (as test_serve.cpp), a Marian
// multi-target MT directory: the tiny MarianMTModel fixture's weights (vocabulary 1000) with
// the marian_multi tokenizer (994 ids, codes fra, deu, ...): random translations, real pipeline;
// and a chat LLM: a tiny Qwen2 config over the byte-level BPE fixture tokenizer with the real
// Qwen2 template, one update of `xling finetune --task causal-lm --init-from-config`.
struct Models {
  ScratchDir dir;
  std::string tagger = dir.file("tagger"), translator = dir.file("opus-mt-en-mul"), chat = dir.file("qwen2-chat");

  Models() {
    std::ofstream(dir.file("train.jsonl"))
        << R"({"tokens": ["Angela", "Merkel", "besuchte", "Paris"], "ner_tags": ["B-PER", "I-PER", "O", "B-LOC"]})" << "\n"
        << R"({"tokens": ["Der", "Hund", "in", "Berlin"], "ner_tags": ["O", "O", "O", "B-LOC"]})" << "\n";
    auto ft = xling::testing::run_command(XLING_BIN, {"--threads", "2", "finetune", "--task", "token-cls", "--model",
                                                      kCrossEncoder, "--train", dir.file("train.jsonl"), "--max-steps",
                                                      "3", "--lr", "1e-2", "--output", tagger, "--quiet"});
    EXPECT_EQ(ft.code, 0) << ft.err;
    fs::create_directories(translator);
    const fs::path weights = kFixtures + "/models/marian__MarianMTModel";
    const fs::path tokenizer = kSource + "/tests/data/translation_tokenizers/marian_multi";
    for (const char* f : {"config.json", "generation_config.json", "model.safetensors"}) fs::copy_file(weights / f, fs::path(translator) / f);
    for (const char* f : {"source.spm", "target.spm", "vocab.json", "tokenizer_config.json"}) fs::copy_file(tokenizer / f, fs::path(translator) / f);
    const fs::path init = dir.file("qwen2-init"), bpe = kFixtures + "/tokenizers/byte_level_bpe";
    fs::create_directories(init);
    fs::copy_file(bpe / "tokenizer.json", init / "tokenizer.json");
    json tcfg = json::parse(std::ifstream(bpe / "tokenizer_config.json"));
    std::ifstream tpl(kSource + "/tests/data/chat_templates/qwen2-instruct.jinja");
    tcfg["chat_template"] = std::string(std::istreambuf_iterator<char>(tpl), {});
    std::ofstream(init / "tokenizer_config.json") << tcfg.dump();
    std::ofstream(init / "config.json") << json({{"model_type", "qwen2"}, {"architectures", {"Qwen2ForCausalLM"}}, {"vocab_size", 6016},
                                                 {"hidden_size", 32}, {"intermediate_size", 64}, {"num_hidden_layers", 1},
                                                 {"num_attention_heads", 4}, {"num_key_value_heads", 2},
                                                 {"max_position_embeddings", 256}, {"tie_word_embeddings", true},
                                                 {"eos_token_id", 2}, {"pad_token_id", 0}}).dump();
    std::ofstream(dir.file("text.jsonl")) << R"({"text": "Die Datei konnte nicht geöffnet werden."})" << "\n";
    ft = xling::testing::run_command(XLING_BIN, {"--threads", "2", "finetune", "--task", "causal-lm", "--init-from-config", "--model",
                                                 init.string(), "--train", dir.file("text.jsonl"), "--max-steps", "1",
                                                 "--output", chat, "--quiet"});
    EXPECT_EQ(ft.code, 0) << ft.err;
  }
};

TEST(OpenApi, ServerAnswersAsDocumented) {
  const json doc = load_document();
  ASSERT_TRUE(doc.is_object());
  const Validator val(doc);
  Models models;
  ServerProcess srv({"--model", "e5=" + kE5, "--model", "reranker=" + kCrossEncoder, "--model", "ner=" + models.tagger,
                     "--model", models.translator, "--model", models.chat});
  ASSERT_TRUE(srv.running()) << srv.log();
  auto c = srv.client();

  // which served model runs each endpoint, from /info (the first that lists it)
  auto info = c.Get("/info");
  ASSERT_TRUE(info && info->status == 200);
  std::map<std::string, std::string> model_for;
  const json served = json::parse(info->body);
  for (const auto& m : served.at("models")) {
    for (const auto& ep : m.at("endpoints")) {
      EXPECT_TRUE(doc.at("paths").contains(ep.get<std::string>())) << "/info lists the undocumented " << ep;
      model_for.emplace(ep.get<std::string>(), m.at("name").get<std::string>());
    }
  }
  EXPECT_EQ(model_for.size(), 9u) << "every model endpoint is served by one of the models";

  for (const auto& [path, item] : doc.at("paths").items()) {
    for (const auto& [method, op] : item.items()) {
      SCOPED_TRACE(method + " " + path);
      std::string body;
      if (method == "post") {
        json example = request_example(op);
        ASSERT_TRUE(model_for.count(path)) << "no served model runs " << path;
        example["model"] = model_for[path];
        body = example.dump();
        auto res = send(c, method, path, body);
        ASSERT_TRUE(res);
        EXPECT_EQ(res->status, 200) << res->body;
        expect_documented(val, op, "example", res);
        // a request the parser refuses, and a model that is not served
        res = send(c, method, path, "{}");
        ASSERT_TRUE(res);
        EXPECT_EQ(res->status, 400) << res->body;
        expect_documented(val, op, "{}", res);
        example["model"] = "no-such-model";
        res = send(c, method, path, example.dump());
        ASSERT_TRUE(res);
        EXPECT_EQ(res->status, 404) << res->body;
        expect_documented(val, op, "unknown model", res);
      } else {
        auto res = send(c, method, path);
        ASSERT_TRUE(res);
        EXPECT_EQ(res->status, 200) << res->body;
        expect_documented(val, op, "GET", res);
      }
      auto wrong = send(c, method == "get" ? "post" : "get", path, body);
      ASSERT_TRUE(wrong);
      EXPECT_EQ(wrong->status, 405) << wrong->body;
      expect_documented(val, op, "wrong method", wrong);
    }
  }
  // the metrics body is Prometheus text
  auto m = c.Get("/metrics");
  ASSERT_TRUE(m);
  EXPECT_NE(m->body.find("# TYPE xling_requests_total counter"), std::string::npos);

  // undocumented paths are a 404 with an Error body
  const json error_schema = {{"$ref", kErrorRef}};
  for (const auto& [method, path] : std::vector<std::pair<std::string, std::string>>{
           {"post", "/v1/completions"}, {"get", "/admin"}, {"get", "/v1/models"}, {"post", "/embed/"}, {"get", "/"}}) {
    auto res = send(c, method, path, R"({"inputs": "x"})");
    ASSERT_TRUE(res) << path;
    EXPECT_EQ(res->status, 404) << path << ": " << res->body;
    const json body = json::parse(res->body, nullptr, /*allow_exceptions=*/false);
    EXPECT_TRUE(val.errors(body, error_schema).empty()) << path << ": " << res->body;
    EXPECT_EQ(body.value("error_type", ""), "NotFound") << res->body;
  }
  EXPECT_EQ(srv.stop(), 0) << srv.log();
}

// With --api-key, every operation but /health answers 401 without the key, as documented.
TEST(OpenApi, SecurityIsAsDocumented) {
  const json doc = load_document();
  ASSERT_TRUE(doc.is_object());
  const Validator val(doc);
  ServerProcess srv({"--model", kE5, "--api-key", "s3cret"});
  ASSERT_TRUE(srv.running()) << srv.log();
  auto c = srv.client();
  for (const auto& [path, item] : doc.at("paths").items()) {
    for (const auto& [method, op] : item.items()) {
      SCOPED_TRACE(method + " " + path);
      const std::string body = method == "post" ? request_example(op).dump() : "";
      auto res = send(c, method, path, body);
      ASSERT_TRUE(res);
      EXPECT_EQ(res->status, op.value("security", json()) == json::array() ? 200 : 401) << res->body;
      expect_documented(val, op, "without the key", res);
    }
  }
  auto res = send(c, "get", "/info", "", {{"Authorization", "Bearer s3cret"}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  expect_documented(val, doc.at("paths").at("/info").at("get"), "with the key", res);
}

}  // namespace
