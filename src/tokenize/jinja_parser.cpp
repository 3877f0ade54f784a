// Recursive-descent parser of the Jinja subset (see jinja_parser.hpp); precedence from low to
// high: `x if c else y`, or, and, not, comparisons/in, + -, ~, * / // %, **, unary - +, then
// postfix (.attr [index] (call)) and filters/tests.
#include "tokenize/jinja_parser.hpp"

#include <initializer_list>

#include <fmt/format.h>

#include "tokenize/jinja_lexer.hpp"

namespace xling::tokenize::jinja {
namespace {

class Parser {
 public:
  explicit Parser(std::shared_ptr<Template> t) : t_(std::move(t)), toks_(lex(t_->source)) {}

  void run() {
    t_->body = parse_body({});
    if (cur().type != TokenType::kEof) fail_at(cur().pos, "unexpected end of block");
  }

 private:
  // ------------------------------------------------------------------ token helpers
  const Token& cur() const { return toks_[i_]; }
  const Token& peek(std::size_t k = 1) const { return toks_[std::min(i_ + k, toks_.size() - 1)]; }
  void advance() {
    if (i_ + 1 < toks_.size()) ++i_;
  }
  bool is_op(const char* op) const { return cur().type == TokenType::kOp && cur().text == op; }
  bool is_name(const char* n) const { return cur().type == TokenType::kName && cur().text == n; }
  bool skip_op(const char* op) {
    if (!is_op(op)) return false;
    advance();
    return true;
  }
  bool skip_name(const char* n) {
    if (!is_name(n)) return false;
    advance();
    return true;
  }

  [[noreturn]] void fail_at(std::size_t pos, const std::string& what) const {
    throw TemplateError(fmt::format("{} at {}", what, describe_position(t_->source, pos)));
  }

  std::string describe(const Token& t) const {
    switch (t.type) {
      case TokenType::kEof: return "end of template";
      case TokenType::kBlockEnd: return "end of statement block";
      case TokenType::kVarEnd: return "end of print statement";
      case TokenType::kText: return "template data";
      case TokenType::kString: return "string literal";
      default: return "'" + t.text + "'";
    }
  }

  void expect_op(const char* op) {
    if (!skip_op(op)) fail_at(cur().pos, fmt::format("expected '{}', got {}", op, describe(cur())));
  }
  std::string expect_name() {
    if (cur().type != TokenType::kName) fail_at(cur().pos, fmt::format("expected a name, got {}", describe(cur())));
    std::string n = cur().text;
    advance();
    return n;
  }
  void expect_block_end() {
    if (cur().type != TokenType::kBlockEnd) {
      fail_at(cur().pos, fmt::format("expected end of statement block, got {}", describe(cur())));
    }
    advance();
  }

  struct DepthGuard {
    explicit DepthGuard(Parser& p) : p_(p) {
      if (++p_.depth_ > kMaxNesting) {
        p_.fail_at(p_.cur().pos, fmt::format("template nesting deeper than {} levels", kMaxNesting));
      }
    }
    ~DepthGuard() { --p_.depth_; }
    Parser& p_;
  };

  ExprPtr make(ExprKind k, std::size_t pos) {
    auto e = std::make_unique<Expr>();
    e->kind = k;
    e->pos = pos;
    return e;
  }

  // ------------------------------------------------------------------ statements
  // Parses until a block tag whose name is in `ends` (left unconsumed: cur() is that name).
  Body parse_body(std::initializer_list<const char*> ends) {
    DepthGuard g(*this);
    Body body;
    while (true) {
      const Token& t = cur();
      if (t.type == TokenType::kEof) {
        if (ends.size() != 0) {
          std::string names;
          for (const char* e : ends) names += (names.empty() ? "'" : " or '") + std::string(e) + "'";
          fail_at(t.pos, fmt::format("unexpected end of template: expected {}", names));
        }
        return body;
      }
      if (t.type == TokenType::kText) {
        auto s = std::make_unique<Stmt>();
        s->kind = StmtKind::kText;
        s->pos = t.pos;
        s->text = t.text;
        body.push_back(std::move(s));
        advance();
      } else if (t.type == TokenType::kVarBegin) {
        auto s = std::make_unique<Stmt>();
        s->kind = StmtKind::kOutput;
        s->pos = t.pos;
        advance();
        s->expr = parse_tuple(true);
        if (cur().type != TokenType::kVarEnd) fail_at(cur().pos, fmt::format("expected end of print statement, got {}", describe(cur())));
        advance();
        body.push_back(std::move(s));
      } else if (t.type == TokenType::kBlockBegin) {
        const Token& name = peek();
        if (name.type != TokenType::kName) fail_at(name.pos, "expected a statement name after '{%'");
        for (const char* e : ends) {
          if (name.text == e) {
            advance();  // now at the name
            return body;
          }
        }
        advance();
        body.push_back(parse_statement());
      } else {
        fail_at(t.pos, fmt::format("unexpected {}", describe(t)));
      }
    }
  }

  std::unique_ptr<Stmt> parse_statement() {
    const Token& t = cur();
    const std::string n = t.text;
    std::size_t pos = t.pos;
    auto s = std::make_unique<Stmt>();
    s->pos = pos;
    advance();
    if (n == "if") {
      s->kind = StmtKind::kIf;
      while (true) {
        ExprPtr cond = parse_tuple(false);
        expect_block_end();
        Body b = parse_body({"elif", "else", "endif"});
        s->branches.emplace_back(std::move(cond), std::move(b));
        std::string tag = cur().text;
        advance();
        if (tag == "elif") continue;
        if (tag == "else") {
          expect_block_end();
          s->else_body = parse_body({"endif"});
          advance();
        }
        break;
      }
      expect_block_end();
    } else if (n == "for") {
      s->kind = StmtKind::kFor;
      s->targets = parse_targets();
      if (!skip_name("in")) fail_at(cur().pos, fmt::format("expected 'in', got {}", describe(cur())));
      s->expr = parse_tuple(false, /*stop_at_if=*/true);
      if (skip_name("if")) s->filter = parse_expression(true);
      if (is_name("recursive")) fail_at(cur().pos, "unsupported Jinja construct 'recursive' (recursive for loops)");
      expect_block_end();
      ++loop_depth_;
      s->body = parse_body({"endfor", "else"});
      --loop_depth_;
      if (cur().text == "else") {
        advance();
        expect_block_end();
        s->else_body = parse_body({"endfor"});
      }
      advance();
      expect_block_end();
    } else if (n == "set") {
      if (cur().type == TokenType::kName && peek().type == TokenType::kOp && peek().text == ".") {
        s->kind = StmtKind::kSetAttr;
        auto ns = make(ExprKind::kName, cur().pos);
        ns->name = cur().text;
        s->target_ns = std::move(ns);
        advance();
        advance();
        s->text = expect_name();
        expect_op("=");
        s->expr = parse_tuple(true);
        expect_block_end();
      } else {
        s->targets = parse_targets();
        if (skip_op("=")) {
          s->kind = StmtKind::kSet;
          s->expr = parse_tuple(true);
          expect_block_end();
        } else {
          if (s->targets.size() != 1) fail_at(pos, "a block set assigns one name");
          if (is_op("|")) fail_at(cur().pos, "unsupported Jinja construct 'set block with filter'");
          s->kind = StmtKind::kSetBlock;
          s->text = s->targets[0];
          expect_block_end();
          s->body = parse_body({"endset"});
          advance();
          expect_block_end();
        }
      }
    } else if (n == "macro") {
      s->kind = StmtKind::kMacro;
      s->text = expect_name();
      expect_op("(");
      while (!is_op(")")) {
        if (!s->params.empty()) expect_op(",");
        if (is_op(")")) break;
        s->params.push_back(expect_name());
        if (skip_op("=")) s->defaults.push_back(parse_expression(true));
        else s->defaults.push_back(nullptr);
      }
      advance();
      expect_block_end();
      int saved_loops = loop_depth_;
      loop_depth_ = 0;
      s->body = parse_body({"endmacro"});
      loop_depth_ = saved_loops;
      advance();
      expect_block_end();
    } else if (n == "break" || n == "continue") {
      if (loop_depth_ == 0) fail_at(pos, fmt::format("'{}' outside of a loop", n));
      s->kind = n == "break" ? StmtKind::kBreak : StmtKind::kContinue;
      expect_block_end();
    } else if (n == "generation") {
      // transformers' AssistantTracker extension: renders its body unchanged.
      s->kind = StmtKind::kBlock;
      expect_block_end();
      s->body = parse_body({"endgeneration"});
      advance();
      expect_block_end();
    } else if (n.rfind("end", 0) == 0 || n == "elif" || n == "else") {
      fail_at(pos, fmt::format("unexpected '{}' (no open block it closes)", n));
    } else {
      fail_at(pos, fmt::format("unsupported Jinja construct '{}'", n));
    }
    return s;
  }

  std::vector<std::string> parse_targets() {
    std::vector<std::string> names;
    bool paren = skip_op("(");
    do {
      if (paren && is_op(")")) break;
      names.push_back(expect_name());
    } while (skip_op(","));
    if (paren) expect_op(")");
    return names;
  }

  // ------------------------------------------------------------------ expressions
  // A comma-separated list becomes a tuple (as jinja2's parse_tuple).
  ExprPtr parse_tuple(bool with_condexpr, bool stop_at_if = false) {
    std::size_t pos = cur().pos;
    std::vector<ExprPtr> items;
    bool comma = false;
    while (true) {
      if (!items.empty()) {
        if (!skip_op(",")) break;
        comma = true;
      }
      if (is_end_of_tuple(stop_at_if)) break;
      items.push_back(parse_expression(with_condexpr));
    }
    if (!comma) {
      if (items.empty()) fail_at(pos, fmt::format("expected an expression, got {}", describe(cur())));
      return std::move(items[0]);
    }
    auto e = make(ExprKind::kTuple, pos);
    e->args = std::move(items);
    return e;
  }

  bool is_end_of_tuple(bool stop_at_if) const {
    auto ty = cur().type;
    if (ty == TokenType::kVarEnd || ty == TokenType::kBlockEnd || ty == TokenType::kEof) return true;
    if (is_op(")") || is_op("]") || is_op("}") || is_op("=")) return true;
    if (stop_at_if && (is_name("if") || is_name("recursive"))) return true;
    return false;
  }

  ExprPtr parse_expression(bool with_condexpr) {
    DepthGuard g(*this);
    if (!with_condexpr) return parse_or();
    ExprPtr e = parse_or();
    while (is_name("if")) {
      std::size_t pos = cur().pos;
      advance();
      ExprPtr cond = parse_or();
      ExprPtr other;
      if (skip_name("else")) other = parse_expression(true);
      auto c = make(ExprKind::kCondExpr, pos);
      c->args.push_back(std::move(cond));
      c->args.push_back(std::move(e));
      c->args.push_back(std::move(other));
      e = std::move(c);
    }
    return e;
  }

  ExprPtr parse_or() {
    ExprPtr l = parse_and();
    while (is_name("or")) {
      auto e = make(ExprKind::kOr, cur().pos);
      advance();
      e->args.push_back(std::move(l));
      e->args.push_back(parse_and());
      l = std::move(e);
    }
    return l;
  }

  ExprPtr parse_and() {
    ExprPtr l = parse_not();
    while (is_name("and")) {
      auto e = make(ExprKind::kAnd, cur().pos);
      advance();
      e->args.push_back(std::move(l));
      e->args.push_back(parse_not());
      l = std::move(e);
    }
    return l;
  }

  ExprPtr parse_not() {
    if (is_name("not")) {
      DepthGuard g(*this);
      auto e = make(ExprKind::kNot, cur().pos);
      advance();
      e->args.push_back(parse_not());
      return e;
    }
    return parse_compare();
  }

  ExprPtr parse_compare() {
    std::size_t pos = cur().pos;
    ExprPtr first = parse_math1();
    ExprPtr e;
    while (true) {
      std::string op;
      if (cur().type == TokenType::kOp &&
          (cur().text == "==" || cur().text == "!=" || cur().text == "<" || cur().text == "<=" || cur().text == ">" ||
           cur().text == ">=")) {
        op = cur().text;
        advance();
      } else if (is_name("in")) {
        op = "in";
        advance();
      } else if (is_name("not") && peek().type == TokenType::kName && peek().text == "in") {
        op = "not in";
        advance();
        advance();
      } else {
        break;
      }
      if (!e) {
        e = make(ExprKind::kCompare, pos);
        e->args.push_back(std::move(first));
      }
      e->ops.push_back(op);
      e->args.push_back(parse_math1());
    }
    return e ? std::move(e) : std::move(first);
  }

  ExprPtr binary(std::string op, ExprPtr l, ExprPtr r, std::size_t pos) {
    auto e = make(ExprKind::kBinary, pos);
    e->name = std::move(op);
    e->args.push_back(std::move(l));
    e->args.push_back(std::move(r));
    return e;
  }

  ExprPtr parse_math1() {
    ExprPtr l = parse_concat();
    while (is_op("+") || is_op("-")) {
      std::string op = cur().text;
      std::size_t pos = cur().pos;
      advance();
      l = binary(op, std::move(l), parse_concat(), pos);
    }
    return l;
  }

  ExprPtr parse_concat() {
    ExprPtr l = parse_math2();
    while (is_op("~")) {
      std::size_t pos = cur().pos;
      advance();
      l = binary("~", std::move(l), parse_math2(), pos);
    }
    return l;
  }

  ExprPtr parse_math2() {
    ExprPtr l = parse_pow();
    while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
      std::string op = cur().text;
      std::size_t pos = cur().pos;
      advance();
      l = binary(op, std::move(l), parse_pow(), pos);
    }
    return l;
  }

  ExprPtr parse_pow() {
    ExprPtr l = parse_unary(true);
    while (is_op("**")) {
      std::size_t pos = cur().pos;
      advance();
      l = binary("**", std::move(l), parse_unary(true), pos);
    }
    return l;
  }

  ExprPtr parse_unary(bool with_filter) {
    DepthGuard g(*this);
    ExprPtr node;
    if (is_op("-") || is_op("+")) {
      auto e = make(is_op("-") ? ExprKind::kNeg : ExprKind::kPos, cur().pos);
      advance();
      e->args.push_back(parse_unary(false));
      node = std::move(e);
    } else {
      node = parse_primary();
    }
    node = parse_postfix(std::move(node));
    if (with_filter) node = parse_filter_expr(std::move(node));
    return node;
  }

  ExprPtr parse_primary() {
    const Token& t = cur();
    std::size_t pos = t.pos;
    switch (t.type) {
      case TokenType::kName: {
        auto e = make(ExprKind::kLiteral, pos);
        if (t.text == "true" || t.text == "True") e->literal = Value::boolean(true);
        else if (t.text == "false" || t.text == "False") e->literal = Value::boolean(false);
        else if (t.text == "none" || t.text == "None") e->literal = Value::none();
        else {
          e->kind = ExprKind::kName;
          e->name = t.text;
        }
        advance();
        return e;
      }
      case TokenType::kString: {
        std::string s;
        while (cur().type == TokenType::kString) {
          s += cur().text;
          advance();
        }
        auto e = make(ExprKind::kLiteral, pos);
        e->literal = Value::string(std::move(s));
        return e;
      }
      case TokenType::kInt: {
        auto e = make(ExprKind::kLiteral, pos);
        e->literal = Value::integer(t.int_value);
        advance();
        return e;
      }
      case TokenType::kFloat: {
        auto e = make(ExprKind::kLiteral, pos);
        e->literal = Value::number(t.float_value);
        advance();
        return e;
      }
      default: break;
    }
    if (is_op("(")) {
      advance();
      if (is_op(")")) {
        advance();
        return make(ExprKind::kTuple, pos);
      }
      ExprPtr e = parse_tuple(true);
      expect_op(")");
      return e;
    }
    if (is_op("[")) {
      advance();
      auto e = make(ExprKind::kList, pos);
      while (!is_op("]")) {
        if (!e->args.empty()) expect_op(",");
        if (is_op("]")) break;
        e->args.push_back(parse_expression(true));
      }
      advance();
      return e;
    }
    if (is_op("{")) {
      advance();
      auto e = make(ExprKind::kDict, pos);
      while (!is_op("}")) {
        if (!e->args.empty()) expect_op(",");
        if (is_op("}")) break;
        e->args.push_back(parse_expression(true));
        expect_op(":");
        e->args.push_back(parse_expression(true));
      }
      advance();
      return e;
    }
    fail_at(pos, fmt::format("unexpected {}", describe(t)));
  }

  ExprPtr parse_postfix(ExprPtr node) {
    while (true) {
      if (is_op(".") || is_op("[")) node = parse_subscript(std::move(node));
      else if (is_op("(")) node = parse_call(std::move(node));
      else return node;
    }
  }

  ExprPtr parse_filter_expr(ExprPtr node) {
    while (true) {
      if (is_op("|")) node = parse_filter(std::move(node));
      else if (is_name("is")) node = parse_test(std::move(node));
      else if (is_op("(")) node = parse_call(std::move(node));
      else return node;
    }
  }

  ExprPtr parse_subscript(ExprPtr node) {
    DepthGuard g(*this);
    std::size_t pos = cur().pos;
    if (skip_op(".")) {
      if (cur().type == TokenType::kName) {
        auto e = make(ExprKind::kGetAttr, pos);
        e->name = cur().text;
        e->args.push_back(std::move(node));
        advance();
        return e;
      }
      if (cur().type == TokenType::kInt) {
        auto e = make(ExprKind::kGetItem, pos);
        e->args.push_back(std::move(node));
        auto idx = make(ExprKind::kLiteral, cur().pos);
        idx->literal = Value::integer(cur().int_value);
        e->args.push_back(std::move(idx));
        advance();
        return e;
      }
      fail_at(cur().pos, fmt::format("expected a name after '.', got {}", describe(cur())));
    }
    advance();  // '['
    ExprPtr start, stop, step;
    bool slice = false;
    if (!is_op(":")) start = parse_expression(true);
    if (skip_op(":")) {
      slice = true;
      if (!is_op(":") && !is_op("]")) stop = parse_expression(true);
      if (skip_op(":")) {
        if (!is_op("]")) step = parse_expression(true);
      }
    }
    if (is_op(",")) fail_at(cur().pos, "unsupported Jinja construct 'tuple subscript'");
    expect_op("]");
    if (!slice) {
      auto e = make(ExprKind::kGetItem, pos);
      e->args.push_back(std::move(node));
      e->args.push_back(std::move(start));
      return e;
    }
    auto e = make(ExprKind::kSlice, pos);
    e->args.push_back(std::move(node));
    e->args.push_back(std::move(start));
    e->args.push_back(std::move(stop));
    e->args.push_back(std::move(step));
    return e;
  }

  // Parses "(args, kw=value)" into e->args (after any already there) and e->kwargs.
  void parse_call_args(Expr& e) {
    expect_op("(");
    bool first = true;
    while (!is_op(")")) {
      if (!first) expect_op(",");
      first = false;
      if (is_op(")")) break;
      if (is_op("*") || is_op("**")) fail_at(cur().pos, "unsupported Jinja construct '*args/**kwargs in a call'");
      if (cur().type == TokenType::kName && peek().type == TokenType::kOp && peek().text == "=") {
        std::string key = cur().text;
        advance();
        advance();
        e.kwargs.emplace_back(std::move(key), parse_expression(true));
      } else {
        if (!e.kwargs.empty()) fail_at(cur().pos, "positional argument follows keyword argument");
        e.args.push_back(parse_expression(true));
      }
    }
    advance();
  }

  ExprPtr parse_call(ExprPtr node) {
    DepthGuard g(*this);
    auto e = make(ExprKind::kCall, cur().pos);
    e->args.push_back(std::move(node));
    parse_call_args(*e);
    return e;
  }

  std::string dotted_name() {
    std::string n = expect_name();
    while (is_op(".") && peek().type == TokenType::kName) {
      advance();
      n += "." + cur().text;
      advance();
    }
    return n;
  }

  ExprPtr parse_filter(ExprPtr node) {
    DepthGuard g(*this);
    advance();  // '|'
    std::size_t pos = cur().pos;
    auto e = make(ExprKind::kFilter, pos);
    e->name = dotted_name();
    if (!is_known_filter(e->name)) fail_at(pos, fmt::format("unsupported Jinja filter '{}'", e->name));
    e->args.push_back(std::move(node));
    if (is_op("(")) parse_call_args(*e);
    return e;
  }

  ExprPtr parse_test(ExprPtr node) {
    DepthGuard g(*this);
    advance();  // 'is'
    bool negated = skip_name("not");
    std::size_t pos = cur().pos;
    auto e = make(ExprKind::kTest, pos);
    e->name = dotted_name();
    e->negated = negated;
    if (!is_known_test(e->name)) fail_at(pos, fmt::format("unsupported Jinja test '{}'", e->name));
    e->args.push_back(std::move(node));
    if (is_op("(")) {
      parse_call_args(*e);
    } else {
      auto ty = cur().type;
      bool starts_arg = ty == TokenType::kName || ty == TokenType::kString || ty == TokenType::kInt ||
                        ty == TokenType::kFloat || is_op("(") || is_op("[") || is_op("{");
      if (starts_arg && !is_name("else") && !is_name("or") && !is_name("and")) {
        if (is_name("is")) fail_at(cur().pos, "You cannot chain multiple tests with is");
        e->args.push_back(parse_postfix(parse_primary()));
      }
    }
    return e;
  }

  std::shared_ptr<Template> t_;
  std::vector<Token> toks_;
  std::size_t i_ = 0;
  int depth_ = 0;
  int loop_depth_ = 0;
};

}  // namespace

std::shared_ptr<const Template> parse(std::string_view source) {
  auto t = std::make_shared<Template>();
  t->source = normalize_source(source);
  Parser(t).run();
  return t;
}

}  // namespace xling::tokenize::jinja
