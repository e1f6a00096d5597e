#include "sources/http/stream_policy.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "sources/http/privacy.h"
#include "sources/http/sanitize.h"

namespace sluice::collector {
namespace {

namespace json = boost::json;

bool listed(const std::vector<std::string>& names, std::string_view name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

}  // namespace

Result<std::shared_ptr<const StreamPolicy>> StreamPolicy::build(const StreamConfig& stream) {
  std::shared_ptr<StreamPolicy> policy(new StreamPolicy(stream));
  if (!stream.schema.empty()) {
    auto compiled = validation::JsonSchema::compile(stream.schema);
    if (!compiled) return compiled.error();
    policy->schema_ = std::move(compiled.value());
  }
  const auto& sanitize = stream.sanitize;
  const auto& privacy = stream.privacy;
  policy->clean_all_ = listed(sanitize.fields, "*");
  policy->private_ =
      !privacy.ip_field.empty() || !privacy.hash_fields.empty() || !privacy.drop_fields.empty();
  policy->rewrites_ = policy->schema_ || !sanitize.fields.empty() ||
                      !sanitize.lowercase_fields.empty() || !privacy.ip_field.empty() ||
                      !privacy.hash_fields.empty() || !privacy.drop_fields.empty();
  return std::shared_ptr<const StreamPolicy>(std::move(policy));
}

std::optional<std::string> StreamPolicy::sanitize(json::object& event, bool form) const {
  const auto& rules = stream_.sanitize;
  for (auto& [name, value] : event) {
    auto* text = value.if_string();
    if (!text) continue;
    const bool lower = listed(rules.lowercase_fields, name);
    if (!(form || clean_all_ || lower || listed(rules.fields, name))) continue;
    std::string cleaned = clean_text(*text);
    if (lower) cleaned = lower_ascii(cleaned);
    if (rules.max_length > 0) {
      const std::size_t length = utf8_length(cleaned);
      if (length > static_cast<std::size_t>(rules.max_length)) {
        return fmt::format(
            "field \"{}\" is {} characters long; the limit is {} (streams.{}.sanitize.max_length)",
            std::string_view(name), length, rules.max_length, stream_.name);
      }
    }
    *text = cleaned;
  }
  return std::nullopt;
}

void StreamPolicy::protect(json::object& event, std::string_view client_ip) const {
  const auto& privacy = stream_.privacy;
  if (!privacy.ip_field.empty()) {
    if (!event.contains(privacy.ip_field) && !client_ip.empty()) {
      event[privacy.ip_field] = json::string(client_ip);
    }
    if (privacy.anonymize_ip) {
      if (auto* address = event.if_contains(privacy.ip_field); address && address->is_string()) {
        auto anonymized = anonymize_ip(address->get_string());
        // Text that is no IP address is dropped rather than kept unanonymised.
        *address = anonymized ? json::value(json::string(*anonymized)) : json::value(nullptr);
      }
    }
  }
  for (const auto& name : privacy.hash_fields) {
    auto* value = event.if_contains(name);
    if (!value || value->is_null()) continue;
    const std::string text =
        value->is_string() ? std::string(value->get_string()) : json::serialize(*value);
    *value = json::string(hmac_sha256_hex(privacy.hash_key, text));
  }
  for (const auto& name : privacy.drop_fields)
    event.erase(name);
}

std::optional<std::string> StreamPolicy::apply(json::object& event,
                                               const EventContext& context) const {
  if (auto error = sanitize(event, context.form)) return error;
  if (schema_) {
    // valijson takes a value; the object is moved in and back out, not copied.
    json::value whole(std::move(event));
    auto error = schema_->validate(whole);
    event = std::move(whole.get_object());
    if (error) {
      protect(event, context.client_ip);
      return error;
    }
  }
  protect(event, context.client_ip);
  return std::nullopt;
}

std::string StreamPolicy::for_dead_letters(std::string_view text, bool& is_json,
                                           std::string_view client_ip) const {
  if (!private_) return std::string(text);
  json::parse_options options;
  options.max_depth = 80;
  boost::system::error_code ec;
  json::value parsed = json::parse(text, ec, {}, options);
  if (!ec && !parsed.is_object() && !parsed.is_array()) return std::string(text);  // no fields
  if (ec || !parsed.is_object()) {
    is_json = false;
    return fmt::format("(withheld: not a JSON object, and streams.{}.privacy applies)",
                       stream_.name);
  }
  protect(parsed.get_object(), client_ip);
  return json::serialize(parsed);
}

}  // namespace sluice::collector
