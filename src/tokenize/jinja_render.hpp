// Evaluator of the Jinja subset: renders a parsed Template with variables, as transformers'
// ImmutableSandboxedEnvironment does (globals raise_exception, strftime_now, namespace, range;
// the tojson filter with ensure_ascii=False; loopcontrols). Output size and evaluation steps
// are bounded so that hostile templates end with a TemplateError.
#pragma once

#include <cstddef>
#include <string>

#include "tokenize/jinja_parser.hpp"
#include "tokenize/jinja_value.hpp"

namespace xling::tokenize::jinja {

struct RenderLimits {
  std::size_t max_output_bytes = std::size_t{64} << 20;  // also the largest string value
  std::size_t max_steps = 50'000'000;                     // statements, loop iterations, calls
  int max_depth = 256;                                     // nested evaluation (macros included)
};

// `vars`: the top-level variables (a Dict of name -> value). Throws TemplateError (with the
// line and column) or TemplateRaised (raise_exception).
std::string render(const Template& t, const Dict& vars, const RenderLimits& limits = {});

}  // namespace xling::tokenize::jinja
