#!/bin/busybox sh
# /init of the headroom tiny test guest: busybox only. It reports on the
# serial console the virtio-net PCI devices it really sees, so a test on the
# host can watch NICs being hot-plugged and unplugged.
#
# Console lines (stable; tests parse them):
#   headroom-guest: booted kernel=<release> build=<id> pciehp-ports=<n>     (once)
#   headroom-guest: nics=<count> pci=<addr,addr,...> ifaces=<name,name,...> up=<seconds>
#   headroom-guest: dhcp iface=eth0 addr=<ip>/<prefix> router=<ip>          (headroom.dhcp=1)
#   headroom-guest: dhcp iface=eth0 failed
#   headroom-guest: probe target=<ip>:<port> result=open|closed              (headroom.probe=...)
#   headroom-guest: serving port=<port>                                      (headroom.serve=...)
#   headroom-guest: disks <name>=<bytes>[:<serial>],...    (once, at boot: disks and CD-ROMs)
#   headroom-guest: read-only <name>,...|none       (once, at boot: the disks it cannot write)
#   headroom-guest: block-sizes <name>=<logical>/<physical>,...   (once, at boot: in bytes)
#   headroom-guest: smbios serial=<serial>          (once, at boot, when the machine has one)
#   headroom-guest: chassis vendor=<v> version=<v> serial=<s> asset=<a>   (once, at boot: SMBIOS)
#   headroom-guest: firmware boot=bios|efi secure-boot=on|off loader=disk|kernel uuid=<uuid>
#                   (once, at boot: the firmware that started the guest, whether
#                   UEFI Secure Boot was on, whether a bootloader on its disk or
#                   the host loaded the kernel, and the SMBIOS system UUID)
#   headroom-guest: platform epoch=<seconds> clocksources=<a,b,...> tpm=<major>|none cpu=<model name>
#                   (once, at boot: the time the guest took from its RTC, the
#                   clock sources it can use, its TPM's version, its CPU model)
#   headroom-guest: cpu-flags <flag>,...            (once, at boot: the first vCPU's, as /proc/cpuinfo)
#   headroom-guest: nic-models <pci>=<model>,...    (once, at boot: every network device,
#                   virtio, e1000, e1000e, rtl8139 or <vendor>:<device>)
#   headroom-guest: nic-acpi-index <pci>=<index>,...|none   (once, at boot: the NICs the
#                   firmware gave an ACPI index)
#   headroom-guest: cloud-init source=nocloud|configdrive dev=<name> instance-id=<id>
#                   hostname=<name> user-data-sha256=<hex> network-data-sha256=<hex>|none
#                                        (once per seed disk: ISO 9660 with cloud-init's files)
#   headroom-guest: pci <vendor>:<device>,...      (once, at boot: every PCI device)
#   headroom-guest: block-queues <name>=<count>,... (once, at boot: each virtio disk's queues)
#   headroom-guest: stamp dev=<name> found=<text>|none wrote=<text>
#                   (headroom.stamp=SERIAL:TEXT: what the first 64 bytes of the
#                   disk with that serial held, before TEXT was written there)
#   headroom-guest: nic-queues <iface>=<rx queues>,...
#                   (each time the set of NICs changes: the receive queues of each)
#   headroom-guest: acpi-shutdown        (the ACPI power button: it powers off next)
# A NIC is a PCI device with vendor 0x1af4 and device 0x1041 (virtio 1.0 net,
# non-transitional) or 0x1000 (transitional virtio-net).
#
# Kernel command line options read here:
#   headroom.kmsg=1   keep kernel messages on the console (default: quiet, so
#                     they do not break report lines in the middle)
#   headroom.poll=S   seconds between looks at the PCI bus (default 0.2, which
#                     costs an idle guest ~5% of a host core under TCG; 1 costs ~1%)
#   headroom.dhcp=1   ask DHCP for eth0's address and report the lease
#   headroom.stamp=SERIAL:TEXT
#                     read, then write, a stamp at the start of a disk: tests
#                     use it to see what a disk kept from an earlier guest
#   headroom.probe=HOST:PORT,...
#                     after DHCP, try a TCP connection to each target and report
#                     whether it opened; HOST "gateway" is the DHCP router. Tests
#                     use it to see what a guest on the pod network can reach.
#   headroom.serve=PORT,...
#                     after DHCP, listen on each TCP port and answer every
#                     connection with one line, "headroom-guest port=<port>
#                     uuid=<SMBIOS UUID>", then close it. Tests use it to reach
#                     the guest through the ports the host forwards.

/bin/busybox mkdir -p /proc /sys /dev /tmp /bin /sbin /usr/bin /usr/sbin
/bin/busybox --install -s
export PATH=/bin:/sbin:/usr/bin:/usr/sbin

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
# The kernel gives /init the console only if the initramfs has /dev/console.
exec </dev/console >/dev/console 2>&1
# UEFI firmware leaves its last screen's escape codes with no line end after
# them: the first report starts on a line of its own.
echo

kmsg=0
poll=0.2
dhcp=0
probes=""
serve=""
stamp=""
for word in $(cat /proc/cmdline); do
  case "$word" in
    headroom.kmsg=1) kmsg=1 ;;
    headroom.poll=*) poll=${word#headroom.poll=} ;;
    headroom.dhcp=1) dhcp=1 ;;
    headroom.probe=*) probes=${word#headroom.probe=} ;;
    headroom.serve=*) serve=${word#headroom.serve=} ;;
    headroom.stamp=*) stamp=${word#headroom.stamp=} ;;
  esac
done
[ "$kmsg" = 1 ] || dmesg -n 1

# Drivers the kernel has as modules (virtio_pci, virtio_net, ...), in load
# order. PCI hotplug itself (pciehp, acpiphp) is built into the kernel; the
# NIC driver is loaded so that unplug also exercises a bound driver.
if [ -f /lib/modules/load-order ]; then
  while read -r module; do
    # SCSI scans at once, so its disks and CD-ROMs are there for the reports below.
    case $module in
      scsi_mod.ko) insmod "/lib/modules/$module" scan=sync 2>/dev/null ;;
      ?*) insmod "/lib/modules/$module" 2>/dev/null ;;
    esac
  done </lib/modules/load-order
fi

# The disks the guest sees, and what a cloud-init seed among them holds, so a
# test can compare them with what the VMI asked for.
disk_list=""
for dev in /sys/block/vd* /sys/block/sd* /sys/block/sr*; do
  [ -e "$dev/size" ] || continue
  read -r sectors <"$dev/size"
  serial=""
  [ -r "$dev/serial" ] && read -r serial <"$dev/serial"
  disk_list="${disk_list:+$disk_list,}${dev##*/}=$((sectors * 512))${serial:+:$serial}"
done
echo "headroom-guest: disks $disk_list"
read_only=""
for dev in /sys/block/vd* /sys/block/sd* /sys/block/sr*; do
  [ -r "$dev/ro" ] && [ "$(cat "$dev/ro")" = 1 ] && read_only="${read_only:+$read_only,}${dev##*/}"
done
echo "headroom-guest: read-only ${read_only:-none}"
block_sizes=""
for dev in /sys/block/vd* /sys/block/sd* /sys/block/sr*; do
  [ -r "$dev/queue/logical_block_size" ] || continue
  block_sizes="${block_sizes:+$block_sizes,}${dev##*/}=$(cat "$dev/queue/logical_block_size")/$(cat "$dev/queue/physical_block_size")"
done
echo "headroom-guest: block-sizes $block_sizes"

# The stamp: 64 bytes at the start of the disk whose serial is asked for.
if [ -n "$stamp" ]; then
  want=${stamp%%:*}
  text=${stamp#*:}
  for dev in /sys/block/vd* /sys/block/sd* /sys/block/sr*; do
    [ -r "$dev/serial" ] && [ "$(cat "$dev/serial")" = "$want" ] || continue
    found=$(dd if="/dev/${dev##*/}" bs=64 count=1 2>/dev/null | tr -d '\000' | sed -n 's/^headroom-stamp://p')
    printf 'headroom-stamp:%s' "$text" | dd of="/dev/${dev##*/}" bs=64 count=1 conv=sync,notrunc 2>/dev/null
    sync
    echo "headroom-guest: stamp dev=${dev##*/} found=${found:-none} wrote=$text"
  done
fi

# What the firmware's SMBIOS tables say (the host sets them through libvirt).
dmi() { cat "/sys/class/dmi/id/$1" 2>/dev/null; }

smbios_serial=$(dmi product_serial)
[ -n "$smbios_serial" ] && echo "headroom-guest: smbios serial=$smbios_serial"
echo "headroom-guest: chassis vendor=$(dmi chassis_vendor) version=$(dmi chassis_version) serial=$(dmi chassis_serial) asset=$(dmi chassis_asset_tag)"

# The kernel logs "Secure boot enabled" when UEFI booted it with Secure Boot
# on; the disk's bootloaders add headroom.boot=disk to the command line.
boot=bios
[ -d /sys/firmware/efi ] && boot=efi
secure=off
dmesg | grep -q "Secure boot enabled" && secure=on
loader=kernel
grep -q "headroom.boot=disk" /proc/cmdline && loader=disk
echo "headroom-guest: firmware boot=$boot secure-boot=$secure loader=$loader uuid=$(dmi product_uuid)"

# The kernel set the time from the RTC at boot (RTC_HCTOSYS): a VMI's clock
# offset or timezone shows in it. The CPU model's name has spaces: it comes last.
clocksources=$(tr -s ' ' ',' </sys/devices/system/clocksource/clocksource0/available_clocksource)
tpm=none
[ -r /sys/class/tpm/tpm0/tpm_version_major ] && tpm=$(cat /sys/class/tpm/tpm0/tpm_version_major)
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
echo "headroom-guest: platform epoch=$(date +%s) clocksources=${clocksources%,} tpm=$tpm cpu=$cpu"
echo "headroom-guest: cpu-flags $(sed -n 's/^flags[[:space:]]*: //p' /proc/cpuinfo | head -n 1 | tr -s ' ' ',')"

pci_ids=""
for dev in /sys/bus/pci/devices/*; do
  [ -e "$dev/vendor" ] || continue
  read -r vendor <"$dev/vendor"
  read -r device <"$dev/device"
  pci_ids="${pci_ids:+$pci_ids,}${vendor#0x}:${device#0x}"
done
echo "headroom-guest: pci $pci_ids"

block_queues=""
for dev in /sys/block/vd*; do
  [ -d "$dev/mq" ] || continue
  block_queues="${block_queues:+$block_queues,}${dev##*/}=$(ls "$dev/mq" | wc -l)"
done
echo "headroom-guest: block-queues $block_queues"

nic_models="" nic_acpi=""
for dev in /sys/bus/pci/devices/*; do
  [ -e "$dev/class" ] || continue
  read -r class <"$dev/class"
  [ "$class" = 0x020000 ] || continue
  read -r vendor <"$dev/vendor"
  read -r device <"$dev/device"
  case "$vendor:$device" in
    0x1af4:0x1041 | 0x1af4:0x1000) model=virtio ;;
    0x8086:0x100e) model=e1000 ;;
    0x8086:0x10d3) model=e1000e ;;
    0x10ec:0x8139) model=rtl8139 ;;
    *) model=${vendor#0x}:${device#0x} ;;
  esac
  nic_models="${nic_models:+$nic_models,}${dev##*/}=$model"
  [ -r "$dev/acpi_index" ] && nic_acpi="${nic_acpi:+$nic_acpi,}${dev##*/}=$(cat "$dev/acpi_index")"
done
echo "headroom-guest: nic-models $nic_models"
echo "headroom-guest: nic-acpi-index ${nic_acpi:-none}"

json_field() { # FILE KEY: the value of "KEY":"value" in FILE
  sed -n "s/.*\"$2\": *\"\([^\"]*\)\".*/\1/p" "$1" | head -n 1
}
mkdir -p /seed
for dev in /sys/block/vd* /sys/block/sd* /sys/block/sr*; do
  name=${dev##*/}
  [ -e "/dev/$name" ] || continue
  mount -t iso9660 -o ro "/dev/$name" /seed 2>/dev/null || continue
  if [ -f /seed/meta-data ]; then
    source=nocloud meta=/seed/meta-data user=/seed/user-data net=/seed/network-config
    id=$(json_field $meta instance-id) host=$(json_field $meta local-hostname)
  elif [ -f /seed/openstack/latest/meta_data.json ]; then
    latest=/seed/openstack/latest
    source=configdrive meta=$latest/meta_data.json user=$latest/user_data net=$latest/network_data.json
    id=$(json_field $meta uuid) host=$(json_field $meta hostname)
  else
    umount /seed
    continue
  fi
  user_sha=$(sha256sum "$user" | cut -d' ' -f1)
  net_sha=none
  [ -f "$net" ] && net_sha=$(sha256sum "$net" | cut -d' ' -f1)
  echo "headroom-guest: cloud-init source=$source dev=$name instance-id=$id hostname=$host user-data-sha256=$user_sha network-data-sha256=$net_sha"
  umount /seed
done

# The ACPI power button (libvirt's shutdown, which a VMI's delete sends) is
# reported, then the guest powers off at once. busybox acpid runs
# <confdir>/PWRF/00000080 for it; its input device exists once the button and
# evdev modules above are loaded.
mkdir -p /etc/acpi/PWRF
cat >/etc/acpi/PWRF/00000080 <<'SCRIPT'
#!/bin/sh
echo "headroom-guest: acpi-shutdown" >/dev/console
poweroff -f
SCRIPT
chmod 0755 /etc/acpi/PWRF/00000080
acpid -d -c /etc/acpi >/dev/null 2>&1 &

# Which hotplug path the platform gave us: PCIe root ports driven by pciehp
# (native PCIe hotplug), or none of them (ACPI hotplug through acpiphp).
pciehp=0
for port in /sys/bus/pci_express/drivers/pciehp/*:pcie*; do
  [ -e "$port" ] && pciehp=$((pciehp + 1))
done
echo "headroom-guest: booted kernel=$(uname -r) build=$(cat /etc/headroom-build-id 2>/dev/null) pciehp-ports=$pciehp"

# udhcpc hands its lease to a script: this one sets the address and the
# default route, and keeps the router for the probes.
cat >/tmp/udhcpc.sh <<'SCRIPT'
#!/bin/sh
case "$1" in
  deconfig) ip addr flush dev "$interface"; ip link set dev "$interface" up ;;
  bound | renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/$mask" dev "$interface"
    router=${router%% *}
    [ -n "$router" ] && ip route replace default via "$router" dev "$interface"
    echo "$ip/$mask $router" >"/tmp/lease.$interface"
    ;;
esac
SCRIPT
chmod 0755 /tmp/udhcpc.sh

network() {
  for _ in $(seq 1 100); do
    [ -e /sys/class/net/eth0 ] && break
    sleep 0.1
  done
  if ! udhcpc -i eth0 -s /tmp/udhcpc.sh -n -q -t 10 -T 1 >/dev/null 2>&1; then
    echo "headroom-guest: dhcp iface=eth0 failed"
    return
  fi
  read -r addr router </tmp/lease.eth0
  echo "headroom-guest: dhcp iface=eth0 addr=$addr router=$router"
  for target in $(echo "$probes" | tr , ' '); do
    host=${target%:*}
    port=${target##*:}
    [ "$host" = gateway ] && host=$router
    if nc -w 3 "$host" "$port" -e /bin/true >/dev/null 2>&1; then result=open; else result=closed; fi
    echo "headroom-guest: probe target=$host:$port result=$result"
  done
  uuid=$(dmi product_uuid)
  for port in $(echo "$serve" | tr , ' '); do
    printf '#!/bin/sh\necho "headroom-guest port=%s uuid=%s"\n' "$port" "$uuid" >"/tmp/serve.$port"
    chmod 0755 "/tmp/serve.$port"
    # -ll: keep listening after each connection.
    nc -ll -p "$port" -e "/tmp/serve.$port" >/dev/null 2>&1 &
    echo "headroom-guest: serving port=$port"
  done
}
[ "$dhcp" = 1 ] && network &

scan() {
  count=0
  addrs=""
  for dev in /sys/bus/pci/devices/*; do
    [ -e "$dev/vendor" ] || continue
    read -r vendor <"$dev/vendor"
    read -r device <"$dev/device"
    [ "$vendor" = 0x1af4 ] || continue
    case "$device" in
      0x1041 | 0x1000) ;;
      *) continue ;;
    esac
    count=$((count + 1))
    addrs="${addrs:+$addrs,}${dev##*/}"
  done
  ifaces=""
  for net in /sys/class/net/*; do
    name=${net##*/}
    [ "$name" = lo ] || [ "$name" = "*" ] && continue
    ifaces="${ifaces:+$ifaces,}$name"
  done
}

# Each NIC's receive queues (more than one with multiqueue virtio-net).
nic_queues() {
  out=""
  for name in $(echo "$ifaces" | tr , ' '); do
    n=0
    for queue in /sys/class/net/"$name"/queues/rx-*; do
      [ -e "$queue" ] && n=$((n + 1))
    done
    out="${out:+$out,}$name=$n"
  done
  echo "$out"
}

# Look every $poll seconds; print at once when something changed and at
# least once a second otherwise, so the host sees hotplug within ~$poll s.
last=""
last_second=""
while true; do
  scan
  read -r up _ </proc/uptime
  state="$count $addrs $ifaces"
  if [ "$state" != "$last" ] || [ "${up%.*}" != "$last_second" ]; then
    echo "headroom-guest: nics=$count pci=$addrs ifaces=$ifaces up=$up"
    [ "$state" != "$last" ] && echo "headroom-guest: nic-queues $(nic_queues)"
    last=$state
    last_second=${up%.*}
  fi
  sleep "$poll"
done
