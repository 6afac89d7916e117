#!/usr/bin/env bash
# Builds the test guest that the QEMU tests and the lab's qemu backend boot: Debian's own kernel
# and a busybox initramfs whose /init loads the virtio-net modules, takes a DHCP lease on eth0,
# runs the commands named on the kernel command line and powers off. Debian's iperf3 (with the
# shared libraries ldd names) is copied in too: the lab's tcp and udp flow actions run it. Markers on the serial
# console (SLUICE-DHCP-OK, SLUICE-RESULT, ...) are the contract; see docs/machine.md.
#
# Usage: ci/build-test-guest.sh [--force]
# Output (ignored by git): ci/cache/guest/{vmlinuz,initramfs.cpio.gz,guest.env,inputs.sha256}
# Cached: nothing is rebuilt while the inputs (this script, ci/guest/*, the kernel, its modules
# busybox, iperf3 and its libraries) hash the same. Installs linux-image-amd64, busybox-static,
# qemu-system-x86, cpio and iperf3 with apt-get, only when they are missing.
set -euo pipefail
SELF=$(realpath "$0")
cd "$(dirname "$SELF")/.."
ROOT=$PWD
OUT=ci/cache/guest
FORCE=0
for arg in "$@"; do
  case "$arg" in
    --force) FORCE=1 ;;
    -h|--help) sed -n '2,11p' "$SELF" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "build-test-guest: ERROR: unknown argument '$arg' (try --help)" >&2; exit 2 ;;
  esac
done

log() { echo "build-test-guest: $*"; }
die() { echo "build-test-guest: ERROR: $*" >&2; exit 1; }
started=$(date +%s)

# The virtio-net stack, in load order (each needs only the ones before it). In Debian's 6.1
# kernel these are all modules; a kernel that builds some in is handled (they are skipped).
MODULES=(virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci failover net_failover virtio_net)
# Loaded too when this kernel has them, for machines with a `disk:` (virtio-blk).
OPTIONAL_MODULES=(virtio_blk)

# ---- 1. Debian packages, only when missing -------------------------------------------------
have_kernel() {
  local k v
  for k in $(ls /boot/vmlinuz-* 2>/dev/null | sort -V -r); do
    v=${k#/boot/vmlinuz-}
    if [[ -f /lib/modules/$v/modules.dep ]]; then echo "$v"; return 0; fi
  done
  return 1
}
installed() { [[ $(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) == "install ok installed" ]]; }

missing=()
have_kernel >/dev/null || missing+=(linux-image-amd64)
installed busybox-static || missing+=(busybox-static)
command -v qemu-system-x86_64 >/dev/null 2>&1 || missing+=(qemu-system-x86)
command -v cpio >/dev/null 2>&1 || missing+=(cpio)
command -v iperf3 >/dev/null 2>&1 || missing+=(iperf3)

if ((${#missing[@]})); then
  log "installing Debian packages: ${missing[*]}"
  if [[ $(id -u) -ne 0 ]]; then
    if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
      die "need root (or sudo) to install: ${missing[*]}; install them yourself: apt-get install ${missing[*]}"
    fi
  else SUDO=; fi
  export DEBIAN_FRONTEND=noninteractive
  apt_install() {
    $SUDO apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=600 "${missing[@]}"
  }
  if ! apt_install >/tmp/sluice-guest-apt.log 2>&1; then
    # A stale package list is the usual cause: refresh it once and try again.
    if ! { $SUDO apt-get update -qq -o DPkg::Lock::Timeout=600 && apt_install; } >>/tmp/sluice-guest-apt.log 2>&1; then
      tail -20 /tmp/sluice-guest-apt.log >&2
      die "apt-get could not install: ${missing[*]} (full log: /tmp/sluice-guest-apt.log); check the Debian mirror, then run again"
    fi
  fi
fi

KVER=$(have_kernel) || die "linux-image-amd64 is installed but no /boot/vmlinuz-* has modules in /lib/modules; reinstall it: apt-get install --reinstall linux-image-\$(uname -r) or linux-image-amd64"
KERNEL=/boot/vmlinuz-$KVER
MODDIR=/lib/modules/$KVER
BUSYBOX=/bin/busybox
[[ -r $KERNEL ]] || die "cannot read $KERNEL (run as root or make it readable)"
"$BUSYBOX" --list-full >/dev/null 2>&1 || die "$BUSYBOX is not a busybox that can list its applets; reinstall busybox-static"
if ldd "$BUSYBOX" >/dev/null 2>&1; then die "$BUSYBOX is dynamically linked; the initramfs needs busybox-static: apt-get install busybox-static"; fi

# Dynamically linked programs copied in, each with every library ldd resolves (and the loader),
# at the same paths as on this machine.
PROGRAMS=(/usr/bin/iperf3)
libraries=()
for p in "${PROGRAMS[@]}"; do
  [[ -x $p ]] || die "$p is missing; install it: apt-get install $(basename "$p")"
  out=$(ldd "$p" 2>&1) || die "ldd $p failed: $out"
  # "libx.so => /path (0x…)", "/lib64/ld-linux-x86-64.so.2 (0x…)"; linux-vdso has no file.
  while read -r lib; do
    [[ -n $lib ]] || continue
    [[ -r $lib ]] || die "$p needs $lib, which cannot be read"
    [[ " ${libraries[*]} " == *" $lib "* ]] || libraries+=("$lib")
  done < <(echo "$out" | grep -v 'not found' | sed -nE 's/.*=> (\/[^ ]+) .*/\1/p; s/^[[:space:]]*(\/[^ ]+) \(0x.*/\1/p')
  if echo "$out" | grep -q 'not found'; then die "$p needs libraries that are not installed: $(echo "$out" | grep 'not found' | tr -s ' \t' ' ')"; fi
done

# ---- 2. Resolve the modules: built-in, or a file (maybe compressed) ------------------------
# Prints the module's file (relative to $MODDIR), or "builtin", or nothing when this kernel has none.
find_module() {
  local m=$1 f
  if grep -qE "(^|/)$m\.ko\$" "$MODDIR/modules.builtin" 2>/dev/null; then echo builtin; return; fi
  f=$(grep -oE "^[^:]*/$m\.ko(\.xz|\.zst|\.gz)?:" "$MODDIR/modules.dep" | head -1 | tr -d :)
  [[ -n $f ]] && echo "$f"
  return 0
}
load=()      # module names the init loads, in order
files=()     # their files, same order
builtin=()
for m in "${MODULES[@]}" "${OPTIONAL_MODULES[@]}"; do
  f=$(find_module "$m")
  if [[ $f == builtin ]]; then builtin+=("$m")
  elif [[ -n $f ]]; then load+=("$m"); files+=("$f")
  elif [[ " ${MODULES[*]} " == *" $m "* ]]; then
    # virtio_pci_legacy_dev only exists from Linux 5.18 on; the others are required.
    [[ $m == virtio_pci_legacy_dev || $m == virtio_pci_modern_dev ]] || die "kernel $KVER has no module '$m' and does not build it in (looked in $MODDIR/modules.dep and modules.builtin)"
  fi
done
# Every dependency of a module we load must be built in or loaded before it.
for i in "${!load[@]}"; do
  deps=$(grep -E "^${files[$i]}:" "$MODDIR/modules.dep" | cut -d: -f2)
  for d in $deps; do
    dn=$(basename "$d"); dn=${dn%%.ko*}
    before=" ${load[*]:0:$i} ${builtin[*]} "
    [[ $before == *" $dn "* ]] || die "module ${load[$i]} needs $dn, which is not loaded before it; add it to MODULES in $SELF"
  done
done

# ---- 3. Cached? ---------------------------------------------------------------------------
hash_inputs() {
  {
    echo "kernel $KVER"
    sha256sum ci/build-test-guest.sh ci/guest/* "$KERNEL" "$BUSYBOX" "${PROGRAMS[@]}"
    for l in "${libraries[@]}"; do sha256sum "$(readlink -f "$l")" | sed "s|  .*|  $l|"; done
    for f in "${files[@]}"; do sha256sum "$MODDIR/$f"; done
  } | sha256sum | cut -d' ' -f1
}
INPUTS=$(hash_inputs)
summary() {
  log "kernel:    $OUT/vmlinuz (Debian $KVER)"
  log "initramfs: $OUT/initramfs.cpio.gz ($(du -h "$OUT/initramfs.cpio.gz" | cut -f1); busybox $("$BUSYBOX" 2>&1 | head -1 | awk '{print $2}'))"
  log "modules:   ${load[*]:-none}${builtin:+ (built in: ${builtin[*]})}"
  log "programs:  ${PROGRAMS[*]} ($("${PROGRAMS[0]}" --version 2>/dev/null | head -1)) with ${#libraries[@]} libraries"
  log "boot it:   qemu-system-x86_64 -machine q35,accel=tcg -m 256M -nographic -no-reboot -kernel $OUT/vmlinuz -initrd $OUT/initramfs.cpio.gz -append 'console=ttyS0 quiet panic=-1 no_timer_check'"
}
if ((FORCE == 0)) && [[ -f $OUT/inputs.sha256 && -f $OUT/vmlinuz && -f $OUT/initramfs.cpio.gz ]] \
   && [[ $(cat "$OUT/inputs.sha256") == "$INPUTS" ]]; then
  log "up to date (inputs unchanged; --force rebuilds)"
  summary
  exit 0
fi

# ---- 4. Stage and pack the initramfs -----------------------------------------------------
STAGE=$(mktemp -d /tmp/sluice-guest.XXXXXX)
trap 'rm -rf "$STAGE"' EXIT
mkdir -p "$STAGE"/{bin,sbin,usr/bin,usr/sbin,usr/share/udhcpc,proc,sys,dev,run,tmp,root,etc/sluice,lib/modules,sluice.d}
cp "$BUSYBOX" "$STAGE/bin/busybox"
while read -r applet; do
  applet=${applet#/}
  [[ $applet == bin/busybox || -e $STAGE/$applet ]] && continue
  mkdir -p "$STAGE/$(dirname "$applet")"
  ln -s /bin/busybox "$STAGE/$applet"
done < <("$BUSYBOX" --list-full)
for i in "${!load[@]}"; do
  src=$MODDIR/${files[$i]} dst=$STAGE/lib/modules/${load[$i]}.ko
  case "$src" in
    *.ko.xz) xz -dc "$src" >"$dst" ;;
    *.ko.zst) zstd -qdc "$src" >"$dst" ;;
    *.ko.gz) gzip -dc "$src" >"$dst" ;;
    *) cp "$src" "$dst" ;;
  esac
done
for p in "${PROGRAMS[@]}" "${libraries[@]}"; do
  mkdir -p "$STAGE/$(dirname "$p")"
  rm -f "$STAGE/$p"   # never through a busybox applet's link
  cp -L "$p" "$STAGE/$p"
done
printf '%s\n' "${load[@]}" >"$STAGE/etc/sluice/modules"
echo "$KVER" >"$STAGE/etc/sluice/kernel"
install -m 0755 ci/guest/init "$STAGE/init"
install -m 0755 ci/guest/udhcpc.script "$STAGE/usr/share/udhcpc/default.script"
install -m 0755 ci/guest/sluice-flow "$STAGE/usr/bin/sluice-flow"
echo "root:x:0:0:root:/root:/bin/sh" >"$STAGE/etc/passwd"
echo "root:x:0:" >"$STAGE/etc/group"
# The kernel's built-in initramfs already has /dev/console; make it here too when we may.
if [[ $(id -u) -eq 0 ]]; then mknod -m 600 "$STAGE/dev/console" c 5 1; fi
find "$STAGE" -exec touch -h -d @0 {} +
mkdir -p "$OUT"
(cd "$STAGE" && find . -mindepth 1 -print0 | LC_ALL=C sort -z \
  | cpio --null -o -H newc --reproducible -R 0:0 --quiet) | gzip -9n >"$OUT/initramfs.cpio.gz.tmp"
mv "$OUT/initramfs.cpio.gz.tmp" "$OUT/initramfs.cpio.gz"
cp "$KERNEL" "$OUT/vmlinuz"
cat >"$OUT/guest.env" <<ENV
KERNEL_VERSION=$KVER
MODULES="${load[*]}"
BUILTIN_MODULES="${builtin[*]}"
BUSYBOX="$("$BUSYBOX" 2>&1 | head -1)"
PROGRAMS="${PROGRAMS[*]}"
IPERF3="$(/usr/bin/iperf3 --version 2>/dev/null | head -1)"
ENV
echo "$INPUTS" >"$OUT/inputs.sha256"
log "built in $(($(date +%s) - started)) s"
summary
