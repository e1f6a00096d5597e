// The lua step: scripts change, drop and multiply events; what misbehaves (errors, endless
// loops, huge allocations, values JSON cannot hold) fails that event alone, with the reason.

#include "transforms/lua/lua_step.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>

#include "pipeline/pipeline_event.h"

namespace sluice::transforms {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

class LuaStepTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("sluice-lua-" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
            "-" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  Result<std::unique_ptr<pipeline::Transform>> build(const std::string& script,
                                                     LuaStep::Settings settings = {}) {
    const auto path = dir_ / "step.lua";
    std::ofstream(path) << script;
    settings.script = path.string();
    return LuaStep::build({.pipeline = "p", .sinks = {}}, settings);
  }

  std::filesystem::path dir_;
};

struct Run {
  bool kept;
  std::string payload;
  std::optional<std::string> failure;
  std::vector<std::string> spawned;
};

Run run(pipeline::Transform& step, const std::string& payload) {
  pipeline::PipelineEvent event(
      "orders", 2, 7,
      EventView{.id = "e-1", .ts_ms = 1000, .received_at_ms = 2000, .payload = payload});
  Run out;
  out.kept = step.apply(event);
  out.payload = std::string(event.payload());
  out.failure = event.failure();
  for (const auto& value : event.spawned)
    out.spawned.push_back(boost::json::serialize(value));
  return out;
}

TEST_F(LuaStepTest, ChangesTheEventAndSeesItsEnvelope) {
  auto step = build(R"(
    function process(event, meta)
      event.total = event.price * event.quantity
      event.seen = meta.stream .. "/" .. meta.id .. "@" .. meta.ts
      event.debug = nil
      return event
    end)");
  ASSERT_TRUE(step) << step.error().message;
  auto out = run(*step.value(), R"({"price":2.5,"quantity":4,"debug":true,"tags":[],"x":null})");
  EXPECT_TRUE(out.kept);
  auto json = boost::json::parse(out.payload).as_object();
  EXPECT_EQ(json.at("total").to_number<double>(), 10.0);
  EXPECT_EQ(json.at("seen"), "orders/e-1@1000");
  EXPECT_FALSE(json.contains("debug"));
  EXPECT_TRUE(json.at("tags").is_array());  // an empty array stays an array
  EXPECT_TRUE(json.at("x").is_null());      // null stays null
}

TEST_F(LuaStepTest, NilDropsAndAListMultiplies) {
  auto step = build(R"(
    function process(event)
      if event.test then return nil end
      local out = {}
      for i, item in ipairs(event.items) do out[i] = {order = event.id, sku = item} end
      return out
    end)");
  ASSERT_TRUE(step) << step.error().message;
  auto dropped = run(*step.value(), R"({"test":true})");
  EXPECT_FALSE(dropped.kept);
  EXPECT_FALSE(dropped.failure);
  auto split = run(*step.value(), R"({"id":"o1","items":["a","b","c"]})");
  EXPECT_TRUE(split.kept);
  // Lua's tables keep no order: fields may come out in any order.
  EXPECT_EQ(boost::json::parse(split.payload), boost::json::parse(R"({"order":"o1","sku":"a"})"));
  ASSERT_EQ(split.spawned.size(), 2u);
  EXPECT_EQ(boost::json::parse(split.spawned[0]),
            boost::json::parse(R"({"order":"o1","sku":"b"})"));
  EXPECT_EQ(boost::json::parse(split.spawned[1]),
            boost::json::parse(R"({"order":"o1","sku":"c"})"));
  auto none = run(*step.value(), R"({"id":"o2","items":[]})");
  EXPECT_FALSE(none.kept);  // an empty list: nothing left
  EXPECT_FALSE(none.failure);
}

TEST_F(LuaStepTest, AnErrorFailsThatEventOnly) {
  auto step = build(R"(
    function process(event)
      if event.bad then error("cannot handle " .. event.bad) end
      return event
    end)");
  ASSERT_TRUE(step) << step.error().message;
  auto bad = run(*step.value(), R"({"bad":"this"})");
  EXPECT_FALSE(bad.kept);
  ASSERT_TRUE(bad.failure);
  EXPECT_THAT(*bad.failure, StartsWith("lua: "));
  EXPECT_THAT(*bad.failure, HasSubstr("step.lua:3: cannot handle this"));
  EXPECT_TRUE(run(*step.value(), R"({"ok":1})").kept);
}

TEST_F(LuaStepTest, AnEndlessLoopIsStoppedAtTheTimeout) {
  LuaStep::Settings settings;
  settings.timeout = std::chrono::milliseconds(20);
  auto step = build(R"(
    function process(event)
      if event.spin then while true do end end
      if event.deep then local function f() return f() + 1 end f() end
      return event
    end)",
                    settings);
  ASSERT_TRUE(step) << step.error().message;
  auto spun = run(*step.value(), R"({"spin":true})");
  ASSERT_TRUE(spun.failure);
  EXPECT_THAT(*spun.failure, HasSubstr("ran longer than 20 ms"));
  auto deep = run(*step.value(), R"({"deep":true})");
  ASSERT_TRUE(deep.failure);
  EXPECT_THAT(*deep.failure,
              ::testing::AnyOf(HasSubstr("stack overflow"), HasSubstr("ran longer than 20 ms")));
  EXPECT_TRUE(run(*step.value(), R"({"ok":1})").kept);  // the state is still good
}

TEST_F(LuaStepTest, AHugeAllocationIsRefusedAndTheMemoryComesBack) {
  LuaStep::Settings settings;
  settings.memory = 8 << 20;
  settings.timeout = std::chrono::milliseconds(5000);
  auto step = build(R"(
    kept = {}
    function process(event)
      if event.huge then local s = string.rep("x", 1 << 30) end
      if event.hoard then for i = 1, 1e9 do kept[i] = ("y"):rep(100) .. i end end
      return event
    end)",
                    settings);
  ASSERT_TRUE(step) << step.error().message;
  auto huge = run(*step.value(), R"({"huge":true})");
  ASSERT_TRUE(huge.failure);
  EXPECT_THAT(*huge.failure, HasSubstr("used more than its 8388608 bytes of memory"));
  auto hoard = run(*step.value(), R"({"hoard":true})");
  ASSERT_TRUE(hoard.failure);
  EXPECT_THAT(*hoard.failure, HasSubstr("8388608 bytes"));
  // What the script hoarded in a global stays (its state is its own), but calls still run.
  auto ok = run(*step.value(), R"({"ok":1})");
  EXPECT_TRUE(ok.kept) << ok.failure.value_or("");
}

TEST_F(LuaStepTest, TheSandboxHasNoFilesProcessesOrLoading) {
  auto step = build(R"(
    function process(event)
      return {io = type(io), execute = type(os.execute), getenv = type(os.getenv),
              require = type(require), load = type(load), dofile = type(dofile),
              loadfile = type(loadfile), dump = type(string.dump), debug = type(debug),
              package = type(package), time = type(os.time()), upper = ("a"):upper(),
              utf8 = utf8.char(233), floor = math.floor(2.5), null = event.x == sluice.null}
    end)");
  ASSERT_TRUE(step) << step.error().message;
  auto out = run(*step.value(), R"({"x":null})");
  EXPECT_EQ(boost::json::parse(out.payload),
            boost::json::parse(R"({"io":"nil","execute":"nil","getenv":"nil","require":"nil",
              "load":"nil","dofile":"nil","loadfile":"nil","dump":"nil","debug":"nil",
              "package":"nil","time":"number","upper":"A","utf8":"é","floor":2,"null":true})"));
}

TEST_F(LuaStepTest, ValuesJsonCannotHoldFailTheEvent) {
  auto step = build(R"(
    function process(event)
      if event.f then event.f = print end
      if event.bytes then event.bytes = "\255\254" end
      if event.loop then event.self = event end
      if event.number then return 42 end
      if event.mixed then return {1, "x", {a = 1}} end
      return event
    end)");
  ASSERT_TRUE(step) << step.error().message;
  auto f = run(*step.value(), R"({"f":1})");
  ASSERT_TRUE(f.failure);
  EXPECT_THAT(*f.failure, HasSubstr("a function cannot be JSON"));
  auto bytes = run(*step.value(), R"({"bytes":1})");
  ASSERT_TRUE(bytes.failure);
  EXPECT_THAT(*bytes.failure, HasSubstr("not UTF-8"));
  auto loop = run(*step.value(), R"({"loop":1})");
  ASSERT_TRUE(loop.failure);
  EXPECT_THAT(*loop.failure, HasSubstr("nested more than 100 deep"));
  auto number = run(*step.value(), R"({"number":1})");
  ASSERT_TRUE(number.failure);
  EXPECT_THAT(*number.failure, HasSubstr("process returned a number"));
  auto mixed = run(*step.value(), R"({"mixed":1})");
  ASSERT_TRUE(mixed.failure);
  EXPECT_THAT(*mixed.failure, HasSubstr("event 1 of the list process returned is a number"));
}

TEST_F(LuaStepTest, TooManyEventsInAListFail) {
  LuaStep::Settings settings;
  settings.max_events = 3;
  auto step = build(R"(
    function process(event)
      local out = {}
      for i = 1, event.n do out[i] = {i = i} end
      return out
    end)",
                    settings);
  ASSERT_TRUE(step) << step.error().message;
  EXPECT_EQ(run(*step.value(), R"({"n":3})").spawned.size(), 2u);
  auto many = run(*step.value(), R"({"n":4})");
  ASSERT_TRUE(many.failure);
  EXPECT_THAT(*many.failure, HasSubstr("returned 4 events; the limit (max_events) is 3"));
}

TEST_F(LuaStepTest, ScriptMistakesAreConfigurationErrors) {
  auto syntax = build("function process(event\n  return event\nend\n");
  ASSERT_FALSE(syntax);
  EXPECT_THAT(syntax.error().message, HasSubstr("step.lua:2:"));
  auto top_level_loop =
      build("while true do end\n", LuaStep::Settings{.timeout = std::chrono::milliseconds(10)});
  ASSERT_FALSE(top_level_loop);
  EXPECT_THAT(top_level_loop.error().message, HasSubstr("ran longer than 10 ms"));
  auto binary = build(std::string("\x1bLua") + "\x54\x00", {});
  ASSERT_FALSE(binary);
  EXPECT_THAT(binary.error().message, HasSubstr("binary"));
  LuaStep::Settings missing;
  missing.script = (dir_ / "nope.lua").string();
  auto none = LuaStep::build({.pipeline = "p", .sinks = {}}, missing);
  ASSERT_FALSE(none);
  EXPECT_THAT(none.error().message, HasSubstr("cannot read script"));
  auto no_function = build("x = 1\n");
  ASSERT_TRUE(no_function);
  auto out = run(*no_function.value(), "{}");
  ASSERT_TRUE(out.failure);
  EXPECT_THAT(*out.failure, HasSubstr("defines no function process"));
}

}  // namespace
}  // namespace sluice::transforms
