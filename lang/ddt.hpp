// ddt(e): the symbolic time derivative of a time-stage expression, so that a
// process can be given by its marginal variance (diffusion = sqrt(ddt(var))).
#pragma once

#include "lang/diagnostics.hpp"
#include "lang/expr.hpp"

namespace spdec::lang {

/// d e / d t, or null after reporting E031 (e reads a field or a learnable
/// schedule, whose derivative is not symbolic).
[[nodiscard]] ExprRef time_derivative(const ExprRef& e, Span span, const SourcePtr& file,
                                      Diagnostics& diagnostics);

}  // namespace spdec::lang
