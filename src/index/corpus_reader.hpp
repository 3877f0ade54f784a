// Streams the documents of a corpus file, one record at a time (never the whole file in memory):
//   .jsonl   one JSON object per line: the id field (default "id", or "_id" as in MTEB/BEIR
//            corpora when "id" is absent), the text field (default "text"), optionally a title
//            field prepended as "title text" (MTEB's convention); the other fields are kept as
//            the document's JSON `fields`. An id may be a string or an integer.
//   other    plain text, one document per line; the id is the line number (from 1).
// A blank line is an empty document with its line number as id. Errors name file:line:
// invalid UTF-8, a line that is not a JSON object, a missing or non-string text, a missing id.
#pragma once

#include <cstdint>
#include <fstream>
#include <string>

#include "index/doc_store.hpp"

namespace xling::index {

struct CorpusFormat {
  std::string id_field = "id";
  std::string text_field = "text";
  std::string title_field;  // "" = none; "title" for MTEB corpora
};

class CorpusReader {
 public:
  CorpusReader(std::string path, CorpusFormat format);  // IoError when unreadable
  // The next document (position unset; offset = its byte offset); false at the end.
  bool next(Document& doc);
  int64_t line() const { return line_; }  // line number of the last document returned
  uint64_t bytes_read() const { return offset_; }
  uint64_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  CorpusFormat format_;
  std::ifstream in_;
  bool jsonl_ = false;
  int64_t line_ = 0;
  uint64_t offset_ = 0, size_ = 0;
};

}  // namespace xling::index
