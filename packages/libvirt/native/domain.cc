#include <libvirt/virterror.h>

#include "task.h"
#include "wrappers.h"

namespace headroom_libvirt {

namespace {

using DomainPtr = std::shared_ptr<DomainState>;

// Runs `call` (returning libvirt's int status) with a borrowed domain.
template <typename Call>
Napi::Value RunStatus(Napi::Env env, const DomainPtr& state, Call call) {
  return Task<Nothing>::Start(
      env,
      [state, call](Failure& failure) {
        DomainRef domain = state->Borrow(failure);
        if (domain && call(domain.get()) < 0) failure.CaptureLastError();
        return Nothing{};
      },
      Undefined);
}

// Runs `call` (returning 1, 0, or -1 on failure) with a borrowed domain.
template <typename Call>
Napi::Value RunPredicate(Napi::Env env, const DomainPtr& state, Call call) {
  return Task<bool>::Start(
      env,
      [state, call](Failure& failure) {
        DomainRef domain = state->Borrow(failure);
        if (!domain) return false;
        int answer = call(domain.get());
        if (answer < 0) failure.CaptureLastError();
        return answer == 1;
      },
      [](Napi::Env env, bool& answer) -> Napi::Value { return Napi::Boolean::New(env, answer); });
}

// One address of one NIC, as virDomainInterfaceAddresses gives it.
struct LeasedAddress {
  std::string mac;
  std::string address;
  int prefix = 0;
  bool ipv6 = false;
};

struct StateAndReason {
  int state = 0;
  int reason = 0;
};

}  // namespace

Napi::Function DomainWrap::DefineClass(Napi::Env env) {
  return ObjectWrap::DefineClass(
      env, "NativeDomain",
      {
          InstanceAccessor<&DomainWrap::Name>("name"),
          InstanceAccessor<&DomainWrap::Uuid>("uuid"),
          InstanceMethod<&DomainWrap::Create>("create"),
          InstanceMethod<&DomainWrap::Destroy>("destroy"),
          InstanceMethod<&DomainWrap::Shutdown>("shutdown"),
          InstanceMethod<&DomainWrap::Reboot>("reboot"),
          InstanceMethod<&DomainWrap::Suspend>("suspend"),
          InstanceMethod<&DomainWrap::Resume>("resume"),
          InstanceMethod<&DomainWrap::Undefine>("undefine"),
          InstanceMethod<&DomainWrap::GetState>("getState"),
          InstanceMethod<&DomainWrap::GetInfo>("getInfo"),
          InstanceMethod<&DomainWrap::GetId>("getId"),
          InstanceMethod<&DomainWrap::GetXmlDesc>("getXmlDesc"),
          InstanceMethod<&DomainWrap::LeasedAddresses>("leasedAddresses"),
          InstanceMethod<&DomainWrap::AttachDevice>("attachDevice"),
          InstanceMethod<&DomainWrap::DetachDevice>("detachDevice"),
          InstanceMethod<&DomainWrap::DetachDeviceAlias>("detachDeviceAlias"),
          InstanceMethod<&DomainWrap::UpdateDevice>("updateDevice"),
          InstanceMethod<&DomainWrap::IsActive>("isActive"),
          InstanceMethod<&DomainWrap::IsPersistent>("isPersistent"),
          InstanceMethod<&DomainWrap::Free>("free"),
      });
}

Napi::Object DomainWrap::NewInstance(Napi::Env env, std::shared_ptr<DomainState> state) {
  auto* data = env.GetInstanceData<AddonData>();
  return data->domain_class.New({Napi::External<DomainPtr>::New(env, &state)});
}

DomainWrap::DomainWrap(const Napi::CallbackInfo& info) : ObjectWrap(info) {
  if (info.Length() != 1 || !info[0].IsExternal()) {
    throw Napi::TypeError::New(info.Env(), "domains are returned by a connection");
  }
  state_ = *info[0].As<Napi::External<DomainPtr>>().Data();
}

Napi::Value DomainWrap::Name(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), state_->name());
}

Napi::Value DomainWrap::Uuid(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), state_->uuid());
}

Napi::Value DomainWrap::Create(const Napi::CallbackInfo& info) {
  unsigned int flags = FlagsArgument(info, 0);
  return RunStatus(info.Env(), state_,
                   [flags](virDomainPtr domain) { return virDomainCreateWithFlags(domain, flags); });
}

Napi::Value DomainWrap::Destroy(const Napi::CallbackInfo& info) {
  unsigned int flags = FlagsArgument(info, 0);
  return RunStatus(info.Env(), state_,
                   [flags](virDomainPtr domain) { return virDomainDestroyFlags(domain, flags); });
}

Napi::Value DomainWrap::Shutdown(const Napi::CallbackInfo& info) {
  unsigned int flags = FlagsArgument(info, 0);
  return RunStatus(info.Env(), state_,
                   [flags](virDomainPtr domain) { return virDomainShutdownFlags(domain, flags); });
}

Napi::Value DomainWrap::Reboot(const Napi::CallbackInfo& info) {
  unsigned int flags = FlagsArgument(info, 0);
  return RunStatus(info.Env(), state_,
                   [flags](virDomainPtr domain) { return virDomainReboot(domain, flags); });
}

Napi::Value DomainWrap::Suspend(const Napi::CallbackInfo& info) {
  return RunStatus(info.Env(), state_, [](virDomainPtr domain) { return virDomainSuspend(domain); });
}

Napi::Value DomainWrap::Resume(const Napi::CallbackInfo& info) {
  return RunStatus(info.Env(), state_, [](virDomainPtr domain) { return virDomainResume(domain); });
}

Napi::Value DomainWrap::Undefine(const Napi::CallbackInfo& info) {
  unsigned int flags = FlagsArgument(info, 0);
  return RunStatus(info.Env(), state_,
                   [flags](virDomainPtr domain) { return virDomainUndefineFlags(domain, flags); });
}

Napi::Value DomainWrap::GetState(const Napi::CallbackInfo& info) {
  return Task<StateAndReason>::Start(
      info.Env(),
      [state = state_](Failure& failure) {
        StateAndReason result;
        DomainRef domain = state->Borrow(failure);
        if (domain && virDomainGetState(domain.get(), &result.state, &result.reason, 0) < 0) {
          failure.CaptureLastError();
        }
        return result;
      },
      [](Napi::Env env, StateAndReason& result) -> Napi::Value {
        Napi::Object object = Napi::Object::New(env);
        object.Set("state", result.state);
        object.Set("reason", result.reason);
        return object;
      });
}

Napi::Value DomainWrap::GetInfo(const Napi::CallbackInfo& info) {
  return Task<virDomainInfo>::Start(
      info.Env(),
      [state = state_](Failure& failure) {
        virDomainInfo result{};
        DomainRef domain = state->Borrow(failure);
        if (domain && virDomainGetInfo(domain.get(), &result) < 0) failure.CaptureLastError();
        return result;
      },
      [](Napi::Env env, virDomainInfo& result) -> Napi::Value {
        Napi::Object object = Napi::Object::New(env);
        object.Set("state", static_cast<double>(result.state));
        object.Set("maxMemoryKiB", static_cast<double>(result.maxMem));
        object.Set("memoryKiB", static_cast<double>(result.memory));
        object.Set("vcpus", static_cast<double>(result.nrVirtCpu));
        object.Set("cpuTimeNs", static_cast<double>(result.cpuTime));
        return object;
      });
}

// The addresses libvirt's own DHCP server leased to the domain's NICs (on
// libvirt NAT networks); no guest agent involved.
Napi::Value DomainWrap::LeasedAddresses(const Napi::CallbackInfo& info) {
  return Task<std::vector<LeasedAddress>>::Start(
      info.Env(),
      [state = state_](Failure& failure) {
        std::vector<LeasedAddress> result;
        DomainRef domain = state->Borrow(failure);
        if (!domain) return result;
        virDomainInterfacePtr* ifaces = nullptr;
        int count = virDomainInterfaceAddresses(domain.get(), &ifaces,
                                                VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_LEASE, 0);
        if (count < 0) {
          failure.CaptureLastError();
          return result;
        }
        for (int i = 0; i < count; i++) {
          for (unsigned int j = 0; j < ifaces[i]->naddrs; j++) {
            const virDomainIPAddress& addr = ifaces[i]->addrs[j];
            result.push_back({ifaces[i]->hwaddr ? ifaces[i]->hwaddr : "", addr.addr ? addr.addr : "",
                              static_cast<int>(addr.prefix),
                              addr.type == VIR_IP_ADDR_TYPE_IPV6});
          }
          virDomainInterfaceFree(ifaces[i]);
        }
        free(ifaces);
        return result;
      },
      [](Napi::Env env, std::vector<LeasedAddress>& result) -> Napi::Value {
        Napi::Array array = Napi::Array::New(env, result.size());
        for (size_t i = 0; i < result.size(); i++) {
          Napi::Object object = Napi::Object::New(env);
          object.Set("mac", result[i].mac);
          object.Set("address", result[i].address);
          object.Set("prefix", static_cast<double>(result[i].prefix));
          object.Set("ipv6", result[i].ipv6);
          array.Set(i, object);
        }
        return array;
      });
}

Napi::Value DomainWrap::GetId(const Napi::CallbackInfo& info) {
  return Task<double>::Start(
      info.Env(),
      [state = state_](Failure& failure) -> double {
        DomainRef domain = state->Borrow(failure);
        if (!domain) return -1;
        // A handle caches the id it had when it was looked up; a fresh lookup
        // asks libvirtd for the id now.
        unsigned char uuid[VIR_UUID_BUFLEN];
        if (virDomainGetUUID(domain.get(), uuid) < 0) {
          failure.CaptureLastError();
          return -1;
        }
        DomainRef fresh(virDomainLookupByUUID(virDomainGetConnect(domain.get()), uuid));
        if (!fresh) {
          failure.CaptureLastError();
          return -1;
        }
        unsigned int id = virDomainGetID(fresh.get());
        virResetLastError();  // an inactive domain has no id; that is no failure
        return id == static_cast<unsigned int>(-1) ? -1 : static_cast<double>(id);
      },
      [](Napi::Env env, double& id) -> Napi::Value {
        return id < 0 ? env.Null() : Napi::Number::New(env, id);
      });
}

Napi::Value DomainWrap::GetXmlDesc(const Napi::CallbackInfo& info) {
  unsigned int flags = FlagsArgument(info, 0);
  return Task<std::string>::Start(
      info.Env(),
      [state = state_, flags](Failure& failure) -> std::string {
        DomainRef domain = state->Borrow(failure);
        if (!domain) return "";
        return TakeString(virDomainGetXMLDesc(domain.get(), flags), failure);
      },
      [](Napi::Env env, std::string& xml) -> Napi::Value { return Napi::String::New(env, xml); });
}

Napi::Value DomainWrap::AttachDevice(const Napi::CallbackInfo& info) {
  std::string xml = StringArgument(info, 0, "xml");
  unsigned int flags = FlagsArgument(info, 1);
  return RunStatus(info.Env(), state_, [xml, flags](virDomainPtr domain) {
    return virDomainAttachDeviceFlags(domain, xml.c_str(), flags);
  });
}

Napi::Value DomainWrap::DetachDevice(const Napi::CallbackInfo& info) {
  std::string xml = StringArgument(info, 0, "xml");
  unsigned int flags = FlagsArgument(info, 1);
  return RunStatus(info.Env(), state_, [xml, flags](virDomainPtr domain) {
    return virDomainDetachDeviceFlags(domain, xml.c_str(), flags);
  });
}

Napi::Value DomainWrap::DetachDeviceAlias(const Napi::CallbackInfo& info) {
  std::string alias = StringArgument(info, 0, "alias");
  unsigned int flags = FlagsArgument(info, 1);
  return RunStatus(info.Env(), state_, [alias, flags](virDomainPtr domain) {
    return virDomainDetachDeviceAlias(domain, alias.c_str(), flags);
  });
}

Napi::Value DomainWrap::UpdateDevice(const Napi::CallbackInfo& info) {
  std::string xml = StringArgument(info, 0, "xml");
  unsigned int flags = FlagsArgument(info, 1);
  return RunStatus(info.Env(), state_, [xml, flags](virDomainPtr domain) {
    return virDomainUpdateDeviceFlags(domain, xml.c_str(), flags);
  });
}

Napi::Value DomainWrap::IsActive(const Napi::CallbackInfo& info) {
  return RunPredicate(info.Env(), state_, [](virDomainPtr domain) { return virDomainIsActive(domain); });
}

Napi::Value DomainWrap::IsPersistent(const Napi::CallbackInfo& info) {
  return RunPredicate(info.Env(), state_,
                      [](virDomainPtr domain) { return virDomainIsPersistent(domain); });
}

Napi::Value DomainWrap::Free(const Napi::CallbackInfo& info) {
  // Only drops a reference count (the connection keeps libvirtd's side), so
  // it is done right here rather than on the pool.
  state_->Free();
  return info.Env().Undefined();
}

}  // namespace headroom_libvirt
