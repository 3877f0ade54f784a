// Tokenizer of xling's Jinja subset, configured as transformers configures jinja2 for chat
// templates: trim_blocks and lstrip_blocks on, keep_trailing_newline off, '-' and '+'
// whitespace control on every tag, newlines normalized to '\n'.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace xling::tokenize::jinja {

enum class TokenType { kText, kVarBegin, kVarEnd, kBlockBegin, kBlockEnd, kName, kString, kInt, kFloat, kOp, kEof };

struct Token {
  TokenType type;
  std::string text;  // data, name, operator, or the decoded string literal
  std::int64_t int_value = 0;
  double float_value = 0;
  std::size_t pos = 0;  // byte offset in the normalized source
};

// The source as jinja2 lexes it: "\r\n" and "\r" become "\n"; one trailing newline is dropped.
std::string normalize_source(std::string_view source);

// `source` must be normalized. Throws TemplateError ("... at line L, column C").
std::vector<Token> lex(const std::string& source);

// "line L, column C" (1-based; column in code points) of a byte offset of `source`.
std::string describe_position(const std::string& source, std::size_t pos);

}  // namespace xling::tokenize::jinja
