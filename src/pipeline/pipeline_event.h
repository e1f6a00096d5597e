#pragma once
// An event on its way through a pipeline's steps. It starts as the record read from the log
// (envelope plus the original payload bytes) and is parsed into JSON only when a step needs to
// look inside; steps that change it mark it changed, and the payload is written out again once,
// when a sink takes it.

#include <boost/json/value.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/event.h"
#include "log/log.h"

namespace sluice::pipeline {

class PipelineEvent {
 public:
  PipelineEvent(std::string_view stream, std::uint32_t partition, log::Offset offset,
                EventView envelope)
      : stream_(stream), partition_(partition), offset_(offset), envelope_(envelope) {}
  // An event a step made from another (spawned below): `envelope` is the other's with its own
  // id, `payload` its content.
  PipelineEvent(std::string_view stream, std::uint32_t partition, log::Offset offset,
                EventView envelope, boost::json::value payload)
      : stream_(stream),
        partition_(partition),
        offset_(offset),
        envelope_(envelope),
        json_(std::move(payload)),
        changed_(true) {}

  std::string_view stream() const { return stream_; }
  std::uint32_t partition() const { return partition_; }
  log::Offset offset() const { return offset_; }
  const EventView& envelope() const { return envelope_; }

  // The payload as JSON (parsed on first use). A payload that is not valid JSON (it always
  // is: the collector checked it) reads as an empty object.
  const boost::json::value& json();
  // The same, to change; the payload is written out again when the event leaves.
  boost::json::value& mutable_json();
  // The payload as it leaves the pipeline.
  std::string_view payload();

  // Which of the pipeline's sinks get the event (bit i: the pipeline's i-th sink); route
  // steps clear bits.
  std::uint64_t sinks = ~std::uint64_t{0};

  // Events a step made from this one besides itself (a script returning a list): the pipeline
  // passes each through the remaining steps as an event of its own, with the id
  // "<this id>#<n>" (n from 2: this event is the first).
  std::vector<boost::json::value> spawned;

  // A step that cannot handle the event (a script's error) says why and returns false: the
  // pipeline moves the event to its dead-letter stream instead of dropping it.
  void fail(std::string reason) { failure_ = std::move(reason); }
  const std::optional<std::string>& failure() const { return failure_; }

 private:
  std::string_view stream_;
  std::uint32_t partition_;
  log::Offset offset_;
  EventView envelope_;
  std::optional<boost::json::value> json_;
  bool changed_ = false;
  std::string rendered_;
  std::optional<std::string> failure_;
};

}  // namespace sluice::pipeline
