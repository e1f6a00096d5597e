#include "transforms/lua/lua_step.h"

#include <fmt/format.h>

#include <boost/json.hpp>
#include <fstream>
#include <lua.hpp>
#include <sstream>

#include "pipeline/pipeline_event.h"
#include "transforms/lua/lua_json.h"

namespace sluice::transforms {
namespace {

namespace json = boost::json;

constexpr std::size_t kMaxScriptBytes = 4 << 20;

Result<std::string> read_script(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(Errc::kInvalidInput, fmt::format("cannot read script {}", path));
  std::ostringstream text;
  text << in.rdbuf();
  if (text.str().size() > kMaxScriptBytes) {
    return make_error(Errc::kInvalidInput,
                      fmt::format("script {} is over {} bytes", path, kMaxScriptBytes));
  }
  return text.str();
}

// What one call of process() is given and gives back.
struct ProcessCall {
  pipeline::PipelineEvent* event;
  std::size_t max_events;
  enum class Outcome { kDrop, kEvents } outcome = Outcome::kDrop;
  std::vector<json::value> events;
};

void push_meta(lua_State* state, const EventView& envelope, std::string_view stream) {
  lua_createtable(state, 0, 6);
  lua_pushlstring(state, envelope.id.data(), envelope.id.size());
  lua_setfield(state, -2, "id");
  lua_pushlstring(state, stream.data(), stream.size());
  lua_setfield(state, -2, "stream");
  lua_pushinteger(state, envelope.ts_ms);
  lua_setfield(state, -2, "ts");
  lua_pushinteger(state, envelope.received_at_ms);
  lua_setfield(state, -2, "received_at");
  if (envelope.key) {
    lua_pushlstring(state, envelope.key->data(), envelope.key->size());
    lua_setfield(state, -2, "key");
  }
  if (envelope.type) {
    lua_pushlstring(state, envelope.type->data(), envelope.type->size());
    lua_setfield(state, -2, "type");
  }
}

int process(lua_State* state, void* context) {
  auto* call = static_cast<ProcessCall*>(context);
  if (lua_getglobal(state, "process") != LUA_TFUNCTION) {
    return luaL_error(state, "the script defines no function process(event, meta)");
  }
  push_json(state, call->event->json());
  push_meta(state, call->event->envelope(), call->event->stream());
  lua_call(state, 2, 1);
  if (lua_isnil(state, -1)) return 0;
  if (!lua_istable(state, -1)) {
    return luaL_error(state,
                      "process returned a %s; it returns the event (a table), a list of events "
                      "or nil to drop it",
                      luaL_typename(state, -1));
  }
  lua_pushnil(state);
  if (lua_next(state, -2) == 0) return 0;  // {}: no events, as nil
  lua_pop(state, 2);
  if (!is_list(state, -1)) {
    call->events.push_back(to_json(state, -1, "the event process returned"));
    if (!call->events.back().is_object()) {
      return luaL_error(state, "process returned a table that is not an event");
    }
    call->outcome = ProcessCall::Outcome::kEvents;
    return 0;
  }
  const auto count = static_cast<std::size_t>(lua_rawlen(state, -1));
  if (count > call->max_events) {
    return luaL_error(state, "process returned %d events; the limit (max_events) is %d",
                      static_cast<int>(count), static_cast<int>(call->max_events));
  }
  for (std::size_t i = 1; i <= count; ++i) {
    lua_rawgeti(state, -1, static_cast<lua_Integer>(i));
    const std::string where = fmt::format("event {} of the list process returned", i);
    if (!lua_istable(state, -1) || is_list(state, -1)) {
      return luaL_error(state, "%s is a %s, not an event", where.c_str(),
                        lua_istable(state, -1) ? "list" : luaL_typename(state, -1));
    }
    call->events.push_back(to_json(state, -1, where));
    lua_pop(state, 1);
  }
  call->outcome = ProcessCall::Outcome::kEvents;
  return 0;
}

}  // namespace

const config::Table& LuaStep::settings_table() {
  static const config::Table table{
      "lua",
      "Runs a Lua 5.4 script's `process(event, meta)` for each event: it returns the event "
      "(changed or not), a list of events or nil (drop). Sandboxed: no files, no processes, no "
      "modules; a call that fails, runs over `timeout` or over `memory` sends the event to the "
      "pipeline's dead letters with the reason.",
      {
          config::string_setting("script", &Settings::script, "", "The script's file. Required.",
                                 [](const config::Scalar& v) -> std::optional<std::string> {
                                   if (v.text.empty()) return "a script file is required";
                                   return std::nullopt;
                                 }),
          config::duration_setting("timeout", &Settings::timeout, "100ms", 1, 60'000,
                                   "Time one call may take."),
          config::size_setting("memory", &Settings::memory, "64MiB", 1 << 20,
                               std::int64_t{16} << 30,
                               "Memory the script's state may hold (its globals and what a call "
                               "makes)."),
          config::int_setting("max_events", &Settings::max_events, 1000, 1, 1'000'000,
                              "Events one call may return in a list."),
      }};
  return table;
}

Result<std::unique_ptr<pipeline::Transform>> LuaStep::build(
    const pipeline::TransformContext& context, const Settings& settings) {
  auto source = read_script(settings.script);
  if (!source) return source.error();
  auto sandbox = LuaSandbox::open(
      source.value(), settings.script,
      LuaSandbox::Limits{.memory_bytes = settings.memory, .time = settings.timeout},
      fmt::format("pipeline={} script={}", context.pipeline, settings.script));
  if (!sandbox) return sandbox.error();
  return std::unique_ptr<pipeline::Transform>(std::make_unique<LuaStep>(
      std::move(sandbox.value()), static_cast<std::size_t>(settings.max_events)));
}

bool LuaStep::apply(pipeline::PipelineEvent& event) {
  ProcessCall call{.event = &event, .max_events = max_events_};
  if (auto error = sandbox_->call(process, &call)) {
    event.fail("lua: " + *error);
    return false;
  }
  if (call.outcome == ProcessCall::Outcome::kDrop || call.events.empty()) return false;
  event.mutable_json() = std::move(call.events.front());
  for (std::size_t i = 1; i < call.events.size(); ++i)
    event.spawned.push_back(std::move(call.events[i]));
  return true;
}

}  // namespace sluice::transforms
