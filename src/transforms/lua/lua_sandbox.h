#pragma once
// A Lua 5.4 state for user scripts, with what a script may not do taken away: only the safe
// parts of the standard library (base without load/dofile/require, string without dump, table,
// math, utf8, coroutine, and os.time/clock/date), a ceiling on the memory of the whole state,
// and a time limit for each call into it.
//
// Lua is the C++ build of the library (liblua5.4-c++): a Lua error is a C++ exception, so the
// C++ objects of code called from Lua are destroyed properly when a script fails.

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"

struct lua_State;
struct lua_Debug;

namespace sluice::transforms {

class LuaSandbox {
 public:
  struct Limits {
    std::size_t memory_bytes = 64 << 20;
    std::chrono::milliseconds time{100};
  };
  // Runs `source` (named `chunk_name` in messages), within the limits. `log_name` names the
  // script in the lines its print() writes to the log.
  static Result<std::unique_ptr<LuaSandbox>> open(std::string_view source,
                                                  const std::string& chunk_name, Limits limits,
                                                  std::string log_name);
  ~LuaSandbox();
  LuaSandbox(const LuaSandbox&) = delete;
  LuaSandbox& operator=(const LuaSandbox&) = delete;

  // Calls `body(state, context)` protected and within the limits (the time limit from now on);
  // the error message if the script failed, ran too long or wanted too much memory.
  using Body = int (*)(lua_State*, void* context);
  std::optional<std::string> call(Body body, void* context);

  lua_State* state() { return state_; }
  std::size_t memory_used() const { return used_; }

 private:
  explicit LuaSandbox(Limits limits, std::string log_name);
  static void* allocate(void* self, void* block, std::size_t old_size, std::size_t new_size);
  static void check_time(lua_State* state, lua_Debug*);
  static int print(lua_State* state);

  lua_State* state_ = nullptr;
  Limits limits_;
  std::string log_name_;
  std::size_t used_ = 0;
  bool over_memory_ = false;  // the last refusal was the ceiling's (not the system's)
  std::chrono::steady_clock::time_point deadline_;
  bool timed_out_ = false;
};

// The value scripts compare with to test for JSON null (`sluice.null`), a light userdata.
inline void* const kLuaNull = nullptr;

}  // namespace sluice::transforms
