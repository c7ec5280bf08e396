// Domain events and the connection close callback. libvirt calls them on its
// event loop thread; they reach JavaScript through one thread-safe function per
// connection, which calls the connection's JavaScript dispatcher.
#pragma once

#include <libvirt/libvirt.h>
#include <napi.h>

#include <atomic>
#include <mutex>
#include <string>

#include "errors.h"

namespace headroom_libvirt {

// What the dispatcher receives; `kind` is a VIR_DOMAIN_EVENT_ID_* value, or
// kConnectionClosed.
struct EventMessage {
  static constexpr int kConnectionClosed = -1;
  int listener_id = 0;
  int kind = 0;
  std::string domain_name;
  std::string domain_uuid;
  int event = 0;   // lifecycle: virDomainEventType
  int detail = 0;  // lifecycle: the matching *DetailType
  std::string alias;
  int reason = 0;  // connection closed: virConnectCloseReason
};

// Owns the thread-safe function of one connection. Reference counted: the
// connection holds one reference and every libvirt registration holds one
// (dropped by libvirt's free callback), so the function outlives every
// callback that can still fire. When Node tears the environment down first,
// the function is finalized under the sink's lock and later calls do nothing.
class EventSink {
 public:
  static EventSink* Create(Napi::Env env, Napi::Function dispatcher);

  void Acquire();
  void Release();  // any thread; the last release releases the function

  // Any thread; never blocks (the queue is unbounded).
  void Deliver(EventMessage* message);

  // JavaScript thread only: whether pending events keep the process alive.
  void KeepProcessAlive(Napi::Env env, bool keep);

 private:
  EventSink() = default;
  static void OnFinalize(napi_env env, void* finalize_data, void* hint);

  std::mutex mutex_;
  int references_ = 1;
  bool finalized_ = false;  // Node finalized the function; it must not be used
  napi_threadsafe_function function_ = nullptr;
};

bool IsSupportedDomainEvent(int event_id);

// Registers a domain event callback; returns libvirt's callback id, or -1
// with `failure` set. `domain` may be null (every domain). Takes over one
// reference on `sink`, which libvirt drops when the callback is deregistered.
int RegisterDomainEvent(virConnectPtr conn, virDomainPtr domain, int event_id, int listener_id,
                        EventSink* sink, Failure& failure);

// The close callback: libvirt calls it when the connection breaks (libvirtd
// stopped, keepalive timeout, I/O error).
struct CloseWatch {
  EventSink* sink = nullptr;
  std::atomic<bool> released{false};  // libvirt's free callback ran
};
bool RegisterCloseCallback(virConnectPtr conn, CloseWatch* watch, Failure& failure);
void UnregisterCloseCallback(virConnectPtr conn);

}  // namespace headroom_libvirt
