#pragma once
// `sluice dead-letters replay`: sends dead letters again once what refused them is fixed, each
// at most once.
//
//   --pipeline NAME  the events the pipeline's sinks rejected go to that sink again, and those a
//                    step failed on go through the pipeline's steps and sinks again (the sinks
//                    are opened here, from --config, as the server opens them);
//   --stream NAME    the events the collector refused for the stream are posted to it again
//                    (and checked again: one still wrong is refused again, with its reason).
//
// Which dead letters were replayed is kept in <data_dir>/replayed/, so a second run sends only
// the new ones (or those that failed again).

#include <string>

#include "app/server_client.h"

namespace sluice {

struct ReplayOptions {
  std::string pipeline;
  std::string stream;
  std::string since;  // only dead letters from this time on (ISO-8601 or epoch)
  bool dry_run = false;
  std::string key;          // --stream: the stream's write key, if it has some
  std::string config_file;  // the server's configuration (--pipeline needs it)
  std::string data_dir;     // overrides storage.data_dir
};

int run_replay_command(const ServerTarget& target, const ReplayOptions& options);

}  // namespace sluice
