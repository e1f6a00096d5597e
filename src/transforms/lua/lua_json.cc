#include "transforms/lua/lua_json.h"

#include <fmt/format.h>
#include <unistr.h>

#include <boost/json.hpp>
#include <cmath>
#include <lua.hpp>

#include "transforms/lua/lua_sandbox.h"

namespace sluice::transforms {
namespace {

namespace json = boost::json;

// Deeper than any event the collector takes (64): a table that contains itself ends here.
constexpr int kMaxDepth = 100;
// The registry key of the metatable that marks arrays.
constexpr const char* kArrayMark = "sluice.array";

void push_array_mark(lua_State* state) {
  if (luaL_newmetatable(state, kArrayMark)) {
    lua_pushliteral(state, "array");
    lua_setfield(state, -2, "__name");
  }
}

void push_value(lua_State* state, const json::value& value, int depth) {
  luaL_checkstack(state, 4, "an event nested too deep");
  switch (value.kind()) {
    case json::kind::null:
      lua_pushlightuserdata(state, kLuaNull);
      return;
    case json::kind::bool_:
      lua_pushboolean(state, value.get_bool());
      return;
    case json::kind::int64:
      lua_pushinteger(state, value.get_int64());
      return;
    case json::kind::uint64:
      lua_pushnumber(state, static_cast<double>(value.get_uint64()));
      return;
    case json::kind::double_:
      lua_pushnumber(state, value.get_double());
      return;
    case json::kind::string:
      lua_pushlstring(state, value.get_string().data(), value.get_string().size());
      return;
    case json::kind::array: {
      const auto& array = value.get_array();
      lua_createtable(state, static_cast<int>(array.size()), 0);
      lua_Integer i = 0;
      for (const auto& item : array) {
        push_value(state, item, depth + 1);
        lua_rawseti(state, -2, ++i);
      }
      push_array_mark(state);
      lua_setmetatable(state, -2);
      return;
    }
    case json::kind::object: {
      const auto& object = value.get_object();
      lua_createtable(state, 0, static_cast<int>(object.size()));
      for (const auto& [key, item] : object) {
        lua_pushlstring(state, key.data(), key.size());
        push_value(state, item, depth + 1);
        lua_rawset(state, -3);
      }
      return;
    }
  }
}

bool marked_array(lua_State* state, int index) {
  if (!lua_getmetatable(state, index)) return false;
  luaL_getmetatable(state, kArrayMark);
  const bool marked = lua_rawequal(state, -1, -2);
  lua_pop(state, 2);
  return marked;
}

std::string text_of(lua_State* state, int index, const std::string& where) {
  std::size_t length = 0;
  const char* text = lua_tolstring(state, index, &length);
  if (u8_check(reinterpret_cast<const std::uint8_t*>(text), length) != nullptr) {
    luaL_error(state, "%s: text that is not UTF-8", where.c_str());
  }
  return std::string(text, length);
}

json::value read_value(lua_State* state, int index, const std::string& where, int depth) {
  index = lua_absindex(state, index);
  switch (lua_type(state, index)) {
    case LUA_TNIL:
      return nullptr;
    case LUA_TBOOLEAN:
      return lua_toboolean(state, index) != 0;
    case LUA_TNUMBER: {
      if (lua_isinteger(state, index))
        return static_cast<std::int64_t>(lua_tointeger(state, index));
      const double number = lua_tonumber(state, index);
      if (!std::isfinite(number)) return nullptr;  // JSON has no NaN or infinity
      return number;
    }
    case LUA_TSTRING:
      return json::string(text_of(state, index, where));
    case LUA_TLIGHTUSERDATA:
      if (lua_touserdata(state, index) == kLuaNull) return nullptr;
      break;
    case LUA_TTABLE: {
      if (depth > kMaxDepth) {
        luaL_error(state, "%s: tables nested more than %d deep (a table inside itself?)",
                   where.c_str(), kMaxDepth);
      }
      luaL_checkstack(state, 4, "tables nested too deep");
      if (is_list(state, index) || marked_array(state, index)) {
        json::array array;
        const auto length = static_cast<lua_Integer>(lua_rawlen(state, index));
        array.reserve(static_cast<std::size_t>(length));
        for (lua_Integer i = 1; i <= length; ++i) {
          lua_rawgeti(state, index, i);
          array.push_back(read_value(state, -1, where, depth + 1));
          lua_pop(state, 1);
        }
        return array;
      }
      json::object object;
      lua_pushnil(state);
      while (lua_next(state, index) != 0) {
        std::string key;
        if (lua_type(state, -2) == LUA_TSTRING) {
          key = text_of(state, -2, where);
        } else if (lua_type(state, -2) == LUA_TNUMBER) {
          // Numbers as keys become text ("5"); lua_tolstring would change the key in place.
          lua_pushvalue(state, -2);
          key = lua_tostring(state, -1);
          lua_pop(state, 1);
        } else {
          luaL_error(state, "%s: a table key of type %s (keys must be text)", where.c_str(),
                     luaL_typename(state, -2));
        }
        object[key] = read_value(state, -1, where, depth + 1);
        lua_pop(state, 1);
      }
      return object;
    }
    default:
      break;
  }
  luaL_error(state, "%s: a %s cannot be JSON", where.c_str(), luaL_typename(state, index));
  return nullptr;
}

}  // namespace

void push_json(lua_State* state, const json::value& value) {
  push_value(state, value, 0);
}

json::value to_json(lua_State* state, int index, const std::string& where) {
  return read_value(state, index, where, 0);
}

bool is_list(lua_State* state, int index) {
  index = lua_absindex(state, index);
  if (lua_type(state, index) != LUA_TTABLE) return false;
  const auto length = static_cast<lua_Integer>(lua_rawlen(state, index));
  if (length == 0) return marked_array(state, index);
  lua_Integer keys = 0;
  lua_pushnil(state);
  while (lua_next(state, index) != 0) {
    lua_pop(state, 1);
    if (!lua_isinteger(state, -1)) {
      lua_pop(state, 1);
      return false;
    }
    ++keys;
  }
  return keys == length;
}

}  // namespace sluice::transforms
