#pragma once
// The expression language of pipelines and alert rules (docs/expressions.md): conditions and
// computed values over one event, such as
//
//   type == "TEMP" && value > 90
//   severity in ["high", "critical"] and not exists(test)
//   user.country == "NO" || page matches "^/docs/"
//   price * quantity >= 100
//
// An expression is parsed once, when the configuration loads; a syntax error names the column.
// Evaluation never fails: a missing field is null, and an operator applied to values it does
// not take (a number compared with text, arithmetic on text) gives null, which is not true.
// A parsed expression is immutable and may be evaluated from any number of threads at once.

#include <boost/json/value.hpp>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "core/result.h"

namespace sluice::expr {

struct Node;

class Expression {
 public:
  // The error message is "column N: what was expected".
  static Result<Expression> parse(std::string_view text);

  Expression(Expression&&) noexcept;
  Expression& operator=(Expression&&) noexcept;
  ~Expression();

  // The value of the expression for `event` (a JSON object; other values have no fields).
  boost::json::value evaluate(const boost::json::value& event) const;
  // True only when the value is the boolean true.
  bool matches(const boost::json::value& event) const;

  // The top-level fields it reads: `user` for `user.country`.
  std::set<std::string> fields() const;

  const std::string& text() const { return text_; }

 private:
  Expression(std::string text, std::unique_ptr<Node> root);
  std::string text_;
  std::unique_ptr<Node> root_;
};

}  // namespace sluice::expr

namespace sluice::expr {

// For settings that hold an expression: the parse error ("column N: ..."), if any.
inline std::optional<std::string> syntax_error(std::string_view text) {
  auto parsed = Expression::parse(text);
  if (!parsed) return parsed.error().message;
  return std::nullopt;
}

}  // namespace sluice::expr
