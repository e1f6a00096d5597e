#pragma once
// Appending a request's events to the log from an I/O thread: the request's coroutine waits
// without blocking its thread and resumes on it once every batch is durable (or one failed).
// The log's thread never runs request code: completions reach the I/O thread through its
// CompletionInbox.

#include <boost/asio/async_result.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/result.h"
#include "http/completion_inbox.h"
#include "http/io_types.h"
#include "log/log.h"
#include "metrics/histogram.h"

namespace sluice::collector {

// What an append's callbacks share: the suspended coroutine's handler and the answer for it.
// One allocation per append; the log's callbacks hold only its address, which std::function
// keeps without allocating (a shared_ptr or a captured result made each of them allocate).
template <class Handler>
struct AppendWait final : http::InboxWork {
  AppendWait(Handler handler, http::CompletionInbox* inbox, metrics::Histogram* latency)
      : handler(std::move(handler)),
        inbox(inbox),
        latency(latency),
        started(std::chrono::steady_clock::now()) {}

  Handler handler;
  http::CompletionInbox* inbox;
  metrics::Histogram* latency;
  std::chrono::steady_clock::time_point started;
  Result<void> result = boost::outcome_v2::success();

  // On the log's thread: notes the result and hands the wait to the request's thread, which
  // resumes the request and frees it.
  static void finish(AppendWait* wait, Result<void>&& result) {
    wait->latency->observe_since(wait->started);
    wait->result = std::move(result);
    wait->inbox->push(std::unique_ptr<http::InboxWork>(wait));
  }
  void run() override { std::move(handler)(std::move(result)); }
};

// Appends the batches (one per partition) to the log. Called on an I/O thread.
template <class Token>
auto async_append(log::Log& log, const std::string& stream, std::vector<log::RecordBatch> batches,
                  metrics::Histogram& latency, Token&& token) {
  return boost::asio::async_initiate<Token, void(Result<void>)>(
      [&log, &stream, &latency, batches = std::move(batches)](auto handler) mutable {
        using Wait = AppendWait<decltype(handler)>;
        auto* wait = new Wait(std::move(handler), http::CompletionInbox::current(), &latency);
        if (auto only = log::only_partition(batches)) {
          log.append(log::Partition(stream, *only), std::move(batches[*only]),
                     [wait](Result<log::Offset> offset) {
                       if (offset) {
                         Wait::finish(wait, boost::outcome_v2::success());
                       } else {
                         Wait::finish(wait, offset.error());
                       }
                     });
          return;
        }
        log::append_partitions(log, stream, std::move(batches), [wait](Result<void> result) {
          Wait::finish(wait, std::move(result));
        });
      },
      token);
}

}  // namespace sluice::collector
