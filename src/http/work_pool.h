#pragma once
// Threads for work an I/O thread must not wait for (a store query, a Kafka end-offset query,
// a readiness check): run(f) runs f there and resumes the calling coroutine on its own I/O
// thread with the result. The server owns the pools and stops them before its I/O contexts
// go (Server::add_pool).

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <cstddef>
#include <type_traits>
#include <utility>

#include "http/io_types.h"

namespace sluice::http {

class WorkPool {
 public:
  explicit WorkPool(std::size_t threads) : pool_(threads) {}

  template <class F>
  auto run(F f) {
    using R = std::invoke_result_t<F&>;
    return boost::asio::async_initiate<decltype(kAwait), void(R)>(
        [this, f = std::move(f)](auto handler) mutable {
          auto io_executor = boost::asio::get_associated_executor(handler);
          boost::asio::post(
              pool_, [f = std::move(f), handler = std::move(handler), io_executor]() mutable {
                R result = f();
                boost::asio::post(io_executor, [handler = std::move(handler),
                                                result = std::move(result)]() mutable {
                  std::move(handler)(std::move(result));
                });
              });
        },
        kAwait);
  }

  // Drops what has not started and waits for what has.
  void stop() {
    pool_.stop();
    pool_.join();
  }

  // Runs `f` there, without waiting for it.
  template <class F>
  void post(F f) {
    boost::asio::post(pool_, std::move(f));
  }

 private:
  boost::asio::thread_pool pool_;
};

}  // namespace sluice::http
