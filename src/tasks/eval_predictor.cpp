// Model-backed eval predictions (see eval_predictor.hpp).
#include "tasks/eval_predictor.hpp"

#include <unistd.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include <fmt/format.h>

#include "eval/mteb.hpp"
#include "eval/scoring.hpp"
#include "index/corpus_index.hpp"
#include "tasks/corpus_indexer.hpp"
#include "tasks/cross_encoder.hpp"
#include "io/config.hpp"
#include "tasks/sentence_encoder.hpp"
#include "tasks/sequence_classifier.hpp"
#include "xling/errors.hpp"

namespace xling::tasks {
namespace {

using nlohmann::json;

// The text in the first of `keys` present in gold record i (eval's record rules and errors).
std::string text(const json& row, std::initializer_list<const char*> keys, const eval::LanguageFile& file, std::size_t i) {
  return eval::text_of(eval::field(row, keys, file.path, i), file.path, i, *keys.begin());
}

// A text or a list of texts (retrieval candidates).
std::vector<std::string> texts(const json& v, const eval::LanguageFile& file, std::size_t i, const char* what) {
  if (v.is_string()) return {v.get<std::string>()};
  if (!v.is_array()) throw InvalidArgument(fmt::format("{}:{}: {} must be a text or a list of texts", file.path, i + 1, what));
  std::vector<std::string> out;
  for (const auto& x : v) out.push_back(eval::text_of(x, file.path, i, what));
  return out;
}

bool is_classifier_dir(const std::string& dir) {
  auto cfg = io::load_config_any(read_sentence_layout(dir).transformer_dir);
  for (const auto& a : cfg->architectures) {
    if (a.ends_with("ForSequenceClassification")) return true;
  }
  return false;
}

class ModelPredictor {
 public:
  ModelPredictor(std::string dir, PredictorOptions opt) : dir_(std::move(dir)), opt_(std::move(opt)) {}

  std::vector<json> operator()(const eval::TaskConfig& task, const eval::LanguageFile& file, const std::vector<json>& gold) {
    using eval::TaskType;
    switch (task.type) {
      case TaskType::kBitextMining: return bitext(file, gold);
      case TaskType::kSts: return sts(file, gold);
      case TaskType::kRetrieval:
        if (!gold.empty() && gold[0].contains("qrels")) return corpus_retrieval(task, file, gold);
        return ranking(file, gold);
      case TaskType::kReranking: return ranking(file, gold);
      case TaskType::kClassification:
      case TaskType::kPairClassification: return classify(task, file, gold);
      default:
        throw UnsupportedModel(fmt::format("task '{}': running a model for {} tasks is not supported yet (give "
                                           "--predictions)", task.name, eval::task_type_name(task.type)));
    }
  }

 private:
  const SentenceEncoder& encoder() {
    if (!encoder_) {
      if (classifier_dir()) {
        throw InvalidArgument(fmt::format("{}: a classifier, not a sentence encoder (embedding tasks need an encoder)", dir_));
      }
      // normalize: cosine = dot product, whether or not the directory has a Normalize module
      encoder_ = std::make_unique<SentenceEncoder>(SentenceEncoder::load(dir_, std::nullopt, true, opt_.load));
    }
    return *encoder_;
  }
  const SequenceClassifier& classifier() {
    if (!classifier_dir()) {
      throw InvalidArgument(fmt::format("{}: not a *ForSequenceClassification model, and classification tasks need one "
                                        "(or give their predictions with --predictions)", dir_));
    }
    if (!classifier_) classifier_ = std::make_unique<SequenceClassifier>(SequenceClassifier::load(dir_, opt_.load));
    return *classifier_;
  }
  bool classifier_dir() {
    if (!is_classifier_) is_classifier_ = is_classifier_dir(dir_);
    return *is_classifier_;
  }

  // Unit-length embeddings of `items` (N, D), through the cache.
  torch::Tensor embed(const std::vector<std::string>& items) {
    std::vector<std::string> missing;
    std::unordered_set<std::string> queued;
    for (const auto& t : items) {
      if (!cache_.count(t) && queued.insert(t).second) missing.push_back(t);
    }
    if (!missing.empty()) {
      EncodeOptions eo;
      eo.batch_tokens = opt_.batch_tokens;
      auto e = encoder().encode(missing, eo);
      for (std::size_t i = 0; i < missing.size(); ++i) cache_[missing[i]] = e[static_cast<int64_t>(i)];
    }
    std::vector<torch::Tensor> rows;
    rows.reserve(items.size());
    for (const auto& t : items) rows.push_back(cache_.at(t));
    return torch::stack(rows);
  }

  std::vector<json> bitext(const eval::LanguageFile& file, const std::vector<json>& gold) {
    std::vector<std::string> src, tgt;
    for (std::size_t i = 0; i < gold.size(); ++i) {
      src.push_back(text(gold[i], {"source", "sentence1"}, file, i));
      tgt.push_back(text(gold[i], {"target", "sentence2"}, file, i));
    }
    auto best = torch::matmul(embed(src), embed(tgt).t()).argmax(1).contiguous();
    std::vector<json> out;
    for (int64_t i = 0; i < best.size(0); ++i) out.push_back({{"prediction", best[i].item<int64_t>()}});
    return out;
  }

  std::vector<json> sts(const eval::LanguageFile& file, const std::vector<json>& gold) {
    std::vector<std::string> a, b;
    for (std::size_t i = 0; i < gold.size(); ++i) {
      a.push_back(text(gold[i], {"sentence1"}, file, i));
      b.push_back(text(gold[i], {"sentence2"}, file, i));
    }
    auto cos = (embed(a) * embed(b)).sum(1).to(torch::kDouble).contiguous();
    std::vector<json> out;
    for (int64_t i = 0; i < cos.size(0); ++i) out.push_back({{"score", cos[i].item<double>()}});
    return out;
  }

  std::vector<json> ranking(const eval::LanguageFile& file, const std::vector<json>& gold) {
    std::vector<json> out;
    const bool cross = classifier_dir();
    for (std::size_t i = 0; i < gold.size(); ++i) {
      std::string q = text(gold[i], {"query"}, file, i);
      std::vector<std::string> cands = texts(eval::field(gold[i], {"positives", "positive"}, file.path, i), file, i, "positives");
      if (gold[i].contains("negatives")) {
        auto neg = texts(gold[i]["negatives"], file, i, "negatives");
        cands.insert(cands.end(), neg.begin(), neg.end());
      }
      json scores = json::array();
      if (cross) {
        std::vector<std::string> qs(cands.size(), q);
        for (float v : relevance_scores(classifier(), qs, cands, /*raw=*/false, opt_.batch_tokens)) scores.push_back(static_cast<double>(v));
      } else {
        auto s = torch::matmul(embed(cands), embed({q})[0]).to(torch::kDouble).contiguous();
        for (int64_t k = 0; k < s.size(0); ++k) scores.push_back(s[k].item<double>());
      }
      out.push_back({{"scores", scores}});
    }
    return out;
  }

  // MTEB-layout retrieval (eval/mteb.hpp): the folder's corpus.jsonl is embedded into a
  // temporary exact index (the same code path as `xling index build`, with the model's
  // document prompt) and each query's top documents are returned as a ranked list.
  std::vector<json> corpus_retrieval(const eval::TaskConfig& task, const eval::LanguageFile& file, const std::vector<json>& gold) {
    if (classifier_dir()) {
      throw InvalidArgument(fmt::format("task '{}': corpus retrieval ({}) needs a sentence encoder, {} is a cross-encoder",
                                        task.name, file.path, dir_));
    }
    int64_t depth = 10;  // the deepest cut any of the task's metrics reads
    for (const auto& m : task.metrics) depth = std::max(depth, eval::split_at_k(m).second);
    const auto& enc = encoder();
    namespace fs = std::filesystem;
    auto tmp = fs::temp_directory_path() / fmt::format("xling-eval-corpus-{}-{}", ::getpid(), ++corpus_runs_);
    struct Cleanup {
      fs::path p;
      ~Cleanup() {
        std::error_code ec;
        fs::remove_all(p, ec);
      }
    } cleanup{tmp};
    fs::create_directories(tmp);
    auto settings = index_settings_for(dir_, enc, nullptr, nullptr);
    index::IndexBuilder builder((tmp / "idx").string(), settings, false);
    index::CorpusFormat format;
    format.title_field = "title";
    index::CorpusReader reader(eval::mteb_corpus_path(file.path), format);
    IndexingOptions io;
    io.encode.batch_tokens = opt_.batch_tokens;
    io.encode.prompt = settings.doc_prompt;
    io.progress = false;
    index_corpus(builder, enc, reader, io);
    builder.finish(index::IndexKind::kFlat);
    auto idx = index::CorpusIndex::open((tmp / "idx").string());
    std::vector<std::string> queries;
    for (std::size_t i = 0; i < gold.size(); ++i) queries.push_back(text(gold[i], {"query"}, file, i));
    EncodeOptions eo;
    eo.batch_tokens = opt_.batch_tokens;
    eo.prompt = settings.query_prompt;
    auto qv = to_float_rows(enc.encode(queries, eo));
    auto hits = idx.search(qv.data(), static_cast<int64_t>(queries.size()), depth);
    std::vector<json> out;
    for (const auto& h : hits) {
      json ids = json::array(), scores = json::array();
      for (const auto& x : h) {
        ids.push_back(x.doc.id);
        scores.push_back(x.score);
      }
      out.push_back({{"ids", ids}, {"scores", scores}});
    }
    return out;
  }

  std::vector<json> classify(const eval::TaskConfig& task, const eval::LanguageFile& file, const std::vector<json>& gold) {
    std::vector<std::string> a, b;
    const bool pairs = task.type == eval::TaskType::kPairClassification;
    for (std::size_t i = 0; i < gold.size(); ++i) {
      if (pairs) {
        a.push_back(text(gold[i], {"sentence1", "premise", "text"}, file, i));
        b.push_back(text(gold[i], {"sentence2", "hypothesis", "text_pair"}, file, i));
      } else {
        a.push_back(text(gold[i], {"text", "sentence"}, file, i));
      }
    }
    const bool int_labels = !gold.empty() && gold[0].contains("label") && gold[0]["label"].is_number_integer();
    auto logits = classifier().logits(a, pairs ? &b : nullptr, opt_.batch_tokens, std::nullopt, nullptr);
    auto best = logits.argmax(1).contiguous();
    std::vector<json> out;
    for (int64_t i = 0; i < best.size(0); ++i) {
      int64_t k = best[i].item<int64_t>();
      out.push_back(int_labels ? json{{"label", k}} : json{{"label", classifier().label(k)}});
    }
    return out;
  }

  std::string dir_;
  PredictorOptions opt_;
  std::unique_ptr<SentenceEncoder> encoder_;
  std::unique_ptr<SequenceClassifier> classifier_;
  std::optional<bool> is_classifier_;
  std::unordered_map<std::string, torch::Tensor> cache_;
  int corpus_runs_ = 0;
};

}  // namespace

eval::Predictor model_predictor(const std::string& model_dir, const PredictorOptions& options) {
  auto p = std::make_shared<ModelPredictor>(model_dir, options);
  return [p](const eval::TaskConfig& t, const eval::LanguageFile& f, const std::vector<nlohmann::json>& g) {
    return (*p)(t, f, g);
  };
}

}  // namespace xling::tasks
