#!/usr/bin/env bash
# USB end-to-end test: boots a QEMU guest (TCG, no KVM needed) whose kernel presents our
# software YubiHSM 2 as a real USB device (`yhsm sim usb-gadget`: a FunctionFS gadget on
# dummy_hcd), and runs the `yhsm` tool against it through the guest's real Linux USB stack
# (usbcore, usbfs, libusb): info, list, raw, restore of examples/backup, dump, unplug; and
# Yubico's own programs against it: yubihsm-shell on libyubihsm's USB backend, and
# yubihsm-connector in front of the gadget with yhsm talking http:// to it.
#
# Usage: tests/usb-e2e/run.sh        (root, or the packages below already installed)
# Needs on a bare Debian machine: qemu-system-x86 busybox-static cpio (installed if missing)
# and Debian's linux-image-amd64 kernel (downloaded with apt-get download into
# $CARGO_TARGET_DIR/usb-e2e/kernel, never installed on the host); yubihsm-shell 2.8.0 and
# yubihsm-connector 3.0.7 are built from the third-party tarballs (tests/libyubihsm/build.sh,
# tests/connector/build.sh: cached under $CARGO_TARGET_DIR, their build packages installed).
#
# Prints one line per check (PASS name / FAIL name: reason / SKIP name: reason) and a
# summary; exits non-zero on any FAIL, a missing check, or a timeout.
# Environment: USB_E2E_TIMEOUT (seconds for the guest run, default 900),
#              USB_E2E_KEEP=1 (keep the initramfs tree for inspection).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
target_dir=${CARGO_TARGET_DIR:-$root/target}
work=$target_dir/usb-e2e
guest_timeout=${USB_E2E_TIMEOUT:-900}
t_start=$(date +%s)

log() { echo "usb-e2e: $*" >&2; }
die() {
    log "FAIL setup: $*"
    echo "usb-e2e: 0 passed, 1 failed"
    exit 1
}

# The checks the guest must report as PASS.
expected_checks=(
    shell-usb-info
    shell-usb-serial
    shell-usb-session
    shell-usb-wrapped
    shell-usb-restore-verified
    connector-status
    connector-info-list
    connector-echo-all-lengths
    connector-restore
    connector-dump
    connector-libyubihsm
    connector-serial-selects
    connector-wrong-serial
    connector-unplug
    enumeration
    descriptors
    control-requests-stalled
    session-open
    echo-all-lengths
    restore
    dump
    two-gadgets-listed
    select-by-serial
    several-devices-error
    unplug-disconnected
    gadget-exits-on-unbind
    selection-routed
)

# Modules the guest needs (dependencies are added from the modules' own `depends=`).
wanted_modules=(usb-common configfs usbcore udc-core libcomposite usb_f_fs dummy_hcd)

mkdir -p "$work"

# --- host packages -------------------------------------------------------------------
apt_updated=0
apt_update_once() {
    if [ "$apt_updated" = 0 ]; then
        log "apt-get update"
        apt-get update -qq >"$work/apt-update.log" 2>&1 || die "apt-get update failed (see $work/apt-update.log)"
        apt_updated=1
    fi
}

missing=()
command -v qemu-system-x86_64 >/dev/null || missing+=(qemu-system-x86)
dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q "install ok installed" ||
    missing+=(busybox-static)
command -v cpio >/dev/null || missing+=(cpio)
command -v openssl >/dev/null || missing+=(openssl)
if [ ${#missing[@]} -gt 0 ]; then
    [ "$(id -u)" = 0 ] || die "missing packages ${missing[*]}: install them (apt-get install ${missing[*]}) or run as root"
    apt_update_once
    log "apt-get install ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" \
        >"$work/apt-install.log" 2>&1 || die "apt-get install ${missing[*]} failed (see $work/apt-install.log)"
fi
busybox=/bin/busybox
[ -x "$busybox" ] || die "$busybox missing after installing busybox-static"

# --- kernel and modules from Debian's linux-image-amd64 -------------------------------
kernel_package() {
    apt-cache depends linux-image-amd64 2>/dev/null |
        awk '/Depends: linux-image-[0-9]/ { print $2; exit }'
}
kpkg=$(kernel_package)
if [ -z "$kpkg" ]; then
    apt_update_once
    kpkg=$(kernel_package)
fi
[ -n "$kpkg" ] || die "cannot resolve linux-image-amd64 to a kernel package"
kdir=$work/kernel/$kpkg
if [ ! -f "$kdir/.extracted" ]; then
    log "downloading $kpkg"
    rm -rf "$kdir"
    mkdir -p "$kdir"
    if ! (cd "$kdir" && apt-get download -q "$kpkg" >download.log 2>&1); then
        apt_update_once
        (cd "$kdir" && apt-get download -q "$kpkg" >download.log 2>&1) || die "apt-get download $kpkg failed (see $kdir/download.log)"
    fi
    dpkg-deb -x "$kdir"/"$kpkg"_*.deb "$kdir/root" || die "dpkg-deb -x $kpkg failed"
    rm -f "$kdir"/"$kpkg"_*.deb
    touch "$kdir/.extracted"
fi
vmlinuz=$(find "$kdir/root/boot" -name 'vmlinuz-*' -print -quit 2>/dev/null)
moddir=$(find "$kdir/root/lib/modules" -mindepth 1 -maxdepth 1 -type d -print -quit 2>/dev/null)
if [ ! -f "$vmlinuz" ] || [ ! -d "$moddir" ]; then
    die "no kernel or modules in $kdir/root"
fi

# Prints a module file's contents uncompressed (busybox insmod takes plain .ko files).
module_cat() {
    case "$1" in
    *.ko) cat "$1" ;;
    *.ko.xz) xz -dc "$1" ;;
    *.ko.zst) zstd -qdc "$1" ;;
    *.ko.gz) gzip -dc "$1" ;;
    *) return 1 ;;
    esac
}
module_file() {
    find "$moddir/kernel" \( -name "$1.ko" -o -name "$1.ko.*" \) -print -quit
}
module_builtin() {
    grep -Eq "/$1\.ko(\..*)?\$" "$moddir/modules.builtin" 2>/dev/null
}

declare -A module_seen=()
module_order=()
resolve_module() {
    local name=$1 file deps dep
    [ -z "${module_seen[$name]:-}" ] || return 0
    module_seen[$name]=1
    if module_builtin "$name"; then
        return 0
    fi
    file=$(module_file "$name")
    [ -n "$file" ] || die "module $name not found under $moddir"
    deps=$(module_cat "$file" | tr '\0' '\n' | grep -a -m1 '^depends=' | cut -d= -f2 || true)
    for dep in ${deps//,/ }; do
        resolve_module "$dep"
    done
    module_order+=("$name")
}
for m in "${wanted_modules[@]}"; do
    resolve_module "$m"
done

# --- our binaries -------------------------------------------------------------------
log "cargo build --release (yhsm, yhsm-usb-probe)"
(cd "$root" && cargo build --release --quiet \
    -p yhsm --bin yhsm \
    -p yhsm-usb-e2e --bin yhsm-usb-probe) || die "cargo build failed"
binaries=("$target_dir/release/yhsm" "$target_dir/release/yhsm-usb-probe")

# --- Yubico's programs (built from the third-party tarballs, cached) -------------------
log "yubihsm-shell 2.8.0 and yubihsm-connector 3.0.7"
vendor_out=$("$root/tests/libyubihsm/build.sh") || die "building yubihsm-shell failed"
connector=$("$root/tests/connector/build.sh") || die "building yubihsm-connector failed"

# --- initramfs ----------------------------------------------------------------------
ird=$work/initramfs
rm -rf "$ird"
mkdir -p "$ird"/{bin,sbin,usr/bin,lib/modules,proc,sys,dev,tmp,run}
cp "$busybox" "$ird/bin/busybox"
for m in "${module_order[@]}"; do
    module_cat "$(module_file "$m")" >"$ird/lib/modules/$m.ko"
    echo "$m" >>"$ird/lib/modules/load-order"
done
# copy_with_libs FILE DIR: FILE into DIR, with the dynamic loader and every shared library
# it needs at the paths it asks for.
copy_with_libs() {
    local dep
    cp "$1" "$2/"
    for dep in $(ldd "$1" | grep -o '/[^ ]*' | sort -u); do
        cp -L --parents "$dep" "$ird/"
    done
}
for b in "${binaries[@]}"; do
    copy_with_libs "$b" "$ird/usr/bin"
done
# yubihsm-shell with libyubihsm and the backends it loads at run time (dlopen: not in
# ldd's list), OpenSSL's tool for the checks, and yubihsm-connector.
mkdir -p "$ird/opt/yubihsm/bin" "$ird/opt/yubihsm/lib" "$ird/vendor"
copy_with_libs "$vendor_out/prefix/bin/yubihsm-shell" "$ird/opt/yubihsm/bin"
for so in "$vendor_out"/prefix/lib/lib*.so.*.*; do
    copy_with_libs "$so" "$ird/opt/yubihsm/lib"
    base=$(basename "$so")
    ln -sf "$base" "$ird/opt/yubihsm/lib/${base%.*.*}"
done
copy_with_libs "$(command -v openssl)" "$ird/usr/bin"
copy_with_libs "$connector" "$ird/usr/bin"
# Keys for the yubihsm-shell checks, made here (RSA key generation is slow under TCG).
openssl rand -hex 32 >"$ird/vendor/wrap.hex"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072 -out "$ird/vendor/rsa3072.pem" 2>/dev/null ||
    die "openssl genpkey failed"
# The demo backup the `restore` check restores (public demo keys, see its README).
cp -r "$root/examples/backup" "$ird/backup"
cp "$here/guest-init.sh" "$ird/init"
cp "$here/guest-vendor.sh" "$ird/guest-vendor.sh"
chmod +x "$ird/init"
(cd "$ird" && find . -print0 | cpio --null -o -H newc --quiet) >"$work/initramfs.cpio"
[ "${USB_E2E_KEEP:-0}" = 1 ] || rm -rf "$ird"

# --- boot ---------------------------------------------------------------------------
console=$work/console.log
log "booting $kpkg in QEMU (TCG), modules: ${module_order[*]}"
t_boot=$(date +%s)
set +e
timeout --kill-after=10 "$guest_timeout" qemu-system-x86_64 \
    -accel tcg -m 1024 -nographic -no-reboot -nic none \
    -kernel "$vmlinuz" -initrd "$work/initramfs.cpio" \
    -append "console=ttyS0 panic=-1" \
    </dev/null >"$console" 2>&1
qemu_status=$?
set -e
t_end=$(date +%s)
tr -d '\r' <"$console" >"$console.txt"

# --- results ------------------------------------------------------------------------
results=$(grep -aE '^(PASS|FAIL|SKIP) ' "$console.txt" || true)
[ -z "$results" ] || echo "$results"
passed=0
failed=0
skipped=$(grep -c '^SKIP ' <<<"$results" || true)
for c in "${expected_checks[@]}"; do
    if grep -qx "PASS $c" <<<"$results"; then
        passed=$((passed + 1))
    elif grep -q "^FAIL $c\b" <<<"$results"; then
        failed=$((failed + 1))
    else
        echo "FAIL $c: not reported by the guest"
        failed=$((failed + 1))
    fi
done
unexpected=$(grep -E '^FAIL ' <<<"$results" | grep -vE "^FAIL ($(
    IFS='|'
    echo "${expected_checks[*]}"
))\b" || true)
if [ -n "$unexpected" ]; then
    failed=$((failed + $(wc -l <<<"$unexpected")))
fi
if [ "$qemu_status" = 124 ] || [ "$qemu_status" = 137 ]; then
    echo "FAIL guest: timed out after ${guest_timeout}s"
    failed=$((failed + 1))
elif ! grep -q '^usb-e2e: guest done' "$console.txt"; then
    echo "FAIL guest: did not finish (qemu exit status $qemu_status)"
    failed=$((failed + 1))
fi
if [ "$failed" -gt 0 ]; then
    log "last lines of the guest console ($console.txt):"
    tail -n 80 "$console.txt" >&2
fi
log "guest ran $((t_end - t_boot)) s; total $((t_end - t_start)) s"
echo "usb-e2e: $passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
