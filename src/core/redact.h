#pragma once
// Keeps secrets out of what Sluice shows: error messages, statuses (GET /v1/pipelines), logs.
// URLs often carry them: a password in the user info (postgresql://user:pw@host/db), a token
// in the path (Slack-style webhook URLs) or in the query (?token=, ?sig=). A URL is shown as
// its scheme, host and port only: `https://hooks.slack.com/…`.
//
// Pure functions; any thread.

#include <string>
#include <string_view>

namespace sluice {

// `url` as scheme://host[:port], with "/…" when anything followed; user info dropped. Text that
// is no URL (no "://") comes back unchanged.
std::string redact_url(std::string_view url);

// `text` with every URL in it (a scheme, "://", then up to the next space, quote or bracket)
// replaced by redact_url's form.
std::string redact_urls(std::string_view text);

}  // namespace sluice
