// The document store of a corpus index: one SQLite database (Debian libsqlite3, WAL mode)
// with the documents keyed by their vector position, plus the index's settings.
//
//   docs(pos INTEGER PRIMARY KEY, id TEXT UNIQUE NOT NULL, text TEXT NOT NULL,
//        fields TEXT,             -- the input record's other fields, as a JSON object (or NULL)
//        input INTEGER, offset INTEGER)  -- which input file (inputs.n) and the record's byte offset in it
//   inputs(n INTEGER PRIMARY KEY, path TEXT NOT NULL, added TEXT NOT NULL)
//   meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)
//
// Why SQLite rather than a memory-mapped file of our own: its transactions are the commit point
// of `xling index add` (docs/index.md), lookups by position cost microseconds (bench/), and the
// store is readable with any SQLite tool. Errors name the database file.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

struct sqlite3;
struct sqlite3_stmt;

namespace xling::index {

struct Document {
  int64_t position = -1;
  std::string id, text;
  std::string fields;  // JSON object text, "" when the record had no other fields
  int64_t input = -1, offset = -1;
};

class DocStore {
 public:
  // Opens (create: creates the schema; the file must not exist yet). Read-only stores are
  // opened with SQLITE_OPEN_READONLY.
  static DocStore open(const std::string& path, bool writable, bool create = false);
  DocStore() = default;
  ~DocStore();
  DocStore(DocStore&& o) noexcept;
  DocStore& operator=(DocStore&& o) noexcept;
  DocStore(const DocStore&) = delete;
  DocStore& operator=(const DocStore&) = delete;

  void begin();     // BEGIN IMMEDIATE
  void commit();
  void rollback();  // no-op outside a transaction
  // Nested scopes inside a transaction (SAVEPOINT name / RELEASE / ROLLBACK TO + RELEASE).
  void savepoint(const char* name);
  void release(const char* name);
  void rollback_to(const char* name);
  void checkpoint();  // folds the WAL into the database file (tidy directories after a build)

  // Throws InvalidArgument "duplicate id" naming the id and the position that holds it.
  void insert(const Document& doc);
  int64_t add_input(const std::string& path);  // returns inputs.n
  std::optional<Document> get(int64_t position) const;
  std::vector<Document> get(const std::vector<int64_t>& positions) const;  // missing positions: position -1
  std::vector<Document> range(int64_t start, int64_t n) const;             // positions [start, start + n), in order
  std::optional<int64_t> find(const std::string& id) const;
  int64_t count() const;
  int64_t max_position() const;  // -1 when empty
  void erase_from(int64_t position);  // rows with pos >= position
  std::vector<std::string> inputs() const;

  std::optional<std::string> meta(const std::string& key) const;
  void set_meta(const std::string& key, const std::string& value);

  const std::string& path() const { return path_; }

 private:
  void exec(const char* sql) const;
  void close() noexcept;
  sqlite3* db_ = nullptr;
  sqlite3_stmt* insert_ = nullptr;  // prepared once: bulk inserts
  std::string path_;
  bool in_transaction_ = false;
};

}  // namespace xling::index
