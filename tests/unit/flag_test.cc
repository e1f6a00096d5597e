// The flag step: word lists matched as whole words, whatever the case, accents and leetspeak,
// and the step built from configuration as pipelines build it.

#include "transforms/flag/flag.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>

#include "components/registry.h"
#include "config/config.h"
#include "pipeline/pipeline_event.h"
#include "transforms/flag/word_list.h"

namespace sluice::transforms {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::vector<std::string> found_in(const WordList& list, std::string_view text) {
  std::vector<std::string> found;
  list.find(text, found);
  return found;
}

WordList list_of(std::string_view text) {
  auto list = WordList::parse(text, "test list");
  EXPECT_TRUE(list) << list.error().message;
  return std::move(list.value());
}

TEST(WordList, MatchesWholeWordsOnly) {
  auto list = list_of("lol\nsus\n");
  EXPECT_THAT(found_in(list, "that was lol"), ElementsAre("lol"));
  EXPECT_THAT(found_in(list, "lollipop suspect"), IsEmpty());
  EXPECT_THAT(found_in(list, "(lol), sus!"), ElementsAre("lol", "sus"));
}

TEST(WordList, IgnoresCaseAccentsAndApostrophes) {
  auto list = list_of("ain't\ncafe\nstraße\n");
  EXPECT_THAT(found_in(list, "It AINT so"), ElementsAre("ain't"));
  EXPECT_THAT(found_in(list, "it ain’t so"), ElementsAre("ain't"));  // typographic apostrophe
  EXPECT_THAT(found_in(list, "CAFÉ au lait"), ElementsAre("cafe"));
  EXPECT_THAT(found_in(list, "die STRASSE"), ElementsAre("straße"));  // full case folding
}

TEST(WordList, ReadsLeetspeak) {
  auto list = list_of("noob\nhell\nsick\nwtf\n");
  EXPECT_THAT(found_in(list, "what a n00b"), ElementsAre("noob"));
  EXPECT_THAT(found_in(list, "he11 no"), ElementsAre("hell"));  // 1 read as l
  EXPECT_THAT(found_in(list, "s1ck"), ElementsAre("sick"));     // 1 read as i
  EXPECT_THAT(found_in(list, "W7F!"), ElementsAre("wtf"));      // ! at the end is punctuation
  EXPECT_THAT(found_in(list, "room 1337, year 2024"), IsEmpty());
}

TEST(WordList, MatchesPhrasesAcrossSpacingAndPunctuation) {
  auto list = list_of("# a comment\n\nno way\n");
  EXPECT_EQ(list.size(), 1u);
  EXPECT_THAT(found_in(list, "No   WAY!"), ElementsAre("no way"));
  EXPECT_THAT(found_in(list, "no, way"), ElementsAre("no way"));
  EXPECT_THAT(found_in(list, "no wayward"), IsEmpty());
}

TEST(WordList, EachEntryOnceInTheListsSpelling) {
  auto list = list_of("LOL\n");
  EXPECT_THAT(found_in(list, "lol lol L0L"), ElementsAre("LOL"));
}

TEST(WordList, RefusesEntriesWithoutWordsAndOverlongOnes) {
  auto none = WordList::parse("lol\n--- \n", "mine.txt");
  ASSERT_FALSE(none);
  EXPECT_THAT(none.error().message, HasSubstr("mine.txt line 2"));
  auto long_entry = WordList::parse(std::string(300, 'a'), "mine.txt");
  ASSERT_FALSE(long_entry);
  EXPECT_THAT(long_entry.error().message, HasSubstr("at most 200 bytes"));
}

TEST(WordList, HostileTextStaysLinear) {
  auto list = list_of("lol\nno way\n");
  // A megabyte of one-letter words with leetspeak ones and invalid UTF-8 bytes.
  std::string text;
  for (int i = 0; i < 200'000; ++i)
    text += "1l1 ";
  text += "\xff\xfe lol";
  EXPECT_THAT(found_in(list, text), ElementsAre("lol"));
}

TEST(WordList, StarterListIsBuiltIn) {
  auto list = WordList::parse(builtin_word_list("slang"), "builtin:slang");
  ASSERT_TRUE(list) << list.error().message;
  EXPECT_GT(list.value().size(), 40u);
  EXPECT_THAT(found_in(list.value(), "idk, we're GONNA be late tbh"),
              ElementsAre("idk", "gonna", "tbh"));
  EXPECT_TRUE(builtin_word_list("nope").empty());
}

// The step, built from configuration.
struct Built {
  std::unique_ptr<pipeline::Transform> step;
  std::string error;
};

Built build(const std::string& step_yaml) {
  auto loaded = config::load_text(
      "sinks:\n  a: {stdout: {}}\n  review: {stdout: {}}\n"
      "pipelines:\n  p:\n    from: [events]\n    to: [a, review]\n    steps:\n" +
      step_yaml);
  if (!loaded.ok()) return {nullptr, config::format_errors(loaded.errors, "sluice.yaml")};
  const auto& pipeline = loaded.config.pipelines.at("p");
  pipeline::TransformContext context{.pipeline = "p", .sinks = pipeline.to};
  const auto& step = pipeline.steps.at(0);
  auto built = components::find_transform_kind(step.kind)->build(context, step.settings.get());
  if (!built) return {nullptr, built.error().message};
  return {std::move(built.value()), ""};
}

struct Outcome {
  boost::json::value payload;
  std::uint64_t sinks;
};

Outcome run(pipeline::Transform& step, const std::string& payload) {
  pipeline::PipelineEvent event("forms", 0, 0, EventView{.id = "e", .payload = payload});
  EXPECT_TRUE(step.apply(event));
  return {boost::json::parse(event.payload()), event.sinks};
}

TEST(FlagStep, LabelsEventsWithWhatItFound) {
  auto built = build("      - flag: {lists: {slang: builtin:slang}}\n");
  ASSERT_TRUE(built.step) << built.error;
  auto out = run(*built.step, R"({"name":"Ana","answers":{"why":"idk lol","n":3}})");
  EXPECT_EQ(boost::json::serialize(out.payload.at("flags")), R"({"slang":["idk","lol"]})");
  const std::string clean = R"({"name":"Ana","answers":{"why":"I like it"}})";
  pipeline::PipelineEvent event("forms", 0, 0, EventView{.id = "e", .payload = clean});
  EXPECT_TRUE(built.step->apply(event));
  EXPECT_EQ(event.payload(), clean);  // not changed at all
}

TEST(FlagStep, ChecksOnlyTheNamedFieldsAndRoutes) {
  const auto dir = std::filesystem::temp_directory_path() / "sluice-flag-test";
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "banned.txt") << "spam\n";
  auto built = build(
      "      - flag:\n          fields: [comment]\n          lists: {slang: "
      "builtin:slang, banned: " +
      (dir / "banned.txt").string() + "}\n          label: checks.found\n          to: [review]\n");
  ASSERT_TRUE(built.step) << built.error;
  auto flagged = run(*built.step, R"({"name":"lol","comment":"SP4M and tbh"})");
  EXPECT_EQ(boost::json::serialize(flagged.payload.at("checks").at("found")),
            R"({"slang":["tbh"],"banned":["spam"]})");
  EXPECT_EQ(flagged.sinks & 3u, 3u);  // both sinks
  auto clean = run(*built.step, R"({"name":"lol","comment":"fine"})");
  EXPECT_FALSE(clean.payload.as_object().contains("checks"));
  EXPECT_EQ(clean.sinks & 3u, 1u);  // review gets flagged events only
  std::filesystem::remove_all(dir);
}

TEST(FlagStep, ConfigurationMistakesNameTheSetting) {
  EXPECT_THAT(build("      - flag: {lists: {x: /no/such/file.txt}}\n").error,
              HasSubstr("cannot read word list /no/such/file.txt"));
  EXPECT_THAT(build("      - flag: {lists: {x: builtin:rude}}\n").error,
              HasSubstr("no such built-in list (there are: slang)"));
  EXPECT_THAT(build("      - flag: {lists: {}}\n").error, HasSubstr("at least one list"));
  EXPECT_THAT(build("      - flag: {lists: {s: builtin:slang}, to: [nowhere]}\n").error,
              HasSubstr("\"nowhere\" is not one of the pipeline's sinks"));
  EXPECT_THAT(build("      - flag: {lists: {s: builtin:slang}, label: ''}\n").error,
              HasSubstr("needs a `label`, a `to` or both"));
}

}  // namespace
}  // namespace sluice::transforms
