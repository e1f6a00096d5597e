#pragma once
// Known bots by their User-Agent: search engine crawlers, link previews, uptime checkers, SEO
// tools, HTTP libraries and automated (headless) browsers. Used to flag their events
// (streams.<name>.bots), never to drop them.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::collector {

// The marker the User-Agent matched (lower case, as listed), "no user agent" for an empty one,
// or nullopt for a browser. `extra`: more markers (any case), tried after the built-in ones.
std::optional<std::string> bot_marker(std::string_view user_agent,
                                      const std::vector<std::string>& extra = {});

}  // namespace sluice::collector
