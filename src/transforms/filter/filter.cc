#include "transforms/filter/filter.h"

namespace sluice::transforms {

const config::Table& Filter::settings_table() {
  static const config::Table table{
      "filter",
      "Keeps the events for which `when` is true; drops the others. Written as "
      "`- filter: '<expression>'` or `- filter: {when: '<expression>'}` (docs/expressions.md).",
      {
          config::string_setting("when", &Settings::when, "",
                                 "The condition (docs/expressions.md). Required.",
                                 [](const config::Scalar& v) -> std::optional<std::string> {
                                   if (v.text.empty()) return "an expression is required";
                                   return expr::syntax_error(v.text);
                                 }),
      },
      "when"};
  return table;
}

Result<std::unique_ptr<pipeline::Transform>> Filter::build(const pipeline::TransformContext&,
                                                           const Settings& settings) {
  auto when = expr::Expression::parse(settings.when);
  if (!when) return when.error();
  return std::unique_ptr<pipeline::Transform>(std::make_unique<Filter>(std::move(when.value())));
}

}  // namespace sluice::transforms
