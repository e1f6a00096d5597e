#include "windows/window_spec.h"

#include <boost/json.hpp>

namespace sluice::windows {

WindowSpec spec_of(const WindowConfig& config) {
  WindowSpec spec;
  if (config.kind == "hopping") {
    spec.kind = WindowSpec::Kind::kHopping;
  } else if (config.kind == "session") {
    spec.kind = WindowSpec::Kind::kSession;
  }
  spec.size_ms = config.shape.size.count();
  spec.every_ms = config.shape.every.count();
  spec.gap_ms = config.shape.gap.count();
  spec.allowed_lateness_ms = config.allowed_lateness.count();
  spec.key_fields = config.key;
  const boost::json::value aggregates = boost::json::parse(config.aggregates);
  for (const auto& [name, text] : aggregates.as_object()) {
    spec.aggregates.push_back(parse_aggregate(std::string(name), text.as_string()).value());
  }
  return spec;
}

}  // namespace sluice::windows
