// config.json / generation_config.json parsing: typed fields, variants, validation errors.
#include <gtest/gtest.h>

#include "core/json.hpp"
#include "io/bert_config.hpp"
#include "io/config.hpp"
#include "io/generation_config.hpp"
#include "xling/errors.hpp"

using namespace xling;
using namespace xling::io;

namespace {

nlohmann::json bert_json() {
  // Sizes chosen to differ from every fixture.
  return nlohmann::json::parse(R"({
    "model_type": "bert", "architectures": ["BertForSequenceClassification"],
    "vocab_size": 777, "hidden_size": 48, "num_hidden_layers": 3, "num_attention_heads": 6,
    "intermediate_size": 96, "hidden_act": "gelu_new", "max_position_embeddings": 40,
    "type_vocab_size": 3, "layer_norm_eps": 1e-5, "pad_token_id": 0,
    "id2label": {"0": "neg", "1": "neu", "2": "pos"}, "torch_dtype": "bfloat16",
    "classifier_dropout": null})");
}

std::string error_of(nlohmann::json j) {
  try {
    ConfigRegistry::instance().parse(j, "dir/config.json");
  } catch (const xling::Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(Config, BertFieldsAreTyped) {
  auto base = ConfigRegistry::instance().parse(bert_json(), "dir/config.json");
  auto* c = dynamic_cast<BertConfig*>(base.get());
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->family, "bert");
  EXPECT_EQ(c->vocab_size, 777);
  EXPECT_EQ(c->head_dim(), 8);
  EXPECT_EQ(c->hidden_act, Activation::kGeluTanh);
  EXPECT_EQ(c->type_vocab_size, 3);
  EXPECT_DOUBLE_EQ(c->layer_norm_eps, 1e-5);
  EXPECT_EQ(c->num_labels, 3);
  EXPECT_EQ(c->id2label.at(2), "pos");
  EXPECT_EQ(c->dtype, "bfloat16");
  EXPECT_FALSE(c->classifier_dropout.has_value());
  EXPECT_EQ(c->position_ids, PositionIds::kArange);
}

TEST(Config, RobertaVariantsUsePaddingIdxPositions) {
  for (const char* type : {"xlm-roberta", "roberta", "camembert"}) {
    auto j = bert_json();
    j["model_type"] = type;
    j["pad_token_id"] = 1;
    auto c = ConfigRegistry::instance().parse(j, "c");
    EXPECT_EQ(dynamic_cast<BertConfig&>(*c).position_ids, PositionIds::kFromPaddingIdx) << type;
  }
}

TEST(Config, ValidationErrorsNameKeyAndValue) {
  auto with = [](const char* key, nlohmann::json v) {
    auto j = bert_json();
    j[key] = v;
    return error_of(j);
  };
  std::string m = with("hidden_size", 50);
  EXPECT_NE(m.find("hidden_size"), std::string::npos) << m;
  EXPECT_NE(m.find("50"), std::string::npos) << m;
  EXPECT_NE(m.find("num_attention_heads (6)"), std::string::npos) << m;
  EXPECT_NE(m.find("dir/config.json"), std::string::npos) << m;
  EXPECT_NE(with("vocab_size", "many").find("'vocab_size'"), std::string::npos);
  EXPECT_NE(with("num_hidden_layers", 0).find("positive"), std::string::npos);
  EXPECT_NE(with("hidden_act", "swiglu9").find("swiglu9"), std::string::npos);
  EXPECT_NE(with("hidden_dropout_prob", 1.5).find("hidden_dropout_prob"), std::string::npos);
  EXPECT_NE(with("pad_token_id", 777).find("pad_token_id"), std::string::npos);
  EXPECT_NE(with("id2label", nlohmann::json::parse(R"({"0":"a","2":"b"})")).find("1 is missing"), std::string::npos);
  EXPECT_NE(with("num_labels", 5).find("disagrees"), std::string::npos);
  EXPECT_NE(with("problem_type", "ranking").find("problem_type"), std::string::npos);
  auto j = bert_json();
  j.erase("vocab_size");
  EXPECT_NE(error_of(j).find("'vocab_size' is missing"), std::string::npos);
}

TEST(Config, UnsupportedVariantsAndTypes) {
  auto j = bert_json();
  j["position_embedding_type"] = "relative_key";
  EXPECT_THROW(ConfigRegistry::instance().parse(j, "c"), UnsupportedModel);
  j = bert_json();
  j["model_type"] = "gpt-neo-x-9000";
  try {
    ConfigRegistry::instance().parse(j, "c");
    FAIL();
  } catch (const UnsupportedModel& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("gpt-neo-x-9000"), std::string::npos);
    EXPECT_NE(msg.find("xlm-roberta"), std::string::npos);  // lists what is supported
  }
  // The generic path keeps unknown families readable for `xling info`.
  auto generic = parse_config_any(j, "c");
  EXPECT_EQ(generic->family, "");
  EXPECT_EQ(generic->model_type, "gpt-neo-x-9000");
}

TEST(GenerationConfig, ParsesAndValidates) {
  auto g = parse_generation_config(nlohmann::json::parse(R"({
    "eos_token_id": [5, 9], "decoder_start_token_id": 4, "num_beams": 3, "early_stopping": "never",
    "max_length": 64, "bad_words_ids": [[1, 2], [3]], "stop_strings": "###"})"),
                                   "g.json");
  EXPECT_EQ(g.eos_token_ids, (std::vector<int64_t>{5, 9}));
  EXPECT_EQ(*g.decoder_start_token_id, 4);
  EXPECT_EQ(g.num_beams, 3);
  EXPECT_EQ(g.early_stopping, EarlyStopping::kNever);
  EXPECT_EQ(*g.max_length, 64);
  EXPECT_EQ(g.bad_words_ids.size(), 2u);
  EXPECT_EQ(g.stop_strings, (std::vector<std::string>{"###"}));
  auto bad = [](const char* json) {
    try {
      parse_generation_config(nlohmann::json::parse(json), "g.json");
    } catch (const InvalidArgument& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(bad(R"({"num_beams": 0})").find("num_beams"), std::string::npos);
  EXPECT_NE(bad(R"({"top_p": 1.5})").find("top_p"), std::string::npos);
  EXPECT_NE(bad(R"({"early_stopping": "sometimes"})").find("early_stopping"), std::string::npos);
  EXPECT_NE(bad(R"({"temperature": 0})").find("temperature"), std::string::npos);
  EXPECT_NE(bad(R"({"eos_token_id": "x"})").find("eos_token_id"), std::string::npos);
}
