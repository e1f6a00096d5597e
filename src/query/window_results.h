#pragma once
// GET /v1/windows/{name}: a window definition's results from windows.db, newest window first.
//
//   key=NYC            results for one key: the key fields' values in order, comma-separated
//                      (key=NYC,traffic), or a JSON array when a value holds a comma
//   from=, to=         windows starting at or after `from` and ending at or before `to`
//                      (ISO-8601 or epoch numbers)
//   final=true|false   only closed windows, or only early updates of open ones
//   order=desc|asc     newest window first (the default) or oldest; windows ending together
//                      by key, then start
//   limit=1..1000      (default 100)
//   cursor=            the next_cursor of the previous page (keyset on end, key, start)
//
// {"window":"<name>","results":[{"key":{"city":"NYC"},"start":"…","end":"…","events":N,
//  "final":true,"values":{...}}, ...],"next_cursor":"…"|null}

#include <string>
#include <vector>

#include "config/config.h"
#include "core/result.h"
#include "query/events_query.h"

namespace sluice::query {

Result<std::string> query_window_results(const std::string& windows_db, const WindowConfig& window,
                                         const Params& params);

}  // namespace sluice::query
