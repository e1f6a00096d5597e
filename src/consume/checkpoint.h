#pragma once
// A checkpoint: a client's state and its positions, saved together, so that after a crash the
// state and the positions agree and reading on from them makes the same outputs again. Window
// definitions and per-event alert rules keep theirs in the windows store (windows.db or
// PostgreSQL: windows/window_store.h), which implements this.

#include <map>
#include <optional>
#include <string>

#include "core/result.h"
#include "log/log.h"

namespace sluice::consume {

struct Checkpoint {
  std::string definition;  // the client's configuration when it was taken
  std::string state;       // the client's state as JSON
  std::map<log::Partition, log::Offset> positions;
  std::string outbox = "[]";  // Outbox::to_json(): events decided but maybe not yet sent
};

class CheckpointStore {
 public:
  virtual ~CheckpointStore() = default;
  virtual Result<std::optional<Checkpoint>> load(const std::string& name) = 0;
  virtual Result<void> save_checkpoint(const std::string& name, const Checkpoint& checkpoint) = 0;
};

}  // namespace sluice::consume
