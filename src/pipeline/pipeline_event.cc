#include "pipeline/pipeline_event.h"

#include <boost/json.hpp>

#include "core/json_write.h"

namespace sluice::pipeline {

const boost::json::value& PipelineEvent::json() {
  if (!json_) {
    boost::system::error_code ec;
    auto parsed = boost::json::parse(envelope_.payload, ec);
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
