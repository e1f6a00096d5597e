#include <xxhash.h>

#include "core/bytes.h"
#include "core/crc32c.h"
#include "log/log.h"
#include "log/log_format.h"

namespace sluice::log {

std::optional<FrameHeader> parse_frame_header(std::string_view bytes) {
  if (bytes.size() < kFrameHeaderSize || load_le<std::uint32_t>(bytes.data()) != kFrameMagic) {
    return std::nullopt;
  }
  const std::string_view covered =
      bytes.substr(kHeaderCrcStart, kFrameHeaderSize - kHeaderCrcStart);
  if (crc32c(covered) != load_le<std::uint32_t>(bytes.data() + 4)) return std::nullopt;
  FrameHeader header{.base_offset = load_le<std::uint64_t>(bytes.data() + 8),
                     .count = load_le<std::uint32_t>(bytes.data() + 16),
                     .body_length = load_le<std::uint32_t>(bytes.data() + 20),
                     .body_crc = load_le<std::uint32_t>(bytes.data() + 24)};
  if (header.body_length > kMaxFrameBody) return std::nullopt;
  return header;
}

void stamp_frame(char* frame, std::uint64_t base_offset) {
  store_le<std::uint64_t>(frame + 8, base_offset);
  const std::string_view covered(frame + kHeaderCrcStart, kFrameHeaderSize - kHeaderCrcStart);
  store_le<std::uint32_t>(frame + 4, crc32c(covered));
}

RecordBatch::RecordBatch() {
  bytes_.resize(kFrameHeaderSize);
}

RecordBatch::RecordBatch(std::size_t bytes) {
  bytes_.reserve(kFrameHeaderSize + bytes);
  bytes_.resize(kFrameHeaderSize);
}

void RecordBatch::add(const EventView& event, std::string_view payload_tail) {
  std::size_t length_at = bytes_.size();
  bytes_.resize(length_at + kRecordLengthSize);
  encode_event(event, payload_tail, bytes_);
  auto length = static_cast<std::uint32_t>(bytes_.size() - length_at - kRecordLengthSize);
  store_le<std::uint32_t>(bytes_.data() + length_at, length);
  ++count_;
}

void RecordBatch::seal() {
  const std::string_view body(bytes_.data() + kFrameHeaderSize, bytes_.size() - kFrameHeaderSize);
  store_le<std::uint32_t>(bytes_.data(), kFrameMagic);
  store_le<std::uint32_t>(bytes_.data() + 16, count_);
  store_le<std::uint32_t>(bytes_.data() + 20, static_cast<std::uint32_t>(body.size()));
  store_le<std::uint32_t>(bytes_.data() + 24, crc32c(body));
  stamp_frame(bytes_.data(), 0);
}

void RecordBatch::stamp(Offset base_offset) {
  stamp_frame(bytes_.data(), base_offset);
}

Error unknown_partition(const Partition& partition) {
  return make_error(Errc::kNotFound, "unknown stream or partition \"" + partition.stream + "/" +
                                         std::to_string(partition.index) + "\"");
}

std::uint32_t partition_for(std::string_view key, std::uint32_t partitions) {
  if (partitions <= 1) return 0;
  // XXH3 with seed 0: stable across versions and machines (a CRC would not do: it is linear, so
  // keys that differ in one character share their low bits and pile into few partitions).
  return static_cast<std::uint32_t>(XXH3_64bits(key.data(), key.size()) % partitions);
}

std::optional<std::uint32_t> only_partition(const std::vector<RecordBatch>& batches) {
  std::optional<std::uint32_t> only;
  for (std::uint32_t p = 0; p < batches.size(); ++p) {
    if (batches[p].count() == 0) continue;
    if (only) return std::nullopt;
    only = p;
  }
  return only;
}

void append_partitions(Log& log, const std::string& stream, std::vector<RecordBatch> batches,
                       std::function<void(Result<void>)> done) {
  // One partition (most streams, and every single-event request): no join needed.
  if (auto p = only_partition(batches)) {
    log.append(Partition(stream, *p), std::move(batches[*p]),
               [done = std::move(done)](Result<Offset> result) {
                 if (result) {
                   done(boost::outcome_v2::success());
                 } else {
                   done(result.error());
                 }
               });
    return;
  }
  struct Join {
    std::mutex mutex;
    std::size_t remaining = 0;
    std::optional<Error> error;
    std::function<void(Result<void>)> done;
  };
  auto join = std::make_shared<Join>();
  join->done = std::move(done);
  for (const auto& batch : batches)
    join->remaining += batch.count() > 0 ? 1 : 0;
  if (join->remaining == 0) {
    join->done(boost::outcome_v2::success());
    return;
  }
  for (std::uint32_t p = 0; p < batches.size(); ++p) {
    if (batches[p].count() == 0) continue;
    log.append(Partition(stream, p), std::move(batches[p]), [join](Result<Offset> result) {
      std::unique_lock lock(join->mutex);
      if (!result && !join->error) join->error = result.error();
      if (--join->remaining > 0) return;
      lock.unlock();
      if (join->error) {
        join->done(*join->error);
      } else {
        join->done(boost::outcome_v2::success());
      }
    });
  }
}

}  // namespace sluice::log
