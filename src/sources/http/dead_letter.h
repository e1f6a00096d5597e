#pragma once
// Dead letters: the events a stream rejected, kept with the reason in the stream named by its
// `dead_letter` setting, so nothing a client sent is silently dropped.

#include <cstdint>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "log/log.h"
#include "sources/http/ingest.h"

namespace sluice::collector {

// Records for the dead-letter stream `dead`: one JSON object per rejection with the source
// stream, index, error, arrival time and the event (or its raw text).
std::vector<log::RecordBatch> dead_letter_batches(const std::vector<Rejection>& rejected,
                                                  std::string_view source_stream,
                                                  const StreamConfig& dead,
                                                  std::int64_t received_at_ms);

}  // namespace sluice::collector
