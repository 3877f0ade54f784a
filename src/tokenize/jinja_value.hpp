// The dynamic values of xling's Jinja subset (chat templates): none, bool, int, float, string,
// list, dict, namespace, macro/function, and jinja2's default Undefined, with Python's
// semantics for truthiness, equality, ordering, str() and repr(), and transformers' tojson.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "xling/errors.hpp"

namespace xling::tokenize::jinja {

// A template that cannot be parsed or evaluated (syntax error, unsupported construct, type
// error, limits exceeded). The message says what and where ("... at line L, column C").
class TemplateError : public InvalidArgument {
 public:
  using InvalidArgument::InvalidArgument;
};

// The template called raise_exception(message): message() is the template's own text.
class TemplateRaised : public InvalidArgument {
 public:
  TemplateRaised(std::string message, const std::string& what) : InvalidArgument(what), message_(std::move(message)) {}
  const std::string& message() const { return message_; }

 private:
  std::string message_;
};

class Value;
using List = std::vector<Value>;
// Insertion-ordered string-keyed mapping (Python dicts keep insertion order; keys of JSON
// objects and template dict literals are strings).
struct Dict {
  std::vector<std::pair<std::string, Value>> items;
  const Value* find(std::string_view key) const;
  void set(std::string key, Value v);
};
struct Macro;  // defined by the renderer

class Value {
 public:
  enum class Kind { kUndefined, kNone, kBool, kInt, kFloat, kString, kList, kDict, kNamespace, kMacro, kFunction };

  Value() = default;  // Undefined
  static Value undefined(std::string hint = {});
  static Value none();
  static Value boolean(bool b);
  static Value integer(std::int64_t i);
  static Value number(double d);
  static Value string(std::string s);
  static Value list(List items, bool is_tuple = false);
  static Value dict(Dict d);
  static Value namespace_(Dict d);
  static Value macro(std::shared_ptr<const Macro> m);
  static Value function(std::string name);  // a global such as raise_exception or range
  static Value from_json(const nlohmann::ordered_json& j);

  Kind kind() const { return kind_; }
  bool is_undefined() const { return kind_ == Kind::kUndefined; }
  bool is_none() const { return kind_ == Kind::kNone; }
  bool is_bool() const { return kind_ == Kind::kBool; }
  bool is_int() const { return kind_ == Kind::kInt; }
  bool is_float() const { return kind_ == Kind::kFloat; }
  bool is_number() const { return kind_ == Kind::kInt || kind_ == Kind::kFloat || kind_ == Kind::kBool; }
  bool is_string() const { return kind_ == Kind::kString; }
  bool is_list() const { return kind_ == Kind::kList; }
  bool is_tuple() const { return kind_ == Kind::kList && tuple_; }
  bool is_dict() const { return kind_ == Kind::kDict; }
  bool is_namespace() const { return kind_ == Kind::kNamespace; }
  bool is_callable() const { return kind_ == Kind::kMacro || kind_ == Kind::kFunction; }

  bool as_bool() const { return b_; }
  std::int64_t as_int() const { return kind_ == Kind::kBool ? (b_ ? 1 : 0) : i_; }
  double as_double() const;  // int, bool or float
  const std::string& as_string() const { return s_; }  // string; the hint of an Undefined; a function's name
  const List& as_list() const { return *list_; }
  const Dict& as_dict() const { return *dict_; }
  Dict& namespace_dict() const { return *dict_; }  // namespaces are the only mutable values
  const std::shared_ptr<const Macro>& as_macro() const { return macro_; }

  bool truthy() const;
  std::string type_name() const;  // Python's: 'str', 'int', 'list', 'dict', 'NoneType', ...
  std::string str() const;        // Python str(); Undefined -> ""
  std::string repr() const;       // Python repr()
  std::size_t length() const;     // len(); code points for strings; throws for scalars

 private:
  Kind kind_ = Kind::kUndefined;
  bool b_ = false;
  bool tuple_ = false;
  std::int64_t i_ = 0;
  double f_ = 0;
  std::string s_;
  std::shared_ptr<const List> list_;
  std::shared_ptr<Dict> dict_;
  std::shared_ptr<const Macro> macro_;
};

// Python ==; int, float and bool compare numerically; dicts ignore order.
bool equals(const Value& a, const Value& b);
// Python <; throws TemplateError for unorderable types.
bool less(const Value& a, const Value& b);
// Python float repr: shortest round-trip digits, '1.0', '1e+20', 'inf', 'nan'.
std::string float_repr(double d);
// Python repr of a str (quotes and escapes as CPython chooses them).
std::string string_repr(std::string_view s);
// json.dumps(v, ensure_ascii, indent, separators, sort_keys) as transformers' tojson filter
// calls it; indent < 0 means None, indent_str (when set) is a string indent.
struct JsonOptions {
  bool ensure_ascii = false;
  int indent = -1;
  std::optional<std::string> indent_str;
  std::optional<std::pair<std::string, std::string>> separators;
  bool sort_keys = false;
};
std::string to_json(const Value& v, const JsonOptions& opt);

// Python's str.isspace() for one code point (str.strip() and regex \s use it).
bool is_py_space(char32_t c);
// The code point at s[i], advancing i; bounds-checked (a truncated sequence yields U+FFFD).
char32_t next_codepoint(std::string_view s, std::size_t& i);
std::size_t codepoint_count(std::string_view s);

}  // namespace xling::tokenize::jinja
