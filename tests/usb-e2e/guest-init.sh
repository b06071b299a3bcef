#!/bin/busybox sh
# PID 1 of the USB end-to-end guest (see run.sh). Loads the USB gadget modules, creates
# software YubiHSM 2 gadgets on dummy_hcd with our gadget server, runs our USB client
# against them, prints `PASS name` / `FAIL name: reason` / `SKIP name: reason` per check
# and `usb-e2e: guest done`, then powers off.

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
    # Two UDCs for two gadgets; full speed like the real device (64-byte bulk packets).
    [ "$m" = dummy_hcd ] && args="num=2 is_high_speed=0 is_super_speed=0"
    # shellcheck disable=SC2086 # args are separate words
    insmod "/lib/modules/$m.ko" $args || fail modules "insmod $m failed"
done </lib/modules/load-order
mount -t configfs none "$CFG" || fail modules "cannot mount configfs"
UDC_A=dummy_udc.0
UDC_B=dummy_udc.1
for udc in $UDC_A $UDC_B; do
    [ -e "/sys/class/udc/$udc" ] || fail modules "no UDC $udc"
done

# start_gadget SERIAL UDC [OPTIONS...]: starts the gadget server; sets $gadget_pid.
start_gadget() {
    serial=$1
    udc=$2
    shift 2
    yhsm-gadget-echo --serial "$serial" --udc "$udc" "$@" >"/tmp/gadget-$serial.log" 2>&1 &
    gadget_pid=$!
    wait_until 15 grep -q '^ready' "/tmp/gadget-$serial.log"
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

# --- gadget A: enumeration, descriptors, echo of every length --------------------------
if ! start_gadget $SERIAL_A "$UDC_A"; then
    fail enumeration "gadget server did not start: $(tail -n 3 /tmp/gadget-$SERIAL_A.log)"
    finish
fi
pid_a=$gadget_pid
if wait_until 15 on_host $SERIAL_A; then
    out=$(yhsm-usb-probe list)
    note "$out"
    if echo "$out" | grep -qx "devices=1"; then
        pass enumeration
    else
        fail enumeration "expected one device: $out"
    fi
else
    fail enumeration "serial $SERIAL_A not listed: $(yhsm-usb-probe list 2>&1 | tr '\n' ' ')"
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
exchanges_a=$(echo "$control_out" | sed -n 's/^exchanges=//p')

skip session-open "PENDING: needs the simulator and the yhsm CLI (create-session over yhusb://)"

t0=$(now_cs)
out=$(timeout 150 yhsm-usb-probe echo-all yhusb://serial=$SERIAL_A 2>&1)
rc=$?
note "$(echo "$out" | grep -v '^exchanges=') ($(($(now_cs) - t0))0 ms)"
more=$(echo "$out" | sed -n 's/^exchanges=//p')
exchanges_a=$((${exchanges_a:-0} + ${more:-0}))
if [ $rc = 0 ]; then
    pass echo-all-lengths
else
    fail echo-all-lengths "exit $rc: $(echo "$out" | tail -n 2 | tr '\n' ' ')"
fi

skip restore "PENDING: needs the simulator and the yhsm CLI (restore of a backup directory over yhusb://; interim: put-wrap-key + import-wrapped + list)"

# --- gadget B: two devices, selection by serial ----------------------------------------
# B answers after 200 ms, so the unplug below lands while the client waits for a response.
if ! start_gadget $SERIAL_B "$UDC_B" --delay-ms 200; then
    fail two-gadgets-listed "second gadget server did not start: $(tail -n 3 /tmp/gadget-$SERIAL_B.log)"
    finish
fi
pid_b=$gadget_pid
if wait_until 15 on_host $SERIAL_B && listed $SERIAL_A; then
    note "$(yhsm-usb-probe list)"
    pass two-gadgets-listed
else
    fail two-gadgets-listed "$(yhsm-usb-probe list 2>&1 | tr '\n' ' ')"
fi

out_b=$(timeout 60 yhsm-usb-probe open yhusb://serial=$SERIAL_B --count 5 2>&1)
rc_b=$?
out_a=$(timeout 60 yhsm-usb-probe open yhusb://serial=0$SERIAL_A --count 2 2>&1)
rc_a=$?
note "$(echo "$out_b" | head -n 1); $(echo "$out_a" | head -n 1)"
if [ $rc_b = 0 ] && [ $rc_a = 0 ] && echo "$out_b" | grep -q "^opened serial=$SERIAL_B " &&
    echo "$out_a" | grep -q "^opened serial=$SERIAL_A "; then
    pass select-by-serial
else
    fail select-by-serial "B: exit $rc_b $(echo "$out_b" | tr '\n' ' ') A: exit $rc_a $(echo "$out_a" | tr '\n' ' ')"
fi
more=$(echo "$out_a" | sed -n 's/^exchanges=//p')
exchanges_a=$((${exchanges_a:-0} + ${more:-0}))

out=$(timeout 60 yhsm-usb-probe open yhusb:// 2>&1)
rc=$?
note "$out"
if [ $rc = 3 ] && echo "$out" | grep -q "kind=several-devices" &&
    echo "$out" | grep -q "$(printf %010d $SERIAL_A)" &&
    echo "$out" | grep -q "$(printf %010d $SERIAL_B)"; then
    pass several-devices-error
else
    fail several-devices-error "exit $rc: $out"
fi

# --- unplug mid-run ---------------------------------------------------------------------
yhsm-usb-probe echo-loop yhusb://serial=$SERIAL_B --seconds 60 >/tmp/loop.out 2>&1 &
loop_pid=$!
if wait_until 15 grep -q '^first exchange ok' /tmp/loop.out; then
    sleep 0.5
    t0=$(now_cs)
    echo >"$CFG/usb_gadget/yhsm$SERIAL_B/UDC"
    wait_exit $loop_pid 20
    elapsed=$(($(now_cs) - t0))
    out=$(cat /tmp/loop.out)
    note "$(echo "$out" | tail -n 1) (client ended $((elapsed * 10)) ms after the unbind)"
    if [ $status = 255 ]; then
        fail unplug-disconnected "client still running 20 s after the unplug (hang)"
    elif [ $status = 4 ] && echo "$out" | grep -q "kind=disconnected" &&
        [ $elapsed -le 500 ]; then
        pass unplug-disconnected
    else
        fail unplug-disconnected "exit $status after $((elapsed * 10)) ms: $(echo "$out" | tail -n 1)"
    fi
else
    kill $loop_pid 2>/dev/null
    fail unplug-disconnected "echo loop never got a response: $(cat /tmp/loop.out)"
fi

if wait_exit $pid_b 10 && [ $status = 0 ] && grep -q "^unbound serial=$SERIAL_B" /tmp/gadget-$SERIAL_B.log &&
    ! [ -e "$CFG/usb_gadget/yhsm$SERIAL_B" ]; then
    note "$(grep '^unbound' /tmp/gadget-$SERIAL_B.log)"
    pass gadget-exits-on-unbind
else
    fail gadget-exits-on-unbind "gadget server status $status: $(tail -n 3 /tmp/gadget-$SERIAL_B.log | tr '\n' ' ')"
fi

# --- every exchange aimed at A reached A, none of B's --------------------------------------
echo >"$CFG/usb_gadget/yhsm$SERIAL_A/UDC"
if wait_exit $pid_a 10 && [ $status = 0 ]; then
    served=$(sed -n "s/^unbound serial=$SERIAL_A: \([0-9]*\) requests.*/\1/p" /tmp/gadget-$SERIAL_A.log)
    if [ "$served" = "$exchanges_a" ]; then
        note "gadget $SERIAL_A served $served requests, as many as the client sent it"
        pass selection-routed
    else
        fail selection-routed "gadget $SERIAL_A served ${served:-?} requests, the client sent it $exchanges_a"
    fi
else
    fail selection-routed "gadget server A status $status: $(tail -n 3 /tmp/gadget-$SERIAL_A.log | tr '\n' ' ')"
fi

# Both vendor requests stalled, by our ep0 handling (the gadget counted them), and bulk
# traffic went on.
stalled=$(sed -n "s/^unbound serial=$SERIAL_A: .* \([0-9]*\) stalled setups.*/\1/p" /tmp/gadget-$SERIAL_A.log)
if [ $control_rc = 0 ] && [ "$stalled" = 2 ]; then
    pass control-requests-stalled
else
    fail control-requests-stalled "probe exit $control_rc ($(echo "$control_out" | tr '\n' ' ')), gadget stalled ${stalled:-?} setups (want 2)"
fi

finish
