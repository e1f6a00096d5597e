#pragma once
// lua: user code for each event. The script defines `process(event, meta)`:
//
//   function process(event, meta)      -- meta: id, stream, ts, received_at, key, type
//     if event.test then return nil end           -- drop
//     event.total = event.price * event.quantity
//     return event                                -- or a list of events: {event, other}
//   end
//
//   steps:
//     - lua: {script: /etc/sluice/enrich.lua, timeout: 50ms, memory: 64MiB}
//
// Sandboxed (lua_sandbox.h). A call that fails, runs longer than `timeout` or wants more than
// `memory` moves the event to the pipeline's dead letters with the reason; the process and the
// other events go on. The script is read when the pipeline starts: after editing it, SIGHUP
// restarts the pipelines whose scripts changed.

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "config/table.h"
#include "core/result.h"
#include "pipeline/transform.h"
#include "transforms/lua/lua_sandbox.h"

namespace sluice::transforms {

class LuaStep : public pipeline::Transform {
 public:
  struct Settings {
    std::string script;
    std::chrono::milliseconds timeout{100};
    std::uint64_t memory = 64 << 20;
    std::int64_t max_events = 1000;
  };
  static const config::Table& settings_table();
  static Result<std::unique_ptr<pipeline::Transform>> build(const pipeline::TransformContext&,
                                                            const Settings& settings);
  // The files the step reads (a reload restarts the pipeline when they change).
  static std::vector<std::string> files(const Settings& settings) { return {settings.script}; }

  LuaStep(std::unique_ptr<LuaSandbox> sandbox, std::size_t max_events)
      : sandbox_(std::move(sandbox)), max_events_(max_events) {}
  bool apply(pipeline::PipelineEvent& event) override;

 private:
  std::unique_ptr<LuaSandbox> sandbox_;
  std::size_t max_events_;
};

}  // namespace sluice::transforms
