#include "generate/presets.h"

#include <fmt/format.h>

#include <array>
#include <memory>

#include "core/json_text.h"
#include "core/time.h"
#include "core/uuid.h"

namespace sluice::generate {
namespace {

template <class T, std::size_t N>
const T& pick(std::mt19937_64& random, const std::array<T, N>& items) {
  return items[std::uniform_int_distribution<std::size_t>(0, N - 1)(random)];
}

int between(std::mt19937_64& random, int low, int high) {
  return std::uniform_int_distribution<int>(low, high)(random);
}

class WebPreset : public Preset {
 public:
  Request next(std::mt19937_64& random, std::size_t max_events, std::int64_t now_ms) override {
    static constexpr std::array<const char*, 6> kPages = {
        "/", "/pricing", "/docs", "/blog/launch", "/signup", "/cart"};
    static constexpr std::array<const char*, 3> kTypes = {"page_view", "click", "scroll"};
    static constexpr std::array<const char*, 4> kBrowsers = {"Chrome", "Firefox", "Safari", "Edge"};
    const std::size_t count = std::max<std::size_t>(1, max_events);
    const int user = between(random, 1, 5000);
    std::string body = fmt::format(
        R"({{"app":"demo-shop","tracker":"sluice-js/1.0","user_id":"u{}","browser":"{}","events":[)",
        user, pick(random, kBrowsers));
    for (std::size_t i = 0; i < count; ++i) {
      if (i > 0) body += ",";
      const char* type = pick(random, kTypes);
      body += fmt::format(R"({{"event_id":"{}","event_type":"{}","page":"{}","timestamp":"{}")",
                          uuid_v7(now_ms), type, pick(random, kPages),
                          format_iso8601_ms(now_ms - between(random, 0, 2000)));
      if (std::string_view(type) == "click") {
        body += fmt::format(R"(,"target":"button#cta-{}")", between(random, 1, 5));
      } else if (std::string_view(type) == "scroll") {
        body += fmt::format(R"(,"depth":{})", between(random, 10, 100));
      }
      body += "}";
    }
    body += "]}";
    return {"/collect", "application/json", std::move(body), count};
  }
};

class IotPreset : public Preset {
 public:
  Request next(std::mt19937_64& random, std::size_t, std::int64_t now_ms) override {
    const int device = between(random, 1, 200);
    // Mostly normal readings; about one in twenty is an alert over 90.
    const int value =
        between(random, 0, 19) == 0 ? between(random, 91, 120) : between(random, 15, 35);
    std::string body = fmt::format(
        R"({{"type":"TEMP","device":"sensor-{:03}","value":{},"alert":{},"timestamp":"{}"}})",
        device, value, value > 90 ? "true" : "false", format_iso8601_ms(now_ms));
    return {"/publish", "application/json", std::move(body), 1};
  }
};

class CityPreset : public Preset {
 public:
  Request next(std::mt19937_64& random, std::size_t, std::int64_t now_ms) override {
    static constexpr std::array<const char*, 6> kCities = {"NYC",   "London", "Tokyo",
                                                           "Paris", "Berlin", "Sydney"};
    static constexpr std::array<const char*, 5> kTypes = {"traffic", "fire", "medical", "crime",
                                                          "weather"};
    static constexpr std::array<const char*, 4> kSeverities = {"low", "medium", "high", "critical"};
    static constexpr std::array<const char*, 5> kPlaces = {"5th Ave", "Main St", "Station Rd",
                                                           "Harbour Bridge", "Central Park"};
    const char* type = pick(random, kTypes);
    // Events arrive up to 2 minutes late, as reports from the field do.
    const std::int64_t ts = now_ms - between(random, 0, 120'000);
    std::string description = fmt::format("{} reported near {}", type, pick(random, kPlaces));
    std::string body =
        fmt::format(R"({{"city":"{}","event_type":"{}","severity":"{}","description":)",
                    pick(random, kCities), type, pick(random, kSeverities));
    append_json_string(body, description);
    body += fmt::format(R"(,"timestamp":"{}"}})", format_iso8601_ms(ts));
    return {"/publish", "application/json", std::move(body), 1};
  }
};

class FormsPreset : public Preset {
 public:
  Request next(std::mt19937_64& random, std::size_t, std::int64_t) override {
    static constexpr std::array<const char*, 5> kNames = {"Ann", "Bo", "Chen", "Dara", "Eli"};
    static constexpr std::array<const char*, 4> kMessages = {
        "Please+call+me+back", "Do+you+ship+to+Norway%3F", "Great+product%21",
        "I+need+an+invoice+for+order+42"};
    const char* name = pick(random, kNames);
    std::string body = fmt::format("name={}&email={}{}%40Example.com&message={}", name, name,
                                   between(random, 1, 999), pick(random, kMessages));
    return {"/v1/forms/contact", "application/x-www-form-urlencoded", std::move(body), 1};
  }
};

}  // namespace

const std::vector<std::string>& preset_names() {
  static const std::vector<std::string> names = {"web", "iot", "city", "forms"};
  return names;
}

std::unique_ptr<Preset> make_preset(const std::string& name) {
  if (name == "web") return std::make_unique<WebPreset>();
  if (name == "iot") return std::make_unique<IotPreset>();
  if (name == "city") return std::make_unique<CityPreset>();
  if (name == "forms") return std::make_unique<FormsPreset>();
  return nullptr;
}

}  // namespace sluice::generate
