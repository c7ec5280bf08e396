// Runs one libvirt call on libuv's thread pool and settles a Promise with its
// result on the JavaScript thread, so a slow libvirtd never blocks the event
// loop.
#pragma once

#include <napi.h>

#include <functional>
#include <utility>

#include "errors.h"

namespace headroom_libvirt {

// Result type of calls that return nothing.
struct Nothing {};

template <typename Result>
class Task final : public Napi::AsyncWorker {
 public:
  // Runs on a pool thread; reports failure through the Failure argument.
  using Work = std::function<Result(Failure&)>;
  // Runs on the JavaScript thread when Work succeeded.
  using Settle = std::function<Napi::Value(Napi::Env, Result&)>;

  static Napi::Promise Start(Napi::Env env, Work work, Settle settle) {
    auto* task = new Task(env, std::move(work), std::move(settle));
    Napi::Promise promise = task->deferred_.Promise();
    task->Queue();  // the worker deletes itself once settled
    return promise;
  }

 private:
  Task(Napi::Env env, Work work, Settle settle)
      : Napi::AsyncWorker(env, "headroom:libvirt"),
        deferred_(Napi::Promise::Deferred::New(env)),
        work_(std::move(work)),
        settle_(std::move(settle)) {}

  void Execute() override { result_ = work_(failure_); }

  void OnOK() override {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    if (failure_.failed) {
      deferred_.Reject(failure_.ToError(env).Value());
      return;
    }
    try {
      deferred_.Resolve(settle_(env, result_));
    } catch (const Napi::Error& error) {
      deferred_.Reject(error.Value());
    }
  }

  void OnError(const Napi::Error& error) override { deferred_.Reject(error.Value()); }

  Napi::Promise::Deferred deferred_;
  Work work_;
  Settle settle_;
  Failure failure_;
  Result result_{};
};

inline Napi::Value Undefined(Napi::Env env, Nothing&) { return env.Undefined(); }

}  // namespace headroom_libvirt
