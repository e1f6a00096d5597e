#pragma once
// The JSON object a sink writes for one event, the same shape GET /v1/events returns:
// {"id":…,"stream":…,"ts":"…","received_at":"…","key":…,"type":…,"payload":{…}}

#include <string>

#include "pipeline/sink.h"

namespace sluice::pipeline {

void append_event_json(std::string& out, const SinkRecord& record);

}  // namespace sluice::pipeline
