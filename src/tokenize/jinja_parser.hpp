// Syntax tree and parser of xling's Jinja subset. The grammar and operator precedence are
// jinja2's (parser.py); constructs outside the subset fail here with "unsupported Jinja
// construct 'NAME' at line L, column C", unknown filters and tests too (as jinja2 fails at
// compile time). Nesting deeper than kMaxNesting is an error, so hostile templates cannot
// overflow the stack.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tokenize/jinja_value.hpp"

namespace xling::tokenize::jinja {

inline constexpr int kMaxNesting = 128;

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

enum class ExprKind {
  kLiteral,   // literal
  kName,      // name
  kGetAttr,   // args[0].name
  kGetItem,   // args[0][args[1]]
  kSlice,     // args[0][args[1]:args[2]:args[3]] (null = omitted)
  kCall,      // args[0](args[1:], kwargs)
  kFilter,    // args[0] | name(args[1:], kwargs)
  kTest,      // args[0] is [not] name(args[1:])
  kNeg,       // -args[0]
  kPos,       // +args[0]
  kNot,       // not args[0]
  kBinary,    // args[0] name args[1]: + - * / // % ** ~
  kAnd,
  kOr,
  kCompare,   // args[0] ops[0] args[1] ops[1] args[2] ... (chained)
  kCondExpr,  // args[1] if args[0] else args[2] (null = undefined)
  kList,
  kTuple,
  kDict,      // kwargs-like pairs in args: key, value, key, value, ...
};

struct Expr {
  ExprKind kind;
  std::size_t pos = 0;
  std::string name;
  Value literal;
  std::vector<ExprPtr> args;
  std::vector<std::pair<std::string, ExprPtr>> kwargs;
  std::vector<std::string> ops;
  bool negated = false;
};

struct Stmt;
using Body = std::vector<std::unique_ptr<Stmt>>;

enum class StmtKind { kText, kOutput, kIf, kFor, kSet, kSetAttr, kSetBlock, kMacro, kBreak, kContinue, kBlock };

struct Stmt {
  StmtKind kind;
  std::size_t pos = 0;
  std::string text;                  // kText data; kSet/kSetBlock/kMacro name; kSetAttr attribute
  ExprPtr expr;                      // kOutput; kFor iterable; kSet/kSetAttr value; kSetAttr namespace
  ExprPtr target_ns;                 // kSetAttr: the namespace expression
  ExprPtr filter;                    // kFor: the `if` filter
  std::vector<std::string> targets;  // kFor loop variables; kSet names (several = unpacking)
  std::vector<std::pair<ExprPtr, Body>> branches;  // kIf: (condition, body) for if/elif
  Body body, else_body;              // kFor/kIf/kSetBlock/kMacro/kBlock bodies
  std::vector<std::string> params;   // kMacro
  std::vector<ExprPtr> defaults;     // kMacro: parallel to params, null = required
};

// A parsed template: the normalized source (for error positions) and its statements.
struct Template {
  std::string source;
  Body body;
};

// Parses `source` (normalized internally). Throws TemplateError.
std::shared_ptr<const Template> parse(std::string_view source);

bool is_known_filter(const std::string& name);
bool is_known_test(const std::string& name);

}  // namespace xling::tokenize::jinja
