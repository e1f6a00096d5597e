#pragma once
// Reads a request off a connection with Beast's parser, fed from the connection's buffer.
// A small request arrives whole in one read: parsing it straight from the buffer skips
// beast::http::async_read_header and async_read, whose composed operations each allocated
// their state and went once more through the scheduler per request with no I/O left to do.
// Only a request that is not all in the buffer yet waits for the socket (read_rest).

#include <algorithm>
#include <boost/asio/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/read_size.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cstdint>

#include "http/io_types.h"

namespace sluice::http {

using RequestParser = boost::beast::http::request_parser<boost::beast::http::string_body>;

// How far a read goes: to the end of the headers (the body is read once they are checked), or
// to the end of the message.
enum class ReadUntil { kHeader, kMessage };

// Parses what `buffer` holds, consuming it. Returns need_more when the parser wants bytes the
// buffer does not have yet, another error when the request is bad, none when `until` is reached.
inline boost::beast::error_code parse_buffered(RequestParser& parser,
                                               boost::beast::flat_buffer& buffer, ReadUntil until) {
  boost::beast::error_code error;
  for (;;) {
    if (until == ReadUntil::kHeader ? parser.is_header_done() : parser.is_done()) return {};
    if (buffer.size() == 0) return boost::beast::http::error::need_more;
    const std::size_t used = parser.put(buffer.data(), error);
    buffer.consume(used);
    if (error) return error;
    if (used == 0) return boost::beast::http::error::need_more;  // a token split across reads
  }
}

// Reads from the socket and parses until `until` is reached. What the socket's end means
// follows beast::http::async_read: end_of_stream before any byte of the request, the parser's
// verdict (partial_message) after some.
// `Stream`: the connection's Socket, or a TLS stream over it.
template <class Stream>
Task<boost::beast::error_code> read_rest(Stream& socket, boost::beast::flat_buffer& buffer,
                                         RequestParser& parser, ReadUntil until) {
  for (;;) {
    // A buffer grows only when it is full: read_size alone would read a large body 512 bytes
    // at a time (one recv per 512 bytes). What the body still lacks, up to 64 KiB, is read
    // at once.
    std::size_t size = boost::beast::read_size(buffer, 65536);
    if (until == ReadUntil::kMessage && parser.is_header_done()) {
      if (auto remaining = parser.content_length_remaining()) {
        size = std::max<std::size_t>(size, std::min<std::uint64_t>(*remaining, 65536));
      }
    }
    auto [read_error, n] = co_await socket.async_read_some(buffer.prepare(size), kTuple);
    if (read_error == boost::asio::error::eof) {
      if (!parser.got_some()) co_return boost::beast::http::error::end_of_stream;
      boost::beast::error_code eof_error;
      parser.put_eof(eof_error);
      if (!eof_error && !parser.is_done() && until == ReadUntil::kMessage) {
        eof_error = boost::beast::http::error::partial_message;
      }
      co_return eof_error;
    }
    if (read_error) co_return read_error;
    buffer.commit(n);
    const auto parsed = parse_buffered(parser, buffer, until);
    if (parsed != boost::beast::http::error::need_more) co_return parsed;
  }
}

}  // namespace sluice::http
