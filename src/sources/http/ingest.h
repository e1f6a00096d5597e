#pragma once
// Turning a POSTed body into log records: the collector's per-event hot path.
//
// Accepted shapes: one JSON object; a JSON array of objects; NDJSON (one object per line,
// also recognised without its content type when a body holds several objects). Each event is
// fully validated as JSON with simdjson on-demand (no DOM is built), the stream's id, key, time
// and type fields are read from its top level, and its original bytes become the payload.
//
// A syntax error anywhere rejects the whole request (kInvalidInput, with the byte offset).
// An event that is well-formed JSON but unusable (not an object, a bad time value, an id over
// its limit) is rejected alone and listed with its index; the other events go on.
// Thread-safe: each thread uses its own parsers.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "core/result.h"
#include "log/log.h"

namespace sluice::http {

inline constexpr int kMaxJsonDepth = 64;
inline constexpr std::size_t kMaxIdBytes = 256;
inline constexpr std::size_t kMaxKeyBytes = 1024;
inline constexpr std::size_t kMaxTypeBytes = 256;

struct Rejection {
  std::size_t index;
  std::string error;
};

struct IngestBatch {
  std::vector<log::RecordBatch> partitions;  // the accepted events, by partition of the stream
  std::vector<Rejection> rejected;

  std::size_t accepted() const {
    std::size_t count = 0;
    for (const auto& records : partitions)
      count += records.count();
    return count;
  }
};

// `body` may be grown (capacity only) to give the parser its padding.
Result<IngestBatch> parse_events(std::string& body, std::string_view content_type,
                                 const StreamConfig& stream, std::int64_t received_at_ms);

// {"accepted":N,"rejected":[{"index":i,"error":"..."}]}
std::string ingest_response_json(std::size_t accepted, const std::vector<Rejection>& rejected);

}  // namespace sluice::http
