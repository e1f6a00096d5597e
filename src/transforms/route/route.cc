#include "transforms/route/route.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

namespace sluice::transforms {

const config::Table& Route::settings_table() {
  static const config::Table table{
      "route",
      "Chooses the sinks of each event: the sinks in `to` get only the events for which `when` "
      "is true, the sinks in `else` only the others; the pipeline's other sinks are not "
      "affected.",
      {
          config::string_setting("when", &Settings::when, "",
                                 "The condition (docs/expressions.md). Required.",
                                 [](const config::Scalar& v) -> std::optional<std::string> {
                                   if (v.text.empty()) return "an expression is required";
                                   return expr::syntax_error(v.text);
                                 }),
          config::string_list_setting("to", &Settings::to, "[]",
                                      "Sinks (of the pipeline's `to`) that get the matching "
                                      "events only."),
          config::string_list_setting("else", &Settings::otherwise, "[]",
                                      "Sinks (of the pipeline's `to`) that get the other events "
                                      "only."),
      }};
  return table;
}

Result<std::unique_ptr<pipeline::Transform>> Route::build(const pipeline::TransformContext& context,
                                                          const Settings& settings) {
  auto when = expr::Expression::parse(settings.when);
  if (!when) return when.error();
  if (settings.to.empty() && settings.otherwise.empty()) {
    return make_error(Errc::kInvalidInput, "route needs `to`, `else` or both");
  }
  auto mask_of = [&](const std::vector<std::string>& names) -> Result<std::uint64_t> {
    std::uint64_t mask = 0;
    for (const auto& name : names) {
      auto it = std::find(context.sinks.begin(), context.sinks.end(), name);
      if (it == context.sinks.end()) {
        return make_error(Errc::kInvalidInput,
                          fmt::format("\"{}\" is not one of the pipeline's sinks (its `to`: {})",
                                      name, fmt::join(context.sinks, ", ")));
      }
      mask |= std::uint64_t{1} << (it - context.sinks.begin());
    }
    return mask;
  };
  auto to = mask_of(settings.to);
  if (!to) return to.error();
  auto otherwise = mask_of(settings.otherwise);
  if (!otherwise) return otherwise.error();
  return std::unique_ptr<pipeline::Transform>(
      std::make_unique<Route>(std::move(when.value()), to.value(), otherwise.value()));
}

bool Route::apply(pipeline::PipelineEvent& event) {
  event.sinks &= when_.matches(event.json()) ? ~else_mask_ : ~to_mask_;
  return true;
}

}  // namespace sluice::transforms
