#include "index/corpus_index.hpp"

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <map>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <fmt/format.h>

#include "core/format.hpp"

#include "xling/errors.hpp"

namespace fs = std::filesystem;

namespace xling::index {
namespace {

constexpr const char* kStoreFile = "docs.sqlite";
constexpr const char* kFormat = "xling-index-1";

std::string vectors_file(int64_t generation) { return fmt::format("vectors.{}.faiss", generation); }

int64_t to_i64(const std::optional<std::string>& v, const std::string& key, const std::string& dir) {
  if (!v) throw IoError(fmt::format("{}: the index settings lack '{}' (incomplete or foreign index)", dir, key));
  try {
    std::size_t used = 0;
    long long x = std::stoll(*v, &used);
    if (used != v->size()) throw std::invalid_argument("trailing");
    return x;
  } catch (const std::exception&) {
    throw IoError(fmt::format("{}: index setting '{}' is not an integer: '{}'", dir, key, *v));
  }
}

void fsync_dir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

std::string parent_of(const std::string& dir) {
  auto p = fs::absolute(fs::path(dir)).lexically_normal();
  if (!p.has_filename()) p = p.parent_path();
  return p.parent_path().string();
}

void write_settings(DocStore& docs, const IndexSettings& s) {
  docs.set_meta("format", kFormat);
  docs.set_meta("model", s.model);
  docs.set_meta("model_fingerprint", s.model_fingerprint);
  docs.set_meta("doc_prompt", s.doc_prompt);
  docs.set_meta("query_prompt", s.query_prompt);
  docs.set_meta("pooling", s.pooling);
  docs.set_meta("dim", std::to_string(s.dim));
}

IndexInfo read_info(const DocStore& docs, const std::string& dir) {
  IndexInfo info;
  info.dir = dir;
  auto format = docs.meta("format");
  if (!format || *format != kFormat) {
    throw IoError(fmt::format("{}: not an xling index (format '{}', expected '{}')", dir, format.value_or(""), kFormat));
  }
  info.model = docs.meta("model").value_or("");
  info.model_fingerprint = docs.meta("model_fingerprint").value_or("");
  info.doc_prompt = docs.meta("doc_prompt").value_or("");
  info.query_prompt = docs.meta("query_prompt").value_or("");
  info.pooling = docs.meta("pooling").value_or("");
  info.dim = static_cast<int>(to_i64(docs.meta("dim"), "dim", dir));
  info.count = to_i64(docs.meta("count"), "count", dir);
  info.generation = to_i64(docs.meta("generation"), "generation", dir);
  info.kind = parse_index_kind(docs.meta("kind").value_or("?"));
  info.created = docs.meta("created").value_or("");
  info.updated = docs.meta("updated").value_or("");
  info.inputs = docs.inputs();
  return info;
}

void fill_sizes(IndexInfo& info) {
  std::error_code ec;
  auto v = fs::file_size(fs::path(info.dir) / vectors_file(info.generation), ec);
  info.vector_bytes = ec ? 0 : static_cast<int64_t>(v);
  int64_t store = 0;
  for (const char* suffix : {"", "-wal"}) {
    auto n = fs::file_size(fs::path(info.dir) / (std::string(kStoreFile) + suffix), ec);
    if (!ec) store += static_cast<int64_t>(n);
  }
  info.store_bytes = store;
}

// The committed vectors must agree with the committed documents.
void check_consistent(const IndexInfo& info, const VectorIndex& v, const DocStore& docs) {
  if (v.size() != info.count) {
    throw IoError(fmt::format("{}: {} holds {} vectors but the index records {} documents", info.dir,
                              vectors_file(info.generation), v.size(), info.count));
  }
  if (v.dim() != info.dim) {
    throw IoError(fmt::format("{}: vectors have dimension {}, the index records {}", info.dir, v.dim(), info.dim));
  }
  if (docs.max_position() + 1 != info.count) {
    throw IoError(fmt::format("{}: the document store ends at position {}, the index records {} documents", info.dir,
                              docs.max_position() + 1, info.count));
  }
}

VectorIndex load_vectors(const std::string& dir, int64_t generation) {
  auto path = (fs::path(dir) / vectors_file(generation)).string();
  if (!fs::exists(path)) throw IoError(fmt::format("{}: missing vectors file (the index is damaged)", path));
  return VectorIndex::load(path);
}

}  // namespace

void crash_point(const char* point) {
  const char* v = std::getenv("XLING_INDEX_KILL_AT");
  if (v && std::string(v) == point) std::raise(SIGKILL);
}

// ------------------------------------------------------------------ reading

bool CorpusIndex::looks_like_index(const std::string& dir) { return fs::is_regular_file(fs::path(dir) / kStoreFile); }

CorpusIndex CorpusIndex::open(const std::string& dir) {
  if (!fs::is_directory(dir)) throw IoError(fmt::format("{}: no such index directory", dir));
  if (!looks_like_index(dir)) {
    throw IoError(fmt::format("{}: not an xling index (no {}; build one with `xling index build`)", dir, kStoreFile));
  }
  // A reader opens read-write when it may (SQLite needs the -shm file of a WAL database) but never writes.
  bool writable = ::access(dir.c_str(), W_OK) == 0 && ::access((fs::path(dir) / kStoreFile).c_str(), W_OK) == 0;
  CorpusIndex idx;
  idx.docs_ = DocStore::open((fs::path(dir) / kStoreFile).string(), writable);
  // A concurrent append may commit and delete the file this reader was about to open: re-read once.
  for (int attempt = 0;; ++attempt) {
    idx.info_ = read_info(idx.docs_, dir);
    try {
      idx.vectors_ = load_vectors(dir, idx.info_.generation);
      break;
    } catch (const IoError&) {
      if (attempt > 0) throw;
    }
  }
  check_consistent(idx.info_, idx.vectors_, idx.docs_);
  idx.info_.describe = idx.vectors_.describe();
  fill_sizes(idx.info_);
  return idx;
}

std::vector<std::vector<Hit>> CorpusIndex::search(const float* q, int64_t nq, int64_t k, const SearchParams& params) const {
  if (nq < 0) throw InvalidArgument("negative query count");
  std::vector<float> qn(q, q + nq * info_.dim);
  normalize_rows(qn.data(), nq, info_.dim);
  auto nb = vectors_.search(qn.data(), nq, k, params);
  auto docs = docs_.get(nb.positions);
  std::vector<std::vector<Hit>> out(static_cast<std::size_t>(nq));
  for (int64_t i = 0; i < nq; ++i) {
    for (int64_t j = 0; j < k; ++j) {
      auto slot = static_cast<std::size_t>(i * k + j);
      if (nb.positions[slot] < 0) continue;
      if (docs[slot].position < 0) {
        throw IoError(fmt::format("{}: vector {} has no document (the index is damaged)", info_.dir, nb.positions[slot]));
      }
      out[static_cast<std::size_t>(i)].push_back(Hit{nb.scores[slot], std::move(docs[slot])});
    }
  }
  return out;
}

// ------------------------------------------------------------------ writing

int64_t IndexWriterBase::add_input(const std::string& path) { return docs_.add_input(path); }

void IndexWriterBase::add(std::vector<Document>& docs, float* vectors) {
  if (docs.empty()) return;
  // Documents and vectors together or neither: the vectors are added last, inside the savepoint.
  docs_.savepoint("add_batch");
  try {
    int64_t pos = next_position_;
    for (auto& d : docs) {
      d.position = pos++;
      docs_.insert(d);
    }
    normalize_rows(vectors, static_cast<int64_t>(docs.size()), settings_.dim);
    vectors_.add(vectors, static_cast<int64_t>(docs.size()));
  } catch (...) {
    docs_.rollback_to("add_batch");
    throw;
  }
  docs_.release("add_batch");
  next_position_ += static_cast<int64_t>(docs.size());
}

IndexBuilder::IndexBuilder(std::string dir, IndexSettings settings, bool overwrite)
    : dir_(std::move(dir)), overwrite_(overwrite) {
  settings_ = std::move(settings);
  if (settings_.dim <= 0) throw InvalidArgument(fmt::format("index dimension must be positive, got {}", settings_.dim));
  while (dir_.size() > 1 && dir_.back() == '/') dir_.pop_back();
  if (fs::exists(dir_) && !overwrite_) {
    throw IoError(fmt::format("{}: already exists (use `xling index add` to append, or --overwrite)", dir_));
  }
  if (fs::exists(dir_) && !CorpusIndex::looks_like_index(dir_) && !(fs::is_directory(dir_) && fs::is_empty(dir_))) {
    throw IoError(fmt::format("{}: exists and is not an xling index; refusing to replace it", dir_));
  }
  auto parent = parent_of(dir_);
  if (!fs::is_directory(parent)) throw IoError(fmt::format("{}: parent folder {} does not exist", dir_, parent));
  partial_ = fmt::format("{}.partial-{}", dir_, ::getpid());
  fs::remove_all(partial_);
  fs::create_directory(partial_);
  docs_ = DocStore::open((fs::path(partial_) / kStoreFile).string(), true, true);
  docs_.begin();
  vectors_ = VectorIndex::flat(settings_.dim);
}

IndexBuilder::~IndexBuilder() {
  if (!finished_) {
    docs_ = DocStore();
    std::error_code ec;
    fs::remove_all(partial_, ec);
  }
}

void IndexBuilder::start_from(VectorIndex empty) {
  if (next_position_ != 0) throw InvalidArgument("start_from: documents were already added");
  if (empty.dim() != settings_.dim) {
    throw InvalidArgument(fmt::format("template index has dimension {}, the model embeds {}", empty.dim(), settings_.dim));
  }
  if (empty.size() != 0) empty = empty.empty_like();
  vectors_ = std::move(empty);
}

IndexInfo IndexBuilder::finish(std::optional<IndexKind> kind, const BuildParams& params) {
  if (next_position_ == 0) throw InvalidArgument(fmt::format("{}: the corpus is empty: no documents to index", dir_));
  IndexKind k = kind.value_or(default_index_kind(next_position_));
  if (k != vectors_.kind()) {
    if (vectors_.kind() != IndexKind::kFlat) {
      throw InvalidArgument(fmt::format("cannot convert a {} index to {}", index_kind_name(vectors_.kind()), index_kind_name(k)));
    }
    auto all = vectors_.vectors(0, vectors_.size());
    vectors_ = VectorIndex();  // frees the flat copy before the new index grows
    vectors_ = VectorIndex::build(k, all.data(), next_position_, settings_.dim, params);
  }
  vectors_.save((fs::path(partial_) / vectors_file(1)).string());
  write_settings(docs_, settings_);
  auto now = core::utc_now_iso();
  docs_.set_meta("kind", index_kind_name(k));
  docs_.set_meta("count", std::to_string(next_position_));
  docs_.set_meta("generation", "1");
  docs_.set_meta("created", now);
  docs_.set_meta("updated", now);
  docs_.commit();
  docs_.checkpoint();
  docs_ = DocStore();
  fsync_dir(partial_);
  std::string old;
  if (fs::exists(dir_)) {
    old = fmt::format("{}.old-{}", dir_, ::getpid());
    fs::rename(dir_, old);
  }
  fs::rename(partial_, dir_);
  fsync_dir(parent_of(dir_));
  finished_ = true;
  if (!old.empty()) fs::remove_all(old);
  return CorpusIndex::open(dir_).info();
}

IndexAppender::IndexAppender(const std::string& dir) : dir_(dir) {
  if (!fs::is_directory(dir) || !CorpusIndex::looks_like_index(dir)) {
    throw IoError(fmt::format("{}: not an xling index (build one with `xling index build`)", dir));
  }
  auto lock = (fs::path(dir) / ".lock").string();
  lock_fd_ = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd_ < 0) throw IoError(fmt::format("{}: cannot create the writer lock", lock));
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    ::close(lock_fd_);
    lock_fd_ = -1;
    throw IoError(fmt::format("{}: another process is writing this index", dir));
  }
  docs_ = DocStore::open((fs::path(dir) / kStoreFile).string(), true);
  info_ = read_info(docs_, dir);
  vectors_ = load_vectors(dir, info_.generation);
  check_consistent(info_, vectors_, docs_);
  info_.describe = vectors_.describe();
  // Strays of an interrupted append: vector files the committed state does not name.
  for (const auto& e : fs::directory_iterator(dir)) {
    auto name = e.path().filename().string();
    bool vec = name.rfind("vectors.", 0) == 0 && name != vectors_file(info_.generation);
    bool tmp = name.find(".tmp") != std::string::npos;  // AtomicFile temp files
    if (vec || tmp) fs::remove(e.path());
  }
  settings_ = info_;
  next_position_ = info_.count;
  docs_.begin();
}

IndexAppender::~IndexAppender() {
  if (!committed_) {
    try {
      docs_.rollback();
    } catch (...) {
    }
  }
  docs_ = DocStore();
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

IndexInfo IndexAppender::commit() {
  if (committed_) throw InvalidArgument("index append committed twice");
  if (next_position_ == info_.count) {
    docs_.rollback();
    committed_ = true;
    return info_;
  }
  int64_t gen = info_.generation + 1;
  vectors_.save((fs::path(dir_) / vectors_file(gen)).string());
  crash_point("append-before-commit");
  docs_.set_meta("count", std::to_string(next_position_));
  docs_.set_meta("generation", std::to_string(gen));
  docs_.set_meta("updated", core::utc_now_iso());
  docs_.commit();
  committed_ = true;
  crash_point("append-after-commit");
  std::error_code ec;
  fs::remove(fs::path(dir_) / vectors_file(info_.generation), ec);
  docs_.checkpoint();
  info_.count = next_position_;
  info_.generation = gen;
  return CorpusIndex::open(dir_).info();
}

// ------------------------------------------------------------------ merging

IndexInfo merge_indexes(const std::vector<std::string>& shards, const std::string& out, bool overwrite,
                        std::optional<IndexKind> kind, const BuildParams& params) {
  if (shards.empty()) throw InvalidArgument("index merge: no shards given");
  std::vector<CorpusIndex> parts;
  for (const auto& s : shards) parts.push_back(CorpusIndex::open(s));
  const auto& first = parts.front().info();
  for (std::size_t i = 1; i < parts.size(); ++i) {
    const auto& o = parts[i].info();
    if (o.model_fingerprint != first.model_fingerprint) {
      throw InvalidArgument(fmt::format("index merge: {} was built with model {} ({}), {} with {} ({})", o.dir, o.model,
                                        o.model_fingerprint.substr(0, 12), first.dir, first.model,
                                        first.model_fingerprint.substr(0, 12)));
    }
    if (o.dim != first.dim || o.kind != first.kind || o.doc_prompt != first.doc_prompt || o.pooling != first.pooling) {
      throw InvalidArgument(fmt::format("index merge: {} ({} dim {}, prompt '{}') does not match {} ({} dim {}, prompt '{}')",
                                        o.dir, index_kind_name(o.kind), o.dim, o.doc_prompt, first.dir,
                                        index_kind_name(first.kind), first.dim, first.doc_prompt));
    }
  }
  IndexSettings settings = first;
  IndexBuilder builder(out, settings, overwrite);
  const IndexKind target = kind.value_or(first.kind);
  const bool rebuild = target != first.kind;  // collect flat, convert in finish()
  if (!rebuild) builder.start_from(parts.front().vectors().empty_like());
  for (auto& part : parts) {
    std::map<int64_t, int64_t> input_map;
    auto inputs = part.docs().inputs();
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      input_map[static_cast<int64_t>(i + 1)] = builder.add_input(inputs[i]);
    }
    const int64_t chunk = 20000;
    for (int64_t s = 0; s < part.info().count; s += chunk) {
      auto docs = part.docs().range(s, std::min(chunk, part.info().count - s));
      builder.docs_.savepoint("merge");
      for (auto& d : docs) {
        d.position = builder.next_position_++;
        if (d.input >= 0) d.input = input_map.count(d.input) ? input_map[d.input] : -1;
        try {
          builder.docs_.insert(d);
        } catch (const InvalidArgument& e) {
          throw InvalidArgument(fmt::format("index merge: {}: {}", part.info().dir, e.what()));
        }
      }
      builder.docs_.release("merge");
    }
    if (rebuild) {
      for (int64_t s = 0; s < part.info().count; s += chunk) {
        auto v = part.vectors().vectors(s, std::min(chunk, part.info().count - s));
        builder.vectors_.add(v.data(), static_cast<int64_t>(v.size() / static_cast<std::size_t>(first.dim)));
      }
    } else {
      VectorIndex v = VectorIndex::load((fs::path(part.info().dir) / vectors_file(part.info().generation)).string());
      builder.vectors_.merge(v);
    }
  }
  return builder.finish(target, params);
}

}  // namespace xling::index
