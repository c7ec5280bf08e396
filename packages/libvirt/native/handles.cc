#include "handles.h"

#include <libvirt/virterror.h>

namespace headroom_libvirt {

ConnectionState::ConnectionState(virConnectPtr conn, EventSink* sink)
    : conn_(conn), sink_(sink) {
  close_watch_.sink = sink;
}

ConnectionState::~ConnectionState() { Close(); }

bool ConnectionState::WatchForClose(Failure& failure) {
  if (!RegisterCloseCallback(conn_, &close_watch_, failure)) return false;
  std::lock_guard<std::mutex> lock(mutex_);
  close_watched_ = true;
  return true;
}

ConnectionRef ConnectionState::Borrow(Failure& failure) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (conn_ == nullptr) {
    failure.Set(VIR_ERR_INVALID_CONN, "the libvirt connection is closed");
    return ConnectionRef();
  }
  virConnectRef(conn_);
  return ConnectionRef(conn_);
}

bool ConnectionState::IsOpen() {
  std::lock_guard<std::mutex> lock(mutex_);
  return conn_ != nullptr;
}

void ConnectionState::Close() {
  virConnectPtr conn;
  EventSink* sink;
  bool watched;
  std::vector<virDomainPtr> domains;
  std::vector<int> callback_ids;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (conn_ == nullptr) return;
    conn = std::exchange(conn_, nullptr);
    sink = std::exchange(sink_, nullptr);
    watched = close_watched_;
    for (DomainState* domain : domains_) {
      domains.push_back(std::exchange(domain->domain_, nullptr));
    }
    domains_.clear();
    callback_ids.swap(callback_ids_);
  }
  // Undo what was registered, so that callbacks stop before the connection
  // goes; errors are ignored, since the connection may already be broken.
  if (watched) UnregisterCloseCallback(conn);
  for (int callback_id : callback_ids) {
    if (virConnectDomainEventDeregisterAny(conn, callback_id) < 0) virResetLastError();
  }
  for (virDomainPtr domain : domains) virDomainFree(domain);
  int remaining = virConnectClose(conn);
  if (remaining < 0) virResetLastError();
  // Drivers without a close callback never call its free callback; once the
  // connection is gone nothing else can use the watch.
  if (remaining == 0 && watched && !close_watch_.released.exchange(true)) {
    close_watch_.sink->Release();
  }
  if (sink != nullptr) sink->Release();
}

bool ConnectionState::RememberCallback(int callback_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (conn_ == nullptr) return false;
  callback_ids_.push_back(callback_id);
  return true;
}

bool ConnectionState::ForgetCallback(int callback_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto it = callback_ids_.begin(); it != callback_ids_.end(); ++it) {
    if (*it == callback_id) {
      callback_ids_.erase(it);
      return true;
    }
  }
  return false;
}

EventSink* ConnectionState::AcquireSink() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (sink_ != nullptr) sink_->Acquire();
  return sink_;
}

void ConnectionState::KeepProcessAlive(Napi::Env env, bool keep) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (sink_ != nullptr) sink_->KeepProcessAlive(env, keep);
}

std::shared_ptr<DomainState> DomainState::Adopt(std::shared_ptr<ConnectionState> connection,
                                                virDomainPtr domain) {
  const char* name = virDomainGetName(domain);
  char uuid[VIR_UUID_STRING_BUFLEN] = {0};
  if (name == nullptr || virDomainGetUUIDString(domain, uuid) < 0) virResetLastError();
  std::shared_ptr<DomainState> state(
      new DomainState(connection, domain, name != nullptr ? name : "", uuid));
  {
    std::lock_guard<std::mutex> lock(connection->mutex_);
    if (connection->conn_ != nullptr) {
      connection->domains_.insert(state.get());
      return state;
    }
    state->domain_ = nullptr;
  }
  // The connection closed while the call ran: the handle is of no more use.
  virDomainFree(domain);
  return state;
}

DomainState::~DomainState() { Free(); }

void DomainState::Free() {
  std::lock_guard<std::mutex> lock(connection_->mutex_);
  connection_->domains_.erase(this);
  // While domain_ is set the connection is open and holds its own reference,
  // so this only drops a count and never talks to libvirtd.
  if (domain_ != nullptr) virDomainFree(std::exchange(domain_, nullptr));
}

DomainRef DomainState::Borrow(Failure& failure) {
  std::lock_guard<std::mutex> lock(connection_->mutex_);
  if (connection_->conn_ == nullptr) {
    failure.Set(VIR_ERR_INVALID_CONN, "the libvirt connection of domain '" + name_ + "' is closed");
    return DomainRef();
  }
  if (domain_ == nullptr) {
    failure.Set(VIR_ERR_INVALID_DOMAIN, "the handle of domain '" + name_ + "' was freed");
    return DomainRef();
  }
  virDomainRef(domain_);
  return DomainRef(domain_);
}

}  // namespace headroom_libvirt
