#include "transforms/flag/word_list.h"

#include <fmt/format.h>
#include <unicase.h>
#include <unictype.h>
#include <unistr.h>

#include <algorithm>
#include <cstdlib>
#include <memory>

namespace sluice::transforms {
namespace {

constexpr std::size_t kMaxEntryBytes = 200;
constexpr std::size_t kMaxPhraseWords = 8;
// A word with more leetspeak `1`s than this is read with `1` as `i` only (each `1` doubles the
// readings).
constexpr int kMaxOnes = 3;

bool is_apostrophe(ucs4_t c) {
  return c == '\'' || c == 0x2019 || c == 0x02BC;
}

bool is_leet_symbol(ucs4_t c) {
  return c == '@' || c == '$' || c == '!';
}

char leet_letter(char c) {
  switch (c) {
    case '0':
      return 'o';
    case '1':
      return 'i';
    case '3':
      return 'e';
    case '4':
      return 'a';
    case '5':
      return 's';
    case '7':
      return 't';
    case '8':
      return 'b';
    case '@':
      return 'a';
    case '$':
      return 's';
    case '!':
      return 'i';
    default:
      return c;
  }
}

// A folded word's readings: as written and, when it has leetspeak in it, with the leetspeak
// read as letters (`1` both as `i` and as `l`). Symbols at the word's ends are punctuation
// ("lol!"), not leetspeak, and are left out of the readings.
void readings(std::string_view word, std::vector<std::string>& out) {
  out.clear();
  while (!word.empty() && (word.back() == '!' || word.back() == '$' || word.back() == '@'))
    word.remove_suffix(1);
  while (!word.empty() && (word.front() == '!' || word.front() == '@'))
    word.remove_prefix(1);
  if (word.empty()) return;
  out.emplace_back(word);
  const bool has_letter =
      std::any_of(word.begin(), word.end(), [](char c) { return c < '0' || c > '9'; });
  if (!has_letter) return;  // a number, not a word in leetspeak
  std::string decoded(word);
  bool changed = false;
  int ones = 0;
  for (char& c : decoded) {
    if (c == '1') ++ones;
    const char letter = leet_letter(c);
    changed = changed || letter != c;
    c = letter;
  }
  if (!changed) return;
  out.push_back(decoded);
  if (ones == 0 || ones > kMaxOnes) return;
  // Every choice of `i` or `l` for the `1`s, the all-`i` one already added.
  std::vector<std::size_t> at;
  for (std::size_t i = 0; i < word.size(); ++i)
    if (word[i] == '1') at.push_back(i);
  for (unsigned mask = 1; mask < (1u << at.size()); ++mask) {
    std::string variant = decoded;
    for (std::size_t bit = 0; bit < at.size(); ++bit)
      if (mask & (1u << bit)) variant[at[bit]] = 'l';
    out.push_back(std::move(variant));
  }
}

// The words of folded text.
std::vector<std::string_view> words_of(std::string_view folded) {
  std::vector<std::string_view> words;
  const auto* s = reinterpret_cast<const std::uint8_t*>(folded.data());
  const std::size_t n = folded.size();
  std::size_t i = 0;
  std::size_t start = std::string_view::npos;
  while (i < n) {
    ucs4_t c = 0;
    const int length = u8_mbtouc(&c, s + i, n - i);
    const bool word_char = uc_is_alnum(c) || is_leet_symbol(c);
    if (word_char && start == std::string_view::npos) start = i;
    if (!word_char && start != std::string_view::npos) {
      words.push_back(folded.substr(start, i - start));
      start = std::string_view::npos;
    }
    i += static_cast<std::size_t>(std::max(length, 1));
  }
  if (start != std::string_view::npos) words.push_back(folded.substr(start));
  return words;
}

}  // namespace

std::string fold_text(std::string_view text) {
  std::size_t length = 0;
  std::unique_ptr<std::uint8_t, decltype(&std::free)> folded(
      u8_casefold(reinterpret_cast<const std::uint8_t*>(text.data()), text.size(), nullptr,
                  UNINORM_NFKD, nullptr, &length),
      &std::free);
  std::string out;
  if (!folded) {  // not UTF-8: ASCII letters folded, the rest as it is
    out.assign(text);
    for (char& c : out)
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return out;
  }
  out.reserve(length);
  std::size_t i = 0;
  while (i < length) {
    ucs4_t c = 0;
    const int step = std::max(u8_mbtouc(&c, folded.get() + i, length - i), 1);
    if (!uc_is_general_category(c, UC_CATEGORY_Mn) && !is_apostrophe(c)) {
      out.append(reinterpret_cast<const char*>(folded.get() + i), static_cast<std::size_t>(step));
    }
    i += static_cast<std::size_t>(step);
  }
  return out;
}

Result<WordList> WordList::parse(std::string_view text, std::string_view origin) {
  WordList list;
  std::size_t line_no = 0;
  std::vector<std::string> reading;
  while (!text.empty()) {
    const std::size_t end = std::min(text.find('\n'), text.size());
    std::string_view line = text.substr(0, end);
    text.remove_prefix(std::min(end + 1, text.size()));
    ++line_no;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t'))
      line.remove_suffix(1);
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t'))
      line.remove_prefix(1);
    if (line.empty() || line.front() == '#') continue;
    if (line.size() > kMaxEntryBytes) {
      return make_error(Errc::kInvalidInput, fmt::format("{} line {}: an entry is at most {} bytes",
                                                         origin, line_no, kMaxEntryBytes));
    }
    const std::string folded = fold_text(line);
    const auto words = words_of(folded);
    if (words.empty()) {
      return make_error(
          Errc::kInvalidInput,
          fmt::format("{} line {}: \"{}\" has no letters or digits", origin, line_no, line));
    }
    if (words.size() > kMaxPhraseWords) {
      return make_error(Errc::kInvalidInput, fmt::format("{} line {}: a phrase is at most {} words",
                                                         origin, line_no, kMaxPhraseWords));
    }
    // An entry is kept as its words' first readings joined by one space, the form a phrase in
    // text is looked up by.
    std::string key;
    for (const auto word : words) {
      readings(word, reading);
      if (reading.empty()) continue;
      if (!key.empty()) key += ' ';
      key += reading.size() > 1 ? reading[1] : reading[0];
    }
    if (key.empty()) continue;
    if (list.entries_.emplace(key, list.written_.size()).second) {
      list.written_.emplace_back(line);
      list.longest_ = std::max(list.longest_, words.size());
    }
  }
  return list;
}

void WordList::find(std::string_view text, std::vector<std::string>& found) const {
  if (entries_.empty() || text.empty()) return;
  const std::string folded = fold_text(text);
  const auto words = words_of(folded);
  // Each word's readings; a phrase is looked up with each word's leetspeak-read form.
  std::vector<std::vector<std::string>> read(words.size());
  for (std::size_t i = 0; i < words.size(); ++i)
    readings(words[i], read[i]);
  auto add = [&](std::size_t index) {
    const std::string& entry = written_[index];
    if (std::find(found.begin(), found.end(), entry) == found.end()) found.push_back(entry);
  };
  std::string phrase;
  for (std::size_t i = 0; i < words.size(); ++i) {
    if (read[i].empty()) continue;
    for (const auto& reading : read[i]) {
      if (auto it = entries_.find(reading); it != entries_.end()) add(it->second);
    }
    phrase = read[i].size() > 1 ? read[i][1] : read[i][0];
    for (std::size_t n = 2; n <= longest_ && i + n <= words.size(); ++n) {
      const auto& next = read[i + n - 1];
      if (next.empty()) break;
      phrase += ' ';
      phrase += next.size() > 1 ? next[1] : next[0];
      if (auto it = entries_.find(phrase); it != entries_.end()) add(it->second);
    }
  }
}

}  // namespace sluice::transforms
