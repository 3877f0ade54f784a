// Request parsing (every endpoint, every error status/type) and response writers of serve/.
#include <cfloat>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "serve/base64.hpp"
#include "serve/requests.hpp"

using namespace xling::serve;

namespace {

// Runs `fn`, expects a RequestError with this status and type whose message holds every part.
void expect_error(const std::function<void()>& fn, int status, std::string_view type,
                  const std::vector<std::string>& parts) {
  try {
    fn();
    ADD_FAILURE() << "no error; expected " << status << " " << type;
  } catch (const RequestError& e) {
    EXPECT_EQ(e.status(), status) << e.what();
    EXPECT_EQ(e.type(), type) << e.what();
    for (const auto& p : parts) EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << "'" << p << "' not in: " << e.what();
  }
}

void expect_400(std::string_view body, std::function<void(std::string_view)> parse, const std::vector<std::string>& parts) {
  expect_error([&] { parse(body); }, 400, "Validation", parts);
}

const auto embed = [](std::string_view b) { (void)parse_embed_request(b); };
const auto openai = [](std::string_view b) { (void)parse_openai_embeddings_request(b); };
const auto rerank = [](std::string_view b) { (void)parse_rerank_request(b); };
const auto predict = [](std::string_view b) { (void)parse_predict_request(b); };
const auto tag = [](std::string_view b) { (void)parse_tag_request(b); };
const auto tokenize = [](std::string_view b) { (void)parse_tokenize_request(b); };
const auto decode = [](std::string_view b) { (void)parse_decode_request(b); };
const auto translate = [](std::string_view b) { (void)parse_translate_request(b); };

EmbedInput text(const char* s) { return std::string(s); }
EmbedInput ids(std::initializer_list<int> v) { return TokenIds(v); }

}  // namespace

// ------------------------------------------------------------------ /embed

TEST(ServeEmbed, SingleStringAndDefaults) {
  auto r = parse_embed_request(R"({"inputs": "hello"})");
  EXPECT_EQ(r.inputs, std::vector<EmbedInput>{text("hello")});
  EXPECT_TRUE(r.single_input);
  EXPECT_TRUE(r.normalize);
  EXPECT_EQ(r.truncate, std::nullopt);
  EXPECT_EQ(r.truncation_direction, TruncationDirection::kRight);
  EXPECT_EQ(r.prompt_name, std::nullopt);
  EXPECT_EQ(r.model, std::nullopt);
}

TEST(ServeEmbed, EveryFieldAndUnknownKeysIgnored) {
  auto r = parse_embed_request(
      R"({"inputs": ["a", "", "ü"], "normalize": false, "truncate": true, "truncation_direction": "Left",
          "prompt_name": "query", "model": "xling-mini", "unknown": {"x": [1, {"y": null}]}, "dimensions": "?"})");
  EXPECT_EQ(r.inputs, (std::vector<EmbedInput>{text("a"), text(""), text("ü")}));
  EXPECT_FALSE(r.single_input);
  EXPECT_FALSE(r.normalize);
  EXPECT_EQ(r.truncate, true);
  EXPECT_EQ(r.truncation_direction, TruncationDirection::kLeft);
  EXPECT_EQ(r.prompt_name, "query");
  EXPECT_EQ(r.model, "xling-mini");
  for (const char* d : {"right", "Right"}) {
    EXPECT_EQ(parse_embed_request(std::string(R"({"inputs":"x","truncation_direction":")") + d + "\"}").truncation_direction,
              TruncationDirection::kRight);
  }
  EXPECT_EQ(parse_embed_request(R"({"inputs":"x","truncation_direction":"left"})").truncation_direction,
            TruncationDirection::kLeft);
}

TEST(ServeEmbed, NullMeansAbsent) {
  auto r = parse_embed_request(R"({"inputs": "x", "normalize": null, "truncate": null, "prompt_name": null, "model": null})");
  EXPECT_TRUE(r.normalize);
  EXPECT_EQ(r.truncate, std::nullopt);
  EXPECT_EQ(r.prompt_name, std::nullopt);
  expect_400(R"({"inputs": null})", embed, {"missing required field 'inputs'"});
}

TEST(ServeEmbed, TokenIdInputs) {
  auto one = parse_embed_request(R"({"inputs": [101, 7, 102]})");
  EXPECT_EQ(one.inputs, std::vector<EmbedInput>{ids({101, 7, 102})});
  EXPECT_TRUE(one.single_input);
  auto mixed = parse_embed_request(R"({"inputs": [[1, 2], "x", [2147483647]]})");
  EXPECT_EQ(mixed.inputs, (std::vector<EmbedInput>{ids({1, 2}), text("x"), ids({2147483647})}));
  EXPECT_FALSE(mixed.single_input);
}

TEST(ServeEmbed, FieldErrorsNameFieldAndValue) {
  expect_400(R"({})", embed, {"missing required field 'inputs'"});
  expect_400(R"({"inputs": 3})", embed, {"field 'inputs'", "found the number 3"});
  expect_400(R"({"inputs": []})", embed, {"field 'inputs'", "empty list"});
  expect_400(R"({"inputs": [[]]})", embed, {"field 'inputs[0]'", "empty list of token ids"});
  expect_400(R"({"inputs": ["a", true]})", embed, {"field 'inputs[1]'", "found true"});
  expect_400(R"({"inputs": [1, -2]})", embed, {"field 'inputs[1]'", "token id -2 is negative"});
  expect_400(R"({"inputs": [1, 2147483648]})", embed, {"field 'inputs[1]'", "2147483648 is out of range"});
  expect_400(R"({"inputs": [1.5]})", embed, {"field 'inputs[0]'", "the number 1.5"});
  expect_400(R"({"inputs": ["a", [1, "x"]]})", embed, {"field 'inputs[1][1]'", "the string \"x\""});
  expect_400(R"({"inputs": "x", "normalize": "yes"})", embed, {"field 'normalize'", "expected a boolean", "the string \"yes\""});
  expect_400(R"({"inputs": "x", "normalize": 1})", embed, {"field 'normalize'", "the number 1"});
  expect_400(R"({"inputs": "x", "truncate": "no"})", embed, {"field 'truncate'"});
  expect_400(R"({"inputs": "x", "truncation_direction": "up"})", embed,
             {"field 'truncation_direction'", "\"right\" or \"left\"", "the string \"up\""});
  expect_400(R"({"inputs": "x", "truncation_direction": "RIGHT"})", embed, {"field 'truncation_direction'"});
  expect_400(R"({"inputs": "x", "prompt_name": 5})", embed, {"field 'prompt_name'", "expected a string"});
  expect_400(R"({"inputs": "x", "model": ["m"]})", embed, {"field 'model'", "an array of 1 items"});
  expect_400(R"([{"inputs": "x"}])", embed, {"must be a JSON object", "an array of 1 items"});
  expect_400(R"("x")", embed, {"must be a JSON object", "the string \"x\""});
}

TEST(ServeEmbed, LongValuesAreExcerpted) {
  std::string long_value(500, 'z');
  try {
    parse_embed_request(R"({"inputs": "x", "normalize": ")" + long_value + "\"}");
    FAIL();
  } catch (const RequestError& e) {
    EXPECT_LT(std::string(e.what()).size(), 150u) << e.what();
    EXPECT_NE(std::string(e.what()).find("zzz...\""), std::string::npos) << e.what();
  }
}

// ------------------------------------------------------------------ body-level rules

TEST(ServeBody, MalformedJsonGivesByteOffset) {
  expect_400(R"({"inputs": })", embed, {"invalid JSON (byte 12)", "line 1, column 12"});
  expect_400("", embed, {"invalid JSON (byte 1)"});
  expect_400(R"({"inputs": "x"}])", embed, {"invalid JSON (byte 16)", "expected end of input"});
  expect_400(R"({"inputs": "\ud800"})", embed, {"invalid JSON", "surrogate"});
  expect_400("{\"inputs\": \"x\"}\xff", embed, {"invalid JSON"});
  expect_400(R"({"inputs": "x", "n": 1e99999})", embed, {"invalid JSON"});
}

TEST(ServeBody, DeepNestingRejectedBeforeParsing) {
  std::string deep = R"({"inputs": "x", "a": )" + std::string(200000, '[');
  expect_400(deep, embed, {"nested deeper than 64 levels", "at offset 84"});
  // Exactly 64 levels (the object is one) parse; 65 do not.
  std::string ok = R"({"inputs": "x", "a": )" + std::string(63, '[') + std::string(63, ']') + "}";
  EXPECT_NO_THROW(parse_embed_request(ok));
  std::string over = R"({"inputs": "x", "a": )" + std::string(64, '[') + std::string(64, ']') + "}";
  expect_400(over, embed, {"nested deeper than 64"});
  // Brackets inside strings (escaped quotes included) do not count.
  std::string in_string = R"({"inputs": "\")" + std::string(1000, '[') + R"(\\", "b": "{{{{"})";
  auto r = parse_embed_request(in_string);
  EXPECT_EQ(std::get<std::string>(r.inputs[0]), "\"" + std::string(1000, '[') + "\\");
  Limits shallow;
  shallow.max_depth = 2;
  expect_error([&] { parse_embed_request(R"({"inputs": [[1]]})", shallow); }, 400, "Validation", {"deeper than 2"});
}

TEST(ServeBody, SizeAndBatchLimitsAre413) {
  Limits limits;
  limits.max_request_bytes = 20;
  expect_error([&] { parse_embed_request(R"({"inputs": "0123456789"})", limits); }, 413, "PayloadTooLarge",
               {"request body is 24 bytes", "limit of 20 bytes"});
  EXPECT_NO_THROW(parse_embed_request(R"({"inputs": "012345"})", limits));  // 20 bytes

  Limits batch;
  batch.max_client_batch_size = 2;
  EXPECT_NO_THROW(parse_embed_request(R"({"inputs": ["a", "b"]})", batch));
  expect_error([&] { parse_embed_request(R"({"inputs": ["a", "b", "c"]})", batch); }, 413, "PayloadTooLarge",
               {"field 'inputs'", "3 inputs exceed the limit of 2"});
  expect_error([&] { parse_openai_embeddings_request(R"({"input": [[1], [2], [3]]})", batch); }, 413,
               "PayloadTooLarge", {"field 'input'", "3 inputs"});
  expect_error([&] { parse_rerank_request(R"({"query": "q", "texts": ["a", "b", "c"]})", batch); }, 413,
               "PayloadTooLarge", {"field 'texts'"});
  expect_error([&] { parse_predict_request(R"({"inputs": [["a"], ["b"], ["c"]]})", batch); }, 413,
               "PayloadTooLarge", {"field 'inputs'"});
  expect_error([&] { parse_tag_request(R"({"inputs": ["a", "b", "c"]})", batch); }, 413, "PayloadTooLarge", {});
  expect_error([&] { parse_tokenize_request(R"({"inputs": ["a", "b", "c"]})", batch); }, 413, "PayloadTooLarge", {});
  expect_error([&] { parse_decode_request(R"({"ids": [[1], [2], [3]]})", batch); }, 413, "PayloadTooLarge",
               {"field 'ids'"});
  expect_error([&] { parse_translate_request(R"({"text": ["a", "b", "c"], "target_lang": "fr"})", batch); }, 413,
               "PayloadTooLarge", {"field 'text'"});
  // One sequence of many ids is one input.
  EXPECT_NO_THROW(parse_embed_request(R"({"inputs": [1, 2, 3, 4, 5]})", batch));
  EXPECT_NO_THROW(parse_decode_request(R"({"ids": [1, 2, 3, 4, 5]})", batch));
}

TEST(ServeBody, InvalidUtf8NamesFieldItemAndOffset) {
  std::string body = "{\"inputs\": [\"ok\", \"b\xff" "d\"]}";
  expect_400(body, embed, {"field 'inputs[1]'", "invalid UTF-8", "byte 0xFF", "offset " + std::to_string(body.find('\xff'))});
  // UTF-8-encoded surrogate and overlong forms are invalid too.
  expect_400("{\"inputs\": \"\xed\xa0\x80\"}", embed, {"field 'inputs'", "byte 0xED"});
  expect_400("{\"inputs\": \"\xc0\xaf\"}", embed, {"field 'inputs'", "byte 0xC0"});
  expect_400("{\"inputs\": \"x\", \"prompt_name\": \"\xc3(\"}", embed, {"field 'prompt_name'", "byte 0xC3"});
  // Truncated sequence right before the closing quote.
  expect_400("{\"inputs\": [\"a\", \"b\", \"\xe2\x82\"]}", embed, {"field 'inputs[2]'"});
  // Invalid bytes in ignored keys or values do not matter, and do not shift the marker onto
  // the strings that follow (the scan counts keys and values in text order).
  auto r = parse_embed_request("{\"junk\xfe\": \"v\xff\", \"x\": [\"\xff\"], \"inputs\": [\"a\", \"\\\"b\"]}");
  EXPECT_EQ(r.inputs, (std::vector<EmbedInput>{text("a"), text("\"b")}));
  expect_400("{\"\xff\": 1, \"inputs\": [\"a\", \"\\u00e9\", \"c\xff\"], \"model\": \"m\"}", embed,
             {"field 'inputs[2]'"});
  expect_400("{\"inputs\": [[\"a\", \"\xff\"]]}", predict, {"field 'inputs[0][1]'"});
  expect_400("{\"query\": \"\xff\", \"texts\": [\"a\"]}", rerank, {"field 'query'"});
  expect_400("{\"inputs\": \"a\", \"ignore_labels\": [\"O\", \"\xff\"]}", tag, {"field 'ignore_labels[1]'"});
  expect_400("{\"text\": \"a\", \"target_lang\": \"f\xffr\"}", translate, {"field 'target_lang'"});
  // A wrong type holding invalid UTF-8 is reported as a wrong type.
  expect_400("{\"inputs\": \"a\", \"normalize\": \"\xff\"}", embed, {"field 'normalize'", "a string with invalid UTF-8"});
  // Valid multi-byte text passes untouched.
  auto ok = parse_embed_request("{\"inputs\": \"\xe6\x9d\xb1\xe4\xba\xac \xf0\x9f\x87\xa9\"}");
  EXPECT_EQ(std::get<std::string>(ok.inputs[0]), "\xe6\x9d\xb1\xe4\xba\xac \xf0\x9f\x87\xa9");
}

// ------------------------------------------------------------------ /v1/embeddings

TEST(ServeOpenAI, ParsesEveryInputForm) {
  auto r = parse_openai_embeddings_request(R"({"input": "hi", "model": "text-embedding-3-small", "user": {"any": 1}})");
  EXPECT_EQ(r.input, std::vector<EmbedInput>{text("hi")});
  EXPECT_TRUE(r.single_input);
  EXPECT_EQ(r.model, "text-embedding-3-small");
  EXPECT_EQ(r.encoding_format, EncodingFormat::kFloat);
  EXPECT_EQ(r.dimensions, std::nullopt);

  auto b = parse_openai_embeddings_request(R"({"input": ["a", "b"], "encoding_format": "base64", "dimensions": 256})");
  EXPECT_EQ(b.input, (std::vector<EmbedInput>{text("a"), text("b")}));
  EXPECT_FALSE(b.single_input);
  EXPECT_EQ(b.encoding_format, EncodingFormat::kBase64);
  EXPECT_EQ(b.dimensions, 256);

  EXPECT_EQ(parse_openai_embeddings_request(R"({"input": [0, 5]})").input, std::vector<EmbedInput>{ids({0, 5})});
  auto many = parse_openai_embeddings_request(R"({"input": [[1, 2], [3]], "encoding_format": "float"})");
  EXPECT_EQ(many.input, (std::vector<EmbedInput>{ids({1, 2}), ids({3})}));
  EXPECT_FALSE(many.single_input);
}

TEST(ServeOpenAI, Errors) {
  expect_400(R"({"inputs": "x"})", openai, {"missing required field 'input'"});
  expect_400(R"({"input": {}})", openai, {"field 'input'", "an object"});
  expect_400(R"({"input": "x", "encoding_format": "hex"})", openai, {"field 'encoding_format'", "\"float\" or \"base64\""});
  expect_400(R"({"input": "x", "encoding_format": "Float"})", openai, {"field 'encoding_format'"});
  expect_400(R"({"input": "x", "dimensions": 0})", openai, {"field 'dimensions'", "an integer >= 1", "found 0"});
  expect_400(R"({"input": "x", "dimensions": -3})", openai, {"field 'dimensions'", "found -3"});
  expect_400(R"({"input": "x", "dimensions": 1.0})", openai, {"field 'dimensions'", "the number 1.0"});
  expect_400(R"({"input": "x", "dimensions": 99999999999999999999})", openai, {"field 'dimensions'"});
  expect_400(R"({"input": [[1], [-1]]})", openai, {"field 'input[1][0]'", "negative"});
}

// ------------------------------------------------------------------ /rerank

TEST(ServeRerank, ParsesAndValidates) {
  auto r = parse_rerank_request(
      R"({"query": "q", "texts": ["a", ""], "truncate": false, "truncation_direction": "left", "raw_scores": true,
          "return_text": true, "top_n": 1, "model": "ce"})");
  EXPECT_EQ(r.query, "q");
  EXPECT_EQ(r.texts, (std::vector<std::string>{"a", ""}));
  EXPECT_EQ(r.truncate, false);
  EXPECT_EQ(r.truncation_direction, TruncationDirection::kLeft);
  EXPECT_TRUE(r.raw_scores);
  EXPECT_TRUE(r.return_text);
  EXPECT_EQ(r.top_n, 1);
  EXPECT_EQ(r.model, "ce");
  auto d = parse_rerank_request(R"({"query": "q", "texts": ["a"]})");
  EXPECT_FALSE(d.raw_scores);
  EXPECT_FALSE(d.return_text);
  EXPECT_EQ(d.top_n, std::nullopt);

  expect_400(R"({"texts": ["a"]})", rerank, {"missing required field 'query'"});
  expect_400(R"({"query": "", "texts": ["a"]})", rerank, {"field 'query'", "must not be empty"});
  expect_400(R"({"query": "q"})", rerank, {"missing required field 'texts'"});
  expect_400(R"({"query": "q", "texts": "a"})", rerank, {"field 'texts'", "expected a list of strings", "the string \"a\""});
  expect_400(R"({"query": "q", "texts": []})", rerank, {"field 'texts'", "empty list"});
  expect_400(R"({"query": "q", "texts": ["a", 2]})", rerank, {"field 'texts[1]'"});
  expect_400(R"({"query": "q", "texts": ["a"], "top_n": 0})", rerank, {"field 'top_n'"});
  expect_400(R"({"query": "q", "texts": ["a"], "return_text": "yes"})", rerank, {"field 'return_text'"});
}

// ------------------------------------------------------------------ /predict

TEST(ServePredict, FollowsTeiInputShapes) {
  auto s = parse_predict_request(R"({"inputs": "a"})");
  EXPECT_EQ(s.inputs, (std::vector<PredictInput>{{"a", std::nullopt}}));
  EXPECT_TRUE(s.single_input);
  auto one = parse_predict_request(R"({"inputs": ["a"]})");
  EXPECT_EQ(one.inputs, (std::vector<PredictInput>{{"a", std::nullopt}}));
  EXPECT_TRUE(one.single_input);
  auto pair = parse_predict_request(R"({"inputs": ["a", "b"]})");
  EXPECT_EQ(pair.inputs, (std::vector<PredictInput>{{"a", "b"}}));
  EXPECT_TRUE(pair.single_input);
  auto batch = parse_predict_request(
      R"({"inputs": [["a"], ["b", "c"]], "raw_scores": true, "truncate": true, "top_k": 3, "model": "cls"})");
  EXPECT_EQ(batch.inputs, (std::vector<PredictInput>{{"a", std::nullopt}, {"b", "c"}}));
  EXPECT_FALSE(batch.single_input);
  EXPECT_TRUE(batch.raw_scores);
  EXPECT_EQ(batch.truncate, true);
  EXPECT_EQ(batch.top_k, 3);
  EXPECT_EQ(batch.model, "cls");
  auto single_pair_batch = parse_predict_request(R"({"inputs": [["a", "b"]]})");
  EXPECT_EQ(single_pair_batch.inputs, (std::vector<PredictInput>{{"a", "b"}}));
  EXPECT_FALSE(single_pair_batch.single_input);
}

TEST(ServePredict, Errors) {
  expect_400(R"({"inputs": ["a", "b", "c"]})", predict, {"field 'inputs'", "a list of 3 strings", "[[text]"});
  expect_400(R"({"inputs": [["a", "b", "c"]]})", predict, {"field 'inputs[0]'", "an array of 3 items"});
  expect_400(R"({"inputs": [["a"], []]})", predict, {"field 'inputs[1]'"});
  expect_400(R"({"inputs": [1]})", predict, {"field 'inputs[0]'", "the number 1"});
  expect_400(R"({"inputs": [["a", 1]]})", predict, {"field 'inputs[0][1]'", "expected a string"});
  expect_400(R"({"inputs": ["a", 1]})", predict, {"field 'inputs[1]'", "expected a string"});
  expect_400(R"({"inputs": []})", predict, {"field 'inputs'", "empty list"});
  expect_400(R"({"inputs": {}})", predict, {"field 'inputs'", "an object"});
  expect_400(R"({"inputs": "a", "top_k": 0})", predict, {"field 'top_k'"});
}

// ------------------------------------------------------------------ /tag, /tokenize, /decode

TEST(ServeTag, ParsesAndValidates) {
  auto d = parse_tag_request(R"({"inputs": "Hugging Face is in Paris"})");
  EXPECT_EQ(d.inputs, std::vector<std::string>{"Hugging Face is in Paris"});
  EXPECT_TRUE(d.single_input);
  EXPECT_EQ(d.aggregation_strategy, AggregationStrategy::kSimple);
  EXPECT_EQ(d.ignore_labels, std::vector<std::string>{"O"});
  EXPECT_EQ(d.truncate, std::nullopt);

  auto r = parse_tag_request(
      R"({"inputs": ["a", "b"], "aggregation_strategy": "FIRST", "ignore_labels": [], "truncate": true, "model": "ner"})");
  EXPECT_FALSE(r.single_input);
  EXPECT_EQ(r.aggregation_strategy, AggregationStrategy::kFirst);
  EXPECT_TRUE(r.ignore_labels.empty());
  EXPECT_EQ(r.model, "ner");
  const std::pair<const char*, AggregationStrategy> names[] = {{"none", AggregationStrategy::kNone},
                                                               {"simple", AggregationStrategy::kSimple},
                                                               {"average", AggregationStrategy::kAverage},
                                                               {"Max", AggregationStrategy::kMax}};
  for (const auto& [name, value] : names) {
    EXPECT_EQ(parse_tag_request(std::string(R"({"inputs":"x","aggregation_strategy":")") + name + "\"}").aggregation_strategy,
              value);
  }
  EXPECT_EQ(parse_tag_request(R"({"inputs": "x", "ignore_labels": ["O", "MISC"]})").ignore_labels,
            (std::vector<std::string>{"O", "MISC"}));
  expect_400(R"({"inputs": "x", "aggregation_strategy": "mean"})", tag, {"field 'aggregation_strategy'", "\"mean\""});
  expect_400(R"({"inputs": "x", "ignore_labels": "O"})", tag, {"field 'ignore_labels'", "expected a list of strings"});
  expect_400(R"({"inputs": [1]})", tag, {"field 'inputs[0]'"});
}

TEST(ServeTokenize, ParsesAndValidates) {
  auto d = parse_tokenize_request(R"({"inputs": "x"})");
  EXPECT_TRUE(d.single_input);
  EXPECT_TRUE(d.add_special_tokens);
  EXPECT_EQ(d.prompt_name, std::nullopt);
  auto r = parse_tokenize_request(R"({"inputs": ["a", "b"], "add_special_tokens": false, "prompt_name": "query"})");
  EXPECT_EQ(r.inputs, (std::vector<std::string>{"a", "b"}));
  EXPECT_FALSE(r.single_input);
  EXPECT_FALSE(r.add_special_tokens);
  EXPECT_EQ(r.prompt_name, "query");
  expect_400(R"({"inputs": [1, 2]})", tokenize, {"field 'inputs[0]'", "expected a string"});
  expect_400(R"({"inputs": "x", "add_special_tokens": "false"})", tokenize, {"field 'add_special_tokens'"});
}

TEST(ServeDecode, ParsesAndValidates) {
  auto one = parse_decode_request(R"({"ids": [0, 1, 2]})");
  EXPECT_EQ(one.ids, (std::vector<TokenIds>{{0, 1, 2}}));
  EXPECT_TRUE(one.single_input);
  EXPECT_TRUE(one.skip_special_tokens);
  auto many = parse_decode_request(R"({"ids": [[1], [2, 3], []], "skip_special_tokens": false, "model": "m"})");
  EXPECT_EQ(many.ids, (std::vector<TokenIds>{{1}, {2, 3}, {}}));
  EXPECT_FALSE(many.single_input);
  EXPECT_FALSE(many.skip_special_tokens);
  EXPECT_EQ(many.model, "m");
  expect_400(R"({"ids": []})", decode, {"field 'ids'", "empty list"});
  expect_400(R"({"ids": "1 2"})", decode, {"field 'ids'", "the string \"1 2\""});
  expect_400(R"({"ids": ["a"]})", decode, {"field 'ids[0]'", "expected a token id"});
  expect_400(R"({"ids": [[1], [-1]]})", decode, {"field 'ids[1][0]'", "negative"});
  expect_400(R"({"ids": [[1], 2]})", decode, {"field 'ids[1]'", "expected a list of token ids"});
  expect_400(R"({"ids": [1, [2]]})", decode, {"field 'ids[1]'", "an array of 1 items"});
}

// ------------------------------------------------------------------ /translate

TEST(ServeTranslate, ParsesAndValidates) {
  auto r = parse_translate_request(
      R"({"text": ["Hello", ""], "source_lang": "en", "target_lang": "fr", "num_beams": 4, "max_new_tokens": 4096, "model": "nllb"})");
  EXPECT_EQ(r.text, (std::vector<std::string>{"Hello", ""}));
  EXPECT_FALSE(r.single_input);
  EXPECT_EQ(r.source_lang, "en");
  EXPECT_EQ(r.target_lang, "fr");
  EXPECT_EQ(r.num_beams, 4);
  EXPECT_EQ(r.max_new_tokens, 4096);
  EXPECT_EQ(r.model, "nllb");
  auto alias = parse_translate_request(R"({"inputs": "Hallo", "target_lang": "en"})");
  EXPECT_EQ(alias.text, std::vector<std::string>{"Hallo"});
  EXPECT_TRUE(alias.single_input);
  EXPECT_EQ(alias.source_lang, std::nullopt);
  EXPECT_EQ(alias.num_beams, std::nullopt);

  expect_400(R"({"text": "a", "inputs": "b", "target_lang": "fr"})", translate, {"not both"});
  expect_400(R"({"target_lang": "fr"})", translate, {"missing required field 'text'"});
  expect_400(R"({"text": "a"})", translate, {"missing required field 'target_lang'"});
  expect_400(R"({"text": "a", "target_lang": ""})", translate, {"field 'target_lang'", "must not be empty"});
  expect_400(R"({"text": "a", "target_lang": "fr", "source_lang": ""})", translate, {"field 'source_lang'"});
  expect_400(R"({"text": "a", "target_lang": "fr", "num_beams": 17})", translate,
             {"field 'num_beams'", "an integer in [1, 16]", "found 17"});
  expect_400(R"({"text": "a", "target_lang": "fr", "num_beams": 0})", translate, {"field 'num_beams'"});
  expect_400(R"({"text": "a", "target_lang": "fr", "max_new_tokens": 4097})", translate, {"field 'max_new_tokens'"});
  expect_400(R"({"inputs": [], "target_lang": "fr"})", translate, {"field 'inputs'", "empty list"});
}

// ------------------------------------------------------------------ writers

TEST(ServeWriters, FloatsAreShortestRoundTrip) {
  auto str = [](float v) {
    std::string s;
    append_json_float(s, v);
    return s;
  };
  EXPECT_EQ(str(1.0f), "1");
  EXPECT_EQ(str(0.1f), "0.1");
  EXPECT_EQ(str(-2.5f), "-2.5");
  EXPECT_EQ(str(1e-7f), "1e-07");
  EXPECT_EQ(str(FLT_MAX), "3.4028235e+38");
  EXPECT_EQ(str(std::numeric_limits<float>::denorm_min()), "1e-45");
  std::mt19937 rng(7);
  for (int i = 0; i < 20000; ++i) {
    std::uint32_t bits = rng();
    float v;
    std::memcpy(&v, &bits, 4);
    if (!std::isfinite(v)) continue;
    std::string s = str(v);
    float back = std::strtof(s.c_str(), nullptr);
    ASSERT_EQ(std::memcmp(&back, &v, 4), 0) << s;
    ASSERT_TRUE(nlohmann::json::parse(s).is_number()) << s;
  }
  expect_error([&] { str(std::nanf("")); }, 500, "Backend", {"non-finite"});
  expect_error([&] { str(-INFINITY); }, 500, "Backend", {"non-finite"});
}

TEST(ServeWriters, EmbeddingsJson) {
  EXPECT_EQ(embeddings_to_json(std::vector<std::vector<float>>{{1.0f, 0.5f}, {-0.25f}}), "[[1,0.5],[-0.25]]");
  EXPECT_EQ(embeddings_to_json(std::vector<std::vector<float>>{}), "[]");
  const float flat[] = {1, 2, 3, 4};
  EXPECT_EQ(embeddings_to_json(std::span<const float>(flat), 2), "[[1,2],[3,4]]");
  EXPECT_THROW(embeddings_to_json(std::span<const float>(flat), 3), xling::InvalidArgument);
  expect_error([] { embeddings_to_json(std::vector<std::vector<float>>{{1.0f}, {0.0f, NAN}}); }, 500, "Backend",
               {"embedding 1 has a non-finite value (nan) at dimension 1"});
  const float bad[] = {1, 2, INFINITY, 4};
  expect_error([&] { embeddings_to_json(std::span<const float>(bad), 2); }, 500, "Backend",
               {"embedding 1", "(inf)", "dimension 0"});
}

TEST(ServeWriters, Base64KnownVectors) {
  // RFC 4648 §10.
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
  EXPECT_EQ(base64_encode("foob"), "Zm9vYg==");
  EXPECT_EQ(base64_encode("fooba"), "Zm9vYmE=");
  EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64_encode(std::string("\xff\xfe\x00\x3e\x3f", 5)), "//4APj8=");
  // 1.0f is 00 00 80 3f little-endian; -2.0f is 00 00 00 c0.
  const float one[] = {1.0f};
  EXPECT_EQ(base64_encode_f32le(one), "AACAPw==");
  const float two[] = {1.0f, -2.0f};
  EXPECT_EQ(base64_encode_f32le(two), "AACAPwAAAMA=");
  const float three[] = {0.5f, 0.25f, -0.125f};
  EXPECT_EQ(base64_encode_f32le(three), "AAAAPwAAgD4AAAC+");
}

TEST(ServeWriters, OpenAIResponse) {
  std::vector<std::vector<float>> v{{1.0f, 0.5f}, {-2.0f}};
  EXPECT_EQ(openai_embeddings_response(v, "m\"x", 7, /*base64=*/false),
            R"({"object":"list","data":[{"object":"embedding","embedding":[1,0.5],"index":0},)"
            R"({"object":"embedding","embedding":[-2],"index":1}],"model":"m\"x","usage":{"prompt_tokens":7,"total_tokens":7}})");
  std::vector<std::vector<float>> w{{1.0f, -2.0f}};
  std::string b64 = openai_embeddings_response(w, "m", 2, /*base64=*/true);
  EXPECT_EQ(b64, R"({"object":"list","data":[{"object":"embedding","embedding":"AACAPwAAAMA=","index":0}],)"
                 R"("model":"m","usage":{"prompt_tokens":2,"total_tokens":2}})");
  EXPECT_TRUE(nlohmann::json::parse(b64).is_object());
  expect_error([] { openai_embeddings_response({{NAN}}, "m", 1, /*base64=*/true); }, 500, "Backend", {"embedding 0"});
}

TEST(ServeWriters, ErrorBody) {
  EXPECT_EQ(error_body("Validation", "field 'x': found \"y\""),
            R"({"error":"field 'x': found \"y\"","error_type":"Validation"})");
  std::string body = error_body("Validation", "bad \xff byte");
  auto parsed = nlohmann::json::parse(body);
  EXPECT_EQ(parsed["error"], "bad \xef\xbf\xbd byte");
  EXPECT_EQ(parsed["error_type"], "Validation");
}

TEST(ServeRequests, ChatCompletions) {
  auto r = parse_chat_request(R"({"messages": [{"role": "system", "content": "Be brief."},
      {"role": "user", "content": [{"type": "text", "text": "Guten "}, {"type": "text", "text": "Tag"}]}],
      "max_tokens": 16, "temperature": 0.5, "top_p": 0.9, "seed": 3, "stop": "\n", "stream": true, "n": 1, "model": "q"})");
  ASSERT_EQ(r.messages.size(), 2u);
  EXPECT_EQ(r.messages[0].role, "system");
  EXPECT_EQ(r.messages[1].content, "Guten Tag");
  EXPECT_EQ(r.max_tokens, 16);
  EXPECT_EQ(r.temperature, 0.5);
  EXPECT_EQ(r.top_p, 0.9);
  EXPECT_EQ(r.seed, 3);
  EXPECT_EQ(r.stop, std::vector<std::string>{"\n"});
  EXPECT_TRUE(r.stream);
  EXPECT_EQ(r.model, "q");
  // max_completion_tokens wins over the older max_tokens; absent options stay absent
  r = parse_chat_request(R"({"messages": [{"role": "user", "content": ""}], "max_completion_tokens": 5, "max_tokens": 9})");
  EXPECT_EQ(r.max_tokens, 5);
  EXPECT_FALSE(r.temperature || r.top_p || r.seed || r.stream);
  auto p = [](std::string_view b) { parse_chat_request(b); };
  expect_400(R"({"messages": "hi"})", p, {"messages"});
  expect_400(R"({"messages": []})", p, {"messages", "empty"});
  expect_400(R"({"messages": [{"content": "x"}]})", p, {"messages[0]", "role"});
  expect_400(R"({"messages": [{"role": "", "content": "x"}]})", p, {"role"});
  expect_400(R"({"messages": [{"role": "user"}]})", p, {"content"});
  expect_400(R"({"messages": [{"role": "user", "content": [{"type": "image_url"}]}]})", p, {"messages[0][0]", "text"});
  expect_400(R"({"messages": [{"role": "user", "content": 5}]})", p, {"messages[0]", "string"});
  expect_400(R"({"messages": [{"role": "user", "content": "x"}], "temperature": 2.5})", p, {"temperature"});
  expect_400(R"({"messages": [{"role": "user", "content": "x"}], "top_p": 0})", p, {"top_p"});
  expect_400(R"({"messages": [{"role": "user", "content": "x"}], "n": 2})", p, {"n = 1"});
  expect_400(R"({"messages": [{"role": "user", "content": "x"}], "stop": ["a", ""]})", p, {"stop[1]", "empty"});
  expect_400(R"({"messages": [{"role": "user", "content": "x"}], "stop": 3})", p, {"stop"});
  expect_400(R"({"messages": [{"role": "user", "content": "x"}], "max_tokens": 0})", p, {"max_tokens"});
  expect_400(R"({"messages": [{"role": "user", "content": "x"}], "logprobs": true})", p, {"logprobs"});
  expect_400(R"({"messages": [{"role": "user", "content": "x"}], "frequency_penalty": 0.5})", p, {"frequency_penalty"});
  expect_400("{\"messages\": [{\"role\": \"user\", \"content\": \"\xff\"}]}", p, {"messages[0]", "UTF-8"});
  Limits two;
  two.max_client_batch_size = 2;
  expect_error([&] { parse_chat_request(R"({"messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}, {"role": "user", "content": "c"}]})", two); },
               413, "PayloadTooLarge", {"messages"});
}
