// A corpus index directory: the vectors (FAISS, vector_index.hpp) and the documents (SQLite,
// doc_store.hpp) of one corpus embedded with one model. No libtorch here: callers embed.
//
//   IDX/docs.sqlite          documents, inputs, settings (meta table); WAL mode
//   IDX/vectors.<gen>.faiss  the vectors; <gen> grows with each committed `add`
//   IDX/.lock                held (flock) by the one writer
//
// Commit protocol (docs/index.md): a build writes everything into `IDX.partial-<pid>/` and
// renames it to IDX at the end. An append writes the new vectors to vectors.<gen+1>.faiss
// (temp file, fsync, rename), then records gen+1 and the new count in the same SQLite
// transaction as the new documents, and only then deletes vectors.<gen>.faiss. A kill at any
// point leaves the last committed state: SQLite rolls back the open transaction, the
// committed meta still names the old vectors file, and the next writer deletes strays.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "index/doc_store.hpp"
#include "index/vector_index.hpp"

namespace xling::index {

// How an index was built: what searches must reproduce.
struct IndexSettings {
  std::string model;              // the model directory as resolved at build time
  std::string model_fingerprint;  // io::model_fingerprint of it
  std::string doc_prompt;         // prepended to documents when embedding ("passage: ")
  std::string query_prompt;       // default prompt for queries ("query: ")
  std::string pooling;            // pooling given for a plain HF encoder ("" = the model's own)
  int dim = 0;
};

struct IndexInfo : IndexSettings {
  std::string dir;
  IndexKind kind = IndexKind::kFlat;
  std::string describe;      // FAISS parameters
  int64_t count = 0;
  int64_t generation = 0;
  std::string created, updated;  // ISO 8601 UTC
  std::vector<std::string> inputs;
  int64_t vector_bytes = 0, store_bytes = 0;  // file sizes
};

struct Hit {
  float score = 0;
  Document doc;  // doc.position = the vector position
};

class CorpusIndex {
 public:
  // Read-only. IoError naming the directory and the missing or inconsistent file.
  static CorpusIndex open(const std::string& dir);
  static bool looks_like_index(const std::string& dir);  // has docs.sqlite

  const IndexInfo& info() const { return info_; }
  // q (nq, dim) need not be normalised (it is, on a copy). One list of hits per query, best
  // first, at most k each.
  std::vector<std::vector<Hit>> search(const float* q, int64_t nq, int64_t k, const SearchParams& params = {}) const;
  const VectorIndex& vectors() const { return vectors_; }
  const DocStore& docs() const { return docs_; }

 private:
  IndexInfo info_;
  VectorIndex vectors_;
  DocStore docs_;
};

// Writes documents and their vectors into a new index (IndexBuilder) or an existing one
// (IndexAppender). Documents get consecutive positions in the order they are added.
class IndexWriterBase {
 public:
  virtual ~IndexWriterBase() = default;
  int64_t add_input(const std::string& path);  // returns the input number to put in Document::input
  // docs[i].position is assigned here; vectors (docs.size(), dim) are normalised in place.
  // Throws InvalidArgument on a duplicate id (nothing of this call is kept in the index).
  void add(std::vector<Document>& docs, float* vectors);
  int64_t size() const { return next_position_; }
  std::optional<int64_t> find(const std::string& id) const { return docs_.find(id); }  // position of an id
  int dim() const { return settings_.dim; }
  const IndexSettings& settings() const { return settings_; }

 protected:
  IndexSettings settings_;
  DocStore docs_;
  VectorIndex vectors_;
  int64_t next_position_ = 0;
};

class IndexBuilder;
IndexInfo merge_indexes(const std::vector<std::string>& shards, const std::string& out, bool overwrite,
                        std::optional<IndexKind> kind, const BuildParams& params);

class IndexBuilder : public IndexWriterBase {
 public:
  // Fails early (IoError) when `dir` exists and !overwrite, or its parent is missing.
  IndexBuilder(std::string dir, IndexSettings settings, bool overwrite);
  ~IndexBuilder() override;  // removes the partial directory unless finished
  // Starts from an empty index with trained structure (VectorIndex::empty_like of a template
  // index), before any add: shards of one ivfpq template merge. InvalidArgument on a dim mismatch.
  void start_from(VectorIndex empty);
  // Converts to `kind` (default: default_index_kind(size())), writes, and renames into place.
  // An empty corpus is an error.
  IndexInfo finish(std::optional<IndexKind> kind, const BuildParams& params = {});

 private:
  friend IndexInfo merge_indexes(const std::vector<std::string>&, const std::string&, bool, std::optional<IndexKind>,
                                 const BuildParams&);
  std::string dir_, partial_;
  bool overwrite_ = false, finished_ = false;
};

class IndexAppender : public IndexWriterBase {
 public:
  explicit IndexAppender(const std::string& dir);  // takes the writer lock (IoError when held)
  ~IndexAppender() override;                       // rolls back unless committed
  const IndexInfo& info() const { return info_; }
  IndexInfo commit();

 private:
  std::string dir_;
  IndexInfo info_;
  int lock_fd_ = -1;
  bool committed_ = false;
};

// Merges shard indexes (same model fingerprint, dim and kind; ids unique across shards) into
// a new index at `out`, shard order kept. Flat and ivfpq shards merge with FAISS's merge_from
// (ivfpq shards must share trained quantisers: build them with --template); hnsw shards are
// re-inserted into the first shard's graph. `kind` (when it differs from the shards') rebuilds
// the vectors as that kind with `params` instead: one shard + another kind = a type conversion
// without re-embedding (from ivfpq, the decoded approximations are what is left).
IndexInfo merge_indexes(const std::vector<std::string>& shards, const std::string& out, bool overwrite,
                        std::optional<IndexKind> kind = std::nullopt, const BuildParams& params = {});

// Test hook for crash safety: when the environment variable XLING_INDEX_KILL_AT names `point`,
// the process kills itself (SIGKILL) there. Points: "append-before-commit", "append-after-commit".
void crash_point(const char* point);

}  // namespace xling::index
