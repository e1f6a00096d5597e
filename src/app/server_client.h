#pragma once
// How the commands that talk to a running server (`sluice pipelines`, `windows`, `alerts`,
// `tail`, `generate`) find it and ask it things.
//
// The server's URL is --url, else $SLUICE_URL, else server.listen of --config, else
// http://127.0.0.1:7070; the read token is --token, else $SLUICE_TOKEN, else the first of
// server.read_tokens of --config.

#include <functional>
#include <optional>
#include <string>
#include <variant>

namespace sluice {

struct ServerTarget {
  std::string url;    // http://host:port, perhaps with a path prefix
  std::string token;  // sent as Authorization: Bearer; empty: none
};

// Fills what the command line left empty from the environment and the configuration file
// (`config_file` may be empty). The error, for a configuration that does not load.
std::optional<std::string> resolve_target(ServerTarget& target, const std::string& config_file);

// GET url + path_and_query: the body of a 200 answer, or the exit code after printing one line
// saying what went wrong (`sluice <command>: ...`).
std::variant<std::string, int> get_from_server(const std::string& command,
                                               const ServerTarget& target,
                                               const std::string& path_and_query);

// POST `body` to url + path: the status and body of any answer, or the exit code after printing
// one line saying why there was none. `key` goes as X-Sluice-Key when not empty.
struct Answer {
  unsigned status = 0;
  std::string body;
};
std::variant<Answer, int> post_to_server(const std::string& command, const ServerTarget& target,
                                         const std::string& path, const std::string& body,
                                         const std::string& content_type, const std::string& key);

// GET a Server-Sent Events stream; calls `on_event(event, data)` for each block until the
// server closes it (or on_event returns false). The exit code.
int follow_events(const std::string& command, const ServerTarget& target,
                  const std::string& path_and_query,
                  const std::function<bool(const std::string&, const std::string&)>& on_event);

}  // namespace sluice
