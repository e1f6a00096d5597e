#pragma once
// remap: renames, converts, computes and drops fields, in that order.
//
//   - remap:
//       rename: {usr: user_id}
//       set: {total: 'price * quantity', source: '"web"'}
//       cast: {value: number, count: integer}
//       drop: [debug, internal.trace]
//
// Field names are dotted paths into nested objects. `set` values are expressions over the
// event as it is after `rename` and `cast` (docs/expressions.md). `cast` converts to string,
// number, integer or boolean; a value that does not convert becomes null.

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "config/table.h"
#include "core/result.h"
#include "expr/expression.h"
#include "pipeline/transform.h"

namespace sluice::transforms {

class Remap : public pipeline::Transform {
 public:
  struct Settings {
    std::string rename;  // JSON object: old path -> new path
    std::string set;     // JSON object: path -> expression
    std::string cast;    // JSON object: path -> type
    std::vector<std::string> drop;
  };
  static const config::Table& settings_table();
  static Result<std::unique_ptr<pipeline::Transform>> build(const pipeline::TransformContext&,
                                                            const Settings& settings);

  enum class Type { kString, kNumber, kInteger, kBoolean };
  struct Plan {
    std::vector<std::pair<std::string, std::string>> rename;
    std::vector<std::pair<std::string, expr::Expression>> set;
    std::vector<std::pair<std::string, Type>> cast;
    std::vector<std::string> drop;
  };
  explicit Remap(Plan plan) : plan_(std::move(plan)) {}
  bool apply(pipeline::PipelineEvent& event) override;

 private:
  Plan plan_;
};

}  // namespace sluice::transforms
