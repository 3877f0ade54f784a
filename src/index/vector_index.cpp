#include "index/vector_index.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <mutex>
#include <random>

#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>
#include <faiss/IndexIVFFlat.h>
#include <faiss/IndexIVFPQ.h>
#include <faiss/clone_index.h>
#include <faiss/impl/FaissException.h>
#include <faiss/impl/io.h>
#include <faiss/index_io.h>
#include <fmt/format.h>

#include "core/atomic_file.hpp"
#include "xling/errors.hpp"

namespace xling::index {
namespace {

// FAISS reports misuse with FaissException (and asserts in a few places); callers see xling
// errors naming what failed.
template <class F>
auto guarded(const std::string& what, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const faiss::FaissException& e) {
    throw InvalidArgument(fmt::format("{}: {}", what, e.what()));
  } catch (const std::bad_alloc&) {
    throw Error(fmt::format("{}: out of memory", what));
  }
}

// FAISS writer into an AtomicFile (temp file, fsync, rename on commit).
struct AtomicWriter : faiss::IOWriter {
  explicit AtomicWriter(core::AtomicFile& f) : file(f) { name = f.path(); }
  size_t operator()(const void* ptr, size_t size, size_t nitems) override {
    file.write(ptr, size * nitems);
    return nitems;
  }
  core::AtomicFile& file;
};

IndexKind kind_of(const faiss::Index* idx) {
  if (dynamic_cast<const faiss::IndexHNSWFlat*>(idx)) return IndexKind::kHnsw;
  if (dynamic_cast<const faiss::IndexIVFPQ*>(idx)) return IndexKind::kIvfPq;
  if (dynamic_cast<const faiss::IndexIVFFlat*>(idx)) return IndexKind::kIvf;
  if (dynamic_cast<const faiss::IndexFlatIP*>(idx)) return IndexKind::kFlat;
  throw IoError("index file holds a FAISS index type xling does not use (expected IndexFlatIP, IndexHNSWFlat, IndexIVFFlat or IndexIVFPQ)");
}

// dim / 2 sub-quantisers (2 dimensions per code byte) when that divides dim, else the largest
// divisor below it: 8x smaller than floats; dim / 4 halves that again at a large recall cost
// on clustered data (bench/results/index_cpu.md).
int default_pq_m(int dim) {
  for (int m = std::max(1, dim / 2); m > 1; --m) {
    if (dim % m == 0) return m;
  }
  return 1;
}

// An evenly spread, seeded sample of `count` rows of x (the corpus order may be sorted by topic).
std::vector<float> training_sample(const float* x, int64_t n, int dim, int64_t count) {
  std::vector<int64_t> rows(static_cast<std::size_t>(n));
  for (int64_t i = 0; i < n; ++i) rows[static_cast<std::size_t>(i)] = i;
  if (count < n) {
    std::mt19937_64 rng(1234);
    std::shuffle(rows.begin(), rows.end(), rng);
    rows.resize(static_cast<std::size_t>(count));
  }
  std::vector<float> out(rows.size() * static_cast<std::size_t>(dim));
  for (std::size_t i = 0; i < rows.size(); ++i) std::copy_n(x + rows[i] * dim, dim, out.data() + i * static_cast<std::size_t>(dim));
  return out;
}

int auto_nlist(int64_t n) {
  int nlist = static_cast<int>(std::sqrt(static_cast<double>(n)));
  nlist = static_cast<int>(std::min<int64_t>(nlist, n / 39));
  return std::max(1, nlist);
}

}  // namespace

IndexKind parse_index_kind(const std::string& name) {
  if (name == "flat") return IndexKind::kFlat;
  if (name == "hnsw") return IndexKind::kHnsw;
  if (name == "ivf") return IndexKind::kIvf;
  if (name == "ivfpq") return IndexKind::kIvfPq;
  throw InvalidArgument(fmt::format("unknown index type '{}' (expected flat, hnsw, ivf or ivfpq)", name));
}

const char* index_kind_name(IndexKind kind) {
  switch (kind) {
    case IndexKind::kFlat: return "flat";
    case IndexKind::kHnsw: return "hnsw";
    case IndexKind::kIvf: return "ivf";
    case IndexKind::kIvfPq: return "ivfpq";
  }
  return "?";
}

IndexKind default_index_kind(int64_t n) {
  if (n < 100'000) return IndexKind::kFlat;
  if (n < 20'000'000) return IndexKind::kHnsw;
  return IndexKind::kIvfPq;
}

VectorIndex::VectorIndex() = default;
VectorIndex::~VectorIndex() = default;
VectorIndex::VectorIndex(VectorIndex&&) noexcept = default;
VectorIndex& VectorIndex::operator=(VectorIndex&&) noexcept = default;
VectorIndex::VectorIndex(std::unique_ptr<faiss::Index> index, IndexKind kind)
    : index_(std::move(index)), kind_(kind), hnsw_mutex_(std::make_unique<std::mutex>()) {
  if (auto* h = dynamic_cast<faiss::IndexHNSWFlat*>(index_.get())) stored_ef_search_ = h->hnsw.efSearch;
}

VectorIndex VectorIndex::flat(int dim) {
  if (dim <= 0) throw InvalidArgument(fmt::format("vector index: dimension must be positive, got {}", dim));
  return VectorIndex(std::make_unique<faiss::IndexFlatIP>(dim), IndexKind::kFlat);
}

VectorIndex VectorIndex::build(IndexKind kind, const float* x, int64_t n, int dim, const BuildParams& p) {
  if (dim <= 0) throw InvalidArgument(fmt::format("vector index: dimension must be positive, got {}", dim));
  if (n < 0) throw InvalidArgument("vector index: negative row count");
  switch (kind) {
    case IndexKind::kFlat: {
      auto idx = flat(dim);
      idx.add(x, n);
      return idx;
    }
    case IndexKind::kHnsw: {
      if (p.hnsw_m < 2 || p.ef_construction < 1 || p.ef_search < 1) {
        throw InvalidArgument(fmt::format("hnsw: M ({}) must be >= 2, efConstruction ({}) and efSearch ({}) >= 1",
                                          p.hnsw_m, p.ef_construction, p.ef_search));
      }
      auto h = std::make_unique<faiss::IndexHNSWFlat>(dim, p.hnsw_m, faiss::METRIC_INNER_PRODUCT);
      h->hnsw.efConstruction = p.ef_construction;
      h->hnsw.efSearch = p.ef_search;
      VectorIndex idx(std::move(h), IndexKind::kHnsw);
      idx.add(x, n);
      return idx;
    }
    case IndexKind::kIvf: {
      int nlist = p.ivf_nlist > 0 ? p.ivf_nlist : auto_nlist(n);
      const int64_t need = 39LL * nlist;
      if (n < need) {
        throw InvalidArgument(fmt::format("ivf needs at least 39 * nlist = {} vectors to train, the corpus has {} (use flat)",
                                          need, n));
      }
      auto quantizer = std::make_unique<faiss::IndexFlatIP>(dim);
      auto ivf = std::make_unique<faiss::IndexIVFFlat>(quantizer.get(), dim, nlist, faiss::METRIC_INNER_PRODUCT);
      quantizer.release();
      ivf->own_fields = true;
      ivf->nprobe = static_cast<size_t>(std::max(1, p.nprobe));
      auto sample = training_sample(x, n, dim, p.train_size > 0 ? std::min(p.train_size, n) : std::min<int64_t>(n, 64LL * nlist));
      guarded("ivf training", [&] {
        ivf->train(static_cast<int64_t>(sample.size() / static_cast<std::size_t>(dim)), sample.data());
      });
      VectorIndex idx(std::move(ivf), IndexKind::kIvf);
      idx.add(x, n);
      return idx;
    }
    case IndexKind::kIvfPq: {
      int pq_m = p.pq_m > 0 ? p.pq_m : default_pq_m(dim);
      if (dim % pq_m != 0) {
        throw InvalidArgument(fmt::format("ivfpq: the number of sub-quantisers ({}) must divide the dimension ({})", pq_m, dim));
      }
      int nlist = p.ivf_nlist > 0 ? p.ivf_nlist : auto_nlist(n);
      // FAISS's k-means wants >= 39 training points per centroid: nlist coarse centroids and
      // 256 (2^8) per PQ codebook.
      const int64_t need = 39LL * std::max(nlist, 256);
      if (n < need) {
        throw InvalidArgument(fmt::format(
            "ivfpq needs at least 39 * max(nlist, 256) = {} vectors to train, the corpus has {} (use flat or hnsw)", need, n));
      }
      auto quantizer = std::make_unique<faiss::IndexFlatIP>(dim);
      auto ivf = std::make_unique<faiss::IndexIVFPQ>(quantizer.get(), dim, nlist, pq_m, 8, faiss::METRIC_INNER_PRODUCT);
      quantizer.release();
      ivf->own_fields = true;
      ivf->nprobe = static_cast<size_t>(std::max(1, p.nprobe));
      auto sample = training_sample(x, n, dim, p.train_size > 0 ? std::min(p.train_size, n)
                                                                : std::min<int64_t>(n, std::max<int64_t>(64LL * nlist, need)));
      const int64_t train_n = static_cast<int64_t>(sample.size() / static_cast<std::size_t>(dim));
      const float* train = sample.data();
      guarded("ivfpq training", [&] { ivf->train(train_n, train); });
      VectorIndex idx(std::move(ivf), IndexKind::kIvfPq);
      idx.add(x, n);
      return idx;
    }
  }
  throw InvalidArgument("unknown index kind");
}

void VectorIndex::add(const float* x, int64_t n) {
  if (!index_) throw InvalidArgument("vector index: add to an empty handle");
  if (n <= 0) return;
  guarded("adding vectors to the index", [&] { index_->add(n, x); });
}

Neighbours VectorIndex::search(const float* q, int64_t nq, int64_t k, const SearchParams& p) const {
  if (!index_) throw InvalidArgument("vector index: search in an empty handle");
  if (k <= 0) throw InvalidArgument(fmt::format("top-k must be positive, got {}", k));
  Neighbours out;
  out.nq = nq;
  out.k = k;
  out.scores.assign(static_cast<std::size_t>(nq * k), -std::numeric_limits<float>::infinity());
  out.positions.assign(static_cast<std::size_t>(nq * k), -1);
  int64_t kk = std::min<int64_t>(k, index_->ntotal);
  if (nq <= 0 || kk <= 0) return out;
  std::vector<float> d(static_cast<std::size_t>(nq * kk));
  std::vector<faiss::Index::idx_t> l(static_cast<std::size_t>(nq * kk));
  guarded("index search", [&] {
    if (auto* h = dynamic_cast<faiss::IndexHNSWFlat*>(index_.get())) {
      // FAISS 1.7.3 sizes the candidate heap from the index's own hnsw.efSearch and takes only
      // the stopping rule from SearchParametersHNSW, so a larger efSearch in the parameters
      // alone changes nothing (measured: 64, 128 and 256 gave identical results). The index's
      // value is set for the call, under a lock so that concurrent searches stay consistent.
      const int ef = std::max(p.ef_search > 0 ? p.ef_search : stored_ef_search_, static_cast<int>(kk));
      std::lock_guard<std::mutex> lock(*hnsw_mutex_);
      h->hnsw.efSearch = ef;
      faiss::SearchParametersHNSW sp;
      sp.efSearch = ef;
      try {
        index_->search(nq, q, kk, d.data(), l.data(), &sp);
      } catch (...) {
        h->hnsw.efSearch = stored_ef_search_;
        throw;
      }
      h->hnsw.efSearch = stored_ef_search_;
    } else if (auto* ivf = dynamic_cast<faiss::IndexIVF*>(index_.get())) {
      faiss::SearchParametersIVF sp;
      sp.nprobe = p.nprobe > 0 ? static_cast<size_t>(p.nprobe) : ivf->nprobe;
      sp.nprobe = std::min(sp.nprobe, ivf->nlist);
      index_->search(nq, q, kk, d.data(), l.data(), &sp);
    } else {
      index_->search(nq, q, kk, d.data(), l.data());
    }
  });
  for (int64_t i = 0; i < nq; ++i) {
    for (int64_t j = 0; j < kk; ++j) {
      auto pos = l[static_cast<std::size_t>(i * kk + j)];
      if (pos < 0) continue;
      out.positions[static_cast<std::size_t>(i * k + j)] = pos;
      out.scores[static_cast<std::size_t>(i * k + j)] = d[static_cast<std::size_t>(i * kk + j)];
    }
  }
  return out;
}

void VectorIndex::merge(VectorIndex& other) {
  if (!index_ || !other.index_) throw InvalidArgument("vector index: merge with an empty handle");
  if (other.dim() != dim()) {
    throw InvalidArgument(fmt::format("cannot merge indexes of dimension {} and {}", dim(), other.dim()));
  }
  if (other.kind_ != kind_) {
    throw InvalidArgument(fmt::format("cannot merge a {} index into a {} index", index_kind_name(other.kind_),
                                      index_kind_name(kind_)));
  }
  if (kind_ == IndexKind::kHnsw) {
    // FAISS has no HNSW merge: the other graph's vectors are inserted into this graph.
    const int64_t chunk = 65536;
    for (int64_t s = 0; s < other.size(); s += chunk) {
      auto v = other.vectors(s, std::min(chunk, other.size() - s));
      add(v.data(), static_cast<int64_t>(v.size() / static_cast<std::size_t>(dim())));
    }
    return;
  }
  if (kind_ == IndexKind::kFlat) {
    guarded("merging flat indexes", [&] { index_->merge_from(*other.index_, 0); });
  } else {  // inverted lists store ids: the other's are shifted past this index's
    guarded("merging ivf/ivfpq indexes (shards must come from one trained template)",
            [&] { index_->merge_from(*other.index_, index_->ntotal); });
  }
}

VectorIndex VectorIndex::empty_like() const {
  if (!index_) throw InvalidArgument("vector index: empty handle");
  std::unique_ptr<faiss::Index> c(guarded("cloning the index", [&] { return faiss::clone_index(index_.get()); }));
  guarded("emptying the cloned index", [&] { c->reset(); });
  return VectorIndex(std::move(c), kind_);
}

std::vector<float> VectorIndex::vectors(int64_t start, int64_t n) const {
  if (!index_) throw InvalidArgument("vector index: empty handle");
  if (start < 0 || n < 0 || start + n > index_->ntotal) {
    throw InvalidArgument(fmt::format("rows [{}, {}) out of range (index holds {})", start, start + n, index_->ntotal));
  }
  std::vector<float> out(static_cast<std::size_t>(n) * static_cast<std::size_t>(dim()));
  if (n == 0) return out;
  // IndexIVF::reconstruct_n scans the lists, so no direct map is needed.
  guarded("reading vectors back", [&] { index_->reconstruct_n(start, n, out.data()); });
  return out;
}

void VectorIndex::save(const std::string& path) const {
  if (!index_) throw InvalidArgument("vector index: save of an empty handle");
  core::AtomicFile file(path);
  AtomicWriter w(file);
  try {
    faiss::write_index(index_.get(), &w);
  } catch (const faiss::FaissException& e) {
    throw IoError(fmt::format("{}: writing the index failed: {}", path, e.what()));
  }
  file.commit();
}

VectorIndex VectorIndex::load(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) throw IoError(fmt::format("{}: cannot open the vector index file", path));
  std::unique_ptr<faiss::Index> idx;
  try {
    idx.reset(faiss::read_index(f));
  } catch (const faiss::FaissException& e) {
    std::fclose(f);
    throw IoError(fmt::format("{}: not a readable FAISS index ({})", path, e.what()));
  } catch (const std::bad_alloc&) {
    std::fclose(f);
    throw IoError(fmt::format("{}: corrupt FAISS index (implausible sizes)", path));
  }
  std::fclose(f);
  IndexKind kind;
  try {
    kind = kind_of(idx.get());
  } catch (const IoError& e) {
    throw IoError(fmt::format("{}: {}", path, e.what()));
  }
  if (idx->metric_type != faiss::METRIC_INNER_PRODUCT) {
    throw IoError(fmt::format("{}: the index does not use inner product (xling indexes are cosine)", path));
  }
  return VectorIndex(std::move(idx), kind);
}

int64_t VectorIndex::size() const { return index_ ? index_->ntotal : 0; }
int VectorIndex::dim() const { return index_ ? static_cast<int>(index_->d) : 0; }

std::string VectorIndex::describe() const {
  if (!index_) return "none";
  if (auto* h = dynamic_cast<const faiss::IndexHNSWFlat*>(index_.get())) {
    // M is the neighbour count of the upper levels (level 0 keeps 2 * M).
    int m = static_cast<int>(h->hnsw.nb_neighbors(1));
    return fmt::format("hnsw M={} efConstruction={} efSearch={}", m, h->hnsw.efConstruction, h->hnsw.efSearch);
  }
  if (auto* ivf = dynamic_cast<const faiss::IndexIVFPQ*>(index_.get())) {
    return fmt::format("ivfpq nlist={} m={} nbits={} nprobe={}", ivf->nlist, ivf->pq.M, ivf->pq.nbits, ivf->nprobe);
  }
  if (auto* ivf = dynamic_cast<const faiss::IndexIVFFlat*>(index_.get())) {
    return fmt::format("ivf nlist={} nprobe={}", ivf->nlist, ivf->nprobe);
  }
  return "flat (exact inner product)";
}

int64_t normalize_rows(float* x, int64_t n, int dim) {
  int64_t zeros = 0;
  for (int64_t i = 0; i < n; ++i) {
    float* r = x + i * dim;
    double s = 0;
    for (int j = 0; j < dim; ++j) s += static_cast<double>(r[j]) * r[j];
    if (s <= 0) {
      ++zeros;
      continue;
    }
    float inv = static_cast<float>(1.0 / std::sqrt(s));
    for (int j = 0; j < dim; ++j) r[j] *= inv;
  }
  return zeros;
}

}  // namespace xling::index
