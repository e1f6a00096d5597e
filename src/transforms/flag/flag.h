#pragma once
// flag: finds the words of word lists in an event's text and labels the event with them, or
// routes it.
//
//   steps:
//     - flag:
//         fields: [answers.comment, name]        # text fields; empty: every string in the event
//         lists: {slang: builtin:slang, banned: /etc/sluice/banned.txt}
//         label: flags                           # writes flags: {slang: [lol, gonna], ...}
//         to: [review]                           # optional: these sinks get flagged events only
//
// Matching is whole words (and phrases), case-, accent- and leetspeak-insensitive
// (word_list.h). An event none of whose text is on a list is not changed.

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "config/table.h"
#include "core/result.h"
#include "pipeline/transform.h"
#include "transforms/flag/word_list.h"

namespace sluice::transforms {

class Flag : public pipeline::Transform {
 public:
  struct Settings {
    std::vector<std::string> fields;
    std::string lists;  // JSON object: list name -> file path or builtin:NAME
    std::string label = "flags";
    std::vector<std::string> to;
  };
  static const config::Table& settings_table();
  static Result<std::unique_ptr<pipeline::Transform>> build(const pipeline::TransformContext&,
                                                            const Settings& settings);
  // The list files (a reload restarts the pipeline when one changed).
  static std::vector<std::string> files(const Settings& settings);

  struct NamedList {
    std::string name;
    WordList list;
  };
  Flag(std::vector<std::string> fields, std::vector<NamedList> lists, std::string label,
       std::uint64_t to_mask)
      : fields_(std::move(fields)),
        lists_(std::move(lists)),
        label_(std::move(label)),
        to_mask_(to_mask) {}
  bool apply(pipeline::PipelineEvent& event) override;

 private:
  std::vector<std::string> fields_;
  std::vector<NamedList> lists_;
  std::string label_;
  std::uint64_t to_mask_;  // sinks that get flagged events only
};

// The lists shipped in the binary, by name (`builtin:NAME`): their text, or empty.
std::string_view builtin_word_list(std::string_view name);
std::vector<std::string_view> builtin_word_list_names();

}  // namespace sluice::transforms
