#include "tasks/corpus_indexer.hpp"

#include <filesystem>
#include <unordered_map>

#include <fmt/format.h>

#include "core/progress.hpp"
#include "io/model_fingerprint.hpp"
#include "io/model_location.hpp"
#include "xling/errors.hpp"

namespace xling::tasks {

std::vector<float> to_float_rows(const torch::Tensor& t) {
  auto c = t.to(torch::kCPU, torch::kFloat32).contiguous();
  return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}

IndexingStats index_corpus(index::IndexWriterBase& writer, const SentenceEncoder& encoder, index::CorpusReader& reader,
                           const IndexingOptions& options) {
  if (static_cast<int>(encoder.dimension()) != writer.dim()) {
    throw InvalidArgument(fmt::format("the model embeds {} dimensions, the index holds {}", encoder.dimension(), writer.dim()));
  }
  IndexingStats stats;
  const int64_t input = writer.add_input(std::filesystem::absolute(reader.path()).string());
  core::Progress progress("embedding " + reader.path(), reader.size(), options.progress);
  std::vector<index::Document> chunk;
  std::unordered_map<std::string, int64_t> chunk_lines;  // id -> line, within the chunk
  auto flush = [&] {
    if (chunk.empty()) return;
    std::vector<std::string> texts;
    texts.reserve(chunk.size());
    for (const auto& d : chunk) texts.push_back(d.text);
    EncodeStats es;
    auto emb = to_float_rows(encoder.encode(texts, options.encode, &es));
    stats.encode.texts += es.texts;
    stats.encode.tokens += es.tokens;
    stats.encode.padded_tokens += es.padded_tokens;
    stats.encode.truncated += es.truncated;
    writer.add(chunk, emb.data());
    stats.documents += static_cast<int64_t>(chunk.size());
    chunk.clear();
    chunk_lines.clear();
  };
  index::Document doc;
  uint64_t shown = 0;
  while (reader.next(doc)) {
    if (auto it = chunk_lines.find(doc.id); it != chunk_lines.end()) {
      throw InvalidArgument(fmt::format("{}:{}: duplicate id '{}' (also on line {})", reader.path(), reader.line(), doc.id, it->second));
    }
    if (auto pos = writer.find(doc.id)) {
      throw InvalidArgument(fmt::format("{}:{}: duplicate id '{}' (already document {} of the index)", reader.path(),
                                        reader.line(), doc.id, *pos + 1));
    }
    if (doc.text.empty()) ++stats.empty;
    chunk_lines.emplace(doc.id, reader.line());
    doc.input = input;
    chunk.push_back(std::move(doc));
    if (chunk.size() >= options.chunk_docs) {
      flush();
      progress.advance(reader.bytes_read() - shown);
      shown = reader.bytes_read();
    }
  }
  flush();
  progress.advance(reader.bytes_read() - shown);
  if (stats.documents == 0) throw InvalidArgument(fmt::format("{}: empty corpus: no documents", reader.path()));
  return stats;
}

index::IndexSettings index_settings_for(const std::string& model_dir, const SentenceEncoder& encoder,
                                        const std::string* doc_prompt, const std::string* query_prompt) {
  index::IndexSettings s;
  s.model = std::filesystem::absolute(model_dir).lexically_normal().string();
  s.model_fingerprint = io::model_fingerprint(model_dir);
  s.dim = static_cast<int>(encoder.dimension());
  const auto& prompts = encoder.prompts();
  auto prompt = [&](std::initializer_list<const char*> names) -> std::string {
    for (const char* n : names) {
      if (auto it = prompts.find(n); it != prompts.end()) return it->second;
    }
    return "";
  };
  s.doc_prompt = doc_prompt ? *doc_prompt : prompt({"document", "passage", "corpus"});
  s.query_prompt = query_prompt ? *query_prompt : prompt({"query"});
  return s;
}

std::string model_for_index(const index::IndexInfo& info, const std::string& model, bool force) {
  std::string dir;
  if (model.empty()) {
    if (!std::filesystem::is_directory(info.model)) {
      throw IoError(fmt::format("{}: the index was built with {}, which is not here; give the same model with --model",
                                info.dir, info.model));
    }
    dir = info.model;
  } else {
    dir = io::resolve_model(model);
  }
  auto fp = io::model_fingerprint(dir);
  if (fp != info.model_fingerprint && !force) {
    throw InvalidArgument(fmt::format(
        "{}: built with model {} (fingerprint {}), but {} has fingerprint {}: its vectors would not be comparable "
        "(use the index's model, or --force)",
        info.dir, info.model, info.model_fingerprint.substr(0, 19), dir, fp.substr(0, 19)));
  }
  return dir;
}

}  // namespace xling::tasks
