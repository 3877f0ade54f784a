// `xling search`: bi-encoder retrieval from a corpus index, optionally reranked by a
// cross-encoder. Output: one JSON line per query,
//   {"query_id", "query", "results": [{"rank", "id", "score", "text", "fields"?, "retrieval_score"?}]}
#include <algorithm>
#include <iostream>
#include <numeric>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/common.hpp"
#include "index/corpus_index.hpp"
#include "index/corpus_reader.hpp"
#include "io/model_location.hpp"
#include "models/registry.hpp"
#include "tasks/corpus_indexer.hpp"
#include "tasks/cross_encoder.hpp"
#include "tasks/sentence_encoder.hpp"
#include "xling/errors.hpp"

namespace xling::cli {
namespace {

struct SearchCliOptions {
  std::string index, queries, output = "-", model, rerank, dtype = "f32", device = "cpu", query_prompt, prompt_name;
  bool query_prompt_set = false, force = false, raw = false, no_text = false;
  std::vector<std::string> query;
  int64_t top_k = 10;
  int64_t rerank_top = 100;
  index::SearchParams params;
  index::CorpusFormat format;
  std::size_t batch_tokens = 0;
};

struct Query {
  std::string id, text;
};

std::vector<Query> read_queries(const SearchCliOptions& o) {
  std::vector<Query> out;
  for (std::size_t i = 0; i < o.query.size(); ++i) out.push_back({std::to_string(i + 1), o.query[i]});
  if (!o.queries.empty()) {
    index::CorpusReader reader(o.queries, o.format);
    index::Document d;
    while (reader.next(d)) out.push_back({d.id, d.text});
    if (out.empty()) throw InvalidArgument(fmt::format("{}: no queries", o.queries));
  }
  if (out.empty()) throw InvalidArgument("give --query TEXT (repeatable) or --queries FILE");
  return out;
}

int run_search(const SearchCliOptions& o) {
  if (o.top_k <= 0) throw InvalidArgument(fmt::format("--top-k must be positive, got {}", o.top_k));
  auto queries = read_queries(o);
  auto idx = index::CorpusIndex::open(o.index);
  const auto& info = idx.info();
  const std::string model = tasks::model_for_index(info, o.model, o.force);
  auto lo = models::LoadOptions::with_dtype(models::parse_compute_dtype(o.dtype), models::parse_device(o.device));
  std::optional<tasks::Pooling> pooling;
  if (!info.pooling.empty()) pooling = tasks::parse_pooling(info.pooling);
  auto enc = tasks::SentenceEncoder::load(model, pooling, /*normalize=*/true, lo);
  if (static_cast<int>(enc.dimension()) != info.dim) {
    throw InvalidArgument(fmt::format("{} embeds {} dimensions, the index {} holds {}", model, enc.dimension(), info.dir, info.dim));
  }
  tasks::EncodeOptions eo;
  eo.batch_tokens = o.batch_tokens;
  if (!o.prompt_name.empty()) eo.prompt_name = o.prompt_name;
  else eo.prompt = o.query_prompt_set ? o.query_prompt : info.query_prompt;
  std::vector<std::string> texts;
  for (const auto& q : queries) texts.push_back(q.text);
  auto qv = tasks::to_float_rows(enc.encode(texts, eo));
  const bool rerank = !o.rerank.empty();
  const int64_t fetch = rerank ? std::max(o.top_k, o.rerank_top) : o.top_k;
  auto hits = idx.search(qv.data(), static_cast<int64_t>(queries.size()), fetch, o.params);

  std::optional<tasks::SequenceClassifier> reranker;
  if (rerank) reranker.emplace(tasks::SequenceClassifier::load(io::resolve_model(o.rerank), lo));
  TextOutput out(o.output);
  for (std::size_t qi = 0; qi < queries.size(); ++qi) {
    auto& h = hits[qi];
    std::vector<float> rerank_scores;
    std::vector<std::size_t> order(h.size());
    std::iota(order.begin(), order.end(), 0);
    if (rerank && !h.empty()) {
      std::vector<std::string> qs(h.size(), queries[qi].text), ps;
      for (const auto& x : h) ps.push_back(x.doc.text);
      rerank_scores = tasks::relevance_scores(*reranker, qs, ps, o.raw, o.batch_tokens);
      std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return rerank_scores[a] > rerank_scores[b]; });
    }
    nlohmann::ordered_json results = nlohmann::ordered_json::array();
    for (std::size_t r = 0; r < order.size() && static_cast<int64_t>(r) < o.top_k; ++r) {
      const auto& hit = h[order[r]];
      nlohmann::ordered_json row = {{"rank", r + 1}, {"id", hit.doc.id}};
      if (rerank) {
        row["score"] = rerank_scores[order[r]];
        row["retrieval_score"] = hit.score;
      } else {
        row["score"] = hit.score;
      }
      if (!o.no_text) row["text"] = hit.doc.text;
      if (!hit.doc.fields.empty()) row["fields"] = nlohmann::json::parse(hit.doc.fields);
      results.push_back(std::move(row));
    }
    out.stream() << nlohmann::ordered_json({{"query_id", queries[qi].id}, {"query", queries[qi].text}, {"results", results}}).dump()
                 << "\n";
  }
  out.commit();
  return kExitOk;
}

}  // namespace

void add_search_command(CLI::App& app, CommandList& commands) {
  auto o = std::make_shared<SearchCliOptions>();
  CLI::App* sub = app.add_subcommand(
      "search",
      "Semantic search in an index built by `xling index build`: queries are embedded with the index's model (a "
      "different model is refused unless --force) and its query prompt; optional cross-encoder reranking of the top "
      "candidates. Output: one JSON line per query with ranked ids, scores and texts.");
  sub->add_option("--index", o->index, "Index directory")->required();
  sub->add_option("--query,-q", o->query, "A query (repeatable)");
  sub->add_option("--queries", o->queries, "Queries file: .txt (one per line, id = line number) or .jsonl ({id|_id, text})");
  sub->add_option("--top-k,-k", o->top_k, "Results per query")->capture_default_str();
  sub->add_option("--output,-o", o->output, "JSONL output ('-' = stdout)")->capture_default_str();
  sub->add_option("--model,-m", o->model, "Query encoder (default: the index's model)");
  sub->add_flag("--force", o->force, "Search even when --model differs from the index's model");
  sub->add_option("--query-prompt", o->query_prompt, "Literal prompt for queries (default: the index's, e.g. 'query: ')")
      ->each([o](const std::string&) { o->query_prompt_set = true; });
  sub->add_option("--prompt-name", o->prompt_name, "A prompt of the model's config_sentence_transformers.json instead");
  sub->add_option("--rerank", o->rerank, "Cross-encoder that reranks the retrieved candidates");
  sub->add_option("--rerank-top", o->rerank_top, "Candidates retrieved for reranking")->capture_default_str();
  sub->add_flag("--raw-scores", o->raw, "Reranker logits instead of probabilities");
  sub->add_option("--ef-search", o->params.ef_search, "hnsw: query beam width (default: the index's)");
  sub->add_option("--nprobe", o->params.nprobe, "ivfpq: lists probed (default: the index's)");
  sub->add_option("--id-field", o->format.id_field, "Queries JSONL id field (falls back to _id)")->capture_default_str();
  sub->add_option("--text-field", o->format.text_field, "Queries JSONL text field")->capture_default_str();
  sub->add_flag("--no-text", o->no_text, "Leave document texts out of the output");
  sub->add_option("--batch-tokens", o->batch_tokens, "Token budget per batch (0 = the device's default)");
  add_compute_options(sub, o->device, o->dtype);
  commands.push_back({sub, [o]() { return run_search(*o); }});
}

}  // namespace xling::cli
