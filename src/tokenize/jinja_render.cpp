// Jinja evaluator (see jinja_render.hpp): scopes as jinja2 has them (a for-loop iteration and
// a macro call get their own scope; `if` does not), jinja2's default Undefined, the
// sandbox's attribute/item lookup, filters, tests and the str/dict methods chat templates use.
#include "tokenize/jinja_render.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <functional>
#include <limits>
#include <unordered_map>

#include <fmt/format.h>
#include <utf8proc.h>

#include "core/utf8.hpp"
#include "tokenize/jinja_lexer.hpp"
#include "tokenize/unicode.hpp"

namespace xling::tokenize::jinja {

struct Macro {
  const Stmt* def;
};

namespace {

// A TemplateError that already names its line and column.
class LocatedError : public TemplateError {
 public:
  using TemplateError::TemplateError;
};

[[noreturn]] void fail(const std::string& msg) { throw TemplateError(msg); }

[[noreturn]] void raise_undefined(const Value& v) {
  fail(v.as_string().empty() ? "undefined value" : v.as_string());
}

std::string cased_kind(const Value& v) {
  if (v.is_namespace()) return "Namespace object";
  return v.type_name() + " object";
}

// ------------------------------------------------------------------ unicode string helpers
std::u32string to_u32(std::string_view s) {
  std::u32string out;
  std::size_t i = 0;
  while (i < s.size()) out.push_back(next_codepoint(s, i));
  return out;
}
std::string from_u32(const std::u32string& s) {
  std::string out;
  for (char32_t c : s) core::append_utf8(out, c);
  return out;
}

bool is_cased(char32_t c) {
  auto cat = utf8proc_category(static_cast<utf8proc_int32_t>(c));
  return cat == UTF8PROC_CATEGORY_LU || cat == UTF8PROC_CATEGORY_LL || cat == UTF8PROC_CATEGORY_LT;
}
void append_upper(std::u32string& out, char32_t c) {
  if (c == U'\u00DF') {
    out += U"SS";
    return;
  }
  out.push_back(static_cast<char32_t>(utf8proc_toupper(static_cast<utf8proc_int32_t>(c))));
}
void append_lower(std::u32string& out, char32_t c) {
  std::vector<char32_t> tmp;
  to_lowercase(c, tmp);
  out.append(tmp.begin(), tmp.end());
}
void append_title(std::u32string& out, char32_t c) {
  out.push_back(static_cast<char32_t>(utf8proc_totitle(static_cast<utf8proc_int32_t>(c))));
}

std::string py_upper(std::string_view s) {
  std::u32string out;
  for (char32_t c : to_u32(s)) append_upper(out, c);
  return from_u32(out);
}
std::string py_lower(std::string_view s) {
  std::u32string out;
  for (char32_t c : to_u32(s)) append_lower(out, c);
  return from_u32(out);
}
std::string py_capitalize(std::string_view s) {
  std::u32string in = to_u32(s), out;
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (i == 0) append_title(out, in[i]);
    else append_lower(out, in[i]);
  }
  return from_u32(out);
}
std::string py_str_title(std::string_view s) {  // Python's str.title()
  std::u32string out;
  bool prev_cased = false;
  for (char32_t c : to_u32(s)) {
    if (prev_cased) append_lower(out, c);
    else append_title(out, c);
    prev_cased = is_cased(c);
  }
  return from_u32(out);
}
std::string jinja_title(std::string_view s) {  // jinja2's title filter: words split at [-\s(\{\[\<]+
  std::u32string in = to_u32(s), out;
  bool word_start = true;
  for (char32_t c : in) {
    bool sep = c == '-' || c == '(' || c == '{' || c == '[' || c == '<' || is_py_space(c);
    if (sep) {
      out.push_back(c);
      word_start = true;
    } else if (word_start) {
      append_upper(out, c);
      word_start = false;
    } else {
      append_lower(out, c);
    }
  }
  return from_u32(out);
}

std::string py_strip(std::string_view s, const Value* chars, bool left, bool right) {
  std::u32string in = to_u32(s);
  std::u32string set;
  bool use_set = chars && !chars->is_none() && !chars->is_undefined();
  if (use_set) {
    if (!chars->is_string()) fail("strip arg must be None or str");
    set = to_u32(chars->as_string());
  }
  auto strip_it = [&](char32_t c) { return use_set ? set.find(c) != std::u32string::npos : is_py_space(c); };
  std::size_t b = 0, e = in.size();
  if (left) {
    while (b < e && strip_it(in[b])) ++b;
  }
  if (right) {
    while (e > b && strip_it(in[e - 1])) --e;
  }
  return from_u32(in.substr(b, e - b));
}

std::string py_replace(const std::string& s, const std::string& old, const std::string& rep, std::int64_t count,
                       std::size_t limit) {
  std::string out;
  if (old.empty()) {
    // Python inserts `rep` between every code point (and at both ends).
    std::size_t i = 0;
    std::int64_t n = 0;
    while (true) {
      if (count < 0 || n < count) {
        out += rep;
        ++n;
      }
      if (i >= s.size()) break;
      std::size_t st = i;
      next_codepoint(s, i);
      out.append(s, st, i - st);
      if (out.size() > limit) fail("string result exceeds the output size limit");
    }
    return out;
  }
  std::size_t pos = 0;
  std::int64_t n = 0;
  while (count < 0 || n < count) {
    std::size_t f = s.find(old, pos);
    if (f == std::string::npos) break;
    out.append(s, pos, f - pos);
    out += rep;
    pos = f + old.size();
    ++n;
    if (out.size() > limit) fail("string result exceeds the output size limit");
  }
  out.append(s, pos, std::string::npos);
  return out;
}

Value py_split(const std::string& s, const Value* sep, std::int64_t maxsplit) {
  List parts;
  if (!sep || sep->is_none()) {
    std::u32string in = to_u32(s);
    std::size_t i = 0;
    while (true) {
      while (i < in.size() && is_py_space(in[i])) ++i;
      if (i >= in.size()) break;
      if (maxsplit >= 0 && static_cast<std::int64_t>(parts.size()) >= maxsplit) {
        std::size_t e = in.size();
        while (e > i && is_py_space(in[e - 1])) --e;
        parts.push_back(Value::string(from_u32(in.substr(i, e - i))));
        break;
      }
      std::size_t j = i;
      while (j < in.size() && !is_py_space(in[j])) ++j;
      parts.push_back(Value::string(from_u32(in.substr(i, j - i))));
      i = j;
    }
    return Value::list(std::move(parts));
  }
  if (!sep->is_string()) fail(fmt::format("must be str or None, not {}", sep->type_name()));
  const std::string& d = sep->as_string();
  if (d.empty()) fail("empty separator");
  std::size_t pos = 0;
  while (true) {
    std::size_t f = s.find(d, pos);
    if (f == std::string::npos || (maxsplit >= 0 && static_cast<std::int64_t>(parts.size()) >= maxsplit)) break;
    parts.push_back(Value::string(s.substr(pos, f - pos)));
    pos = f + d.size();
  }
  parts.push_back(Value::string(s.substr(pos)));
  return Value::list(std::move(parts));
}

// Python slice indices (PySlice_AdjustIndices) over a sequence of length n.
std::vector<std::size_t> slice_indices(std::int64_t n, const Value& a, const Value& b, const Value& c) {
  auto as_opt = [](const Value& v, const char* what) -> std::optional<std::int64_t> {
    if (v.is_none() || v.is_undefined()) return std::nullopt;
    if (!v.is_int() && !v.is_bool()) fail(fmt::format("slice {} must be an integer or None, not {}", what, v.type_name()));
    return v.as_int();
  };
  std::int64_t step = as_opt(c, "step").value_or(1);
  if (step == 0) fail("slice step cannot be zero");
  auto adjust = [&](std::optional<std::int64_t> v, std::int64_t def) {
    if (!v) return def;
    std::int64_t x = *v;
    if (x < 0) {
      x += n;
      if (x < 0) x = step < 0 ? -1 : 0;
    } else if (x >= n) {
      x = step < 0 ? n - 1 : n;
    }
    return x;
  };
  std::int64_t start = adjust(as_opt(a, "start"), step < 0 ? n - 1 : 0);
  std::int64_t stop = adjust(as_opt(b, "stop"), step < 0 ? -1 : n);
  std::vector<std::size_t> idx;
  if (step > 0) {
    for (std::int64_t i = start; i < stop; i += step) idx.push_back(static_cast<std::size_t>(i));
  } else {
    for (std::int64_t i = start; i > stop; i += step) idx.push_back(static_cast<std::size_t>(i));
  }
  return idx;
}

// Python int(str): optional sign, digits with single underscores, surrounding whitespace.
std::optional<std::int64_t> parse_py_int(const std::string& s, int base) {
  std::string t = py_strip(s, nullptr, true, true);
  if (t.empty() || base < 2 || base > 36) return std::nullopt;
  std::size_t i = 0;
  bool neg = false;
  if (t[0] == '+' || t[0] == '-') {
    neg = t[0] == '-';
    ++i;
  }
  if (i >= t.size()) return std::nullopt;
  std::int64_t v = 0;
  bool prev_digit = false;
  for (; i < t.size(); ++i) {
    char c = t[i];
    if (c == '_') {
      if (!prev_digit) return std::nullopt;
      prev_digit = false;
      continue;
    }
    int d = std::isdigit(static_cast<unsigned char>(c)) ? c - '0'
            : std::isalpha(static_cast<unsigned char>(c)) ? std::tolower(static_cast<unsigned char>(c)) - 'a' + 10
                                                           : 99;
    if (d >= base) return std::nullopt;
    if (__builtin_mul_overflow(v, base, &v) || __builtin_add_overflow(v, d, &v)) return std::nullopt;
    prev_digit = true;
  }
  if (!prev_digit) return std::nullopt;
  return neg ? -v : v;
}

std::optional<double> parse_py_float(const std::string& s) {
  std::string t = py_strip(s, nullptr, true, true);
  if (t.empty()) return std::nullopt;
  std::string low = py_lower(t);
  std::string body = (low[0] == '+' || low[0] == '-') ? low.substr(1) : low;
  double sign = low[0] == '-' ? -1.0 : 1.0;
  if (body == "inf" || body == "infinity") return sign * HUGE_VAL;
  if (body == "nan") return std::nan("");
  for (char c : body) {
    if (!(std::isdigit(static_cast<unsigned char>(c)) || c == '.' || c == 'e' || c == '+' || c == '-')) return std::nullopt;
  }
  try {
    std::size_t used = 0;
    double d = std::stod(t, &used);
    if (used != t.size()) return std::nullopt;
    return d;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

std::int64_t to_index(const Value& v, const char* what) {
  if (!v.is_int() && !v.is_bool()) fail(fmt::format("{} must be an integer, not {}", what, v.type_name()));
  return v.as_int();
}

// ------------------------------------------------------------------ scopes
struct Scope {
  Scope* parent = nullptr;
  std::vector<std::pair<std::string, Value>> vars;
  const Value* find(const std::string& name) const {
    for (const Scope* s = this; s; s = s->parent) {
      for (auto it = s->vars.rbegin(); it != s->vars.rend(); ++it) {
        if (it->first == name) return &it->second;
      }
    }
    return nullptr;
  }
  void set(const std::string& name, Value v) {
    for (auto& [k, old] : vars) {
      if (k == name) {
        old = std::move(v);
        return;
      }
    }
    vars.emplace_back(name, std::move(v));
  }
};

enum class Flow { kNormal, kBreak, kContinue };

using Args = std::vector<Value>;
using KwArgs = std::vector<std::pair<std::string, Value>>;

// Positional-or-keyword argument binding for filters, tests and methods.
struct Params {
  const Args& args;
  const KwArgs& kwargs;
  const char* what;
  const Value* get(std::size_t i, const char* name) const {
    if (i < args.size()) return &args[i];
    for (const auto& [k, v] : kwargs) {
      if (k == name) return &v;
    }
    return nullptr;
  }
  void check(std::initializer_list<const char*> names) const {
    if (args.size() > names.size()) {
      fail(fmt::format("{} takes at most {} argument(s) ({} given)", what, names.size(), args.size()));
    }
    for (const auto& [k, v] : kwargs) {
      bool ok = false;
      std::size_t i = 0;
      for (const char* n : names) {
        if (k == n) {
          ok = true;
          if (i < args.size()) fail(fmt::format("{} got multiple values for argument '{}'", what, k));
        }
        ++i;
      }
      if (!ok) fail(fmt::format("{} got an unexpected keyword argument '{}'", what, k));
    }
  }
};

class Renderer {
 public:
  Renderer(const Template& t, const Dict& vars, const RenderLimits& limits) : t_(t), vars_(vars), limits_(limits) {}

  std::string run() {
    Scope root;
    root_ = &root;
    out_ = &result_;
    exec_body(t_.body, root);
    return std::move(result_);
  }

 private:
  // ------------------------------------------------------------------ errors and limits
  [[noreturn]] void fail_at(std::size_t pos, const std::string& msg) const {
    throw LocatedError(fmt::format("{} at {}", msg, describe_position(t_.source, pos)));
  }

  void step(std::size_t pos) {
    if (++steps_ > limits_.max_steps) {
      fail_at(pos, fmt::format("template exceeded {} evaluation steps (an unbounded loop?)", limits_.max_steps));
    }
  }

  struct DepthGuard {
    DepthGuard(Renderer& r, std::size_t pos) : r_(r) {
      if (++r_.depth_ > r_.limits_.max_depth) {
        r_.fail_at(pos, fmt::format("template evaluation nested deeper than {} levels", r_.limits_.max_depth));
      }
    }
    ~DepthGuard() { --r_.depth_; }
    Renderer& r_;
  };

  void check_size(std::size_t n) const {
    if (n > limits_.max_output_bytes) {
      fail(fmt::format("template output exceeds the limit of {} bytes", limits_.max_output_bytes));
    }
  }

  void write(const std::string& s, std::size_t pos) {
    if (out_->size() + s.size() > limits_.max_output_bytes) {
      fail_at(pos, fmt::format("template output exceeds the limit of {} bytes", limits_.max_output_bytes));
    }
    out_->append(s);
  }

  // ------------------------------------------------------------------ statements
  Flow exec_body(const Body& body, Scope& scope) {
    for (const auto& s : body) {
      Flow f = exec(*s, scope);
      if (f != Flow::kNormal) return f;
    }
    return Flow::kNormal;
  }

  Flow exec(const Stmt& s, Scope& scope) {
    DepthGuard g(*this, s.pos);
    step(s.pos);
    try {
      return exec_inner(s, scope);
    } catch (const LocatedError&) {
      throw;
    } catch (const TemplateError& e) {
      fail_at(s.pos, e.what());
    }
  }

  Flow exec_inner(const Stmt& s, Scope& scope) {
    switch (s.kind) {
      case StmtKind::kText: write(s.text, s.pos); return Flow::kNormal;
      case StmtKind::kOutput: write(eval(*s.expr, scope).str(), s.pos); return Flow::kNormal;
      case StmtKind::kIf:
        for (const auto& [cond, body] : s.branches) {
          if (eval(*cond, scope).truthy()) return exec_body(body, scope);
        }
        return exec_body(s.else_body, scope);
      case StmtKind::kFor: return exec_for(s, scope);
      case StmtKind::kSet: assign(s.targets, eval(*s.expr, scope), scope, s.pos); return Flow::kNormal;
      case StmtKind::kSetAttr: {
        Value ns = eval(*s.target_ns, scope);
        if (!ns.is_namespace()) fail("can only assign attributes of a namespace() object");
        ns.namespace_dict().set(s.text, eval(*s.expr, scope));
        return Flow::kNormal;
      }
      case StmtKind::kSetBlock: scope.set(s.text, Value::string(capture(s.body, scope))); return Flow::kNormal;
      case StmtKind::kMacro: scope.set(s.text, Value::macro(std::make_shared<const Macro>(Macro{&s}))); return Flow::kNormal;
      case StmtKind::kBreak: return Flow::kBreak;
      case StmtKind::kContinue: return Flow::kContinue;
      case StmtKind::kBlock: return exec_body(s.body, scope);
    }
    return Flow::kNormal;
  }

  std::string capture(const Body& body, Scope& scope) {
    std::string buf;
    std::string* saved = out_;
    out_ = &buf;
    try {
      exec_body(body, scope);
    } catch (...) {
      out_ = saved;
      throw;
    }
    out_ = saved;
    return buf;
  }

  void assign(const std::vector<std::string>& targets, const Value& v, Scope& scope, std::size_t pos) {
    if (targets.size() == 1) {
      scope.set(targets[0], v);
      return;
    }
    List items = iterate(v);
    if (items.size() != targets.size()) {
      fail_at(pos, fmt::format("{} values to unpack (expected {}, got {})",
                               items.size() > targets.size() ? "too many" : "not enough", targets.size(), items.size()));
    }
    for (std::size_t i = 0; i < targets.size(); ++i) scope.set(targets[i], items[i]);
  }

  // The items a for loop visits: list/tuple elements, dict keys, string characters.
  List iterate(const Value& v) {
    switch (v.kind()) {
      case Value::Kind::kUndefined: return {};
      case Value::Kind::kList: return v.as_list();
      case Value::Kind::kDict: {
        List keys;
        for (const auto& [k, x] : v.as_dict().items) keys.push_back(Value::string(k));
        return keys;
      }
      case Value::Kind::kString: {
        List chars;
        const std::string& s = v.as_string();
        std::size_t i = 0;
        while (i < s.size()) {
          std::size_t st = i;
          next_codepoint(s, i);
          chars.push_back(Value::string(s.substr(st, i - st)));
        }
        return chars;
      }
      default: fail(fmt::format("'{}' object is not iterable", v.type_name()));
    }
  }

  Flow exec_for(const Stmt& s, Scope& scope) {
    List items = iterate(eval(*s.expr, scope));
    if (s.filter) {
      List kept;
      for (const auto& item : items) {
        step(s.pos);
        Scope fs;
        fs.parent = &scope;
        assign(s.targets, item, fs, s.pos);
        if (eval(*s.filter, fs).truthy()) kept.push_back(item);
      }
      items = std::move(kept);
    }
    if (items.empty()) {
      Scope es;
      es.parent = &scope;
      exec_body(s.else_body, es);
      return Flow::kNormal;
    }
    const auto n = static_cast<std::int64_t>(items.size());
    for (std::int64_t i = 0; i < n; ++i) {
      step(s.pos);
      Scope it;
      it.parent = &scope;
      assign(s.targets, items[static_cast<std::size_t>(i)], it, s.pos);
      Dict loop;
      loop.items.reserve(11);
      loop.set("index", Value::integer(i + 1));
      loop.set("index0", Value::integer(i));
      loop.set("revindex", Value::integer(n - i));
      loop.set("revindex0", Value::integer(n - i - 1));
      loop.set("first", Value::boolean(i == 0));
      loop.set("last", Value::boolean(i == n - 1));
      loop.set("length", Value::integer(n));
      loop.set("depth", Value::integer(1));
      loop.set("depth0", Value::integer(0));
      loop.set("previtem", i > 0 ? items[static_cast<std::size_t>(i - 1)] : Value::undefined("there is no previous item"));
      loop.set("nextitem", i + 1 < n ? items[static_cast<std::size_t>(i + 1)] : Value::undefined("there is no next item"));
      it.set("loop", Value::dict(std::move(loop)));
      Flow f = exec_body(s.body, it);
      if (f == Flow::kBreak) break;
    }
    return Flow::kNormal;
  }

  // ------------------------------------------------------------------ expressions
  Value eval(const Expr& e, Scope& scope) {
    DepthGuard g(*this, e.pos);
    try {
      return eval_inner(e, scope);
    } catch (const LocatedError&) {
      throw;
    } catch (const TemplateError& err) {
      fail_at(e.pos, err.what());
    }
  }

  Value lookup(const std::string& name, Scope& scope) {
    if (const Value* v = scope.find(name)) return *v;
    if (const Value* v = vars_.find(name)) return *v;
    if (name == "raise_exception" || name == "strftime_now" || name == "namespace" || name == "range" ||
        name == "dict") {
      return Value::function(name);
    }
    return Value::undefined(fmt::format("'{}' is undefined", name));
  }

  static Value get_attr(const Value& obj, const std::string& name) {
    switch (obj.kind()) {
      case Value::Kind::kUndefined: raise_undefined(obj);
      case Value::Kind::kDict:
      case Value::Kind::kNamespace:
        if (const Value* v = obj.as_dict().find(name)) return *v;
        break;
      default: break;
    }
    return Value::undefined(fmt::format("'{}' has no attribute '{}'", cased_kind(obj), name));
  }

  static Value get_item(const Value& obj, const Value& key) {
    if (obj.is_undefined()) raise_undefined(obj);
    if (key.is_string() && (obj.is_dict() || obj.is_namespace())) return get_attr(obj, key.as_string());
    if ((key.is_int() || key.is_bool()) && (obj.is_list() || obj.is_string())) {
      std::int64_t i = key.as_int();
      if (obj.is_list()) {
        auto n = static_cast<std::int64_t>(obj.as_list().size());
        if (i < 0) i += n;
        if (i >= 0 && i < n) return obj.as_list()[static_cast<std::size_t>(i)];
      } else {
        std::u32string s = to_u32(obj.as_string());
        auto n = static_cast<std::int64_t>(s.size());
        if (i < 0) i += n;
        if (i >= 0 && i < n) return Value::string(from_u32(s.substr(static_cast<std::size_t>(i), 1)));
      }
      return Value::undefined(fmt::format("'{}' has no element {}", cased_kind(obj), key.as_int()));
    }
    if (key.is_string()) return get_attr(obj, key.as_string());
    return Value::undefined(fmt::format("'{}' has no element {}", cased_kind(obj), key.repr()));
  }

  Value slice(const Value& obj, const Value& a, const Value& b, const Value& c) {
    if (obj.is_undefined()) raise_undefined(obj);
    if (obj.is_list()) {
      const List& l = obj.as_list();
      List out;
      for (std::size_t i : slice_indices(static_cast<std::int64_t>(l.size()), a, b, c)) out.push_back(l[i]);
      return Value::list(std::move(out), obj.is_tuple());
    }
    if (obj.is_string()) {
      std::u32string s = to_u32(obj.as_string()), out;
      for (std::size_t i : slice_indices(static_cast<std::int64_t>(s.size()), a, b, c)) out.push_back(s[i]);
      return Value::string(from_u32(out));
    }
    fail(fmt::format("'{}' object is not subscriptable", obj.type_name()));
  }

  Value eval_inner(const Expr& e, Scope& scope) {
    switch (e.kind) {
      case ExprKind::kLiteral: return e.literal;
      case ExprKind::kName: return lookup(e.name, scope);
      case ExprKind::kGetAttr: return get_attr(eval(*e.args[0], scope), e.name);
      case ExprKind::kGetItem: return get_item(eval(*e.args[0], scope), eval(*e.args[1], scope));
      case ExprKind::kSlice: {
        Value obj = eval(*e.args[0], scope);
        auto opt = [&](const ExprPtr& p) { return p ? eval(*p, scope) : Value::none(); };
        return slice(obj, opt(e.args[1]), opt(e.args[2]), opt(e.args[3]));
      }
      case ExprKind::kCall: return eval_call(e, scope);
      case ExprKind::kFilter: {
        Value subject = eval(*e.args[0], scope);
        Args args;
        KwArgs kwargs;
        eval_args(e, 1, scope, args, kwargs);
        return apply_filter(e.name, subject, args, kwargs, scope);
      }
      case ExprKind::kTest: {
        Value subject = eval(*e.args[0], scope);
        Args args;
        KwArgs kwargs;
        eval_args(e, 1, scope, args, kwargs);
        bool r = apply_test(e.name, subject, args);
        return Value::boolean(e.negated ? !r : r);
      }
      case ExprKind::kNeg:
      case ExprKind::kPos: {
        Value v = eval(*e.args[0], scope);
        if (v.is_undefined()) raise_undefined(v);
        if (!v.is_number()) {
          fail(fmt::format("bad operand type for unary {}: '{}'", e.kind == ExprKind::kNeg ? '-' : '+', v.type_name()));
        }
        if (e.kind == ExprKind::kPos) return v.is_bool() ? Value::integer(v.as_int()) : v;
        if (v.is_float()) return Value::number(-v.as_double());
        if (v.as_int() == std::numeric_limits<std::int64_t>::min()) fail("integer overflow");
        return Value::integer(-v.as_int());
      }
      case ExprKind::kNot: return Value::boolean(!eval(*e.args[0], scope).truthy());
      case ExprKind::kAnd: {
        Value l = eval(*e.args[0], scope);
        return l.truthy() ? eval(*e.args[1], scope) : l;
      }
      case ExprKind::kOr: {
        Value l = eval(*e.args[0], scope);
        return l.truthy() ? l : eval(*e.args[1], scope);
      }
      case ExprKind::kBinary: return binary(e.name, eval(*e.args[0], scope), eval(*e.args[1], scope));
      case ExprKind::kCompare: {
        Value l = eval(*e.args[0], scope);
        for (std::size_t i = 0; i < e.ops.size(); ++i) {
          Value r = eval(*e.args[i + 1], scope);
          if (!compare(e.ops[i], l, r)) return Value::boolean(false);
          l = std::move(r);
        }
        return Value::boolean(true);
      }
      case ExprKind::kCondExpr:
        if (eval(*e.args[0], scope).truthy()) return eval(*e.args[1], scope);
        if (e.args[2]) return eval(*e.args[2], scope);
        return Value::undefined("the inline if-expression evaluated to false and no else section was defined");
      case ExprKind::kList:
      case ExprKind::kTuple: {
        List items;
        for (const auto& a : e.args) items.push_back(eval(*a, scope));
        return Value::list(std::move(items), e.kind == ExprKind::kTuple);
      }
      case ExprKind::kDict: {
        Dict d;
        for (std::size_t i = 0; i + 1 < e.args.size(); i += 2) {
          Value k = eval(*e.args[i], scope);
          if (!k.is_string()) fail_at(e.args[i]->pos, "unsupported Jinja construct 'non-string dict key'");
          d.set(k.as_string(), eval(*e.args[i + 1], scope));
        }
        return Value::dict(std::move(d));
      }
    }
    fail("unknown expression");
  }

  void eval_args(const Expr& e, std::size_t from, Scope& scope, Args& args, KwArgs& kwargs) {
    for (std::size_t i = from; i < e.args.size(); ++i) args.push_back(eval(*e.args[i], scope));
    for (const auto& [k, v] : e.kwargs) kwargs.emplace_back(k, eval(*v, scope));
  }

  bool contains(const Value& container, const Value& item) {
    switch (container.kind()) {
      case Value::Kind::kUndefined: return false;
      case Value::Kind::kString:
        if (!item.is_string()) {
          if (item.is_undefined()) raise_undefined(item);
          fail(fmt::format("'in <string>' requires string as left operand, not {}", item.type_name()));
        }
        return container.as_string().find(item.as_string()) != std::string::npos;
      case Value::Kind::kList:
        for (const auto& x : container.as_list()) {
          if (equals(x, item)) return true;
        }
        return false;
      case Value::Kind::kDict: return item.is_string() && container.as_dict().find(item.as_string()) != nullptr;
      default: fail(fmt::format("argument of type '{}' is not iterable", container.type_name()));
    }
  }

  bool compare(const std::string& op, const Value& l, const Value& r) {
    if (op == "==") return equals(l, r);
    if (op == "!=") return !equals(l, r);
    if (op == "in") return contains(r, l);
    if (op == "not in") return !contains(r, l);
    if (l.is_undefined()) raise_undefined(l);
    if (r.is_undefined()) raise_undefined(r);
    if (op == "<") return less(l, r);
    if (op == ">") return less(r, l);
    if (op == "<=") return less(l, r) || equals(l, r);
    if (op == ">=") return less(r, l) || equals(l, r);
    fail("unknown comparison " + op);
  }

  Value repeat(const Value& seq, std::int64_t n) {
    if (n <= 0) return seq.is_string() ? Value::string("") : Value::list({}, seq.is_tuple());
    if (seq.is_string()) {
      check_size(seq.as_string().size() * static_cast<std::size_t>(std::min<std::int64_t>(n, 1LL << 40)));
      std::string out;
      for (std::int64_t i = 0; i < n; ++i) out += seq.as_string();
      return Value::string(std::move(out));
    }
    check_size(seq.as_list().size() * static_cast<std::size_t>(std::min<std::int64_t>(n, 1LL << 40)) * 16);
    List out;
    for (std::int64_t i = 0; i < n; ++i) out.insert(out.end(), seq.as_list().begin(), seq.as_list().end());
    return Value::list(std::move(out), seq.is_tuple());
  }

  Value binary(const std::string& op, const Value& l, const Value& r) {
    if (op == "~") {
      std::string s = l.str() + r.str();
      check_size(s.size());
      return Value::string(std::move(s));
    }
    if (l.is_undefined()) raise_undefined(l);
    if (r.is_undefined()) raise_undefined(r);
    auto type_error = [&]() -> Value {
      if (op == "+" && l.is_string()) fail(fmt::format("can only concatenate str (not \"{}\") to str", r.type_name()));
      if (op == "+" && l.is_list() && !l.is_tuple()) {
        fail(fmt::format("can only concatenate list (not \"{}\") to list", r.type_name()));
      }
      fail(fmt::format("unsupported operand type(s) for {}: '{}' and '{}'", op, l.type_name(), r.type_name()));
    };
    if (l.is_number() && r.is_number()) return arith(op, l, r);
    if (op == "+") {
      if (l.is_string() && r.is_string()) {
        check_size(l.as_string().size() + r.as_string().size());
        return Value::string(l.as_string() + r.as_string());
      }
      if (l.is_list() && r.is_list() && l.is_tuple() == r.is_tuple()) {
        List out = l.as_list();
        out.insert(out.end(), r.as_list().begin(), r.as_list().end());
        check_size(out.size() * 16);
        return Value::list(std::move(out), l.is_tuple());
      }
      return type_error();
    }
    if (op == "*") {
      if ((l.is_string() || l.is_list()) && (r.is_int() || r.is_bool())) return repeat(l, r.as_int());
      if ((r.is_string() || r.is_list()) && (l.is_int() || l.is_bool())) return repeat(r, l.as_int());
      return type_error();
    }
    if (op == "%" && l.is_string()) fail("unsupported Jinja construct 'printf-style string formatting (%)'");
    return type_error();
  }

  static Value arith(const std::string& op, const Value& l, const Value& r) {
    bool fl = l.is_float() || r.is_float();
    if (op == "/") {
      double d = r.as_double();
      if (d == 0) fail(fl ? "float division by zero" : "division by zero");
      return Value::number(l.as_double() / d);
    }
    if (fl) {
      double a = l.as_double(), b = r.as_double();
      if (op == "+") return Value::number(a + b);
      if (op == "-") return Value::number(a - b);
      if (op == "*") return Value::number(a * b);
      if (op == "**") {
        if (a == 0 && b < 0) fail("0.0 cannot be raised to a negative power");
        return Value::number(std::pow(a, b));
      }
      if (b == 0) fail(op == "//" ? "float floor division by zero" : "float modulo");
      if (op == "//") return Value::number(std::floor(a / b));
      if (op == "%") {
        double m = std::fmod(a, b);
        if (m != 0 && ((m < 0) != (b < 0))) m += b;
        return Value::number(m);
      }
    } else {
      std::int64_t a = l.as_int(), b = r.as_int(), v = 0;
      if (op == "+") {
        if (__builtin_add_overflow(a, b, &v)) fail("integer overflow");
        return Value::integer(v);
      }
      if (op == "-") {
        if (__builtin_sub_overflow(a, b, &v)) fail("integer overflow");
        return Value::integer(v);
      }
      if (op == "*") {
        if (__builtin_mul_overflow(a, b, &v)) fail("integer overflow");
        return Value::integer(v);
      }
      if (op == "**") {
        if (b < 0) {
          if (a == 0) fail("0.0 cannot be raised to a negative power");
          return Value::number(std::pow(static_cast<double>(a), static_cast<double>(b)));
        }
        std::int64_t acc = 1;
        for (std::int64_t i = 0; i < b; ++i) {
          if (__builtin_mul_overflow(acc, a, &acc)) fail("integer overflow");
          if (acc == 0 || acc == 1 || (acc == -1 && a == -1)) {
            if (acc == -1) acc = (b % 2 == 0) ? 1 : -1;
            break;
          }
        }
        return Value::integer(acc);
      }
      if (b == 0) fail(op == "//" ? "integer division or modulo by zero" : "integer modulo by zero");
      if (a == std::numeric_limits<std::int64_t>::min() && b == -1) fail("integer overflow");
      std::int64_t q = a / b, m = a % b;
      if (m != 0 && ((m < 0) != (b < 0))) {
        --q;
        m += b;
      }
      if (op == "//") return Value::integer(q);
      if (op == "%") return Value::integer(m);
    }
    fail("unknown operator " + op);
  }

  // ------------------------------------------------------------------ calls
  Value eval_call(const Expr& e, Scope& scope) {
    const Expr& callee = *e.args[0];
    Args args;
    KwArgs kwargs;
    if (callee.kind == ExprKind::kGetAttr) {
      Value obj = eval(*callee.args[0], scope);
      if (obj.is_string() || obj.is_dict() || obj.is_list()) {
        const Value* member = obj.is_dict() ? obj.as_dict().find(callee.name) : nullptr;
        if (!member || !member->is_callable()) {
          eval_args(e, 1, scope, args, kwargs);
          return call_method(obj, callee.name, args, kwargs);
        }
      }
      Value fn = get_attr(obj, callee.name);
      eval_args(e, 1, scope, args, kwargs);
      return call_value(fn, args, kwargs, e.pos);
    }
    Value fn = eval(callee, scope);
    eval_args(e, 1, scope, args, kwargs);
    return call_value(fn, args, kwargs, e.pos);
  }

  Value call_value(const Value& fn, const Args& args, const KwArgs& kwargs, std::size_t pos) {
    if (fn.is_undefined()) raise_undefined(fn);
    if (fn.kind() == Value::Kind::kMacro) return call_macro(*fn.as_macro()->def, args, kwargs, pos);
    if (fn.kind() != Value::Kind::kFunction) fail(fmt::format("'{}' object is not callable", fn.type_name()));
    const std::string& name = fn.as_string();
    if (name == "raise_exception") {
      Params p{args, kwargs, "raise_exception()"};
      p.check({"message"});
      const Value* m = p.get(0, "message");
      std::string msg = m ? m->str() : "";
      throw TemplateRaised(msg, fmt::format("{} (raised by the template at {})", msg, describe_position(t_.source, pos)));
    }
    if (name == "strftime_now") {
      Params p{args, kwargs, "strftime_now()"};
      p.check({"format"});
      const Value* f = p.get(0, "format");
      if (!f || !f->is_string()) fail("strftime_now() needs a format string");
      std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
      std::tm tm{};
      localtime_r(&now, &tm);
      char buf[512];
      std::size_t n = std::strftime(buf, sizeof(buf), f->as_string().c_str(), &tm);
      return Value::string(std::string(buf, n));
    }
    if (name == "namespace" || name == "dict") {
      Dict d;
      for (const auto& a : args) {
        if (!a.is_dict()) fail(fmt::format("{}() takes keyword arguments or a mapping", name));
        for (const auto& [k, v] : a.as_dict().items) d.set(k, v);
      }
      for (const auto& [k, v] : kwargs) d.set(k, v);
      return name == "dict" ? Value::dict(std::move(d)) : Value::namespace_(std::move(d));
    }
    if (name == "range") {
      if (!kwargs.empty() || args.empty() || args.size() > 3) fail("range() takes 1 to 3 positional arguments");
      std::int64_t start = 0, stop = 0, stp = 1;
      if (args.size() == 1) {
        stop = to_index(args[0], "range() argument");
      } else {
        start = to_index(args[0], "range() argument");
        stop = to_index(args[1], "range() argument");
        if (args.size() == 3) stp = to_index(args[2], "range() argument");
      }
      if (stp == 0) fail("range() arg 3 must not be zero");
      List out;
      for (std::int64_t i = start; stp > 0 ? i < stop : i > stop; i += stp) {
        if (out.size() >= 100000) fail("range() longer than 100000 items (the sandbox's MAX_RANGE)");
        out.push_back(Value::integer(i));
        if (__builtin_add_overflow(i, stp, &i)) break;
        i -= stp;
      }
      return Value::list(std::move(out));
    }
    fail(fmt::format("unknown function '{}'", name));
  }

  Value call_macro(const Stmt& def, const Args& args, const KwArgs& kwargs, std::size_t pos) {
    step(pos);
    if (args.size() > def.params.size()) {
      fail(fmt::format("macro '{}' takes not more than {} argument(s)", def.text, def.params.size()));
    }
    Scope ms;
    ms.parent = root_;
    for (std::size_t i = 0; i < def.params.size(); ++i) {
      const std::string& p = def.params[i];
      const Value* given = i < args.size() ? &args[i] : nullptr;
      for (const auto& [k, v] : kwargs) {
        if (k == p) {
          if (given) fail(fmt::format("macro '{}' got multiple values for argument '{}'", def.text, p));
          given = &v;
        }
      }
      if (given) ms.set(p, *given);
      else if (def.defaults[i]) ms.set(p, eval(*def.defaults[i], ms));
      else ms.set(p, Value::undefined(fmt::format("parameter '{}' was not provided", p)));
    }
    for (const auto& [k, v] : kwargs) {
      if (std::find(def.params.begin(), def.params.end(), k) == def.params.end()) {
        fail(fmt::format("macro '{}' takes no keyword argument '{}'", def.text, k));
      }
    }
    return Value::string(capture(def.body, ms));
  }

  Value call_method(const Value& obj, const std::string& name, const Args& args, const KwArgs& kwargs) {
    std::string what = fmt::format("{}.{}()", obj.type_name(), name);
    Params p{args, kwargs, what.c_str()};
    if (obj.is_string()) {
      const std::string& s = obj.as_string();
      if (name == "strip" || name == "lstrip" || name == "rstrip") {
        p.check({"chars"});
        return Value::string(py_strip(s, p.get(0, "chars"), name != "rstrip", name != "lstrip"));
      }
      if (name == "split") {
        p.check({"sep", "maxsplit"});
        const Value* m = p.get(1, "maxsplit");
        return py_split(s, p.get(0, "sep"), m ? to_index(*m, "maxsplit") : -1);
      }
      if (name == "startswith" || name == "endswith") {
        if (args.size() != 1 || !kwargs.empty()) fail(fmt::format("{} takes exactly one argument", what));
        List cands = args[0].is_tuple() ? args[0].as_list() : List{args[0]};
        for (const auto& c : cands) {
          if (!c.is_string()) fail(fmt::format("{} arg must be str or a tuple of str, not {}", what, c.type_name()));
          const std::string& x = c.as_string();
          if (x.size() <= s.size() &&
              (name == "startswith" ? s.compare(0, x.size(), x) == 0 : s.compare(s.size() - x.size(), x.size(), x) == 0)) {
            return Value::boolean(true);
          }
        }
        return Value::boolean(false);
      }
      if (name == "upper" || name == "lower" || name == "title" || name == "capitalize") {
        p.check({});
        if (name == "upper") return Value::string(py_upper(s));
        if (name == "lower") return Value::string(py_lower(s));
        if (name == "title") return Value::string(py_str_title(s));
        return Value::string(py_capitalize(s));
      }
      if (name == "replace") {
        p.check({"old", "new", "count"});
        const Value *o = p.get(0, "old"), *n = p.get(1, "new"), *c = p.get(2, "count");
        if (!o || !n || !o->is_string() || !n->is_string()) fail(fmt::format("{} takes two strings", what));
        return Value::string(py_replace(s, o->as_string(), n->as_string(), c ? to_index(*c, "count") : -1,
                                        limits_.max_output_bytes));
      }
      if (name == "join") {
        p.check({"iterable"});
        const Value* it = p.get(0, "iterable");
        if (!it) fail(fmt::format("{} takes exactly one argument", what));
        std::string out;
        bool first = true;
        for (const auto& x : iterate(*it)) {
          if (!x.is_string()) fail(fmt::format("sequence item: expected str instance, {} found", x.type_name()));
          if (!first) out += s;
          first = false;
          out += x.as_string();
          check_size(out.size());
        }
        return Value::string(std::move(out));
      }
      if (name == "find") {
        p.check({"sub"});
        const Value* sub = p.get(0, "sub");
        if (!sub || !sub->is_string()) fail(fmt::format("{} takes a string", what));
        std::size_t f = s.find(sub->as_string());
        if (f == std::string::npos) return Value::integer(-1);
        return Value::integer(static_cast<std::int64_t>(codepoint_count(std::string_view(s).substr(0, f))));
      }
    } else if (obj.is_dict()) {
      const Dict& d = obj.as_dict();
      if (name == "get") {
        if (args.empty() || args.size() > 2 || !kwargs.empty()) fail(fmt::format("{} takes 1 or 2 arguments", what));
        if (args[0].is_string()) {
          if (const Value* v = d.find(args[0].as_string())) return *v;
        }
        return args.size() > 1 ? args[1] : Value::none();
      }
      if (name == "items" || name == "keys" || name == "values") {
        p.check({});
        List out;
        for (const auto& [k, v] : d.items) {
          if (name == "items") out.push_back(Value::list({Value::string(k), v}, /*is_tuple=*/true));
          else if (name == "keys") out.push_back(Value::string(k));
          else out.push_back(v);
        }
        return Value::list(std::move(out));
      }
    }
    static const char* kMutating[] = {"append", "extend", "insert", "pop", "remove", "clear", "update",
                                      "setdefault", "popitem", "sort", "reverse"};
    for (const char* m : kMutating) {
      if (name == m && (obj.is_list() || obj.is_dict())) {
        fail(fmt::format("access to attribute '{}' of '{}' object is unsafe", name, obj.type_name()));
      }
    }
    fail(fmt::format("unsupported Jinja construct '{}.{}()' (a {} method xling does not implement)", obj.type_name(),
                     name, obj.type_name()));
  }

  // ------------------------------------------------------------------ filters
  // jinja2's attribute getter for selectattr/map(attribute=): dotted path, integer parts index.
  static Value get_path(const Value& v, const std::string& path) {
    Value cur = v;
    std::size_t start = 0;
    while (true) {
      std::size_t dot = path.find('.', start);
      std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
      bool numeric = !part.empty() && std::all_of(part.begin(), part.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
      if (cur.is_undefined()) return cur;
      cur = numeric ? get_item(cur, Value::integer(std::stoll(part))) : get_item(cur, Value::string(part));
      if (dot == std::string::npos) return cur;
      start = dot + 1;
    }
  }

  Value apply_filter(const std::string& name, const Value& v, const Args& args, const KwArgs& kwargs, Scope& scope) {
    std::string what = fmt::format("filter '{}'", name);
    Params p{args, kwargs, what.c_str()};
    auto str_of = [](const Value& x) { return x.str(); };
    if (name == "trim") {
      p.check({"chars"});
      return Value::string(py_strip(str_of(v), p.get(0, "chars"), true, true));
    }
    if (name == "length" || name == "count") {
      p.check({});
      return Value::integer(static_cast<std::int64_t>(v.length()));
    }
    if (name == "upper") return Value::string(py_upper(str_of(v)));
    if (name == "lower") return Value::string(py_lower(str_of(v)));
    if (name == "title") return Value::string(jinja_title(str_of(v)));
    if (name == "capitalize") return Value::string(py_capitalize(str_of(v)));
    if (name == "string" || name == "safe") return v.is_string() ? v : Value::string(str_of(v));
    if (name == "tojson") {
      p.check({"ensure_ascii", "indent", "separators", "sort_keys"});
      JsonOptions o;
      if (const Value* a = p.get(0, "ensure_ascii")) o.ensure_ascii = a->truthy();
      if (const Value* a = p.get(1, "indent"); a && !a->is_none()) {
        if (a->is_string()) o.indent_str = a->as_string();
        else o.indent = static_cast<int>(std::clamp<std::int64_t>(to_index(*a, "indent"), 0, 64));
        if (a->is_int() && a->as_int() < 0) o.indent = 0, o.indent_str = std::string();
      }
      if (const Value* a = p.get(2, "separators"); a && !a->is_none()) {
        if (!a->is_list() || a->as_list().size() != 2 || !a->as_list()[0].is_string() || !a->as_list()[1].is_string()) {
          fail("tojson separators must be a pair of strings");
        }
        o.separators = std::make_pair(a->as_list()[0].as_string(), a->as_list()[1].as_string());
      }
      if (const Value* a = p.get(3, "sort_keys")) o.sort_keys = a->truthy();
      std::string s = to_json(v, o);
      check_size(s.size());
      return Value::string(std::move(s));
    }
    if (name == "join") {
      p.check({"d", "attribute"});
      const Value* d = p.get(0, "d");
      const Value* attr = p.get(1, "attribute");
      std::string sep = d ? d->str() : "";
      std::string out;
      bool first = true;
      for (const auto& x : iterate(v)) {
        if (!first) out += sep;
        first = false;
        out += attr && !attr->is_none() ? get_path(x, attr->str()).str() : x.str();
        check_size(out.size());
      }
      return Value::string(std::move(out));
    }
    if (name == "first" || name == "last") {
      p.check({});
      List items = iterate(v);
      if (items.empty()) return Value::undefined(fmt::format("No {} item, sequence was empty.", name));
      return name == "first" ? items.front() : items.back();
    }
    if (name == "default" || name == "d") {
      p.check({"default_value", "boolean"});
      const Value* dv = p.get(0, "default_value");
      const Value* boolean = p.get(1, "boolean");
      bool use_default = v.is_undefined() || (boolean && boolean->truthy() && !v.truthy());
      if (use_default) return dv ? *dv : Value::string("");
      return v;
    }
    if (name == "replace") {
      p.check({"old", "new", "count"});
      const Value *o = p.get(0, "old"), *n = p.get(1, "new"), *c = p.get(2, "count");
      if (!o || !n) fail("filter 'replace' needs old and new");
      std::int64_t cnt = c && !c->is_none() ? to_index(*c, "count") : -1;
      return Value::string(py_replace(str_of(v), o->str(), n->str(), cnt, limits_.max_output_bytes));
    }
    if (name == "int") {
      p.check({"default", "base"});
      const Value* dv = p.get(0, "default");
      const Value* base = p.get(1, "base");
      Value def = dv ? *dv : Value::integer(0);
      if (v.is_int() || v.is_bool()) return Value::integer(v.as_int());
      if (v.is_float()) {
        double d = v.as_double();
        if (std::isnan(d) || std::isinf(d) || std::fabs(d) >= 9.2e18) fail("cannot convert float to integer");
        return Value::integer(static_cast<std::int64_t>(d));
      }
      if (v.is_string()) {
        if (auto i = parse_py_int(v.as_string(), base ? static_cast<int>(to_index(*base, "base")) : 10)) {
          return Value::integer(*i);
        }
        if (auto f = parse_py_float(v.as_string()); f && std::isfinite(*f) && std::fabs(*f) < 9.2e18) {
          return Value::integer(static_cast<std::int64_t>(*f));
        }
      }
      return def;
    }
    if (name == "float") {
      p.check({"default"});
      const Value* dv = p.get(0, "default");
      if (v.is_number()) return Value::number(v.as_double());
      if (v.is_string()) {
        if (auto f = parse_py_float(v.as_string())) return Value::number(*f);
      }
      return dv ? *dv : Value::number(0.0);
    }
    if (name == "list") {
      p.check({});
      return Value::list(iterate(v));
    }
    if (name == "items") {
      p.check({});
      if (v.is_undefined()) return Value::list({});
      if (!v.is_dict()) fail("Can only get item pairs from a mapping.");
      List out;
      for (const auto& [k, x] : v.as_dict().items) out.push_back(Value::list({Value::string(k), x}, true));
      return Value::list(std::move(out));
    }
    if (name == "abs") {
      if (v.is_float()) return Value::number(std::fabs(v.as_double()));
      if (v.is_int() || v.is_bool()) {
        if (v.as_int() == std::numeric_limits<std::int64_t>::min()) fail("integer overflow");
        return Value::integer(std::llabs(v.as_int()));
      }
      fail(fmt::format("bad operand type for abs(): '{}'", v.type_name()));
    }
    if (name == "reverse") {
      if (v.is_string()) {
        std::u32string s = to_u32(v.as_string());
        std::reverse(s.begin(), s.end());
        return Value::string(from_u32(s));
      }
      List items = iterate(v);
      std::reverse(items.begin(), items.end());
      return Value::list(std::move(items));
    }
    if (name == "selectattr" || name == "rejectattr" || name == "select" || name == "reject") {
      bool by_attr = name == "selectattr" || name == "rejectattr";
      bool want = name == "selectattr" || name == "select";
      std::size_t first_test_arg = by_attr ? 1 : 0;
      if (by_attr && (args.empty() || !args[0].is_string())) fail(fmt::format("filter '{}' needs an attribute name", name));
      if (!kwargs.empty()) fail(fmt::format("filter '{}' takes no keyword arguments", name));
      std::string test;
      Args test_args;
      if (args.size() > first_test_arg) {
        if (!args[first_test_arg].is_string()) fail(fmt::format("filter '{}' needs a test name", name));
        test = args[first_test_arg].as_string();
        if (!is_known_test(test)) fail(fmt::format("unsupported Jinja test '{}'", test));
        test_args.assign(args.begin() + static_cast<std::ptrdiff_t>(first_test_arg + 1), args.end());
      }
      List out;
      for (const auto& item : iterate(v)) {
        step(0);
        Value x = by_attr ? get_path(item, args[0].as_string()) : item;
        bool r = test.empty() ? x.truthy() : apply_test(test, x, test_args);
        if (r == want) out.push_back(item);
      }
      return Value::list(std::move(out));
    }
    if (name == "map") {
      List out;
      const Value* attr = nullptr;
      const Value* dv = nullptr;
      for (const auto& [k, x] : kwargs) {
        if (k == "attribute") attr = &x;
        else if (k == "default") dv = &x;
      }
      if (attr) {
        for (const auto& item : iterate(v)) {
          Value x = get_path(item, attr->str());
          out.push_back(x.is_undefined() && dv ? *dv : x);
        }
        return Value::list(std::move(out));
      }
      if (args.empty() || !args[0].is_string()) fail("filter 'map' needs a filter name or attribute=");
      const std::string& f = args[0].as_string();
      if (!is_known_filter(f)) fail(fmt::format("unsupported Jinja filter '{}'", f));
      Args rest(args.begin() + 1, args.end());
      for (const auto& item : iterate(v)) out.push_back(apply_filter(f, item, rest, kwargs, scope));
      return Value::list(std::move(out));
    }
    fail(fmt::format("unsupported Jinja filter '{}'", name));
  }

  // ------------------------------------------------------------------ tests
  bool apply_test(const std::string& name, const Value& v, const Args& args) {
    auto arg = [&](std::size_t i) -> const Value& {
      if (i >= args.size()) fail(fmt::format("test '{}' needs {} argument(s)", name, i + 1));
      return args[i];
    };
    if (name == "defined") return !v.is_undefined();
    if (name == "undefined") return v.is_undefined();
    if (name == "none") return v.is_none();
    if (name == "string") return v.is_string();
    if (name == "mapping") return v.is_dict();
    if (name == "iterable") return v.is_undefined() || v.is_string() || v.is_list() || v.is_dict();
    if (name == "sequence") return v.is_undefined() || v.is_string() || v.is_list() || v.is_dict();
    if (name == "number") return v.is_number();
    if (name == "integer") return v.is_int();
    if (name == "float") return v.is_float();
    if (name == "boolean") return v.is_bool();
    if (name == "true") return v.is_bool() && v.as_bool();
    if (name == "false") return v.is_bool() && !v.as_bool();
    if (name == "callable") return v.is_callable();
    if (name == "eq" || name == "equalto" || name == "==") return equals(v, arg(0));
    if (name == "ne" || name == "!=") return !equals(v, arg(0));
    if (name == "lt" || name == "lessthan" || name == "<") return compare("<", v, arg(0));
    if (name == "le" || name == "<=") return compare("<=", v, arg(0));
    if (name == "gt" || name == "greaterthan" || name == ">") return compare(">", v, arg(0));
    if (name == "ge" || name == ">=") return compare(">=", v, arg(0));
    if (name == "in") return contains(arg(0), v);
    if (name == "sameas") return equals(v, arg(0)) && v.kind() == arg(0).kind();
    if (name == "odd" || name == "even" || name == "divisibleby") {
      if (v.is_undefined()) raise_undefined(v);
      if (!v.is_int() && !v.is_bool()) fail(fmt::format("test '{}' needs an integer, got {}", name, v.type_name()));
      std::int64_t x = v.as_int();
      if (name == "odd") return x % 2 != 0;
      if (name == "even") return x % 2 == 0;
      std::int64_t d = to_index(arg(0), "divisibleby argument");
      if (d == 0) fail("integer division or modulo by zero");
      if (d == -1) return true;
      return x % d == 0;
    }
    if (name == "lower" || name == "upper") {
      std::string s = v.str();
      return name == "lower" ? py_lower(s) == s && py_upper(s) != s : py_upper(s) == s && py_lower(s) != s;
    }
    fail(fmt::format("unsupported Jinja test '{}'", name));
  }

  const Template& t_;
  const Dict& vars_;
  RenderLimits limits_;
  Scope* root_ = nullptr;
  std::string result_;
  std::string* out_ = nullptr;
  std::size_t steps_ = 0;
  int depth_ = 0;
};

}  // namespace

bool is_known_filter(const std::string& name) {
  static const char* kFilters[] = {"trim",    "length",    "count",      "upper",  "lower",  "title",  "capitalize",
                                   "string",  "safe",      "tojson",     "join",   "first",  "last",   "default",
                                   "d",       "replace",   "int",        "float",  "list",   "items",  "abs",
                                   "reverse", "selectattr", "rejectattr", "select", "reject", "map"};
  return std::find_if(std::begin(kFilters), std::end(kFilters), [&](const char* f) { return name == f; }) !=
         std::end(kFilters);
}

bool is_known_test(const std::string& name) {
  static const char* kTests[] = {"defined", "undefined", "none",    "string",      "mapping", "iterable", "sequence",
                                 "number",  "integer",   "float",   "boolean",     "true",    "false",    "callable",
                                 "eq",      "equalto",   "==",      "ne",          "!=",      "lt",       "lessthan",
                                 "<",       "le",        "<=",      "gt",          "greaterthan", ">",    "ge",
                                 ">=",      "in",        "sameas",  "odd",         "even",    "divisibleby", "lower",
                                 "upper"};
  return std::find_if(std::begin(kTests), std::end(kTests), [&](const char* f) { return name == f; }) !=
         std::end(kTests);
}

std::string render(const Template& t, const Dict& vars, const RenderLimits& limits) {
  return Renderer(t, vars, limits).run();
}

}  // namespace xling::tokenize::jinja
