#include "events.h"

#include <libvirt/virterror.h>

namespace headroom_libvirt {

namespace {

struct DomainEventRegistration {
  EventSink* sink;
  int listener_id;
};

void CallDispatcher(napi_env raw_env, napi_value raw_dispatcher, void*, void* data) {
  auto* message = static_cast<EventMessage*>(data);
  if (raw_env != nullptr && raw_dispatcher != nullptr) {
    Napi::Env env(raw_env);
    Napi::HandleScope scope(env);
    Napi::Object event = Napi::Object::New(env);
    event.Set("listenerId", message->listener_id);
    event.Set("kind", message->kind);
    event.Set("domainName", message->domain_name);
    event.Set("domainUuid", message->domain_uuid);
    event.Set("event", message->event);
    event.Set("detail", message->detail);
    event.Set("alias", message->alias);
    event.Set("reason", message->reason);
    try {
      Napi::Function(env, raw_dispatcher).Call({event});
    } catch (const Napi::Error& error) {
      error.ThrowAsJavaScriptException();  // reported as uncaught, like any callback's
    }
  }
  delete message;
}

EventMessage* MessageFor(void* opaque, int kind, virDomainPtr domain) {
  auto* registration = static_cast<DomainEventRegistration*>(opaque);
  auto* message = new EventMessage();
  message->listener_id = registration->listener_id;
  message->kind = kind;
  const char* name = virDomainGetName(domain);
  if (name != nullptr) message->domain_name = name;
  char uuid[VIR_UUID_STRING_BUFLEN];
  if (virDomainGetUUIDString(domain, uuid) == 0) message->domain_uuid = uuid;
  virResetLastError();
  return message;
}

void Send(void* opaque, EventMessage* message) {
  static_cast<DomainEventRegistration*>(opaque)->sink->Deliver(message);
}

int OnLifecycle(virConnectPtr, virDomainPtr domain, int event, int detail, void* opaque) {
  EventMessage* message = MessageFor(opaque, VIR_DOMAIN_EVENT_ID_LIFECYCLE, domain);
  message->event = event;
  message->detail = detail;
  Send(opaque, message);
  return 0;
}

void OnReboot(virConnectPtr, virDomainPtr domain, void* opaque) {
  Send(opaque, MessageFor(opaque, VIR_DOMAIN_EVENT_ID_REBOOT, domain));
}

template <int kind>
void OnDeviceEvent(virConnectPtr, virDomainPtr domain, const char* alias, void* opaque) {
  EventMessage* message = MessageFor(opaque, kind, domain);
  if (alias != nullptr) message->alias = alias;
  Send(opaque, message);
}

void FreeRegistration(void* opaque) {
  auto* registration = static_cast<DomainEventRegistration*>(opaque);
  registration->sink->Release();
  delete registration;
}

virConnectDomainEventGenericCallback CallbackFor(int event_id) {
  switch (event_id) {
    case VIR_DOMAIN_EVENT_ID_LIFECYCLE:
      return VIR_DOMAIN_EVENT_CALLBACK(OnLifecycle);
    case VIR_DOMAIN_EVENT_ID_REBOOT:
      return VIR_DOMAIN_EVENT_CALLBACK(OnReboot);
    case VIR_DOMAIN_EVENT_ID_DEVICE_ADDED:
      return VIR_DOMAIN_EVENT_CALLBACK(OnDeviceEvent<VIR_DOMAIN_EVENT_ID_DEVICE_ADDED>);
    case VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED:
      return VIR_DOMAIN_EVENT_CALLBACK(OnDeviceEvent<VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED>);
    case VIR_DOMAIN_EVENT_ID_DEVICE_REMOVAL_FAILED:
      return VIR_DOMAIN_EVENT_CALLBACK(OnDeviceEvent<VIR_DOMAIN_EVENT_ID_DEVICE_REMOVAL_FAILED>);
    default:
      return nullptr;
  }
}

void OnConnectionClosed(virConnectPtr, int reason, void* opaque) {
  auto* message = new EventMessage();
  message->kind = EventMessage::kConnectionClosed;
  message->reason = reason;
  static_cast<CloseWatch*>(opaque)->sink->Deliver(message);
}

void FreeCloseWatch(void* opaque) {
  auto* watch = static_cast<CloseWatch*>(opaque);
  // The watch itself belongs to the connection state; only its reference on
  // the sink is libvirt's to drop.
  if (!watch->released.exchange(true)) watch->sink->Release();
}

}  // namespace

EventSink* EventSink::Create(Napi::Env env, Napi::Function dispatcher) {
  auto* sink = new EventSink();
  napi_status status = napi_create_threadsafe_function(
      env, dispatcher, nullptr, Napi::String::New(env, "headroom:libvirt-events"), 0, 1, sink,
      OnFinalize, nullptr, CallDispatcher, &sink->function_);
  if (status != napi_ok) {
    delete sink;
    throw Napi::Error::New(env, "cannot create the event thread-safe function");
  }
  // Idle until the JavaScript side says events are awaited.
  napi_unref_threadsafe_function(env, sink->function_);
  return sink;
}

void EventSink::OnFinalize(napi_env, void* finalize_data, void*) {
  auto* sink = static_cast<EventSink*>(finalize_data);
  bool unused;
  {
    std::lock_guard<std::mutex> lock(sink->mutex_);
    sink->finalized_ = true;
    unused = sink->references_ == 0;
  }
  if (unused) delete sink;
}

void EventSink::Acquire() {
  std::lock_guard<std::mutex> lock(mutex_);
  references_++;
}

void EventSink::Release() {
  bool orphaned;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (--references_ > 0) return;
    // Releasing the function leads to OnFinalize, which deletes the sink;
    // once the environment finalized it, nobody else will.
    if (!finalized_) napi_release_threadsafe_function(function_, napi_tsfn_release);
    orphaned = finalized_;
  }
  if (orphaned) delete this;
}

void EventSink::Deliver(EventMessage* message) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (finalized_ ||
      napi_call_threadsafe_function(function_, message, napi_tsfn_nonblocking) != napi_ok) {
    delete message;  // the environment is shutting down
  }
}

void EventSink::KeepProcessAlive(Napi::Env env, bool keep) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (finalized_) return;
  if (keep) {
    napi_ref_threadsafe_function(env, function_);
  } else {
    napi_unref_threadsafe_function(env, function_);
  }
}

bool IsSupportedDomainEvent(int event_id) { return CallbackFor(event_id) != nullptr; }

int RegisterDomainEvent(virConnectPtr conn, virDomainPtr domain, int event_id, int listener_id,
                        EventSink* sink, Failure& failure) {
  virConnectDomainEventGenericCallback callback = CallbackFor(event_id);
  if (callback == nullptr) {
    failure.Set(VIR_ERR_INVALID_ARG, "unsupported domain event id " + std::to_string(event_id));
    sink->Release();
    return -1;
  }
  auto* registration = new DomainEventRegistration{sink, listener_id};
  int callback_id = virConnectDomainEventRegisterAny(conn, domain, event_id, callback,
                                                     registration, FreeRegistration);
  if (callback_id < 0) {
    failure.CaptureLastError();
    // libvirt does not call the free callback when registering fails.
    FreeRegistration(registration);
  }
  return callback_id;
}

bool RegisterCloseCallback(virConnectPtr conn, CloseWatch* watch, Failure& failure) {
  watch->sink->Acquire();
  if (virConnectRegisterCloseCallback(conn, OnConnectionClosed, watch, FreeCloseWatch) < 0) {
    failure.CaptureLastError();
    FreeCloseWatch(watch);
    return false;
  }
  return true;
}

void UnregisterCloseCallback(virConnectPtr conn) {
  if (virConnectUnregisterCloseCallback(conn, OnConnectionClosed) < 0) virResetLastError();
}

}  // namespace headroom_libvirt
