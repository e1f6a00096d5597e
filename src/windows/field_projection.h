#pragma once
// Reads only the top-level fields a window definition uses (its key fields and aggregates'
// fields) out of an event's JSON payload, with simdjson's on-demand parser, into a small JSON
// object the operator takes. Building the whole document with Boost.JSON cost more than the
// window operator itself (docs/benchmarks.md); definitions with a filter still parse it all.

#include <simdjson.h>

#include <boost/json/value.hpp>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::windows {

class FieldProjection {
 public:
  // `fields`: dotted paths; their first segments are the fields kept.
  explicit FieldProjection(const std::vector<std::string>& fields);

  // The payload's kept fields, or nullptr when it is not a JSON object simdjson reads (the
  // caller parses it whole then). Valid until the next call.
  const boost::json::value* project(std::string_view payload);

 private:
  std::set<std::string, std::less<>> names_;
  simdjson::ondemand::parser parser_;
  std::string buffer_;  // the payload with simdjson's padding
  boost::json::value out_;
};

}  // namespace sluice::windows
