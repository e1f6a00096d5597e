#pragma once
// A word list for the flag step: entries (words or phrases, one per line) found in text as
// whole words, whatever their case and accents, and in leetspeak ("n00b" for "noob").
//
// Both the list and the text are folded the same way: Unicode case folding, accents (combining
// marks) removed, apostrophes removed ("ain't" and "aint" are one word). Text is cut into words
// at anything that is not a letter, a digit or a leetspeak symbol (@ $ !); a word is also tried
// with its leetspeak read as letters (0 o, 1 i or l, 3 e, 4 a, 5 s, 7 t, 8 b, @ a, $ s, ! i).

#include <cstddef>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/result.h"

namespace sluice::transforms {

class WordList {
 public:
  // One entry per line; blank lines and lines starting with # are skipped. `origin` names the
  // list in errors.
  static Result<WordList> parse(std::string_view text, std::string_view origin);

  // The entries (as written in the list) found in `text`, each once, added to `found` unless
  // already there.
  void find(std::string_view text, std::vector<std::string>& found) const;

  std::size_t size() const { return entries_.size(); }

 private:
  std::unordered_map<std::string, std::size_t> entries_;  // folded entry -> index in written_
  std::vector<std::string> written_;
  std::size_t longest_ = 1;  // words in the longest phrase
};

// `text` in lower case without accents or apostrophes (the folding above), as UTF-8.
std::string fold_text(std::string_view text);

}  // namespace sluice::transforms
