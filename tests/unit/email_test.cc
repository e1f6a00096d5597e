// The email sink's parts: messages whose header values come from events cannot add headers,
// addresses are checked, and the journal of sent ids survives a restart.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <filesystem>

#include "core/id_journal.h"
#include "sinks/email/mail_message.h"

namespace sluice::sinks {

namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string decode_base64_lines(const std::string& text) {
  std::string out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const auto end = text.find("\r\n", pos);
    const std::string line = text.substr(pos, end - pos);
    pos = end == std::string::npos ? text.size() : end + 2;
    if (line.empty()) continue;
    std::string decoded(line.size(), '\0');
    int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(decoded.data()),
                            reinterpret_cast<const unsigned char*>(line.data()),
                            static_cast<int>(line.size()));
    n -= static_cast<int>(line.size() - line.find_last_not_of('=') - 1);  // the padding
    out += decoded.substr(0, static_cast<std::size_t>(n));
  }
  return out;
}

TEST(MailAddress, AcceptsPlainAddressesOnly) {
  EXPECT_EQ(mail_address("ana@example.org"), "ana@example.org");
  EXPECT_EQ(mail_address("Student office <forms@example.org>"), "forms@example.org");
  EXPECT_EQ(mail_address(" o'brien+forms@mail.example.org "), "o'brien+forms@mail.example.org");
  for (const char* bad : {"", "ana", "@example.org", "ana@", "ana@exa mple.org", "a b@x.org",
                          "ana@x.org\r\nBcc: all@x.org", "ana@x..org", "<ana@x.org", "a,b@x.org",
                          "ana@x.org>", "{email}"}) {
    EXPECT_FALSE(mail_address(bad)) << bad;
  }
  EXPECT_FALSE(mail_address(std::string(250, 'a') + "@x.org"));
}

TEST(ComposeMail, HeaderValuesFromEventsStayOnTheirLine) {
  MailParts parts{.from = "Forms <forms@example.org>",
                  .recipients = {"ana@example.org"},
                  .subject = "Hi\r\nBcc: everyone@example.org",
                  .body = "line one\nline two\n.\n",
                  .message_id = "abc@sluice.invalid",
                  .date_ms = 1'796'400'000'000};
  const std::string mail = compose_mail(parts);
  EXPECT_THAT(mail, HasSubstr("Subject: Hi  Bcc: everyone@example.org\r\n"));
  EXPECT_THAT(mail, Not(HasSubstr("\r\nBcc:")));
  EXPECT_THAT(mail, HasSubstr("From: Forms <forms@example.org>\r\n"));
  EXPECT_THAT(mail, HasSubstr("To: ana@example.org\r\n"));
  EXPECT_THAT(mail, HasSubstr("Message-ID: <abc@sluice.invalid>\r\n"));
  EXPECT_THAT(mail, HasSubstr("Date: Fri, 04 Dec 2026 16:00:00 +0000\r\n"));
  const auto body = mail.substr(mail.find("\r\n\r\n") + 4);
  EXPECT_EQ(decode_base64_lines(body), "line one\r\nline two\r\n.\r\n");
}

TEST(ComposeMail, NonAsciiSubjectsAreEncodedWords) {
  MailParts parts{.from = "Bureau des étudiants <forms@example.org>",
                  .recipients = {"a@x.org", "b@x.org"},
                  .subject = "Merci, Zoë",
                  .message_id = "m@x"};
  const std::string mail = compose_mail(parts);
  EXPECT_THAT(mail, HasSubstr("Subject: =?UTF-8?B?TWVyY2ksIFpvw6s=?=\r\n"));
  EXPECT_THAT(mail, HasSubstr("From: =?UTF-8?B?"));
  EXPECT_THAT(mail, HasSubstr("<forms@example.org>\r\n"));
  EXPECT_THAT(mail, HasSubstr("To: a@x.org, b@x.org\r\n"));
}

TEST(IdJournal, RemembersAcrossReopening) {
  const auto path = std::filesystem::temp_directory_path() / "sluice-journal-test" / "p.sent";
  std::filesystem::remove_all(path.parent_path());
  {
    auto journal = IdJournal::open(path.string());
    ASSERT_TRUE(journal) << journal.error().message;
    EXPECT_FALSE(journal.value().contains("forms/1"));
    ASSERT_TRUE(journal.value().add("forms/1"));
    ASSERT_TRUE(journal.value().add("forms/2\nforms/3"));  // a line break in an id
    ASSERT_TRUE(journal.value().add("forms/1"));           // once
    EXPECT_TRUE(journal.value().contains("forms/1"));
  }
  {
    auto journal = IdJournal::open(path.string());
    ASSERT_TRUE(journal);
    ASSERT_TRUE(journal.value().sending("forms/4"));  // and then the process died
    ASSERT_TRUE(journal.value().sending("forms/5"));
    ASSERT_TRUE(journal.value().add("forms/5"));
  }
  auto again = IdJournal::open(path.string());
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_TRUE(again.value().in_doubt("forms/4"));
  EXPECT_FALSE(again.value().contains("forms/4"));
  EXPECT_FALSE(again.value().in_doubt("forms/5"));
  EXPECT_TRUE(again.value().contains("forms/5"));
  EXPECT_TRUE(again.value().contains("forms/1"));
  EXPECT_TRUE(again.value().contains("forms/2 forms/3"));
  EXPECT_FALSE(again.value().contains("forms/3"));
  EXPECT_EQ(again.value().size(), 3u);
  std::filesystem::remove_all(path.parent_path());
}

}  // namespace
}  // namespace sluice::sinks
