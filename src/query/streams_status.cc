#include "query/streams_status.h"

#include <fmt/format.h>

#include "core/json_text.h"
#include "core/time.h"
#include "processor/processor.h"
#include "store/positions.h"

namespace sluice::query {
namespace {

// The stream's newest stored event by event time: {"id":…,"ts":…,"received_at":…} or null.
// What the processor stored (or dead-lettered), per partition, as the store keeps it: its
// committed offsets less the events retention deleted before it read them.
Result<std::map<log::Partition, std::uint64_t>> stored_counts(StoreReader& reader) {
  auto sql = reader.sql();
  sql += "SELECT stream, partition, next_offset - skipped FROM sluice_positions WHERE consumer = ";
  sql.bind(std::string(store::positions::kStoreConsumer));
  std::map<log::Partition, std::uint64_t> out;
  auto read = reader.query(sql, [&](const Row& row) {
    out[log::Partition(std::string(row.text(0)), static_cast<std::uint32_t>(row.integer(1)))] =
        static_cast<std::uint64_t>(row.integer(2));
    return true;
  });
  if (!read) return read.error();
  return out;
}

Result<std::string> newest_event(StoreReader& reader, const std::string& stream) {
  auto sql = reader.sql();
  sql += "SELECT id, ts, received_at FROM events WHERE stream = ";
  sql.bind(stream);
  sql += " ORDER BY ts DESC, seq DESC LIMIT 1";
  std::string out = "null";
  auto read = reader.query(sql, [&](const Row& row) {
    out = "{\"id\":";
    append_json_string(out, row.text(0));
    out += ",\"ts\":\"" + format_iso8601_ms(row.integer(1)) + "\",\"received_at\":\"" +
           format_iso8601_ms(row.integer(2)) + "\"}";
    return false;
  });
  if (!read) return read.error();
  return out;
}

}  // namespace

Result<std::string> query_streams(const StreamsSources& sources, const Params& params) {
  std::optional<std::string> only;
  for (const auto& [name, value] : params) {
    if (name != "stream") {
      return make_error(Errc::kInvalidInput,
                        fmt::format("unknown parameter \"{}\"; valid parameters: stream", name));
    }
    if (!sources.config.streams.contains(value)) {
      return make_error(Errc::kNotFound, fmt::format("unknown stream \"{}\"", value));
    }
    only = value;
  }
  std::map<log::Partition, std::uint64_t> stored_by_partition;
  if (sources.store) {
    stored_by_partition = sources.store->stored();
  } else if (sources.reader) {  // an API replica: what the processors committed to the store
    auto committed = stored_counts(*sources.reader);
    if (!committed) return committed.error();
    stored_by_partition = std::move(committed.value());
  }
  const bool with_stored = sources.store || sources.reader;
  std::string out = "{\"streams\":[";
  bool first = true;
  for (const auto& [name, stream] : sources.config.streams) {
    if (only && *only != name) continue;
    if (!first) out += ',';
    first = false;
    std::uint64_t in_log = 0, stored = 0;
    for (std::uint32_t p = 0; p < stream.partitions; ++p) {
      const log::Partition partition(name, p);
      in_log += sources.log.end_offset(partition);
      if (auto it = stored_by_partition.find(partition); it != stored_by_partition.end()) {
        stored += it->second;
      }
    }
    out += "{\"name\":";
    append_json_string(out, name);
    out += fmt::format(",\"partitions\":{},\"in_log\":{}", stream.partitions, in_log);
    if (with_stored) out += fmt::format(",\"stored\":{}", stored);
    out += ",\"dead_letter\":";
    if (stream.dead_letter.empty()) {
      out += "null";
    } else {
      append_json_string(out, stream.dead_letter);
    }
    out += ',';
    sources.intake(out, name);
    if (sources.reader) {
      auto newest = newest_event(*sources.reader, name);
      if (!newest) return newest.error();
      out += ",\"newest_event\":" + newest.value();
    }
    out += '}';
  }
  out += "]}";
  return out;
}

}  // namespace sluice::query
