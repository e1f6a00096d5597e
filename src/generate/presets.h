#pragma once
// Realistic demo and load events for `sluice generate`: one preset per kind of sender.
//
//   web    browser tracker batches (page views, clicks, scrolls) in a batch envelope → /collect
//   iot    device readings (type, device, value as a number, alert: value > 90, timestamp),
//          one event per request, about one in twenty over 90 → /publish
//   city   city incident reports (city, event_type, severity, description, timestamp)
//          → /publish
//   forms  contact-form posts, application/x-www-form-urlencoded → /v1/forms/contact
//
// Deterministic: the same seed gives the same events (ids and times aside, which use the
// clock).

#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace sluice::generate {

struct Request {
  std::string path;
  std::string content_type;
  std::string body;
  std::size_t events = 0;
};

class Preset {
 public:
  virtual ~Preset() = default;
  // The next request, carrying up to `max_events` events (presets that send one event per
  // request ignore it).
  virtual Request next(std::mt19937_64& random, std::size_t max_events, std::int64_t now_ms) = 0;
};

// nullptr for an unknown name.
std::unique_ptr<Preset> make_preset(const std::string& name);
const std::vector<std::string>& preset_names();

}  // namespace sluice::generate
