// Vector index over unit-length embeddings (cosine = inner product), backed by FAISS (Debian's
// libfaiss-dev). Three kinds:
//   flat   exact inner product (faiss::IndexFlatIP): the reference, brute force with BLAS
//   hnsw   graph search (faiss::IndexHNSWFlat, inner product): fast, ~exact at the defaults,
//          keeps the full vectors (n * dim * 4 bytes + ~M * 8 bytes of graph per vector)
//   ivf    inverted lists of full vectors (faiss::IndexIVFFlat): k-means cells, a query scans the
//          nprobe nearest cells exactly; as much memory as flat, quick to build on few cores
//   ivfpq  inverted lists + product quantisation (faiss::IndexIVFPQ): compact (dim / 2 bytes per
//          vector at the defaults), approximate; for corpora that do not fit in memory as floats
// Positions are FAISS's sequential ids: the i-th vector added is position i (the document
// store keys documents by the same position). This header does not include FAISS.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace faiss { struct Index; }

namespace xling::index {

enum class IndexKind { kFlat, kHnsw, kIvf, kIvfPq };

IndexKind parse_index_kind(const std::string& name);  // flat | hnsw | ivf | ivfpq; InvalidArgument otherwise
const char* index_kind_name(IndexKind kind);
// The default for a corpus of n vectors: flat below 100k (exact and still a few ms a query),
// hnsw up to 20M (on 100k real xling-mini embeddings: recall@10 0.988 at efSearch 64, where
// ivf needed nprobe 32 for 0.949; bench/results/index_cpu.md), ivfpq above (floats would no
// longer fit in memory).
IndexKind default_index_kind(int64_t n);

struct BuildParams {
  // hnsw: measured (bench/results/index_cpu.md): efConstruction 40 builds 9x faster than 200
  // on 100k x 384; efSearch 64 gives recall@10 0.988 on 100k real xling-mini embeddings
  // (0.961 at 32).
  int hnsw_m = 32;              // graph degree
  int ef_construction = 40;     // build-time beam
  int ef_search = 64;           // stored default query-time beam
  int ivf_nlist = 0;            // 0: sqrt(n), at least 1, at most n / 39 (FAISS's training minimum)
  int pq_m = 0;                 // sub-quantisers; 0: dim / 2 (must divide dim)
  int nprobe = 32;              // stored default query-time lists probed (ivf, ivfpq): 0.949 / 0.909 recall@10
                                // on 100k real embeddings (nlist 316)
  int64_t train_size = 0;       // ivfpq training sample; 0: min(n, 64 * nlist)
};

struct SearchParams {
  int ef_search = 0;  // hnsw: 0 = the index's stored value
  int nprobe = 0;     // ivfpq: 0 = the index's stored value
};

// Row-major (nq, k) results; a slot without a neighbour has position -1 and score -inf.
struct Neighbours {
  int64_t nq = 0, k = 0;
  std::vector<float> scores;
  std::vector<int64_t> positions;
};

class VectorIndex {
 public:
  VectorIndex();
  ~VectorIndex();
  VectorIndex(VectorIndex&&) noexcept;
  VectorIndex& operator=(VectorIndex&&) noexcept;

  static VectorIndex flat(int dim);
  // An index of `kind` holding x (n, dim) in row order; ivfpq trains on a sample of x.
  static VectorIndex build(IndexKind kind, const float* x, int64_t n, int dim, const BuildParams& params = {});

  // Appends rows (n, dim()); position of row r = size() before the call + r.
  void add(const float* x, int64_t n);
  // Top-k by inner product for q (nq, dim()); k is capped at size() (the rest of a row is -1).
  Neighbours search(const float* q, int64_t nq, int64_t k, const SearchParams& params = {}) const;
  // Appends `other`'s vectors after this index's (same kind and dim; ivfpq: same trained
  // quantisers, e.g. shards built from one trained template). `other` is left empty for flat/ivfpq.
  void merge(VectorIndex& other);
  // An empty index with the same trained structure (ivfpq quantisers; flat/hnsw: empty of the
  // same kind and settings), to build shards that merge.
  VectorIndex empty_like() const;
  // Rows [start, start + n) as floats (ivfpq: the decoded approximation).
  std::vector<float> vectors(int64_t start, int64_t n) const;

  void save(const std::string& path) const;          // atomic replace; IoError on failure
  static VectorIndex load(const std::string& path);  // IoError naming the file when unreadable

  int64_t size() const;
  int dim() const;
  IndexKind kind() const { return kind_; }
  std::string describe() const;  // e.g. "hnsw M=32 efConstruction=200 efSearch=128"
  bool empty_handle() const { return !index_; }

 private:
  explicit VectorIndex(std::unique_ptr<faiss::Index> index, IndexKind kind);
  std::unique_ptr<faiss::Index> index_;
  IndexKind kind_ = IndexKind::kFlat;
  std::unique_ptr<std::mutex> hnsw_mutex_;  // hnsw: guards the per-call efSearch (see search())
  int stored_ef_search_ = 0;                // hnsw: the index's default efSearch
};

// Scales each row of x (n, dim) to unit length; all-zero rows stay zero. Returns the number of
// zero rows (a caller may want to warn).
int64_t normalize_rows(float* x, int64_t n, int dim);

}  // namespace xling::index
