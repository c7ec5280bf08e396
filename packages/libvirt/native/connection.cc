#include <libvirt/virterror.h>

#include <cstdlib>
#include <thread>
#include <vector>

#include "event_loop.h"
#include "task.h"
#include "wrappers.h"

namespace headroom_libvirt {

namespace {

using ConnectionPtr = std::shared_ptr<ConnectionState>;
using DomainPtr = std::shared_ptr<DomainState>;

Napi::Value DomainValue(Napi::Env env, DomainPtr& domain) {
  return DomainWrap::NewInstance(env, domain);
}

Napi::Value StringValue(Napi::Env env, std::string& text) { return Napi::String::New(env, text); }

Napi::Value NumberValue(Napi::Env env, double& number) { return Napi::Number::New(env, number); }

Napi::Value BooleanValue(Napi::Env env, bool& value) { return Napi::Boolean::New(env, value); }

// Runs `call` with a borrowed connection and adopts the domain it returns.
template <typename Call>
Napi::Value ReturnDomain(Napi::Env env, const ConnectionPtr& state, Call call) {
  return Task<DomainPtr>::Start(
      env,
      [state, call](Failure& failure) -> DomainPtr {
        ConnectionRef conn = state->Borrow(failure);
        if (!conn) return nullptr;
        virDomainPtr domain = call(conn.get());
        if (domain == nullptr) {
          failure.CaptureLastError();
          return nullptr;
        }
        return DomainState::Adopt(state, domain);
      },
      DomainValue);
}

// Runs `call` with a borrowed connection; it returns a string libvirt allocated.
template <typename Call>
Napi::Value ReturnString(Napi::Env env, const ConnectionPtr& state, Call call) {
  return Task<std::string>::Start(
      env,
      [state, call](Failure& failure) -> std::string {
        ConnectionRef conn = state->Borrow(failure);
        if (!conn) return "";
        return TakeString(call(conn.get()), failure);
      },
      StringValue);
}

}  // namespace

std::string TakeString(char* text, Failure& failure) {
  if (text == nullptr) {
    failure.CaptureLastError();
    return "";
  }
  std::string result(text);
  free(text);
  return result;
}

std::string StringArgument(const Napi::CallbackInfo& info, size_t index, const char* name) {
  if (!info[index].IsString()) {
    throw Napi::TypeError::New(info.Env(), std::string(name) + " must be a string");
  }
  return info[index].As<Napi::String>().Utf8Value();
}

std::string OptionalStringArgument(const Napi::CallbackInfo& info, size_t index, bool& present) {
  present = info[index].IsString();
  return present ? info[index].As<Napi::String>().Utf8Value() : "";
}

unsigned int FlagsArgument(const Napi::CallbackInfo& info, size_t index) {
  if (info[index].IsUndefined()) return 0;
  if (!info[index].IsNumber()) throw Napi::TypeError::New(info.Env(), "flags must be a number");
  return info[index].As<Napi::Number>().Uint32Value();
}

int IntArgument(const Napi::CallbackInfo& info, size_t index, const char* name) {
  if (!info[index].IsNumber()) {
    throw Napi::TypeError::New(info.Env(), std::string(name) + " must be a number");
  }
  return info[index].As<Napi::Number>().Int32Value();
}

Napi::Function ConnectionWrap::DefineClass(Napi::Env env) {
  return ObjectWrap::DefineClass(
      env, "NativeConnection",
      {
          InstanceMethod<&ConnectionWrap::Close>("close"),
          InstanceMethod<&ConnectionWrap::IsAlive>("isAlive"),
          InstanceMethod<&ConnectionWrap::GetCapabilities>("getCapabilities"),
          InstanceMethod<&ConnectionWrap::GetDomainCapabilities>("getDomainCapabilities"),
          InstanceMethod<&ConnectionWrap::GetLibVersion>("getLibVersion"),
          InstanceMethod<&ConnectionWrap::GetVersion>("getVersion"),
          InstanceMethod<&ConnectionWrap::GetHostname>("getHostname"),
          InstanceMethod<&ConnectionWrap::GetNodeInfo>("getNodeInfo"),
          InstanceMethod<&ConnectionWrap::DefineXml>("defineXml"),
          InstanceMethod<&ConnectionWrap::CreateXml>("createXml"),
          InstanceMethod<&ConnectionWrap::CreateNetworkXml>("createNetworkXml"),
          InstanceMethod<&ConnectionWrap::DestroyNetwork>("destroyNetwork"),
          InstanceMethod<&ConnectionWrap::NetworkXml>("networkXml"),
          InstanceMethod<&ConnectionWrap::IsNetworkActive>("isNetworkActive"),
          InstanceMethod<&ConnectionWrap::LookupByName>("lookupByName"),
          InstanceMethod<&ConnectionWrap::LookupByUuid>("lookupByUuid"),
          InstanceMethod<&ConnectionWrap::ListAllDomains>("listAllDomains"),
          InstanceMethod<&ConnectionWrap::RegisterDomainEvent>("registerDomainEvent"),
          InstanceMethod<&ConnectionWrap::DeregisterDomainEvent>("deregisterDomainEvent"),
          InstanceMethod<&ConnectionWrap::KeepProcessAlive>("keepProcessAlive"),
      });
}

Napi::Object ConnectionWrap::NewInstance(Napi::Env env, std::shared_ptr<ConnectionState> state) {
  auto* data = env.GetInstanceData<AddonData>();
  return data->connection_class.New({Napi::External<ConnectionPtr>::New(env, &state)});
}

ConnectionWrap::ConnectionWrap(const Napi::CallbackInfo& info) : ObjectWrap(info) {
  if (info.Length() != 1 || !info[0].IsExternal()) {
    throw Napi::TypeError::New(info.Env(), "connections are made by open()");
  }
  state_ = *info[0].As<Napi::External<ConnectionPtr>>().Data();
  environment_ending_ = info.Env().GetInstanceData<AddonData>()->ending;
}

ConnectionWrap::~ConnectionWrap() {
  if (!state_->IsOpen()) return;
  if (environment_ending_->load()) {
    // At process exit the operating system closes the socket; talking to
    // libvirtd then would race the exit, so the state is left as it is.
    new ConnectionPtr(std::move(state_));  // NOLINT: deliberately never freed
    return;
  }
  // Collected without close(): close on a thread of its own, since closing
  // talks to libvirtd and a finalizer must not block.
  std::thread([state = std::move(state_)] { state->Close(); }).detach();
}

Napi::Value ConnectionWrap::Open(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  bool has_uri = false;
  std::string uri = OptionalStringArgument(info, 0, has_uri);
  int keepalive_interval = IntArgument(info, 1, "keepaliveIntervalSec");
  int keepalive_count = IntArgument(info, 2, "keepaliveCount");
  if (!info[3].IsFunction()) throw Napi::TypeError::New(env, "dispatcher must be a function");
  const char* reason = nullptr;
  if (!EnsureEventLoop(&reason)) throw Napi::Error::New(env, reason);

  EventSink* sink = EventSink::Create(env, info[3].As<Napi::Function>());
  return Task<ConnectionPtr>::Start(
      env,
      [=](Failure& failure) -> ConnectionPtr {
        virConnectPtr conn = virConnectOpen(has_uri ? uri.c_str() : nullptr);
        if (conn == nullptr) {
          failure.CaptureLastError();
          sink->Release();
          return nullptr;
        }
        auto state = std::make_shared<ConnectionState>(conn, sink);
        if (keepalive_interval > 0 &&
            virConnectSetKeepAlive(conn, keepalive_interval, keepalive_count) < 0) {
          // Local drivers (test:///, embedded QEMU) have no keepalive.
          virErrorPtr error = virGetLastError();
          if (error == nullptr || error->code != VIR_ERR_NO_SUPPORT) {
            failure.CaptureLastError();
            state->Close();
            return nullptr;
          }
          virResetLastError();
        }
        if (!state->WatchForClose(failure)) {
          state->Close();
          return nullptr;
        }
        return state;
      },
      [](Napi::Env env, ConnectionPtr& state) -> Napi::Value { return NewInstance(env, state); });
}

Napi::Value ConnectionWrap::Close(const Napi::CallbackInfo& info) {
  return Task<Nothing>::Start(
      info.Env(),
      [state = state_](Failure&) {
        state->Close();
        return Nothing{};
      },
      Undefined);
}

Napi::Value ConnectionWrap::IsAlive(const Napi::CallbackInfo& info) {
  return Task<bool>::Start(
      info.Env(),
      [state = state_](Failure& failure) {
        Failure closed;
        ConnectionRef conn = state->Borrow(closed);
        if (!conn) return false;  // a closed connection is simply not alive
        int alive = virConnectIsAlive(conn.get());
        if (alive < 0) failure.CaptureLastError();
        return alive == 1;
      },
      BooleanValue);
}

Napi::Value ConnectionWrap::GetCapabilities(const Napi::CallbackInfo& info) {
  return ReturnString(info.Env(), state_,
                      [](virConnectPtr conn) { return virConnectGetCapabilities(conn); });
}

Napi::Value ConnectionWrap::GetDomainCapabilities(const Napi::CallbackInfo& info) {
  bool has_emulator, has_arch, has_machine, has_virttype;
  std::string emulator = OptionalStringArgument(info, 0, has_emulator);
  std::string arch = OptionalStringArgument(info, 1, has_arch);
  std::string machine = OptionalStringArgument(info, 2, has_machine);
  std::string virttype = OptionalStringArgument(info, 3, has_virttype);
  unsigned int flags = FlagsArgument(info, 4);
  return ReturnString(info.Env(), state_, [=](virConnectPtr conn) {
    return virConnectGetDomainCapabilities(
        conn, has_emulator ? emulator.c_str() : nullptr, has_arch ? arch.c_str() : nullptr,
        has_machine ? machine.c_str() : nullptr, has_virttype ? virttype.c_str() : nullptr, flags);
  });
}

Napi::Value ConnectionWrap::GetLibVersion(const Napi::CallbackInfo& info) {
  return Task<double>::Start(
      info.Env(),
      [state = state_](Failure& failure) -> double {
        ConnectionRef conn = state->Borrow(failure);
        unsigned long version = 0;
        if (conn && virConnectGetLibVersion(conn.get(), &version) < 0) failure.CaptureLastError();
        return static_cast<double>(version);
      },
      NumberValue);
}

Napi::Value ConnectionWrap::GetVersion(const Napi::CallbackInfo& info) {
  return Task<double>::Start(
      info.Env(),
      [state = state_](Failure& failure) -> double {
        ConnectionRef conn = state->Borrow(failure);
        unsigned long version = 0;
        if (conn && virConnectGetVersion(conn.get(), &version) < 0) failure.CaptureLastError();
        return static_cast<double>(version);
      },
      NumberValue);
}

// The host's CPUs and memory (virNodeGetInfo) and its free memory now.
struct NodeInfo {
  virNodeInfo info{};
  unsigned long long free_bytes = 0;
};

Napi::Value ConnectionWrap::GetNodeInfo(const Napi::CallbackInfo& info) {
  return Task<NodeInfo>::Start(
      info.Env(),
      [state = state_](Failure& failure) {
        NodeInfo result;
        ConnectionRef conn = state->Borrow(failure);
        if (!conn) return result;
        if (virNodeGetInfo(conn.get(), &result.info) < 0) {
          failure.CaptureLastError();
          return result;
        }
        // 0 is libvirt's error value here; a host with no free byte is not one.
        result.free_bytes = virNodeGetFreeMemory(conn.get());
        if (result.free_bytes == 0) failure.CaptureLastError();
        return result;
      },
      [](Napi::Env env, NodeInfo& result) -> Napi::Value {
        Napi::Object object = Napi::Object::New(env);
        object.Set("model", Napi::String::New(env, result.info.model));
        object.Set("cpus", static_cast<double>(result.info.cpus));
        object.Set("memoryKiB", static_cast<double>(result.info.memory));
        object.Set("freeMemoryBytes", static_cast<double>(result.free_bytes));
        return object;
      });
}

// Starts a transient network and returns its name; the handle is not kept,
// since headroom only ever creates networks to get their bridge.
Napi::Value ConnectionWrap::CreateNetworkXml(const Napi::CallbackInfo& info) {
  std::string xml = StringArgument(info, 0, "xml");
  return Task<std::string>::Start(
      info.Env(),
      [state = state_, xml](Failure& failure) -> std::string {
        ConnectionRef conn = state->Borrow(failure);
        if (!conn) return "";
        virNetworkPtr network = virNetworkCreateXML(conn.get(), xml.c_str());
        if (network == nullptr) {
          failure.CaptureLastError();
          return "";
        }
        std::string name(virNetworkGetName(network));
        virNetworkFree(network);
        return name;
      },
      StringValue);
}

// Stops a network by name; a transient one is gone after.
Napi::Value ConnectionWrap::DestroyNetwork(const Napi::CallbackInfo& info) {
  std::string name = StringArgument(info, 0, "name");
  return Task<Nothing>::Start(
      info.Env(),
      [state = state_, name](Failure& failure) -> Nothing {
        ConnectionRef conn = state->Borrow(failure);
        if (!conn) return {};
        virNetworkPtr network = virNetworkLookupByName(conn.get(), name.c_str());
        if (network == nullptr) {
          failure.CaptureLastError();
          return {};
        }
        if (virNetworkDestroy(network) < 0) failure.CaptureLastError();
        virNetworkFree(network);
        return {};
      },
      Undefined);
}

// A network's XML by name, to tell a network headroom made from another.
Napi::Value ConnectionWrap::NetworkXml(const Napi::CallbackInfo& info) {
  std::string name = StringArgument(info, 0, "name");
  return Task<std::string>::Start(
      info.Env(),
      [state = state_, name](Failure& failure) -> std::string {
        ConnectionRef conn = state->Borrow(failure);
        if (!conn) return "";
        virNetworkPtr network = virNetworkLookupByName(conn.get(), name.c_str());
        if (network == nullptr) {
          failure.CaptureLastError();
          return "";
        }
        std::string xml;
        char* desc = virNetworkGetXMLDesc(network, 0);
        if (desc == nullptr) {
          failure.CaptureLastError();
        } else {
          xml = desc;
          free(desc);
        }
        virNetworkFree(network);
        return xml;
      },
      StringValue);
}

Napi::Value ConnectionWrap::IsNetworkActive(const Napi::CallbackInfo& info) {
  std::string name = StringArgument(info, 0, "name");
  return Task<bool>::Start(
      info.Env(),
      [state = state_, name](Failure& failure) -> bool {
        ConnectionRef conn = state->Borrow(failure);
        if (!conn) return false;
        virNetworkPtr network = virNetworkLookupByName(conn.get(), name.c_str());
        if (network == nullptr) {
          failure.CaptureLastError();
          return false;
        }
        int active = virNetworkIsActive(network);
        if (active < 0) failure.CaptureLastError();
        virNetworkFree(network);
        return active == 1;
      },
      BooleanValue);
}

Napi::Value ConnectionWrap::GetHostname(const Napi::CallbackInfo& info) {
  return ReturnString(info.Env(), state_,
                      [](virConnectPtr conn) { return virConnectGetHostname(conn); });
}

Napi::Value ConnectionWrap::DefineXml(const Napi::CallbackInfo& info) {
  std::string xml = StringArgument(info, 0, "xml");
  unsigned int flags = FlagsArgument(info, 1);
  return ReturnDomain(info.Env(), state_, [=](virConnectPtr conn) {
    return virDomainDefineXMLFlags(conn, xml.c_str(), flags);
  });
}

Napi::Value ConnectionWrap::CreateXml(const Napi::CallbackInfo& info) {
  std::string xml = StringArgument(info, 0, "xml");
  unsigned int flags = FlagsArgument(info, 1);
  return ReturnDomain(info.Env(), state_, [=](virConnectPtr conn) {
    return virDomainCreateXML(conn, xml.c_str(), flags);
  });
}

Napi::Value ConnectionWrap::LookupByName(const Napi::CallbackInfo& info) {
  std::string name = StringArgument(info, 0, "name");
  return ReturnDomain(info.Env(), state_, [=](virConnectPtr conn) {
    return virDomainLookupByName(conn, name.c_str());
  });
}

Napi::Value ConnectionWrap::LookupByUuid(const Napi::CallbackInfo& info) {
  std::string uuid = StringArgument(info, 0, "uuid");
  return ReturnDomain(info.Env(), state_, [=](virConnectPtr conn) {
    return virDomainLookupByUUIDString(conn, uuid.c_str());
  });
}

Napi::Value ConnectionWrap::ListAllDomains(const Napi::CallbackInfo& info) {
  unsigned int flags = FlagsArgument(info, 0);
  using Domains = std::vector<DomainPtr>;
  return Task<Domains>::Start(
      info.Env(),
      [state = state_, flags](Failure& failure) -> Domains {
        Domains result;
        ConnectionRef conn = state->Borrow(failure);
        if (!conn) return result;
        virDomainPtr* domains = nullptr;
        int count = virConnectListAllDomains(conn.get(), &domains, flags);
        if (count < 0) {
          failure.CaptureLastError();
          return result;
        }
        for (int i = 0; i < count; i++) result.push_back(DomainState::Adopt(state, domains[i]));
        free(domains);
        return result;
      },
      [](Napi::Env env, Domains& domains) -> Napi::Value {
        Napi::Array array = Napi::Array::New(env, domains.size());
        for (size_t i = 0; i < domains.size(); i++) {
          array.Set(static_cast<uint32_t>(i), DomainWrap::NewInstance(env, domains[i]));
        }
        return array;
      });
}

Napi::Value ConnectionWrap::RegisterDomainEvent(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int listener_id = IntArgument(info, 0, "listenerId");
  int event_id = IntArgument(info, 1, "eventId");
  if (!IsSupportedDomainEvent(event_id)) {
    throw Napi::RangeError::New(env, "unsupported domain event id " + std::to_string(event_id));
  }
  DomainPtr domain;
  if (!info[2].IsUndefined() && !info[2].IsNull()) {
    if (!info[2].IsObject() || !info[2].As<Napi::Object>().InstanceOf(
                                   env.GetInstanceData<AddonData>()->domain_class.Value())) {
      throw Napi::TypeError::New(env, "domain must be a Domain of this binding");
    }
    domain = DomainWrap::Unwrap(info[2].As<Napi::Object>())->state();
    if (domain->connection() != state_) {
      throw Napi::Error::New(env, "the domain belongs to another connection");
    }
  }
  return Task<double>::Start(
      env,
      [state = state_, domain, listener_id, event_id](Failure& failure) -> double {
        ConnectionRef conn = state->Borrow(failure);
        if (!conn) return -1;
        DomainRef dom;
        if (domain) {
          dom = domain->Borrow(failure);
          if (!dom) return -1;
        }
        EventSink* sink = state->AcquireSink();
        if (sink == nullptr) {
          failure.Set(VIR_ERR_INVALID_CONN, "the libvirt connection is closed");
          return -1;
        }
        int callback_id = headroom_libvirt::RegisterDomainEvent(conn.get(), dom.get(), event_id,
                                                                listener_id, sink, failure);
        if (callback_id < 0) return -1;
        if (!state->RememberCallback(callback_id)) {
          // Closed meanwhile: undo with the reference still held.
          virConnectDomainEventDeregisterAny(conn.get(), callback_id);
          failure.Set(VIR_ERR_INVALID_CONN, "the libvirt connection is closed");
          return -1;
        }
        return callback_id;
      },
      NumberValue);
}

Napi::Value ConnectionWrap::DeregisterDomainEvent(const Napi::CallbackInfo& info) {
  int callback_id = IntArgument(info, 0, "callbackId");
  return Task<Nothing>::Start(
      info.Env(),
      [state = state_, callback_id](Failure& failure) {
        // Unknown ids were already dropped, by an earlier call or by close().
        if (!state->ForgetCallback(callback_id)) return Nothing{};
        Failure closed;
        ConnectionRef conn = state->Borrow(closed);
        if (conn && virConnectDomainEventDeregisterAny(conn.get(), callback_id) < 0) {
          failure.CaptureLastError();
        }
        return Nothing{};
      },
      Undefined);
}

Napi::Value ConnectionWrap::KeepProcessAlive(const Napi::CallbackInfo& info) {
  state_->KeepProcessAlive(info.Env(), info[0].ToBoolean().Value());
  return info.Env().Undefined();
}

}  // namespace headroom_libvirt
