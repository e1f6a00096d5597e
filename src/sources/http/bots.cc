#include "sources/http/bots.h"

#include <array>

#include "sources/http/event_check.h"
#include "sources/http/sanitize.h"

namespace sluice::collector {
namespace {

// Parts of the User-Agent header, lower case. Specific names first, so the marker says who;
// the generic "bot", "crawl" and "spider" catch the long tail.
constexpr std::array<std::string_view, 44> kMarkers = {"googlebot",
                                                       "bingbot",
                                                       "yandexbot",
                                                       "baiduspider",
                                                       "duckduckbot",
                                                       "applebot",
                                                       "facebookexternalhit",
                                                       "twitterbot",
                                                       "linkedinbot",
                                                       "slackbot",
                                                       "discordbot",
                                                       "telegrambot",
                                                       "whatsapp",
                                                       "mediapartners-google",
                                                       "adsbot-google",
                                                       "google-inspectiontool",
                                                       "ahrefsbot",
                                                       "semrushbot",
                                                       "mj12bot",
                                                       "petalbot",
                                                       "gptbot",
                                                       "ccbot",
                                                       "bytespider",
                                                       "uptimerobot",
                                                       "pingdom",
                                                       "statuscake",
                                                       "lighthouse",
                                                       "pagespeed",
                                                       "headlesschrome",
                                                       "phantomjs",
                                                       "puppeteer",
                                                       "playwright",
                                                       "selenium",
                                                       "python-requests",
                                                       "python-urllib",
                                                       "curl/",
                                                       "wget/",
                                                       "go-http-client",
                                                       "okhttp",
                                                       "java/",
                                                       "libwww-perl",
                                                       "bot",
                                                       "crawl",
                                                       "spider"};

}  // namespace

std::optional<std::string> bot_marker(std::string_view user_agent,
                                      const std::vector<std::string>& extra) {
  if (trim(user_agent).empty()) return "no user agent";
  // The header is bounded by the front door's header limit (8 KiB).
  const std::string agent = lower_ascii(user_agent);
  for (const auto marker : kMarkers) {
    if (agent.find(marker) != std::string::npos) return std::string(marker);
  }
  for (const auto& marker : extra) {
    if (!marker.empty() && agent.find(lower_ascii(marker)) != std::string::npos) {
      return lower_ascii(marker);
    }
  }
  return std::nullopt;
}

}  // namespace sluice::collector
