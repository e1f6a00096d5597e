#pragma once
// The keys and tokens clients present, and comparing them without telling by timing how much
// of a guess was right.

#include <boost/url/url_view.hpp>
#include <string>
#include <string_view>

#include "http/route.h"

namespace sluice::http {

// Constant time for equal sizes.
bool same_key(std::string_view a, std::string_view b);

// The key a client presents: Authorization: Bearer, Authorization: Basic (the user name, or
// the password when that is empty: how Segment's SDKs send their write key), X-Sluice-Key or
// ?key= (sendBeacon cannot set headers). Empty when none is given.
std::string presented_key(const Request& req, const boost::urls::url_view& url);

// The token a reader presents: Authorization: Bearer, X-Sluice-Key or ?token= (an EventSource
// cannot set headers). Not ?key=: on the read endpoints that is a filter.
std::string read_token(const Request& req, const boost::urls::url_view& url);

}  // namespace sluice::http
