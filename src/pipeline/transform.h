#pragma once
// A pipeline step: sees each event in order, may change it, drop it or choose its sinks.
// Built once from its settings when the pipeline starts; used by that pipeline's thread only.

#include <string>
#include <vector>

#include "pipeline/pipeline_event.h"

namespace sluice::pipeline {

class Transform {
 public:
  virtual ~Transform() = default;
  // false drops the event (it goes no further and to no sink).
  virtual bool apply(PipelineEvent& event) = 0;
};

// What a step may need to know when it is built.
struct TransformContext {
  std::string pipeline;            // the pipeline's name
  std::vector<std::string> sinks;  // the pipeline's sinks, in `to` order (route)
};

}  // namespace sluice::pipeline
