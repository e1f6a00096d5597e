#pragma once
// route: chooses, per event, which of the pipeline's sinks get it.
//
//   to: [pager, archive]
//   steps:
//     - route: {when: 'severity == "critical"', to: [pager]}
//
// Sinks in `to` get only the events for which `when` is true; sinks in `else` get only the
// others; the pipeline's other sinks are not affected. Several route steps combine: an event
// reaches a sink only if every step lets it.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "config/table.h"
#include "core/result.h"
#include "expr/expression.h"
#include "pipeline/transform.h"

namespace sluice::transforms {

class Route : public pipeline::Transform {
 public:
  struct Settings {
    std::string when;
    std::vector<std::string> to;
    std::vector<std::string> otherwise;  // `else`
  };
  static const config::Table& settings_table();
  static Result<std::unique_ptr<pipeline::Transform>> build(const pipeline::TransformContext&,
                                                            const Settings& settings);

  Route(expr::Expression when, std::uint64_t to_mask, std::uint64_t else_mask)
      : when_(std::move(when)), to_mask_(to_mask), else_mask_(else_mask) {}
  bool apply(pipeline::PipelineEvent& event) override;

 private:
  expr::Expression when_;
  std::uint64_t to_mask_;    // sinks that get only matching events
  std::uint64_t else_mask_;  // sinks that get only the others
};

}  // namespace sluice::transforms
