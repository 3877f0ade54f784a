// Token-classification pipeline (see token_tagger.hpp); follows transformers'
// TokenClassificationPipeline step by step (gather_pre_entities, aggregate, group_entities).
#include "tasks/token_tagger.hpp"

#include <fmt/format.h>

#include "core/json.hpp"
#include "tasks/batching.hpp"
#include "xling/errors.hpp"

namespace xling::tasks {

Aggregation parse_aggregation(const std::string& n) {
  if (n == "none") return Aggregation::kNone;
  if (n == "simple") return Aggregation::kSimple;
  if (n == "first") return Aggregation::kFirst;
  if (n == "average") return Aggregation::kAverage;
  if (n == "max") return Aggregation::kMax;
  throw InvalidArgument(fmt::format("aggregation '{}' is not one of none, simple, first, average, max", n));
}

TokenTagger TokenTagger::load(const std::string& dir, const models::LoadOptions& options) {
  TokenTagger t;
  t.model_ = std::make_shared<models::LoadedModel>(models::load_model(dir, models::LoadOptions::with_dtype(options.dtype, options.device)));
  if (t.model_->architecture.find("ForTokenClassification") == std::string::npos) {
    throw UnsupportedModel(fmt::format("{}: {} is not a token-classification model", dir, t.model_->architecture));
  }
  t.tokenizer_ = std::make_shared<tokenize::Tokenizer>(tokenize::Tokenizer::from_file(dir));
  auto tj = core::read_json_file(dir + "/tokenizer.json");
  const auto& m = tj["model"];
  t.word_aware_ = m.contains("continuing_subword_prefix") && m["continuing_subword_prefix"].is_string() &&
                  !m["continuing_subword_prefix"].get<std::string>().empty();
  if (m.contains("unk_token") && m["unk_token"].is_string()) {
    if (auto id = t.tokenizer_->token_to_id(m["unk_token"].get<std::string>())) t.unk_id_ = *id;
  } else if (m.contains("unk_id") && m["unk_id"].is_number_integer()) {
    t.unk_id_ = m["unk_id"].get<int>();
  }
  t.max_length_ = max_input_tokens(*t.model_->config, t.max_length_);
  return t;
}

namespace {

struct Pre {
  std::string word;
  std::vector<double> scores;
  uint32_t start, end;
  int64_t index;
  bool is_subword;
};

struct Ent {
  std::string entity;
  double score;
  std::string word;
  uint32_t start, end;
  int64_t index;
};

std::size_t argmax(const std::vector<double>& v) {
  return static_cast<std::size_t>(std::max_element(v.begin(), v.end()) - v.begin());
}

std::pair<char, std::string> get_tag(const std::string& e) {
  if (e.rfind("B-", 0) == 0) return {'B', e.substr(2)};
  if (e.rfind("I-", 0) == 0) return {'I', e.substr(2)};
  return {'I', e};
}

}  // namespace

std::vector<std::vector<TaggedEntity>> TokenTagger::tag(const std::vector<std::string>& texts, Aggregation agg,
                                                        std::size_t batch_tokens, std::size_t* truncated) const {
  std::vector<tokenize::Encoding> encs(texts.size());
  std::size_t cut = 0;
  for (std::size_t i = 0; i < texts.size(); ++i) encs[i] = encode_truncated(*tokenizer_, texts[i], nullptr, max_length_, &cut);
  if (truncated) *truncated = cut;
  std::vector<torch::Tensor> logits(texts.size());
  {
    torch::InferenceMode guard;
    for_each_batch(encs, resolve_batch_tokens(batch_tokens, model_->device), tokenizer_->default_padding().pad_id, [&](const Batch& b) {
      auto out = model_->forward({{"input_ids", b.input_ids}, {"attention_mask", b.attention_mask}, {"token_type_ids", b.token_type_ids}})
                     .at("logits")
                     .to(torch::kCPU);
      for (std::size_t r = 0; r < b.rows.size(); ++r) {
        logits[b.rows[r]] = out[static_cast<int64_t>(r)].narrow(0, 0, static_cast<int64_t>(encs[b.rows[r]].size())).to(torch::kFloat64);
      }
    }, nullptr, pass_cost_tokens(model_->device));
  }
  const auto& cfg = *model_->config;
  auto label_of = [&](std::size_t k) {
    auto it = cfg.id2label.find(static_cast<int64_t>(k));
    return it != cfg.id2label.end() ? it->second : fmt::format("LABEL_{}", k);
  };
  auto to_string = [&](const std::vector<std::string>& tokens) { return tokenizer_->decode_tokens(tokens); };
  std::vector<std::vector<TaggedEntity>> result(texts.size());
  for (std::size_t i = 0; i < texts.size(); ++i) {
    const auto& e = encs[i];
    const std::string& text = texts[i];
    auto chars = tokenize::to_char_offsets(text, e.offsets);
    std::vector<char32_t> cps = tokenize::to_codepoints(text);
    auto probs = torch::softmax(logits[i], 1);
    auto p = probs.accessor<double, 2>();
    std::vector<Pre> pre;
    for (std::size_t k = 0; k < e.size(); ++k) {
      if (e.special[k]) continue;
      Pre x;
      x.word = e.tokens[k];
      x.scores.resize(static_cast<std::size_t>(probs.size(1)));
      for (int64_t c = 0; c < probs.size(1); ++c) x.scores[static_cast<std::size_t>(c)] = p[static_cast<int64_t>(k)][c];
      x.start = chars[k].first;
      x.end = chars[k].second;
      x.index = static_cast<int64_t>(k);
      std::size_t ref_len = x.end > x.start ? x.end - x.start : 0;
      if (word_aware_) {
        x.is_subword = tokenize::to_codepoints(x.word).size() != ref_len;
      } else {
        bool space = false;
        if (x.start > 0) {
          for (uint32_t c = x.start - 1; c < std::min<uint32_t>(x.start + 1, static_cast<uint32_t>(cps.size())); ++c) space |= cps[c] == U' ';
        }
        x.is_subword = x.start > 0 && !space;
      }
      if (e.ids[k] == unk_id_) {
        std::string ref;
        for (uint32_t c = x.start; c < x.end && c < cps.size(); ++c) tokenize::append_utf8(ref, cps[c]);
        x.word = ref;
        x.is_subword = false;
      }
      pre.push_back(std::move(x));
    }
    std::vector<Ent> ents;
    if (agg == Aggregation::kNone || agg == Aggregation::kSimple) {
      for (const auto& x : pre) {
        std::size_t k = argmax(x.scores);
        ents.push_back({label_of(k), x.scores[k], x.word, x.start, x.end, x.index});
      }
    } else {
      auto aggregate_word = [&](const std::vector<const Pre*>& g) {
        std::vector<std::string> words;
        for (const auto* x : g) words.push_back(x->word);
        std::size_t k;
        double score;
        if (agg == Aggregation::kFirst) {
          k = argmax(g[0]->scores);
          score = g[0]->scores[k];
        } else if (agg == Aggregation::kMax) {
          const Pre* best = g[0];
          for (const auto* x : g) {
            if (*std::max_element(x->scores.begin(), x->scores.end()) > *std::max_element(best->scores.begin(), best->scores.end())) best = x;
          }
          k = argmax(best->scores);
          score = best->scores[k];
        } else {
          std::vector<double> avg(g[0]->scores.size(), 0.0);
          for (const auto* x : g) {
            for (std::size_t c = 0; c < avg.size(); ++c) avg[c] += x->scores[c] / static_cast<double>(g.size());
          }
          k = argmax(avg);
          score = avg[k];
        }
        ents.push_back({label_of(k), score, to_string(words), g.front()->start, g.back()->end, -1});
      };
      std::vector<const Pre*> group;
      for (const auto& x : pre) {
        if (!group.empty() && !x.is_subword) {
          aggregate_word(group);
          group.clear();
        }
        group.push_back(&x);
      }
      if (!group.empty()) aggregate_word(group);
    }
    std::vector<TaggedEntity>& out = result[i];
    if (agg == Aggregation::kNone) {
      for (const auto& x : ents) {
        if (x.entity != "O") out.push_back({x.entity, x.score, x.word, x.start, x.end, x.index});
      }
      continue;
    }
    std::vector<const Ent*> dis;
    auto flush = [&]() {
      if (dis.empty()) return;
      std::string label = dis[0]->entity.substr(dis[0]->entity.find('-') == std::string::npos ? 0 : dis[0]->entity.find('-') + 1);
      double sum = 0;
      std::vector<std::string> words;
      for (const auto* x : dis) {
        sum += x->score;
        words.push_back(x->word);
      }
      if (label != "O") out.push_back({label, sum / static_cast<double>(dis.size()), to_string(words), dis.front()->start, dis.back()->end, -1});
      dis.clear();
    };
    for (const auto& x : ents) {
      if (!dis.empty()) {
        auto [bi, tg] = get_tag(x.entity);
        auto [lbi, ltg] = get_tag(dis.back()->entity);
        if (!(tg == ltg && bi != 'B')) flush();
      }
      dis.push_back(&x);
    }
    flush();
  }
  return result;
}

}  // namespace xling::tasks
