#include "pipeline/pipeline_event.h"

#include <boost/json.hpp>

#include "core/json_write.h"

namespace sluice::pipeline {

const boost::json::value& PipelineEvent::json() {
  if (!json_) {
    boost::system::error_code ec;
    // Boost.JSON stops at 32 levels unless told; the collector lets events nest 64 deep.
    boost::json::parse_options options;
    options.max_depth = 256;
    auto parsed = boost::json::parse(envelope_.payload, ec, {}, options);
    json_ = ec ? boost::json::value(boost::json::object()) : std::move(parsed);
  }
  return *json_;
}

boost::json::value& PipelineEvent::mutable_json() {
  json();
  changed_ = true;
  rendered_.clear();
  return *json_;
}

std::string_view PipelineEvent::payload() {
  if (!changed_) return envelope_.payload;
  if (rendered_.empty()) rendered_ = json_text(*json_);
  return rendered_;
}

}  // namespace sluice::pipeline
