#pragma once
// A record another producer wrote into a stream's topic (log.backend kafka): JSON, but without
// the envelope Sluice's own records carry. The stream's source (src/sources/kafka) makes an
// event of it; the log only carries the bytes.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"

namespace sluice::log {

struct ForeignRecord {
  std::string_view topic;
  std::uint32_t partition = 0;
  std::uint64_t offset = 0;
  std::optional<std::int64_t> timestamp_ms;  // the record's timestamp, when it has one
  std::string_view key;
  std::string_view value;
};

// Appends the event's binary record (core/event.h) to `out`, or says why the record cannot be
// an event (it is then skipped, counted and logged). Called from every reading thread.
using ForeignReader = std::function<Result<void>(const ForeignRecord& record, std::string& out)>;

}  // namespace sluice::log
