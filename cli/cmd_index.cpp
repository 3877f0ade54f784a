// `xling index build | add | info | merge`: persistent corpus indexes (docs/index.md).
#include <chrono>
#include <iostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/common.hpp"
#include "core/memory.hpp"
#include "index/corpus_index.hpp"
#include "index/corpus_reader.hpp"
#include "io/model_location.hpp"
#include "models/registry.hpp"
#include "tasks/corpus_indexer.hpp"
#include "tasks/sentence_encoder.hpp"
#include "xling/errors.hpp"

namespace xling::cli {
namespace {

struct IndexCliOptions {
  std::string model, input, output, index, dtype = "f32", device = "cpu", type = "auto", pooling;
  std::string doc_prompt, query_prompt, template_index;
  bool doc_prompt_set = false, query_prompt_set = false;
  index::CorpusFormat format;
  index::BuildParams params;
  std::size_t batch_tokens = 0, chunk = 4096;
  std::optional<std::size_t> max_length;
  std::vector<std::string> shards;
  bool overwrite = false, quiet = false, json = false;
};

models::LoadOptions load_options(const IndexCliOptions& o) {
  return models::LoadOptions::with_dtype(models::parse_compute_dtype(o.dtype), models::parse_device(o.device));
}

tasks::SentenceEncoder load_encoder(const std::string& model, const std::string& pooling, const IndexCliOptions& o) {
  std::optional<tasks::Pooling> p;
  if (!pooling.empty()) p = tasks::parse_pooling(pooling);
  return tasks::SentenceEncoder::load(model, p, /*normalize=*/true, load_options(o));
}

tasks::IndexingOptions indexing_options(const IndexCliOptions& o, const index::IndexSettings& s) {
  tasks::IndexingOptions io;
  io.chunk_docs = std::max<std::size_t>(1, o.chunk);
  io.encode.batch_tokens = o.batch_tokens;
  io.encode.max_length = o.max_length;
  io.encode.prompt = s.doc_prompt;
  io.progress = !o.quiet;
  return io;
}

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

void print_info(const index::IndexInfo& info, bool json) {
  if (json) {
    std::cout << nlohmann::json({{"dir", info.dir}, {"documents", info.count}, {"dim", info.dim},
                                 {"type", index::index_kind_name(info.kind)}, {"faiss", info.describe},
                                 {"model", info.model}, {"model_fingerprint", info.model_fingerprint},
                                 {"doc_prompt", info.doc_prompt}, {"query_prompt", info.query_prompt},
                                 {"pooling", info.pooling}, {"generation", info.generation}, {"created", info.created},
                                 {"updated", info.updated}, {"inputs", info.inputs}, {"vector_bytes", info.vector_bytes},
                                 {"store_bytes", info.store_bytes}})
                     .dump(2)
              << "\n";
    return;
  }
  std::cout << fmt::format("index       {}\n", info.dir);
  std::cout << fmt::format("documents   {}\n", info.count);
  std::cout << fmt::format("vectors     {} x {} ({}), {:.1f} MB\n", info.count, info.dim, info.describe,
                           static_cast<double>(info.vector_bytes) / 1e6);
  std::cout << fmt::format("store       docs.sqlite, {:.1f} MB\n", static_cast<double>(info.store_bytes) / 1e6);
  std::cout << fmt::format("model       {}\n", info.model);
  std::cout << fmt::format("fingerprint {}\n", info.model_fingerprint);
  std::cout << fmt::format("prompts     documents '{}', queries '{}'\n", info.doc_prompt, info.query_prompt);
  if (!info.pooling.empty()) std::cout << fmt::format("pooling     {}\n", info.pooling);
  std::cout << fmt::format("created     {}, updated {} (generation {})\n", info.created, info.updated, info.generation);
  for (const auto& in : info.inputs) std::cout << fmt::format("input       {}\n", in);
}

int run_build(const IndexCliOptions& o) {
  auto t0 = std::chrono::steady_clock::now();
  std::optional<index::IndexKind> kind;
  if (o.type != "auto") kind = index::parse_index_kind(o.type);
  index::CorpusReader reader(o.input, o.format);  // fails on a missing input before the model loads
  std::optional<index::CorpusIndex> tmpl;  // a shard of a sharded build: same model, settings and trained structure
  if (!o.template_index.empty()) tmpl.emplace(index::CorpusIndex::open(o.template_index));
  const std::string pooling = tmpl ? tmpl->info().pooling : o.pooling;
  const std::string model = io::resolve_model(o.model);
  auto enc = load_encoder(model, pooling, o);
  auto settings = tasks::index_settings_for(model, enc, o.doc_prompt_set ? &o.doc_prompt : nullptr,
                                            o.query_prompt_set ? &o.query_prompt : nullptr);
  settings.pooling = pooling;
  if (tmpl) {
    const auto& ti = tmpl->info();
    if (ti.model_fingerprint != settings.model_fingerprint) {
      throw InvalidArgument(fmt::format("--template {} was built with another model ({})", ti.dir, ti.model));
    }
    settings.doc_prompt = ti.doc_prompt;
    settings.query_prompt = ti.query_prompt;
    kind = ti.kind;
  }
  index::IndexBuilder builder(o.output, settings, o.overwrite);
  if (tmpl) builder.start_from(tmpl->vectors().empty_like());
  auto stats = tasks::index_corpus(builder, enc, reader, indexing_options(o, settings));
  auto t1 = std::chrono::steady_clock::now();
  auto info = builder.finish(kind, o.params);
  if (!o.quiet) {
    std::cerr << fmt::format(
        "xling index build: {} documents ({} empty, {} truncated) -> {} ({}); embed {:.1f} s ({:.0f} docs/s), index {:.1f} s, "
        "peak RSS {:.0f} MB\n",
        stats.documents, stats.empty, stats.encode.truncated, info.dir, info.describe,
        std::chrono::duration<double>(t1 - t0).count(),
        static_cast<double>(stats.documents) / std::max(1e-9, std::chrono::duration<double>(t1 - t0).count()),
        seconds_since(t1), static_cast<double>(core::peak_rss_bytes()) / 1e6);
  }
  return kExitOk;
}

int run_add(const IndexCliOptions& o) {
  auto t0 = std::chrono::steady_clock::now();
  index::IndexAppender appender(o.index);
  index::CorpusReader reader(o.input, o.format);
  const auto& info = appender.info();
  const std::string model = tasks::model_for_index(info, o.model, /*force=*/false);
  auto enc = load_encoder(model, info.pooling, o);
  auto stats = tasks::index_corpus(appender, enc, reader, indexing_options(o, info));
  auto after = appender.commit();
  if (!o.quiet) {
    std::cerr << fmt::format("xling index add: {} documents ({} empty) -> {} now holds {} ({:.1f} s)\n", stats.documents,
                             stats.empty, after.dir, after.count, seconds_since(t0));
  }
  return kExitOk;
}

int run_merge(const IndexCliOptions& o) {
  auto t0 = std::chrono::steady_clock::now();
  std::optional<index::IndexKind> kind;
  if (o.type != "auto") kind = index::parse_index_kind(o.type);
  auto info = index::merge_indexes(o.shards, o.output, o.overwrite, kind, o.params);
  if (!o.quiet) {
    std::cerr << fmt::format("xling index {}: {} -> {} ({} documents, {}; {:.1f} s)\n", o.shards.size() == 1 ? "convert" : "merge",
                             fmt::join(o.shards, " + "), info.dir, info.count, info.describe, seconds_since(t0));
  }
  return kExitOk;
}

void add_type_options(CLI::App* sub, IndexCliOptions& o) {
  sub->add_option("--hnsw-m", o.params.hnsw_m, "hnsw: graph degree")->capture_default_str();
  sub->add_option("--ef-construction", o.params.ef_construction, "hnsw: build beam width")->capture_default_str();
  sub->add_option("--ef-search", o.params.ef_search, "hnsw: default query beam width (stored)")->capture_default_str();
  sub->add_option("--nlist", o.params.ivf_nlist, "ivf/ivfpq: inverted lists (0 = sqrt(N))")->capture_default_str();
  sub->add_option("--pq-m", o.params.pq_m, "ivfpq: sub-quantisers (code bytes per vector), must divide the dimension (0 = dim / 2)")->capture_default_str();
  sub->add_option("--nprobe", o.params.nprobe, "ivf/ivfpq: default lists probed per query (stored)")->capture_default_str();
}

void add_corpus_options(CLI::App* sub, IndexCliOptions& o) {
  sub->add_option("--id-field", o.format.id_field, "JSONL field with the document id (falls back to _id as in MTEB corpora)")
      ->capture_default_str();
  sub->add_option("--text-field", o.format.text_field, "JSONL field with the text")->capture_default_str();
  sub->add_option("--title-field", o.format.title_field, "JSONL field prepended to the text as 'title text' (MTEB: title)");
  sub->add_option("--batch-tokens", o.batch_tokens, "Token budget per batch, padding included (0 = the device's default)");
  sub->add_option("--chunk", o.chunk, "Documents read and embedded per chunk (memory holds one chunk of texts)")
      ->capture_default_str();
  sub->add_option("--max-length", o.max_length, "Truncate documents to N tokens (default: the model's maximum)");
  add_compute_options(sub, o.device, o.dtype);
  sub->add_flag("--quiet,-q", o.quiet, "No progress bar or summary");
}

}  // namespace

void add_index_command(CLI::App& app, CommandList& commands) {
  CLI::App* index = app.add_subcommand(
      "index",
      "Persistent corpus indexes for semantic search: FAISS vectors (flat = exact, ivf, hnsw, ivfpq) + an SQLite document "
      "store, in one directory (docs/index.md).");
  index->require_subcommand(1);

  auto b = std::make_shared<IndexCliOptions>();
  CLI::App* build = index->add_subcommand(
      "build",
      "Embed a corpus (.jsonl records with id and text, or .txt: one document per line, id = line number) and write a "
      "new index directory. The corpus is streamed; the directory appears only when complete.");
  build->add_option("--model,-m", b->model, "Sentence encoder (default: xling-mini)");
  build->add_option("--input,-i", b->input, "Corpus file (.jsonl or .txt)")->required();
  build->add_option("--output,-o", b->output, "Index directory to create")->required();
  build->add_option("--type", b->type,
                    "flat (exact), hnsw (graph), ivf (k-means cells, exact inside them), ivfpq (compressed) or auto: flat "
                    "below 100k documents, hnsw up to 20M, ivfpq above")
      ->capture_default_str();
  build->add_option("--doc-prompt", b->doc_prompt, "Prompt prepended to documents (default: the model's 'document'/'passage' prompt)")
      ->each([b](const std::string&) { b->doc_prompt_set = true; });
  build->add_option("--query-prompt", b->query_prompt, "Default prompt for queries, stored in the index (default: the model's 'query' prompt)")
      ->each([b](const std::string&) { b->query_prompt_set = true; });
  build->add_option("--pooling", b->pooling, "Pooling for a plain HF encoder directory (cls, mean, ...); stored in the index");
  add_type_options(build, *b);
  build->add_option("--template", b->template_index,
                    "Build a shard like this index: its model, prompts, type and trained ivf/ivfpq quantisers (then "
                    "`xling index merge` joins the shards)");
  build->add_flag("--overwrite", b->overwrite, "Replace an existing index at --output (only when the new one is complete)");
  add_corpus_options(build, *b);
  commands.push_back({build, [b]() { return run_build(*b); }});

  auto a = std::make_shared<IndexCliOptions>();
  CLI::App* add = index->add_subcommand(
      "add",
      "Append documents to an index with the model it was built with. Atomic: until the new state is committed, "
      "readers and a killed process see the previous index.");
  add->add_option("--index", a->index, "Index directory")->required();
  add->add_option("--input,-i", a->input, "Corpus file (.jsonl or .txt)")->required();
  add->add_option("--model,-m", a->model, "The index's model, when it has moved since the build");
  add_corpus_options(add, *a);
  commands.push_back({add, [a]() { return run_add(*a); }});

  auto i = std::make_shared<IndexCliOptions>();
  CLI::App* info = index->add_subcommand("info", "Counts, dimension, FAISS parameters, model and fingerprint, prompts, inputs.");
  info->add_option("index", i->index, "Index directory")->required();
  info->add_flag("--json", i->json, "JSON output");
  commands.push_back({info, [i]() {
    print_info(index::CorpusIndex::open(i->index).info(), i->json);
    return kExitOk;
  }});

  auto m = std::make_shared<IndexCliOptions>();
  CLI::App* merge = index->add_subcommand(
      "merge",
      "Merge shard indexes built with the same model (e.g. on several machines) into one, shard order kept. ivf and ivfpq "
      "shards must share trained quantisers (docs/index.md).");
  merge->add_option("shards", m->shards, "Shard index directories")->required()->expected(1, -1);
  merge->add_option("--output,-o", m->output, "Merged index directory")->required();
  merge->add_option("--type", m->type, "Rebuild the merged vectors as flat, ivf, hnsw or ivfpq (auto: keep the shards' type)")
      ->capture_default_str();
  add_type_options(merge, *m);
  merge->add_flag("--overwrite", m->overwrite, "Replace an existing index at --output");
  merge->add_flag("--quiet,-q", m->quiet, "No summary");
  commands.push_back({merge, [m]() { return run_merge(*m); }});

  auto c = std::make_shared<IndexCliOptions>();
  CLI::App* convert = index->add_subcommand(
      "convert",
      "Rebuild an index as another type (e.g. flat -> hnsw when it has grown) without re-embedding; documents, "
      "settings and model are kept. From ivfpq the decoded (approximate) vectors are what is left.");
  convert->add_option("index", c->shards, "Index directory")->required()->expected(1);
  convert->add_option("--output,-o", c->output, "New index directory")->required();
  convert->add_option("--type", c->type, "flat, ivf, hnsw or ivfpq")->required();
  add_type_options(convert, *c);
  convert->add_flag("--overwrite", c->overwrite, "Replace an existing index at --output");
  convert->add_flag("--quiet,-q", c->quiet, "No summary");
  commands.push_back({convert, [c]() { return run_merge(*c); }});
}

}  // namespace xling::cli
