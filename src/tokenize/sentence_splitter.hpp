// Splitting a paragraph into sentences for document-level translation (`xling translate
// --sentence-split`), and joining the translations back. Rule-based, script-aware: a sentence
// ends at a terminal (. ! ? … and the full stops of CJK, Devanagari, Arabic, Ethiopic,
// Armenian, Burmese, ...) plus any closing quotes/brackets; Latin-style terminals need
// whitespace after them and no lowercase letter next (so "e.g. this" and "3.5" stay whole),
// and a single capital before "." (an initial) does not end a sentence. Torch-free.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace xling::tokenize {

struct SentenceSpan {
  std::string text;       // the sentence, without surrounding whitespace
  std::string separator;  // whitespace that followed it in the paragraph ("" for the last)
};

// Throws InvalidArgument (naming the byte offset) for invalid UTF-8. Whitespace-only input
// gives no sentences.
std::vector<SentenceSpan> split_sentences(std::string_view paragraph);

// Joins translated sentences with the original separators; where a separator was empty (CJK
// text) a space is used unless the previous translation ends with a full-width terminal.
std::string join_sentences(const std::vector<std::string>& translations, const std::vector<SentenceSpan>& spans);

}  // namespace xling::tokenize
