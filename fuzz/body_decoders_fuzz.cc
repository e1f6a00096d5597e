// Fuzzes the collector's body decoders: JSON, arrays, NDJSON, batch envelopes, forms and
// gzip/deflate, under a stream with a schema, sanitisation and privacy rules (so the rewrite
// path runs too). The first byte picks the content type and encoding; the rest is the body.
//
// Besides sanitizer findings it checks that every record built (accepted events and dead
// letters) decodes, and that its payload is a JSON object that Boost.JSON (what the processor,
// sinks and API use) reads with finite numbers only.
#include <boost/json.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/bytes.h"
#include "core/json_finite.h"
#include "log/log_format.h"
#include "sources/http/dead_letter.h"
#include "sources/http/decompress.h"
#include "sources/http/ingest.h"

namespace {

using namespace sluice;

const StreamConfig& plain_stream() {
  static const StreamConfig stream{.name = "events",
                                   .partitions = 3,
                                   .id_field = "id",
                                   .key_field = "user",
                                   .time_field = "timestamp",
                                   .type_field = "type",
                                   .envelope_fields = {"events", "batch"}};
  return stream;
}

const StreamConfig& ruled_stream() {
  static const StreamConfig stream = [] {
    StreamConfig s = plain_stream();
    s.schema = R"({"type":"object","properties":{"email":{"type":"string","format":"email"},
      "n":{"type":"integer","maximum":100},"tags":{"type":"array","maxItems":3,
      "items":{"type":"string","maxLength":8}},"site":{"format":"uri"},
      "code":{"type":"string","pattern":"^[a-z]+-[0-9]+$"},"at":{"format":"date-time"}}})";
    s.sanitize.fields = {"*"};
    s.sanitize.lowercase_fields = {"email"};
    s.sanitize.max_length = 64;
    s.privacy.ip_field = "ip";
    s.privacy.anonymize_ip = true;
    s.privacy.hash_fields = {"user"};
    s.privacy.drop_fields = {"secret"};
    s.privacy.hash_key = "k";
    return s;
  }();
  return stream;
}

void check_payload(std::string_view payload) {
  boost::system::error_code ec;
  boost::json::parse_options options;
  options.max_depth = 128;
  const auto value = boost::json::parse(payload, ec, {}, options);
  if (ec || !value.is_object() || !finite_numbers(value)) {
    std::fprintf(stderr, "stored payload Boost.JSON cannot read (%s): %.*s\n",
                 ec ? ec.message().c_str() : "not an object of finite numbers",
                 static_cast<int>(payload.size()), payload.data());
    std::abort();
  }
}

void check_records(collector::IngestBatch& batch) {
  for (auto& records : batch.partitions) {
    records.seal();
    const std::string_view frame = records.frame();
    std::size_t pos = log::kFrameHeaderSize;
    while (pos < frame.size()) {
      const auto length = load_le<std::uint32_t>(frame.data() + pos);
      pos += log::kRecordLengthSize;
      const auto event = decode_event(frame.substr(pos, length));
      if (!event) std::abort();
      check_payload(event->payload);
      pos += length;
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  static constexpr const char* kTypes[] = {"application/json", "application/x-ndjson",
                                           "application/x-www-form-urlencoded", "text/plain"};
  const std::uint8_t mode = data[0];
  std::string body(reinterpret_cast<const char*>(data + 1), size - 1);
  if (mode & 0x10) {
    auto inflated = collector::decompress_body((mode & 0x20) ? "deflate" : "gzip", body, 1 << 20);
    if (!inflated) return 0;
    body = std::move(inflated.value());
  }
  const StreamConfig& stream = (mode & 0x40) ? ruled_stream() : plain_stream();
  static const auto plain_policy = collector::StreamPolicy::build(plain_stream()).value();
  static const auto ruled_policy = collector::StreamPolicy::build(ruled_stream()).value();
  auto kind = collector::body_kind(kTypes[mode & 3], body);
  if (!kind) return 0;
  // A client's own format (as an SDK route reads bodies): other field names, a type read from
  // a second field, a field added when absent and one never kept.
  static const collector::BodyFormat sdk_format{
      .fields = {.id = "uuid", .key = "user", .time = "at", .type = "kind", .type_fallback = "e"},
      .envelope_fields = {"data", "events"},
      .dropped = {"secret"},
      .defaults = {{.name = "source", .json = "\"fuzz\""}}};
  const collector::BodyFormat own_format = collector::BodyFormat::of(stream);
  const collector::IngestContext context{.stream = stream,
                                         .policy = (mode & 0x40) ? *ruled_policy : *plain_policy,
                                         .format = (mode & 0x08) ? sdk_format : own_format,
                                         .received_at_ms = 1760355000000,
                                         .client_ip = "192.0.2.1",
                                         .form = (mode & 0x80) != 0,
                                         .keep_rejected = true};
  auto parsed = collector::parse_body(body, kind.value(), context);
  if (!parsed) return 0;
  auto& batch = parsed.value();
  check_records(batch);
  auto dead = collector::dead_letter_batches(batch.rejected, "events", plain_stream(), 0);
  collector::IngestBatch dead_batch;
  dead_batch.partitions = std::move(dead);
  check_records(dead_batch);
  (void)collector::ingest_response_json(batch.accepted(), batch.rejected);
  return 0;
}
