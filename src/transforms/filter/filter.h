#pragma once
// filter: keeps the events for which an expression is true and drops the others.
//
//   steps:
//     - filter: 'type == "TEMP" && value > 90'

#include <memory>
#include <string>

#include "config/table.h"
#include "core/result.h"
#include "expr/expression.h"
#include "pipeline/transform.h"

namespace sluice::transforms {

class Filter : public pipeline::Transform {
 public:
  struct Settings {
    std::string when;
  };
  static const config::Table& settings_table();
  static Result<std::unique_ptr<pipeline::Transform>> build(const pipeline::TransformContext&,
                                                            const Settings& settings);

  explicit Filter(expr::Expression when) : when_(std::move(when)) {}
  bool apply(pipeline::PipelineEvent& event) override { return when_.matches(event.json()); }

 private:
  expr::Expression when_;
};

}  // namespace sluice::transforms
