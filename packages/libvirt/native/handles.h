// Shared state behind Connection and Domain objects, and the references that
// one call takes on libvirt's objects while it runs on a pool thread.
#pragma once

#include <libvirt/libvirt.h>

#include <memory>
#include <mutex>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "errors.h"
#include "events.h"

namespace headroom_libvirt {

// One reference on a virConnectPtr or virDomainPtr, dropped when it goes out
// of scope. Dropping the last reference of a connection closes it, so these
// are only dropped on pool threads.
template <typename Pointer, int (*Unref)(Pointer)>
class Ref {
 public:
  Ref() = default;
  explicit Ref(Pointer pointer) : pointer_(pointer) {}
  Ref(Ref&& other) noexcept : pointer_(std::exchange(other.pointer_, nullptr)) {}
  Ref& operator=(Ref&& other) noexcept {
    std::swap(pointer_, other.pointer_);
    return *this;
  }
  Ref(const Ref&) = delete;
  Ref& operator=(const Ref&) = delete;
  ~Ref() {
    if (pointer_ != nullptr) Unref(pointer_);
  }
  Pointer get() const { return pointer_; }
  Pointer release() { return std::exchange(pointer_, nullptr); }
  explicit operator bool() const { return pointer_ != nullptr; }

 private:
  Pointer pointer_ = nullptr;
};

using ConnectionRef = Ref<virConnectPtr, virConnectClose>;
using DomainRef = Ref<virDomainPtr, virDomainFree>;

class DomainState;

// Shared by a Connection object, its Domain objects and the calls in flight,
// so it outlives every libvirt reference any of them took.
class ConnectionState {
 public:
  ConnectionState(virConnectPtr conn, EventSink* sink);
  ~ConnectionState();
  ConnectionState(const ConnectionState&) = delete;
  ConnectionState& operator=(const ConnectionState&) = delete;

  // Registers the close callback; part of opening.
  bool WatchForClose(Failure& failure);

  // A reference for one call, or a failure when the connection was closed.
  ConnectionRef Borrow(Failure& failure);
  bool IsOpen();

  // Deregisters every callback, frees every domain handle and drops the
  // connection. Safe to call more than once. Pool thread only: it talks to
  // libvirtd.
  void Close();

  // Event registrations to undo on close.
  bool RememberCallback(int callback_id);  // false when already closed
  bool ForgetCallback(int callback_id);

  // JavaScript thread only.
  void KeepProcessAlive(Napi::Env env, bool keep);

  // A new reference on the event sink for one registration; null once closed.
  EventSink* AcquireSink();

 private:
  friend class DomainState;

  // Guards everything below and every DomainState::domain_ of this connection.
  std::mutex mutex_;
  virConnectPtr conn_;  // null once closed
  EventSink* sink_;     // one reference; null once closed
  CloseWatch close_watch_;
  bool close_watched_ = false;
  std::unordered_set<DomainState*> domains_;
  std::vector<int> callback_ids_;
};

// One virDomainPtr, freed when its Domain object is collected, when free() is
// called, or when the connection closes, whichever comes first.
class DomainState {
 public:
  // Takes ownership of `domain` (a handle returned by libvirt on a pool
  // thread). Pool thread only.
  static std::shared_ptr<DomainState> Adopt(std::shared_ptr<ConnectionState> connection,
                                            virDomainPtr domain);
  ~DomainState();
  DomainState(const DomainState&) = delete;
  DomainState& operator=(const DomainState&) = delete;

  // A reference for one call, or a failure when the handle was freed or its
  // connection closed.
  DomainRef Borrow(Failure& failure);
  void Free();

  const std::string& name() const { return name_; }
  const std::string& uuid() const { return uuid_; }
  const std::shared_ptr<ConnectionState>& connection() const { return connection_; }

 private:
  friend class ConnectionState;

  DomainState(std::shared_ptr<ConnectionState> connection, virDomainPtr domain, std::string name,
              std::string uuid)
      : connection_(std::move(connection)),
        domain_(domain),
        name_(std::move(name)),
        uuid_(std::move(uuid)) {}

  std::shared_ptr<ConnectionState> connection_;
  virDomainPtr domain_;  // guarded by connection_->mutex_
  const std::string name_;
  const std::string uuid_;
};

}  // namespace headroom_libvirt
