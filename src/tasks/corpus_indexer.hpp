// Embedding a corpus into an index (index/corpus_index.hpp) with a sentence encoder: the
// corpus is streamed in chunks (CorpusReader), each chunk embedded with the encoder's
// token-budget batching and appended; memory holds one chunk of texts, not the corpus.
// Also the model checks of `xling search`: an index answers only queries embedded by the
// model it was built with.
#pragma once

#include <cstdint>
#include <string>

#include "index/corpus_index.hpp"
#include "index/corpus_reader.hpp"
#include "tasks/sentence_encoder.hpp"

namespace xling::tasks {

struct IndexingOptions {
  std::size_t chunk_docs = 4096;  // documents embedded per chunk
  EncodeOptions encode;           // batch_tokens, max_length; prompt = the index's doc prompt
  bool progress = true;           // progress bar on stderr (when it is a terminal)
};

struct IndexingStats {
  int64_t documents = 0, empty = 0;
  EncodeStats encode;
};

// Reads every document of `reader`, embeds and appends it. Duplicate ids (within the file or
// with the index) are reported before the chunk is embedded, naming file:line.
IndexingStats index_corpus(index::IndexWriterBase& writer, const SentenceEncoder& encoder, index::CorpusReader& reader,
                           const IndexingOptions& options);

// The settings of a new index for `model_dir`: fingerprint, dimension, and the prompts
// (explicit values win; else the model's "document"/"passage" and "query" prompts, else "").
index::IndexSettings index_settings_for(const std::string& model_dir, const SentenceEncoder& encoder,
                                        const std::string* doc_prompt, const std::string* query_prompt);

// The model a search must use: `model` ("" = the index's own) resolved, and refused with
// InvalidArgument when its fingerprint differs from the index's unless `force`.
std::string model_for_index(const index::IndexInfo& info, const std::string& model, bool force);

// (N, D) float tensor -> row-major floats on the CPU.
std::vector<float> to_float_rows(const torch::Tensor& t);

}  // namespace xling::tasks
