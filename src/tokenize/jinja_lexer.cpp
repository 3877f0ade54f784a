// Jinja tokenizer (see jinja_lexer.hpp). Whitespace rules follow jinja2's lexer: '{%-' strips
// all whitespace before the tag, '-%}' all whitespace after it; lstrip_blocks removes spaces
// and tabs between a line start and a block or comment tag; trim_blocks removes the first
// newline after a block or comment tag.
#include "tokenize/jinja_lexer.hpp"

#include <cctype>
#include <cmath>
#include <cstring>

#include <fmt/format.h>

#include "core/utf8.hpp"
#include "tokenize/jinja_value.hpp"

namespace xling::tokenize::jinja {
namespace {

bool is_space_at(std::string_view s, std::size_t i, std::size_t* len) {
  std::size_t j = i;
  char32_t c = next_codepoint(s, j);
  if (len) *len = j - i;
  return is_py_space(c);
}

// Python's str.rstrip() (all Unicode whitespace).
std::size_t rstrip_end(std::string_view s) {
  std::size_t end = s.size();
  while (end > 0) {
    std::size_t start = end - 1;
    while (start > 0 && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
    if (!is_space_at(s, start, nullptr)) break;
    end = start;
  }
  return end;
}

std::size_t skip_space(std::string_view s, std::size_t i) {
  std::size_t len = 0;
  while (i < s.size() && is_space_at(s, i, &len)) i += len;
  return i;
}

bool all_space(std::string_view s) {
  if (s.empty()) return false;
  std::size_t i = skip_space(s, 0);
  return i == s.size();
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

class Lexer {
 public:
  explicit Lexer(const std::string& src) : src_(src) {}

  std::vector<Token> run() {
    std::size_t pos = 0;
    bool line_starting = true;
    while (pos < src_.size()) {
      std::size_t start = find_tag(pos);
      if (start == std::string::npos) {
        emit_text(src_.substr(pos), pos);
        break;
      }
      char kind = src_[start + 1];  // '{', '%' or '#'
      char sign = start + 2 < src_.size() ? src_[start + 2] : '\0';
      bool has_sign = sign == '-' || sign == '+';
      std::string_view text(src_.data() + pos, start - pos);
      if (sign == '-') {
        text = text.substr(0, rstrip_end(text));
      } else if (sign != '+' && kind != '{') {
        std::size_t nl = text.rfind('\n');
        std::size_t l_pos = nl == std::string_view::npos ? 0 : nl + 1;
        if ((l_pos > 0 || line_starting) && all_space(text.substr(l_pos))) text = text.substr(0, l_pos);
      }
      emit_text(std::string(text), pos);
      std::size_t body = start + 2 + (has_sign ? 1 : 0);
      if (kind == '#') {
        pos = lex_comment(start, body);
      } else if (kind == '%' && is_raw(body)) {
        throw_at(start, "unsupported Jinja construct 'raw'");
      } else {
        pos = lex_tag(start, body, kind == '%');
      }
      line_starting = pos > 0 && src_[pos - 1] == '\n';
    }
    tokens_.push_back({TokenType::kEof, "", 0, 0, src_.size()});
    return std::move(tokens_);
  }

 private:
  [[noreturn]] void throw_at(std::size_t pos, const std::string& what) const {
    throw TemplateError(fmt::format("{} at {}", what, describe_position(src_, pos)));
  }

  std::size_t find_tag(std::size_t pos) const {
    while (true) {
      std::size_t p = src_.find('{', pos);
      if (p == std::string::npos || p + 1 >= src_.size()) return std::string::npos;
      char c = src_[p + 1];
      if (c == '{' || c == '%' || c == '#') return p;
      pos = p + 1;
    }
  }

  void emit_text(std::string text, std::size_t pos) {
    if (!text.empty()) tokens_.push_back({TokenType::kText, std::move(text), 0, 0, pos});
  }

  bool is_raw(std::size_t body) const {
    std::size_t i = skip_space(src_, body);
    return src_.compare(i, 3, "raw") == 0 && (i + 3 >= src_.size() || !(std::isalnum(static_cast<unsigned char>(src_[i + 3])) || src_[i + 3] == '_'));
  }

  // After a block or comment end: '-' eats all whitespace, '+' nothing, else one '\n'.
  std::size_t after_end(std::size_t end_pos, char sign) const {
    if (sign == '-') return skip_space(src_, end_pos);
    if (sign == '+') return end_pos;
    if (end_pos < src_.size() && src_[end_pos] == '\n') return end_pos + 1;
    return end_pos;
  }

  std::size_t lex_comment(std::size_t start, std::size_t body) {
    std::size_t e = src_.find("#}", body);
    if (e == std::string::npos) throw_at(start, "Missing end of comment tag");
    char sign = e > body && (src_[e - 1] == '-' || src_[e - 1] == '+') ? src_[e - 1] : '\0';
    return after_end(e + 2, sign);
  }

  std::size_t lex_tag(std::size_t start, std::size_t body, bool block) {
    tokens_.push_back({block ? TokenType::kBlockBegin : TokenType::kVarBegin, "", 0, 0, start});
    std::vector<char> balance;
    std::size_t i = body;
    const char* close = block ? "%}" : "}}";
    while (true) {
      i = skip_space(src_, i);
      if (i >= src_.size()) throw_at(start, block ? "unterminated block tag '{%' (missing '%}')" : "unterminated variable tag '{{' (missing '}}')");
      if (balance.empty()) {
        char sign = '\0';
        std::size_t at = i;
        if ((src_[i] == '-' || (block && src_[i] == '+')) && src_.compare(i + 1, 2, close) == 0) {
          sign = src_[i];
          at = i + 1;
        }
        if (src_.compare(at, 2, close) == 0) {
          tokens_.push_back({block ? TokenType::kBlockEnd : TokenType::kVarEnd, "", 0, 0, i});
          std::size_t end = at + 2;
          if (!block) return sign == '-' ? skip_space(src_, end) : end;
          return after_end(end, sign);
        }
      }
      i = lex_token(i, balance);
    }
  }

  std::size_t lex_token(std::size_t i, std::vector<char>& balance) {
    char c = src_[i];
    auto uc = static_cast<unsigned char>(c);
    if (std::isdigit(uc)) return lex_number(i);
    if (std::isalpha(uc) || c == '_' || uc >= 0x80) {
      std::size_t j = i;
      while (j < src_.size()) {
        auto d = static_cast<unsigned char>(src_[j]);
        if (std::isalnum(d) || d == '_') {
          ++j;
        } else if (d >= 0x80) {
          std::size_t k = j;
          char32_t cp = next_codepoint(src_, k);
          if (is_py_space(cp)) break;
          j = k;
        } else {
          break;
        }
      }
      tokens_.push_back({TokenType::kName, src_.substr(i, j - i), 0, 0, i});
      return j;
    }
    if (c == '\'' || c == '"') return lex_string(i);
    static const char* kTwo[] = {"//", "**", "==", "!=", "<=", ">="};
    for (const char* op : kTwo) {
      if (src_.compare(i, 2, op) == 0) {
        tokens_.push_back({TokenType::kOp, op, 0, 0, i});
        return i + 2;
      }
    }
    if (std::strchr("+-/*%~[](){}<>=.:|,;", c) == nullptr) throw_at(i, fmt::format("unexpected char '{}'", c));
    if (c == '(' || c == '[' || c == '{') balance.push_back(c == '(' ? ')' : c == '[' ? ']' : '}');
    if (c == ')' || c == ']' || c == '}') {
      if (balance.empty()) throw_at(i, fmt::format("unexpected '{}'", c));
      if (balance.back() != c) throw_at(i, fmt::format("unexpected '{}', expected '{}'", c, balance.back()));
      balance.pop_back();
    }
    tokens_.push_back({TokenType::kOp, std::string(1, c), 0, 0, i});
    return i + 1;
  }

  std::size_t lex_number(std::size_t i) {
    std::size_t j = i;
    auto digits = [&](std::size_t k) {
      std::size_t s = k;
      while (k < src_.size() && (std::isdigit(static_cast<unsigned char>(src_[k])) || (src_[k] == '_' && k > s))) ++k;
      return k;
    };
    j = digits(i);
    bool is_float = false;
    if (j + 1 < src_.size() && src_[j] == '.' && std::isdigit(static_cast<unsigned char>(src_[j + 1]))) {
      j = digits(j + 1);
      is_float = true;
    }
    if (j < src_.size() && (src_[j] == 'e' || src_[j] == 'E')) {
      std::size_t k = j + 1;
      if (k < src_.size() && (src_[k] == '+' || src_[k] == '-')) ++k;
      if (k < src_.size() && std::isdigit(static_cast<unsigned char>(src_[k]))) {
        j = digits(k);
        is_float = true;
      }
    }
    std::string lit;
    for (std::size_t k = i; k < j; ++k) {
      if (src_[k] != '_') lit.push_back(src_[k]);
    }
    Token t{is_float ? TokenType::kFloat : TokenType::kInt, lit, 0, 0, i};
    try {
      if (is_float) t.float_value = std::stod(lit);
      else t.int_value = std::stoll(lit);
    } catch (const std::exception&) {
      if (!is_float) throw_at(i, fmt::format("integer literal {} is too large", lit));
      t.float_value = HUGE_VAL;
    }
    tokens_.push_back(std::move(t));
    return j;
  }

  std::size_t lex_string(std::size_t i) {
    char q = src_[i];
    std::string out;
    std::size_t j = i + 1;
    while (true) {
      if (j >= src_.size()) throw_at(i, "unterminated string literal");
      char c = src_[j];
      if (c == q) break;
      if (c != '\\') {
        out.push_back(c);
        ++j;
        continue;
      }
      if (j + 1 >= src_.size()) throw_at(i, "unterminated string literal");
      char e = src_[j + 1];
      j += 2;
      switch (e) {
        case '\n': break;
        case '\\': out.push_back('\\'); break;
        case '\'': out.push_back('\''); break;
        case '"': out.push_back('"'); break;
        case 'a': out.push_back('\a'); break;
        case 'b': out.push_back('\b'); break;
        case 'f': out.push_back('\f'); break;
        case 'n': out.push_back('\n'); break;
        case 'r': out.push_back('\r'); break;
        case 't': out.push_back('\t'); break;
        case 'v': out.push_back('\v'); break;
        case 'x':
        case 'u':
        case 'U': {
          int n = e == 'x' ? 2 : e == 'u' ? 4 : 8;
          char32_t cp = 0;
          for (int k = 0; k < n; ++k) {
            int h = j + static_cast<std::size_t>(k) < src_.size() ? hex_value(src_[j + static_cast<std::size_t>(k)]) : -1;
            if (h < 0) throw_at(i, fmt::format("truncated \\{} escape in string literal", e));
            cp = cp * 16 + static_cast<char32_t>(h);
          }
          j += static_cast<std::size_t>(n);
          if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
            throw_at(i, "unsupported escape in string literal (surrogate or beyond U+10FFFF)");
          }
          core::append_utf8(out, cp);
          break;
        }
        case 'N': throw_at(i, "unsupported Jinja construct '\\N{...}' escape");
        default:
          if (e >= '0' && e <= '7') {
            char32_t cp = static_cast<char32_t>(e - '0');
            for (int k = 0; k < 2 && j < src_.size() && src_[j] >= '0' && src_[j] <= '7'; ++k, ++j) {
              cp = cp * 8 + static_cast<char32_t>(src_[j] - '0');
            }
            core::append_utf8(out, cp);
          } else {
            out.push_back('\\');
            --j;  // keep the escaped char itself
          }
      }
    }
    tokens_.push_back({TokenType::kString, std::move(out), 0, 0, i});
    return j + 1;
  }

  const std::string& src_;
  std::vector<Token> tokens_;
};

}  // namespace

std::string normalize_source(std::string_view source) {
  std::string out;
  out.reserve(source.size());
  for (std::size_t i = 0; i < source.size(); ++i) {
    if (source[i] == '\r') {
      out.push_back('\n');
      if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
    } else {
      out.push_back(source[i]);
    }
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

std::vector<Token> lex(const std::string& source) { return Lexer(source).run(); }

std::string describe_position(const std::string& source, std::size_t pos) {
  pos = std::min(pos, source.size());
  std::size_t line = 1, line_start = 0;
  for (std::size_t i = 0; i < pos; ++i) {
    if (source[i] == '\n') {
      ++line;
      line_start = i + 1;
    }
  }
  return fmt::format("line {}, column {}", line, codepoint_count(std::string_view(source).substr(line_start, pos - line_start)) + 1);
}

}  // namespace xling::tokenize::jinja
