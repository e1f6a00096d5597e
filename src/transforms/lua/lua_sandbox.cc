#include "transforms/lua/lua_sandbox.h"

#include <fmt/format.h>

#include <cstdlib>
#include <lua.hpp>

#include "core/logging.h"

namespace sluice::transforms {
namespace {

// Instructions between two looks at the clock: a look costs tens of nanoseconds.
constexpr int kInstructionsPerCheck = 1000;

struct Call {
  LuaSandbox::Body body;
  void* context;
};

int run_call(lua_State* state) {
  auto* call = static_cast<Call*>(lua_touserdata(state, 1));
  lua_settop(state, 0);
  return call->body(state, call->context);
}

// Keeps the standard library's functions a script may use and nothing else.
int open_libraries(lua_State* state) {
  luaL_requiref(state, LUA_GNAME, luaopen_base, 1);
  luaL_requiref(state, LUA_STRLIBNAME, luaopen_string, 1);
  luaL_requiref(state, LUA_TABLIBNAME, luaopen_table, 1);
  luaL_requiref(state, LUA_MATHLIBNAME, luaopen_math, 1);
  luaL_requiref(state, LUA_UTF8LIBNAME, luaopen_utf8, 1);
  luaL_requiref(state, LUA_COLIBNAME, luaopen_coroutine, 1);
  lua_settop(state, 0);
  // Reading files, loading code (binary chunks can break the VM) and the loaded-modules table.
  for (const char* name : {"dofile", "loadfile", "load", "require", "collectgarbage"}) {
    lua_pushnil(state);
    lua_setglobal(state, name);
  }
  lua_getglobal(state, LUA_STRLIBNAME);
  lua_pushnil(state);
  lua_setfield(state, -2, "dump");
  lua_pop(state, 1);
  // os: the clock and dates only.
  luaL_requiref(state, LUA_OSLIBNAME, luaopen_os, 0);
  lua_createtable(state, 0, 3);
  for (const char* name : {"time", "clock", "date"}) {
    lua_getfield(state, -2, name);
    lua_setfield(state, -2, name);
  }
  lua_setglobal(state, LUA_OSLIBNAME);
  lua_pop(state, 1);
  // sluice.null stands for JSON null in events.
  lua_createtable(state, 0, 1);
  lua_pushlightuserdata(state, kLuaNull);
  lua_setfield(state, -2, "null");
  lua_setglobal(state, "sluice");
  return 0;
}

struct Chunk {
  std::string_view source;
  const std::string* name;
};

int run_chunk(lua_State* state, void* context) {
  auto* chunk = static_cast<Chunk*>(context);
  // Text only: a binary chunk is refused.
  if (luaL_loadbufferx(state, chunk->source.data(), chunk->source.size(),
                       ("@" + *chunk->name).c_str(), "t") != LUA_OK) {
    return lua_error(state);
  }
  lua_call(state, 0, 0);
  return 0;
}

}  // namespace

LuaSandbox::LuaSandbox(Limits limits, std::string log_name)
    : limits_(limits), log_name_(std::move(log_name)) {}

LuaSandbox::~LuaSandbox() {
  if (state_) lua_close(state_);
}

void* LuaSandbox::allocate(void* self, void* block, std::size_t old_size, std::size_t new_size) {
  auto* sandbox = static_cast<LuaSandbox*>(self);
  const std::size_t old = block ? old_size : 0;  // without a block, old_size is a type tag
  if (new_size == 0) {
    sandbox->used_ -= old;
    std::free(block);
    return nullptr;
  }
  if (new_size > old && sandbox->used_ + (new_size - old) > sandbox->limits_.memory_bytes) {
    sandbox->over_memory_ = true;
    return nullptr;  // Lua collects garbage and tries again once, then fails the call
  }
  void* grown = std::realloc(block, new_size);
  if (!grown) return nullptr;
  sandbox->used_ = sandbox->used_ - old + new_size;
  return grown;
}

void LuaSandbox::check_time(lua_State* state, lua_Debug*) {
  void* self = nullptr;
  lua_getallocf(state, &self);
  auto* sandbox = static_cast<LuaSandbox*>(self);
  if (std::chrono::steady_clock::now() < sandbox->deadline_) return;
  sandbox->timed_out_ = true;
  luaL_error(state, "ran longer than %d ms", static_cast<int>(sandbox->limits_.time.count()));
}

int LuaSandbox::print(lua_State* state) {
  void* self = nullptr;
  lua_getallocf(state, &self);
  auto* sandbox = static_cast<LuaSandbox*>(self);
  std::string line;
  const int count = lua_gettop(state);
  for (int i = 1; i <= count; ++i) {
    std::size_t length = 0;
    const char* text = luaL_tolstring(state, i, &length);
    if (i > 1) line += '\t';
    line.append(text, std::min<std::size_t>(length, 4096));
    lua_pop(state, 1);
  }
  sluice::logger("pipeline")->info("{} print: {}", sandbox->log_name_, line);
  return 0;
}

Result<std::unique_ptr<LuaSandbox>> LuaSandbox::open(std::string_view source,
                                                     const std::string& chunk_name, Limits limits,
                                                     std::string log_name) {
  std::unique_ptr<LuaSandbox> sandbox(new LuaSandbox(limits, std::move(log_name)));
  sandbox->state_ = lua_newstate(&LuaSandbox::allocate, sandbox.get());
  if (!sandbox->state_) return make_error(Errc::kInternal, "cannot create a Lua state");
  lua_State* state = sandbox->state_;
  lua_pushcfunction(state, open_libraries);
  if (lua_pcall(state, 0, 0, 0) != LUA_OK) {
    return make_error(Errc::kInternal,
                      fmt::format("cannot open Lua's libraries: {}", lua_tostring(state, -1)));
  }
  lua_pushcfunction(state, &LuaSandbox::print);
  lua_setglobal(state, "print");
  Chunk chunk{source, &chunk_name};
  if (auto error = sandbox->call(run_chunk, &chunk)) {
    return make_error(Errc::kInvalidInput, *error);
  }
  return sandbox;
}

std::optional<std::string> LuaSandbox::call(Body body, void* context) {
  Call call{body, context};
  over_memory_ = false;
  timed_out_ = false;
  deadline_ = std::chrono::steady_clock::now() + limits_.time;
  lua_sethook(state_, &LuaSandbox::check_time, LUA_MASKCOUNT, kInstructionsPerCheck);
  lua_pushcfunction(state_, run_call);
  lua_pushlightuserdata(state_, &call);
  const int status = lua_pcall(state_, 1, 0, 0);
  lua_sethook(state_, nullptr, 0, 0);
  if (status == LUA_OK) return std::nullopt;
  std::string message;
  if (status == LUA_ERRMEM) {
    message = over_memory_
                  ? fmt::format("used more than its {} bytes of memory", limits_.memory_bytes)
                  : "out of memory";
  } else if (const char* text = lua_tostring(state_, -1)) {
    message = text;
  } else {
    message = "failed with an error that is not text";
  }
  lua_settop(state_, 0);
  // What a failed call left behind is garbage now: give the memory back.
  lua_gc(state_, LUA_GCCOLLECT);
  return message.substr(0, 1000);
}

}  // namespace sluice::transforms
