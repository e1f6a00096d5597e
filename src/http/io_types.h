#pragma once
// The I/O types of the HTTP server, bound to the io_context's own executor type. Asio's
// default, any_io_executor, is type-erased: every operation copied, queried and destroyed it
// through function pointers, several times per request.

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace sluice::http {

using IoExecutor = boost::asio::io_context::executor_type;
using Socket = boost::asio::basic_stream_socket<boost::asio::ip::tcp, IoExecutor>;
using Timer = boost::asio::basic_waitable_timer<
    std::chrono::steady_clock, boost::asio::wait_traits<std::chrono::steady_clock>, IoExecutor>;
template <class T>
using Task = boost::asio::awaitable<T, IoExecutor>;
constexpr boost::asio::use_awaitable_t<IoExecutor> kAwait;
// Errors come back as values ([error, n] = co_await ...), not as exceptions.
constexpr auto kTuple = boost::asio::as_tuple(kAwait);

}  // namespace sluice::http
