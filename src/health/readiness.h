#pragma once
// GET /readyz: whether this process can do its work now: the log takes appends, the store is
// written and readable, and every pipeline reaches its sinks. The answer names what is not.

#include <string>

#include "log/log.h"

namespace sluice {
class Processor;
namespace pipeline {
class PipelineSet;
}
namespace query {
class StoreReader;
}
namespace windows {
class WindowSet;
}
}  // namespace sluice

namespace sluice::health {

// What a process runs; the parts a role does not run are null and not checked.
struct Parts {
  const log::Log& log;
  query::StoreReader* reader = nullptr;
  const Processor* store = nullptr;
  const pipeline::PipelineSet* pipelines = nullptr;
  const windows::WindowSet* windows = nullptr;
};

struct Readiness {
  bool ready = true;
  // {"status":"ready"|"not ready","checks":{"log":{"ok":true,...},"store":{...},
  //  "pipelines":{"<name>":{"ok":false,"state":"retrying","error":"..."}},"windows":{...}}}
  std::string json;
};

Readiness check_readiness(const Parts& parts);

}  // namespace sluice::health
