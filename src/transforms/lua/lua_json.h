#pragma once
// Events between JSON and Lua: objects are tables with string keys, arrays are sequences
// (marked, so that an empty one stays an array), null is `sluice.null`. Called only inside a
// protected call (LuaSandbox::call): Lua errors are thrown from here.

#include <boost/json/value.hpp>
#include <string>

struct lua_State;

namespace sluice::transforms {

// Pushes `value` as a Lua value.
void push_json(lua_State* state, const boost::json::value& value);

// The Lua value at `index` as JSON; raises a Lua error naming the place (`where`, such as
// "the event") when it cannot be JSON: a function, text that is not UTF-8, a table inside
// itself.
boost::json::value to_json(lua_State* state, int index, const std::string& where);

// Whether the table at `index` is a list (an array coming from JSON, or a table whose keys are
// exactly 1..n with n > 0).
bool is_list(lua_State* state, int index);

}  // namespace sluice::transforms
