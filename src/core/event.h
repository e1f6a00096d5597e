#pragma once
// The event envelope (docs/ARCHITECTURE.md, "Event model") and its binary record encoding.
//
// An event is the client's JSON object, kept byte for byte as `payload`, plus the envelope the
// collector derives from it: id (client-supplied idempotency key or a generated UUIDv7),
// event time `ts`, `received_at`, partition `key` and `type`. The stream is not stored in the
// record: it is implied by where the record lives.
//
// EventView borrows its strings; the owner of the bytes keeps them alive.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sluice {

struct EventView {
  std::string_view id;
  std::int64_t ts_ms = 0;
  std::int64_t received_at_ms = 0;
  std::optional<std::string_view> key;
  std::optional<std::string_view> type;
  std::string_view payload;  // the original JSON object text
};

// Record layout, version 1 (all integers little-endian):
//   u8 version = 1 | u8 flags (bit 0: has key, bit 1: has type)
//   i64 ts_ms | i64 received_at_ms
//   u16 id length | id | [u16 key length | key] | [u16 type length | type]
//   u32 payload length | payload
inline constexpr std::uint8_t kRecordVersion = 1;
inline constexpr std::size_t kMaxEnvelopeField = 0xFFFF;  // id, key and type are at most 64 KiB - 1

// Appends the record for `event` to `out`. The caller has checked field lengths.
void encode_event(const EventView& event, std::string& out);
// The same, the payload being event.payload followed by `payload_tail` (fields added to an
// event's text without copying it first).
void encode_event(const EventView& event, std::string_view payload_tail, std::string& out);

// Decodes one record; nullopt if it is truncated or of an unknown version.
std::optional<EventView> decode_event(std::string_view record);

}  // namespace sluice
