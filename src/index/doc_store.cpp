#include "index/doc_store.hpp"

#include <chrono>
#include <filesystem>

#include <fmt/format.h>
#include <sqlite3.h>

#include "xling/errors.hpp"

namespace xling::index {
namespace {

// A prepared statement, finalised on scope exit.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql, const std::string& path) : path_(path) {
    if (sqlite3_prepare_v2(db, sql, -1, &s_, nullptr) != SQLITE_OK) {
      throw IoError(fmt::format("{}: {} (document store)", path, sqlite3_errmsg(db)));
    }
  }
  ~Stmt() { sqlite3_finalize(s_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  void bind(int i, int64_t v) { sqlite3_bind_int64(s_, i, v); }
  void bind(int i, const std::string& v) { sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT); }
  void bind_null(int i) { sqlite3_bind_null(s_, i); }
  int step() { return sqlite3_step(s_); }
  void reset() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
  int64_t i64(int c) const { return sqlite3_column_int64(s_, c); }
  bool null(int c) const { return sqlite3_column_type(s_, c) == SQLITE_NULL; }
  std::string text(int c) const {
    auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s_, c));
    return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(s_, c))) : std::string();
  }

 private:
  sqlite3_stmt* s_ = nullptr;
  std::string path_;
};

constexpr const char* kSchema = R"(
CREATE TABLE docs(pos INTEGER PRIMARY KEY, id TEXT UNIQUE NOT NULL, text TEXT NOT NULL, fields TEXT,
                  input INTEGER, offset INTEGER);
CREATE TABLE inputs(n INTEGER PRIMARY KEY, path TEXT NOT NULL, added TEXT NOT NULL);
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
)";

Document row_to_doc(const Stmt& s) {
  Document d;
  d.position = s.i64(0);
  d.id = s.text(1);
  d.text = s.text(2);
  d.fields = s.null(3) ? "" : s.text(3);
  d.input = s.null(4) ? -1 : s.i64(4);
  d.offset = s.null(5) ? -1 : s.i64(5);
  return d;
}

}  // namespace

DocStore DocStore::open(const std::string& path, bool writable, bool create) {
  if (create && std::filesystem::exists(path)) throw IoError(fmt::format("{}: already exists", path));
  if (!create && !std::filesystem::is_regular_file(path)) {
    throw IoError(fmt::format("{}: missing document store (not an xling index, or an incomplete one)", path));
  }
  DocStore s;
  s.path_ = path;
  int flags = writable ? SQLITE_OPEN_READWRITE : SQLITE_OPEN_READONLY;
  if (create) flags |= SQLITE_OPEN_CREATE;
  if (sqlite3_open_v2(path.c_str(), &s.db_, flags | SQLITE_OPEN_NOMUTEX, nullptr) != SQLITE_OK) {
    std::string msg = s.db_ ? sqlite3_errmsg(s.db_) : "cannot open";
    throw IoError(fmt::format("{}: {} (document store)", path, msg));
  }
  sqlite3_busy_timeout(s.db_, 10000);
  if (writable) {
    s.exec("PRAGMA journal_mode=WAL");
    s.exec("PRAGMA synchronous=FULL");
  }
  if (create) s.exec(kSchema);
  // A file that is not this schema fails here with a clear message rather than at first use.
  try {
    Stmt check(s.db_, "SELECT pos, id, text, fields, input, offset FROM docs LIMIT 0", path);
  } catch (const IoError&) {
    throw IoError(fmt::format("{}: not an xling document store (no docs table of the expected shape)", path));
  }
  return s;
}

void DocStore::close() noexcept {
  if (insert_) sqlite3_finalize(insert_);
  insert_ = nullptr;
  if (db_) {
    if (in_transaction_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    sqlite3_close_v2(db_);
  }
  db_ = nullptr;
  in_transaction_ = false;
}

DocStore::~DocStore() { close(); }

DocStore::DocStore(DocStore&& o) noexcept
    : db_(o.db_), insert_(o.insert_), path_(std::move(o.path_)), in_transaction_(o.in_transaction_) {
  o.db_ = nullptr;
  o.insert_ = nullptr;
  o.in_transaction_ = false;
}

DocStore& DocStore::operator=(DocStore&& o) noexcept {
  if (this != &o) {
    close();
    db_ = o.db_;
    insert_ = o.insert_;
    o.insert_ = nullptr;
    path_ = std::move(o.path_);
    in_transaction_ = o.in_transaction_;
    o.db_ = nullptr;
    o.in_transaction_ = false;
  }
  return *this;
}

void DocStore::exec(const char* sql) const {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "error";
    sqlite3_free(err);
    throw IoError(fmt::format("{}: {} (document store)", path_, msg));
  }
}

void DocStore::begin() {
  exec("BEGIN IMMEDIATE");
  in_transaction_ = true;
}

void DocStore::commit() {
  exec("COMMIT");
  in_transaction_ = false;
}

void DocStore::rollback() {
  if (!in_transaction_) return;
  in_transaction_ = false;
  exec("ROLLBACK");
}

void DocStore::savepoint(const char* name) { exec(fmt::format("SAVEPOINT {}", name).c_str()); }
void DocStore::release(const char* name) { exec(fmt::format("RELEASE {}", name).c_str()); }
void DocStore::rollback_to(const char* name) {
  exec(fmt::format("ROLLBACK TO {}", name).c_str());
  exec(fmt::format("RELEASE {}", name).c_str());
}
void DocStore::checkpoint() { exec("PRAGMA wal_checkpoint(TRUNCATE)"); }

void DocStore::insert(const Document& d) {
  if (!insert_ &&
      sqlite3_prepare_v2(db_, "INSERT INTO docs(pos, id, text, fields, input, offset) VALUES(?, ?, ?, ?, ?, ?)", -1,
                         &insert_, nullptr) != SQLITE_OK) {
    throw IoError(fmt::format("{}: {} (document store)", path_, sqlite3_errmsg(db_)));
  }
  sqlite3_stmt* s = insert_;
  sqlite3_reset(s);
  sqlite3_clear_bindings(s);
  sqlite3_bind_int64(s, 1, d.position);
  sqlite3_bind_text(s, 2, d.id.data(), static_cast<int>(d.id.size()), SQLITE_STATIC);
  sqlite3_bind_text(s, 3, d.text.data(), static_cast<int>(d.text.size()), SQLITE_STATIC);
  if (!d.fields.empty()) sqlite3_bind_text(s, 4, d.fields.data(), static_cast<int>(d.fields.size()), SQLITE_STATIC);
  if (d.input >= 0) sqlite3_bind_int64(s, 5, d.input);
  if (d.offset >= 0) sqlite3_bind_int64(s, 6, d.offset);
  int rc = sqlite3_step(s);
  sqlite3_reset(s);
  sqlite3_clear_bindings(s);  // the SQLITE_STATIC texts are the caller's
  if (rc == SQLITE_CONSTRAINT) {
    auto other = find(d.id);
    if (other) {
      throw InvalidArgument(fmt::format("duplicate id '{}' (already used by document {} of the index)", d.id, *other + 1));
    }
    throw InvalidArgument(fmt::format("position {} is already used in {}", d.position, path_));
  }
  if (rc != SQLITE_DONE) throw IoError(fmt::format("{}: {} (inserting document '{}')", path_, sqlite3_errmsg(db_), d.id));
}

int64_t DocStore::add_input(const std::string& path) {
  auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  Stmt s(db_, "INSERT INTO inputs(path, added) VALUES(?, ?)", path_);
  s.bind(1, path);
  s.bind(2, fmt::format("{}", static_cast<int64_t>(now)));
  if (s.step() != SQLITE_DONE) throw IoError(fmt::format("{}: {}", path_, sqlite3_errmsg(db_)));
  return sqlite3_last_insert_rowid(db_);
}

std::optional<Document> DocStore::get(int64_t position) const {
  Stmt s(db_, "SELECT pos, id, text, fields, input, offset FROM docs WHERE pos = ?", path_);
  s.bind(1, position);
  if (s.step() == SQLITE_ROW) return row_to_doc(s);
  return std::nullopt;
}

std::vector<Document> DocStore::get(const std::vector<int64_t>& positions) const {
  std::vector<Document> out(positions.size());
  Stmt s(db_, "SELECT pos, id, text, fields, input, offset FROM docs WHERE pos = ?", path_);
  for (std::size_t i = 0; i < positions.size(); ++i) {
    if (positions[i] < 0) continue;
    s.bind(1, positions[i]);
    if (s.step() == SQLITE_ROW) out[i] = row_to_doc(s);
    s.reset();
  }
  return out;
}

std::vector<Document> DocStore::range(int64_t start, int64_t n) const {
  std::vector<Document> out;
  Stmt s(db_, "SELECT pos, id, text, fields, input, offset FROM docs WHERE pos >= ? AND pos < ? ORDER BY pos", path_);
  s.bind(1, start);
  s.bind(2, start + n);
  while (s.step() == SQLITE_ROW) out.push_back(row_to_doc(s));
  return out;
}

std::optional<int64_t> DocStore::find(const std::string& id) const {
  Stmt s(db_, "SELECT pos FROM docs WHERE id = ?", path_);
  s.bind(1, id);
  if (s.step() == SQLITE_ROW) return s.i64(0);
  return std::nullopt;
}

int64_t DocStore::count() const {
  Stmt s(db_, "SELECT COUNT(*) FROM docs", path_);
  s.step();
  return s.i64(0);
}

int64_t DocStore::max_position() const {
  Stmt s(db_, "SELECT MAX(pos) FROM docs", path_);
  if (s.step() != SQLITE_ROW || s.null(0)) return -1;
  return s.i64(0);
}

void DocStore::erase_from(int64_t position) {
  Stmt s(db_, "DELETE FROM docs WHERE pos >= ?", path_);
  s.bind(1, position);
  if (s.step() != SQLITE_DONE) throw IoError(fmt::format("{}: {}", path_, sqlite3_errmsg(db_)));
}

std::vector<std::string> DocStore::inputs() const {
  std::vector<std::string> out;
  Stmt s(db_, "SELECT path FROM inputs ORDER BY n", path_);
  while (s.step() == SQLITE_ROW) out.push_back(s.text(0));
  return out;
}

std::optional<std::string> DocStore::meta(const std::string& key) const {
  Stmt s(db_, "SELECT value FROM meta WHERE key = ?", path_);
  s.bind(1, key);
  if (s.step() == SQLITE_ROW) return s.text(0);
  return std::nullopt;
}

void DocStore::set_meta(const std::string& key, const std::string& value) {
  Stmt s(db_, "INSERT INTO meta(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value", path_);
  s.bind(1, key);
  s.bind(2, value);
  if (s.step() != SQLITE_DONE) throw IoError(fmt::format("{}: {}", path_, sqlite3_errmsg(db_)));
}

}  // namespace xling::index
