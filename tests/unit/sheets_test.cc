// The sheets sink's parts: service-account JWTs that verify with the key's public half, key
// files read or refused with the reason, and A1 column letters.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>

#include "sinks/sheets/service_account.h"
#include "sinks/sheets/sheets_sink.h"

namespace sluice::sinks {
namespace {

using ::testing::HasSubstr;

std::string b64url_decode(std::string text) {
  for (char& c : text) {
    if (c == '-') c = '+';
    if (c == '_') c = '/';
  }
  const std::size_t padding = (4 - text.size() % 4) % 4;
  text.append(padding, '=');
  std::string out(text.size(), '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(text.data()),
                                static_cast<int>(text.size()));
  out.resize(static_cast<std::size_t>(n) - padding);
  return out;
}

struct KeyPair {
  std::string private_pem;
  EVP_PKEY* key = nullptr;
  ~KeyPair() { EVP_PKEY_free(key); }
};

void make_key(KeyPair& pair) {
  pair.key = EVP_RSA_gen(2048);
  ASSERT_NE(pair.key, nullptr);
  BIO* bio = BIO_new(BIO_s_mem());
  ASSERT_EQ(PEM_write_bio_PrivateKey(bio, pair.key, nullptr, nullptr, 0, nullptr, nullptr), 1);
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio, &data);
  pair.private_pem.assign(data, static_cast<std::size_t>(length));
  BIO_free(bio);
}

TEST(ServiceAccount, JwtVerifiesWithThePublicKey) {
  KeyPair pair;
  make_key(pair);
  ServiceAccountKey key{.client_email = "w@p.iam.gserviceaccount.com",
                        .private_key_pem = pair.private_pem,
                        .token_uri = "https://oauth2.example/token"};
  auto jwt = signed_jwt(key, "https://www.googleapis.com/auth/spreadsheets",
                        "https://oauth2.example/token", 1'800'000'000);
  ASSERT_TRUE(jwt) << jwt.error().message;
  const auto& text = jwt.value();
  const auto first = text.find('.');
  const auto second = text.find('.', first + 1);
  ASSERT_NE(second, std::string::npos);
  EXPECT_EQ(b64url_decode(text.substr(0, first)), R"({"alg":"RS256","typ":"JWT"})");
  auto claims = boost::json::parse(b64url_decode(text.substr(first + 1, second - first - 1)));
  EXPECT_EQ(claims.at("iss"), "w@p.iam.gserviceaccount.com");
  EXPECT_EQ(claims.at("aud"), "https://oauth2.example/token");
  EXPECT_EQ(claims.at("scope"), "https://www.googleapis.com/auth/spreadsheets");
  EXPECT_EQ(claims.at("exp").as_int64() - claims.at("iat").as_int64(), 3600);
  const std::string signed_part = text.substr(0, second);
  const std::string signature = b64url_decode(text.substr(second + 1));
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  ASSERT_EQ(EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, pair.key), 1);
  EXPECT_EQ(EVP_DigestVerify(
                ctx, reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
                reinterpret_cast<const unsigned char*>(signed_part.data()), signed_part.size()),
            1);
  // One changed byte of the claims and the signature no longer holds.
  std::string forged = signed_part;
  forged[first + 3] ^= 1;
  ASSERT_EQ(EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, pair.key), 1);
  EXPECT_NE(EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(signature.data()),
                             signature.size(),
                             reinterpret_cast<const unsigned char*>(forged.data()), forged.size()),
            1);
  EVP_MD_CTX_free(ctx);
}

TEST(ServiceAccount, KeyFilesAreReadOrRefusedWithTheReason) {
  const auto dir = std::filesystem::temp_directory_path() / "sluice-sheets-key-test";
  std::filesystem::create_directories(dir);
  KeyPair pair;
  make_key(pair);
  boost::json::object good{
      {"client_email", "w@p"}, {"private_key", pair.private_pem}, {"token_uri", "https://t/token"}};
  std::ofstream(dir / "good.json") << boost::json::serialize(good);
  auto key = read_service_account_key((dir / "good.json").string());
  ASSERT_TRUE(key) << key.error().message;
  EXPECT_EQ(key.value().token_uri, "https://t/token");
  std::ofstream(dir / "no-key.json") << R"({"client_email":"w@p"})";
  EXPECT_THAT(read_service_account_key((dir / "no-key.json").string()).error().message,
              HasSubstr("no client_email or private_key"));
  std::ofstream(dir / "bad-pem.json") << R"({"client_email":"w@p","private_key":"nope"})";
  EXPECT_THAT(read_service_account_key((dir / "bad-pem.json").string()).error().message,
              HasSubstr("not a PEM private key"));
  EXPECT_THAT(read_service_account_key((dir / "none.json").string()).error().message,
              HasSubstr("cannot read key file"));
  std::filesystem::remove_all(dir);
}

TEST(Sheets, ColumnLetters) {
  EXPECT_EQ(column_letters(1), "A");
  EXPECT_EQ(column_letters(26), "Z");
  EXPECT_EQ(column_letters(27), "AA");
  EXPECT_EQ(column_letters(52), "AZ");
  EXPECT_EQ(column_letters(703), "AAA");
}

}  // namespace
}  // namespace sluice::sinks
