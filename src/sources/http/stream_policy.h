#pragma once
// What a stream does to each event beyond storing it: sanitisation, JSON Schema validation and
// privacy rules, compiled once from the stream's configuration.
//
// Order: clean text fields → validate against the schema → record/anonymise the client
// address, hash and drop fields. Validation sees cleaned values; hashing and dropping happen
// after validation so a schema can still require those fields.

#include <boost/json/object.hpp>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "config/config.h"
#include "core/result.h"
#include "validation/json_schema.h"

namespace sluice::collector {

struct EventContext {
  std::string_view client_ip;  // empty when unknown
  bool form = false;           // posted as a form: every top-level text field is cleaned
};

class StreamPolicy {
 public:
  // Compiles the stream's schema; fails only on a schema the config check would have refused.
  static Result<std::shared_ptr<const StreamPolicy>> build(const StreamConfig& stream);

  // True when events posted as `form` or not must be rewritten (or validated) one by one;
  // false lets the collector store their original bytes untouched.
  bool rewrites(bool form) const { return form || rewrites_; }

  // Applies the rules to `event`; the error names the field and the rule. A rejected event
  // has had the privacy rules applied all the same: it may be kept in the dead letters.
  std::optional<std::string> apply(boost::json::object& event, const EventContext& context) const;

  // What of a rejected event's text may be kept in the dead letters: the text itself when the
  // stream has no privacy rules; else the event with them applied, or, when the text is no
  // JSON object they could be applied to, a note that it was withheld.
  // `is_json` says whether `text` may be embedded as JSON, and is cleared for the note.
  std::string for_dead_letters(std::string_view text, bool& is_json,
                               std::string_view client_ip) const;

  const validation::JsonSchema* schema() const { return schema_.get(); }
  // The stream has privacy rules (an IP field, fields to hash or to drop).
  bool has_privacy() const { return private_; }

 private:
  explicit StreamPolicy(const StreamConfig& stream) : stream_(stream) {}
  std::optional<std::string> sanitize(boost::json::object& event, bool form) const;
  void protect(boost::json::object& event, std::string_view client_ip) const;

  const StreamConfig& stream_;
  std::shared_ptr<const validation::JsonSchema> schema_;
  bool clean_all_ = false;
  bool rewrites_ = false;
  bool private_ = false;  // the stream has privacy rules
};

}  // namespace sluice::collector
