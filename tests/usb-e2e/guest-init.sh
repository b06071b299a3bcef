#!/bin/busybox sh
# PID 1 of the USB end-to-end guest (see run.sh). Loads the USB gadget modules, presents
# software YubiHSM 2 devices on dummy_hcd with `yhsm sim usb-gadget`, runs `yhsm` (and
# yhsm-usb-probe for what yhsm has no command for) against them through the kernel's USB
# stack, prints `PASS name` / `FAIL name: reason` / `SKIP name: reason` per check and
# `usb-e2e: guest done`, then powers off.

/bin/busybox mkdir -p /proc /sys /dev /tmp /run /usr/bin
/bin/busybox --install -s /bin
export PATH=/usr/bin:/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
# Keep kernel messages off the console so they do not split result lines; dumped on failure.
echo 1 >/proc/sys/kernel/printk

CFG=/sys/kernel/config
SERIAL_A=12345678
SERIAL_B=87654321
failures=0

pass() { echo "PASS $1"; }
fail() {
    echo "FAIL $1: $2"
    failures=$((failures + 1))
}
skip() { echo "SKIP $1: $2"; }
note() { echo "  $*"; }

# Centiseconds since boot.
now_cs() {
    read -r up _ </proc/uptime
    echo "${up%.*}${up#*.}"
}

# wait_until SECONDS COMMAND...: runs COMMAND every 0.1 s until it succeeds.
wait_until() {
    limit=$(($(now_cs) + $1 * 100))
    shift
    while ! "$@" >/dev/null 2>&1; do
        [ "$(now_cs)" -lt "$limit" ] || return 1
        sleep 0.1
    done
}

# wait_exit PID SECONDS: waits for a background job; sets $status (255 = still running,
# then killed).
wait_exit() {
    limit=$(($(now_cs) + $2 * 100))
    while kill -0 "$1" 2>/dev/null; do
        if [ "$(now_cs)" -ge "$limit" ]; then
            kill -9 "$1" 2>/dev/null
            wait "$1" 2>/dev/null
            status=255
            return 1
        fi
        sleep 0.1
    done
    wait "$1"
    status=$?
}

finish() {
    if [ "$failures" -gt 0 ]; then
        echo "--- gadget logs"
        for f in /tmp/*.log; do
            [ -f "$f" ] && sed "s|^|$f: |" "$f" | tail -n 20
        done
        echo "--- dmesg"
        dmesg | tail -n 60
    fi
    echo "usb-e2e: guest done"
    sync
    poweroff -f
}

# --- modules, configfs -----------------------------------------------------------------
while read -r m; do
    args=
    # Four UDCs: gadgets A and B, and C and D for Yubico's programs (guest-vendor.sh);
    # full speed like the real device (64-byte bulk packets).
    [ "$m" = dummy_hcd ] && args="num=4 is_high_speed=0 is_super_speed=0"
    # shellcheck disable=SC2086 # args are separate words
    insmod "/lib/modules/$m.ko" $args || fail modules "insmod $m failed"
done </lib/modules/load-order
mount -t configfs none "$CFG" || fail modules "cannot mount configfs"
UDC_A=dummy_udc.0
UDC_B=dummy_udc.1
for udc in $UDC_A $UDC_B; do
    [ -e "/sys/class/udc/$udc" ] || fail modules "no UDC $udc"
done

# start_gadget SERIAL UDC [OPTIONS...]: starts `yhsm sim usb-gadget`; sets $gadget_pid.
start_gadget() {
    serial=$1
    udc=$2
    shift 2
    yhsm sim usb-gadget --serial "$serial" --udc "$udc" "$@" >"/tmp/gadget-$serial.log" 2>&1 &
    gadget_pid=$!
    wait_until 15 grep -q '^ready:' "/tmp/gadget-$serial.log"
}

# The probe's device list contains SERIAL (as the device reports it: 10 digits).
listed() { yhsm-usb-probe list | grep "serial=$(printf %010d "$1")\$" >/dev/null; }

# The sysfs directory of the USB device with SERIAL, on the host side of dummy_hcd.
device_dir() {
    for d in /sys/bus/usb/devices/*; do
        [ "$(cat "$d/serial" 2>/dev/null)" = "$(printf %010d "$1")" ] && echo "$d"
    done
}

# Listed by our client and configured by the host's USB core (so no one races the
# kernel's own SET_CONFIGURATION).
on_host() {
    listed "$1" && [ "$(tr -d ' ' <"$(device_dir "$1")/bConfigurationValue")" = 1 ]
}

PW=/tmp/password.txt
APP_PW=/tmp/application.txt
echo password >$PW
echo application-demo >$APP_PW
# Frames sent to gadget A, counted from `yhsm -v` (one `-> ` line per request) and the
# probe's `exchanges=N`; the gadget's own count must match at the end.
exchanges_a=0

# y URL ARGS...: runs `yhsm -v -c URL ARGS...` (at most 120 s); sets $rc, $out (stdout),
# $err (stderr without the -v frame lines) and $sent (requests sent).
y() {
    url=$1
    shift
    timeout 120 yhsm -v -c "$url" "$@" >/tmp/y.out 2>/tmp/y.err
    rc=$?
    out=$(cat /tmp/y.out)
    err=$(grep -v -e '^-> ' -e '^<- ' -e '^   inner ' /tmp/y.err)
    sent=$(grep -c '^-> ' /tmp/y.err)
}
# ya ARGS...: `y` against gadget A, counting its requests.
ya() {
    y "yhusb://serial=$SERIAL_A" "$@"
    exchanges_a=$((exchanges_a + sent))
}
oneline() { echo "$*" | tr '\n' ' ' | cut -c1-400; }

# --- Yubico's yubihsm-shell and yubihsm-connector, on gadgets C and D (gone after) -----
. /guest-vendor.sh

# --- gadget A: enumeration, descriptors, sessions, echo of every length, restore -------
if ! start_gadget $SERIAL_A "$UDC_A"; then
    fail enumeration "gadget did not start: $(tail -n 3 /tmp/gadget-$SERIAL_A.log)"
    finish
fi
pid_a=$gadget_pid
note "$(cat /tmp/gadget-$SERIAL_A.log)"
if wait_until 15 on_host $SERIAL_A; then
    # The only device: yhusb:// finds it, and the device info shows its serial.
    y yhusb:// --password-file $PW info
    exchanges_a=$((exchanges_a + sent))
    note "$(echo "$out" | head -n 4 | tr '\n' ';')"
    if [ $rc = 0 ] && echo "$out" | grep -q "^serial: *$SERIAL_A\$" &&
        echo "$out" | grep -q "^connector: *USB device serial $SERIAL_A\$"; then
        pass enumeration
    else
        fail enumeration "yhsm info: exit $rc: $(oneline "$out $err")"
    fi
else
    fail enumeration "serial $SERIAL_A not listed: $(oneline "$(yhsm-usb-probe list 2>&1)")"
fi

# What the host's USB core read from the device (sysfs), against the real device's shape.
check_descriptors() {
    dev=$(device_dir $SERIAL_A)
    [ -n "$dev" ] || {
        echo "no device with serial $SERIAL_A in sysfs"
        return 1
    }
    intf=$dev/$(basename "$dev"):1.0
    bad=
    for kv in idVendor=1050 idProduct=0030 manufacturer=Yubico product=YubiHSM speed=12 \
        bNumConfigurations=1 bNumInterfaces=1 bConfigurationValue=1; do
        got=$(tr -d ' ' <"$dev/${kv%%=*}" 2>/dev/null)
        [ "$got" = "${kv#*=}" ] || bad="$bad ${kv%%=*}=$got(want ${kv#*=})"
    done
    for kv in bInterfaceNumber=00 bInterfaceClass=ff bNumEndpoints=02 \
        ep_01/bEndpointAddress=01 ep_01/type=Bulk ep_01/wMaxPacketSize=0040 \
        ep_81/bEndpointAddress=81 ep_81/type=Bulk ep_81/wMaxPacketSize=0040; do
        got=$(cat "$intf/${kv%%=*}" 2>/dev/null)
        [ "$got" = "${kv#*=}" ] || bad="$bad ${kv%%=*}=$got(want ${kv#*=})"
    done
    # The whole configuration: 9 (configuration) + 9 (interface) + 2 x 7 (endpoints) bytes,
    # so nothing else (e.g. the endpoint reservation) shows. It follows the 18-byte device
    # descriptor in the sysfs `descriptors` file.
    total=$(od -A n -t u1 -j 20 -N 2 "$dev/descriptors" | awk '{ print $1 + 256 * $2 }')
    [ "$total" = 32 ] || bad="$bad wTotalLength=$total(want 32)"
    [ -z "$bad" ] || {
        echo "$bad"
        return 1
    }
}
if out=$(check_descriptors); then
    pass descriptors
else
    fail descriptors "$out"
fi

control_out=$(timeout 30 yhsm-usb-probe control yhusb://serial=$SERIAL_A 2>&1)
control_rc=$?
note "$(echo "$control_out" | grep -v '^exchanges=' | tr '\n' ';')"
more=$(echo "$control_out" | sed -n 's/^exchanges=//p')
exchanges_a=$((exchanges_a + ${more:-0}))

# A session opens over USB and carries a command: echo inside it, decrypted.
ya --password-file $PW raw echo 73657373696f6e
if [ $rc = 0 ] && [ "$out" = "81 0007 73657373696f6e" ] &&
    grep -q '^-> echo \[session [0-9]*\]: sealed, [0-9]* bytes$' /tmp/y.err &&
    grep -q '^   inner <- 81000773657373696f6e$' /tmp/y.err; then
    note "raw echo in session: $out ($sent frames)"
    pass session-open
else
    fail session-open "exit $rc: $(oneline "$out $err")"
fi

t0=$(now_cs)
out=$(timeout 200 yhsm-usb-probe echo-all yhusb://serial=$SERIAL_A 2>&1)
rc=$?
note "$(echo "$out" | grep -v '^exchanges=') ($(($(now_cs) - t0))0 ms)"
more=$(echo "$out" | sed -n 's/^exchanges=//p')
exchanges_a=$((exchanges_a + ${more:-0}))
if [ $rc = 0 ]; then
    pass echo-all-lengths
else
    fail echo-all-lengths "exit $rc: $(oneline "$(echo "$out" | tail -n 2)")"
fi

# Restore the demo backup (examples/backup) over USB, as yubihsm-setup restore would:
# the wrap key from its shares, every object imported and verified, key 1 deleted.
t0=$(now_cs)
ya restore /backup --shares-file /backup/shares.txt --password-file /backup/password.txt
restore_rc=$rc
restore_out=$out
restore_err=$err
note "restore: $(echo "$restore_out" | tail -n 1) ($(($(now_cs) - t0))0 ms, $sent frames)"
ya -k 3 --password-file $APP_PW list
if [ $restore_rc = 0 ] && echo "$restore_out" | grep -q '^All done$' &&
    [ $rc = 0 ] && [ "$(echo "$out" | tail -n 1)" = "6 objects" ] &&
    echo "$out" | grep -q '^0x0100 asymmetric-key:$' &&
    echo "$out" | grep -q '^0x0200 opaque:$' &&
    ! echo "$out" | grep -q '^0x0001 '; then
    pass restore
else
    fail restore "restore exit $restore_rc: $(oneline "$(echo "$restore_out" | tail -n 3) $restore_err"); list exit $rc: $(oneline "$(echo "$out" | tail -n 2) $err")"
fi

# And back out: dump under the restored wrap key; every file decrypts with the shares.
ya -k 3 --password-file $APP_PW dump /tmp/dump -w 2
dump_rc=$rc
dump_out=$out
# The `.yhw` files, and beside them the wrap key's description.
files=$(ls /tmp/dump/*.yhw 2>/dev/null | wc -l)
[ -f /tmp/dump/0x0002-wrap-key.description ] || files="$files, no wrap key description"
inspect_out=$(yhsm inspect --shares-file /backup/shares.txt /tmp/dump/*.yhw 2>&1)
inspect_rc=$?
note "dump: $(echo "$dump_out" | tail -n 1)"
if [ $dump_rc = 0 ] && [ "$files" = 5 ] && [ $inspect_rc = 0 ] &&
    [ "$(echo "$dump_out" | tail -n 1)" = "Exported 5 of 6 objects to /tmp/dump under wrap key 0x0002 (1 skipped, 0 not exported)" ]; then
    pass dump
else
    fail dump "exit $dump_rc, $files files: $(oneline "$dump_out $err"); inspect exit $inspect_rc: $(oneline "$inspect_out")"
fi

# --- gadget B: two devices, selection by serial, unplug ---------------------------------
# B answers after 300 ms, so the unplug below lands while the client waits for a response.
if ! start_gadget $SERIAL_B "$UDC_B" --delay-ms 300; then
    fail two-gadgets-listed "second gadget did not start: $(tail -n 3 /tmp/gadget-$SERIAL_B.log)"
    finish
fi
pid_b=$gadget_pid
if wait_until 15 on_host $SERIAL_B && listed $SERIAL_A; then
    note "$(yhsm-usb-probe list | tr '\n' ';')"
    pass two-gadgets-listed
else
    fail two-gadgets-listed "$(oneline "$(yhsm-usb-probe list 2>&1)")"
fi

y "yhusb://serial=$SERIAL_B" --password-file $PW info
rc_b=$rc
out_b=$out
# Leading zeros in the URL are fine: the serial is a number.
y "yhusb://serial=0$SERIAL_A" -k 3 --password-file $APP_PW info
exchanges_a=$((exchanges_a + sent))
note "$(echo "$out_b" | grep '^serial'); $(echo "$out" | grep '^serial')"
if [ $rc_b = 0 ] && [ $rc = 0 ] && echo "$out_b" | grep -q "^serial: *$SERIAL_B\$" &&
    echo "$out" | grep -q "^serial: *$SERIAL_A\$"; then
    pass select-by-serial
else
    fail select-by-serial "B: exit $rc_b $(oneline "$out_b") A: exit $rc $(oneline "$out $err")"
fi

y yhusb:// --password-file $PW info
note "$err"
if [ $rc = 1 ] && [ "$sent" = 0 ] &&
    echo "$err" | grep -q "several YubiHSM 2 devices are attached (serials: $(printf %010d $SERIAL_A), $(printf %010d $SERIAL_B))"; then
    pass several-devices-error
else
    fail several-devices-error "exit $rc: $(oneline "$out $err")"
fi

# Unplug B (unbind its gadget) while `yhsm list` waits for an answer inside the session.
timeout 60 yhsm -v -c "yhusb://serial=$SERIAL_B" --password-file $PW list >/tmp/unplug.out 2>/tmp/unplug.err &
client_pid=$!
if wait_until 20 grep -q '^<- authenticate-session' /tmp/unplug.err; then
    sleep 0.1
    t0=$(now_cs)
    echo >"$CFG/usb_gadget/yhsm$SERIAL_B/UDC"
    wait_exit $client_pid 20
    elapsed=$(($(now_cs) - t0))
    message=$(grep '^yhsm: error:' /tmp/unplug.err)
    note "$message (yhsm ended $((elapsed * 10)) ms after the unplug)"
    if [ $status = 255 ]; then
        fail unplug-disconnected "yhsm still running 20 s after the unplug (hang)"
    elif [ $status = 1 ] && [ $elapsed -le 500 ] && [ "$(echo "$message" | wc -l)" = 1 ] &&
        echo "$message" | grep -q "USB device serial $SERIAL_B was disconnected" &&
        ! echo "$message" | grep -q "unknown at"; then
        pass unplug-disconnected
    else
        fail unplug-disconnected "exit $status after $((elapsed * 10)) ms: $(oneline "$(tail -n 3 /tmp/unplug.err)")"
    fi
else
    kill $client_pid 2>/dev/null
    fail unplug-disconnected "no session opened: $(oneline "$(tail -n 5 /tmp/unplug.err)")"
fi

if wait_exit $pid_b 10 && [ $status = 0 ] && grep -q "^unbound: served" /tmp/gadget-$SERIAL_B.log &&
    ! [ -e "$CFG/usb_gadget/yhsm$SERIAL_B" ]; then
    note "$(grep '^unbound' /tmp/gadget-$SERIAL_B.log)"
    pass gadget-exits-on-unbind
else
    fail gadget-exits-on-unbind "gadget status $status: $(oneline "$(tail -n 3 /tmp/gadget-$SERIAL_B.log)")"
fi

# --- every exchange aimed at A reached A, none of B's --------------------------------------
echo >"$CFG/usb_gadget/yhsm$SERIAL_A/UDC"
if wait_exit $pid_a 10 && [ $status = 0 ]; then
    served=$(sed -n "s/^unbound: served \([0-9]*\) requests.*/\1/p" /tmp/gadget-$SERIAL_A.log)
    if [ "$served" = "$exchanges_a" ]; then
        note "gadget $SERIAL_A served $served requests, as many as were sent to it"
        pass selection-routed
    else
        fail selection-routed "gadget $SERIAL_A served ${served:-?} requests, $exchanges_a were sent to it"
    fi
else
    fail selection-routed "gadget A status $status: $(oneline "$(tail -n 3 /tmp/gadget-$SERIAL_A.log)")"
fi

# Both vendor requests stalled, by our ep0 handling (the gadget counted them), and bulk
# traffic went on.
stalled=$(sed -n "s/^unbound: .* \([0-9]*\) stalled control requests.*/\1/p" /tmp/gadget-$SERIAL_A.log)
if [ $control_rc = 0 ] && [ "$stalled" = 2 ]; then
    pass control-requests-stalled
else
    fail control-requests-stalled "probe exit $control_rc ($(oneline "$control_out")), gadget stalled ${stalled:-?} requests (want 2)"
fi

finish
