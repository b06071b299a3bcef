# Sourced by guest-init.sh (busybox sh) before gadget A starts: Yubico's own programs in
# the guest against the simulator's USB gadget, on gadgets of their own (C, then a fresh
# C and D), all gone before A starts, so A's checks see what they always saw.
#
#   shell-usb-*     yubihsm-shell 2.8.0 with libyubihsm's own USB backend (yhusb://, the
#                   guest's libusb) against gadget C: device info, selection by serial, a
#                   session, get-wrapped / put-wrapped, and a restore by yhsm over USB
#                   that yubihsm-shell and openssl verify;
#   connector-*     yubihsm-connector 3.0.7 in front of a fresh gadget C: yhsm over
#                   http:// (info, list, echo of every length, restore, dump), libyubihsm's
#                   HTTP backend through it, --serial selecting gadget D, a wrong serial,
#                   and D unplugged while yhsm waits for an answer.
#
# Uses guest-init.sh's helpers (pass, fail, note, y, wait_until, wait_exit, start_gadget,
# on_host, oneline, now_cs) and its variables (CFG, PW, APP_PW). Files from run.sh:
# /opt/yubihsm (yubihsm-shell, libyubihsm and its backends), /usr/bin/yubihsm-connector,
# /usr/bin/openssl, /vendor (keys made on the host by openssl).

SERIAL_C=23456789
SERIAL_D=34567890
UDC_C=dummy_udc.2
UDC_D=dummy_udc.3
VENDOR=/vendor

# ysh URL ARGS...: yubihsm-shell (at most 120 s); sets $rc and $out (stdout and stderr:
# it prints some results on stderr). yubihsm-shell appends to an --out file: remove first.
ysh() {
    u=$1
    shift
    LD_LIBRARY_PATH=/opt/yubihsm/lib timeout 120 /opt/yubihsm/bin/yubihsm-shell -C "$u" "$@" \
        >/tmp/ysh.out 2>&1
    rc=$?
    out=$(cat /tmp/ysh.out)
}
# The public key of a PEM file as the device gives it (hex, no spaces): the last N bytes of
# its DER (N = 64 for P-256 X || Y, 32 for ed25519).
raw_pub() { openssl pkey -pubin -in "$1" -outform DER | tail -c "$2" | od -A n -v -t x1 | tr -d ' \n'; }
# The public key `yhsm inspect` shows for FILE (hex, no spaces).
inspect_pub() {
    yhsm inspect "$@" 2>/dev/null | awk '/public key:/ { on = 1; print $3; next } on && /^ +[0-9a-f]+$/ { print $1; next } { on = 0 }' |
        tr -d '\n'
}
# connector_status PORT: the connector's /connector/status page (busybox has no working
# wget; nc speaks HTTP/1.0, after which the connector closes the connection).
connector_status() {
    # stdin stays open a moment: busybox nc stops reading the answer at the end of stdin.
    { printf 'GET /connector/status HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' && sleep 1; } |
        timeout 10 nc 127.0.0.1 "$1" 2>/dev/null |
        tr -d '\r' | sed -n '/^$/,$p' | sed '/^$/d'
}
connector_answers() { connector_status "$1" | grep -q '^status='; }
# start_connector PORT [OPTIONS...]: yubihsm-connector on 127.0.0.1:PORT, started from a
# shell (under PID 1 directly it takes itself for a system service); waits for its status
# page and sets $connector_pid from it.
start_connector() {
    port=$1
    shift
    sh -c 'yubihsm-connector "$@"; echo "yubihsm-connector exited with status $?"' sh \
        -l "127.0.0.1:$port" "$@" >"/tmp/connector-$port.log" 2>&1 &
    connector_pid=
    wait_until 20 connector_answers "$port" || return 1
    connector_pid=$(connector_status "$port" | sed -n 's/^pid=//p')
    [ -n "$connector_pid" ]
}
stop_connector() { [ -z "$1" ] || kill "$1" 2>/dev/null; }

# --- gadget C: libyubihsm's USB backend ---------------------------------------------
ip link set lo up
if ! start_gadget $SERIAL_C "$UDC_C" || ! wait_until 15 on_host $SERIAL_C; then
    fail shell-usb-info "gadget $SERIAL_C did not start: $(tail -n 3 /tmp/gadget-$SERIAL_C.log)"
    return 0
fi
pid_c=$gadget_pid

# The only device: yhusb:// finds it (no session needed for the device info).
ysh yhusb:// -a get-device-info
note "$(echo "$out" | grep -e '^Version' -e '^Serial' | tr '\n\t' '; ')"
if [ $rc = 0 ] && echo "$out" | grep -q "^Serial number:[[:space:]]*$SERIAL_C\$" &&
    echo "$out" | grep -q "^Version number:[[:space:]]*2\.4\.0\$"; then
    pass shell-usb-info
else
    fail shell-usb-info "exit $rc: $(oneline "$out")"
fi

# By serial (the USB serial string is 0023456789: libyubihsm reads it as a number), and a
# serial no device has.
ysh "yhusb://serial=$SERIAL_C" -a get-device-info
rc_c=$rc
out_c=$out
ysh yhusb://serial=11111111 -a get-device-info
if [ $rc_c = 0 ] && echo "$out_c" | grep -q "^Serial number:[[:space:]]*$SERIAL_C\$" &&
    [ $rc != 0 ] && ! echo "$out" | grep -q '^Serial number'; then
    note "serial=11111111: $(echo "$out" | tail -n 1)"
    pass shell-usb-serial
else
    fail shell-usb-serial "serial=$SERIAL_C: exit $rc_c $(oneline "$out_c"); serial=11111111: exit $rc $(oneline "$out")"
fi

# A session: list, and 2 kB of random data (responses of many packets).
C="yhusb://serial=$SERIAL_C"
ysh "$C" -p password -a list-objects
rc_l=$rc
out_l=$out
ysh "$C" -p password -a get-pseudo-random --count 2028
random=$(echo "$out" | grep -E '^[0-9a-f]+$')
if [ $rc_l = 0 ] && echo "$out_l" | grep -q '^id: 0x0001, type: authentication-key' &&
    [ $rc = 0 ] && [ ${#random} = 4056 ]; then
    pass shell-usb-session
else
    fail shell-usb-session "list exit $rc_l: $(oneline "$out_l"); random exit $rc: ${#random} hex digits"
fi

# get-wrapped / put-wrapped over USB: a generated P-256 key and an imported RSA-3072 key
# (wrapped: 59-byte header and 384-byte body, frames of many packets) go out under a wrap
# key and come back; their public keys stay, yhsm inspect reads the files, openssl
# verifies a signature of the re-imported key.
shell_usb_wrapped() {
    ysh "$C" -p password -a put-wrap-key -i 0x0030 -l usb-wrap -d 1 -c export-wrapped,import-wrapped \
        --delegated all --in $VENDOR/wrap.hex
    [ $rc = 0 ] || { echo "put-wrap-key: $(oneline "$out")"; return 1; }
    ysh "$C" -p password -a generate-asymmetric-key -i 0x0032 -l usb-p256 -d 1 -c sign-ecdsa,exportable-under-wrap -A ecp256
    [ $rc = 0 ] || { echo "generate: $(oneline "$out")"; return 1; }
    ysh "$C" -p password -a put-asymmetric-key -i 0x0031 -l usb-rsa3072 -d 1 -c sign-pkcs,exportable-under-wrap --in $VENDOR/rsa3072.pem
    [ $rc = 0 ] || { echo "put rsa3072: $(oneline "$out")"; return 1; }
    for id in 0x0031 0x0032; do
        rm -f /tmp/pub-$id.pem /tmp/pub2-$id.pem /tmp/wrapped-$id
        ysh "$C" -p password -a get-public-key -i $id --out /tmp/pub-$id.pem
        ysh "$C" -p password -a get-wrapped --wrap-id 0x0030 -i $id -t asymmetric-key --out /tmp/wrapped-$id
        [ $rc = 0 ] && [ -s /tmp/wrapped-$id ] || { echo "get-wrapped $id: $(oneline "$out")"; return 1; }
        ysh "$C" -p password -a delete-object -i $id -t asymmetric-key
        ysh "$C" -p password -a put-wrapped --wrap-id 0x0030 --in /tmp/wrapped-$id
        echo "$out" | grep -q "^Object imported as $id of type asymmetric-key\$" ||
            { echo "put-wrapped $id: $(oneline "$out")"; return 1; }
        ysh "$C" -p password -a get-public-key -i $id --out /tmp/pub2-$id.pem
        cmp -s /tmp/pub-$id.pem /tmp/pub2-$id.pem || { echo "$id: public key changed"; return 1; }
    done
    want=$(raw_pub /tmp/pub-0x0032.pem 64)
    got=$(inspect_pub --wrap-key-file $VENDOR/wrap.hex /tmp/wrapped-0x0032)
    [ -n "$want" ] && [ "$got" = "$want" ] || { echo "yhsm inspect: public key '$got', device '$want'"; return 1; }
    echo 'signed over USB' >/tmp/data
    rm -f /tmp/sig
    ysh "$C" -p password -a sign-ecdsa -i 0x0032 -A ecdsa-sha256 --in /tmp/data --informat binary --outformat binary --out /tmp/sig
    openssl dgst -sha256 -verify /tmp/pub-0x0032.pem -signature /tmp/sig /tmp/data >/dev/null 2>&1 ||
        { echo "openssl does not verify the signature: $(oneline "$out")"; return 1; }
}
if out=$(shell_usb_wrapped 2>&1); then
    pass shell-usb-wrapped
else
    fail shell-usb-wrapped "$out"
fi

# A restore by yhsm over USB (the demo backup), then yubihsm-shell as the restored key
# 0x0003 sees what yhsm inspect sees in the backup, and openssl verifies its signatures.
shell_usb_restore() {
    y "$C" restore /backup --shares-file /backup/shares.txt --password-file /backup/password.txt
    [ $rc = 0 ] && echo "$out" | grep -q '^All done$' ||
        { echo "yhsm restore exit $rc: $(oneline "$(echo "$out" | tail -n 3) $err")"; return 1; }
    ysh "$C" --authkey 3 -p application-demo -a list-objects
    for id in 0x0002 0x0003 0x0004 0x0100 0x0101 0x0200; do
        echo "$out" | grep -q "^id: $id, " || { echo "list as key 3 lacks $id: $(oneline "$out")"; return 1; }
    done
    ! echo "$out" | grep -q '^id: 0x0001, ' || { echo "key 0x0001 not deleted"; return 1; }
    ysh "$C" --authkey 3 -p application-demo -a get-object-info -i 0x0100 -t asymmetric-key
    echo "$out" | grep -q '^id: 0x0100, type: asymmetric-key, algorithm: ecp256, label: "signing key", length: [0-9]*, domains: 1, .*capabilities: exportable-under-wrap:sign-ecdsa$' ||
        { echo "object info 0x0100: $(oneline "$out")"; return 1; }
    for k in 0x0100:64:ecdsa 0x0101:32:eddsa; do
        id=${k%%:*}
        n=${k#*:}
        n=${n%%:*}
        rm -f /tmp/pub-$id.pem /tmp/sig
        ysh "$C" --authkey 3 -p application-demo -a get-public-key -i $id --out /tmp/pub-$id.pem
        want=$(inspect_pub --shares-file /backup/shares.txt /backup/$id-asymmetric-key.yhw)
        got=$(raw_pub /tmp/pub-$id.pem "$n")
        [ -n "$want" ] && [ "$got" = "$want" ] || { echo "$id: device public key $got, backup $want"; return 1; }
        if [ "${k##*:}" = ecdsa ]; then
            ysh "$C" --authkey 3 -p application-demo -a sign-ecdsa -i $id -A ecdsa-sha256 --in /tmp/data --informat binary --outformat binary --out /tmp/sig
            openssl dgst -sha256 -verify /tmp/pub-$id.pem -signature /tmp/sig /tmp/data >/dev/null 2>&1 ||
                { echo "$id: openssl does not verify the signature: $(oneline "$out")"; return 1; }
        else
            ysh "$C" --authkey 3 -p application-demo -a sign-eddsa -i $id -A ed25519 --in /tmp/data --informat binary --outformat binary --out /tmp/sig
            openssl pkeyutl -verify -pubin -inkey /tmp/pub-$id.pem -rawin -in /tmp/data -sigfile /tmp/sig >/dev/null 2>&1 ||
                { echo "$id: openssl does not verify the signature: $(oneline "$out")"; return 1; }
        fi
    done
    # The certificate is 0x0100's.
    rm -f /tmp/cert.pem
    ysh "$C" --authkey 3 -p application-demo -a get-opaque -i 0x0200 --outformat PEM --out /tmp/cert.pem
    [ "$(openssl x509 -in /tmp/cert.pem -noout -pubkey 2>/dev/null)" = "$(cat /tmp/pub-0x0100.pem)" ] ||
        { echo "certificate 0x0200 is not 0x0100's: $(oneline "$out")"; return 1; }
    # yubihsm-shell exports a restored key; yhsm inspect decrypts it with the backup's shares.
    rm -f /tmp/export-0x0100
    ysh "$C" --authkey 3 -p application-demo -a get-wrapped --wrap-id 0x0002 -i 0x0100 -t asymmetric-key --out /tmp/export-0x0100
    [ "$(inspect_pub --shares-file /backup/shares.txt /tmp/export-0x0100)" = "$(raw_pub /tmp/pub-0x0100.pem 64)" ] ||
        { echo "get-wrapped 0x0100 under 0x0002: $(oneline "$out")"; return 1; }
}
if out=$(shell_usb_restore 2>&1); then
    pass shell-usb-restore-verified
else
    fail shell-usb-restore-verified "$out"
fi

# Unplug C; plug a fresh one in (new simulator, factory state) for the connector.
echo >"$CFG/usb_gadget/yhsm$SERIAL_C/UDC"
wait_exit $pid_c 10
if ! start_gadget $SERIAL_C "$UDC_C" || ! wait_until 15 on_host $SERIAL_C; then
    fail connector-status "fresh gadget $SERIAL_C did not start: $(tail -n 3 /tmp/gadget-$SERIAL_C.log)"
    return 0
fi
pid_c=$gadget_pid

# --- yubihsm-connector in front of gadget C -------------------------------------------
H=http://127.0.0.1:12345
if start_connector 12345; then
    conn1=$connector_pid
    status=$(connector_status 12345)
    note "$(echo "$status" | tr '\n' ' ')"
    if echo "$status" | grep -qx 'status=OK' && echo "$status" | grep -qx 'serial=\*' &&
        echo "$status" | grep -qx 'version=3\.0\.7'; then
        pass connector-status
    else
        fail connector-status "$(oneline "$status")"
    fi
else
    conn1=
    fail connector-status "yubihsm-connector did not start: $(oneline "$(tail -n 5 /tmp/connector-12345.log)")"
fi

y $H --password-file $PW info
rc_i=$rc
out_i=$out
y $H --password-file $PW list
if [ $rc_i = 0 ] && echo "$out_i" | grep -q "^serial: *$SERIAL_C\$" &&
    echo "$out_i" | grep -q "^connector: *$H\$" &&
    [ $rc = 0 ] && echo "$out" | grep -q '^0x0001 authentication-key:$'; then
    pass connector-info-list
else
    fail connector-info-list "info exit $rc_i: $(oneline "$out_i"); list exit $rc: $(oneline "$out $err")"
fi

# Echo of every length outside a session through the connector (whose libusb code sends
# the zero-length packets for requests of a multiple of 64 bytes), then session echoes.
t0=$(now_cs)
out=$(timeout 300 yhsm-usb-probe echo-all $H 2>&1)
rc=$?
note "$(echo "$out" | grep -v '^exchanges=') ($(($(now_cs) - t0))0 ms)"
if [ $rc = 0 ]; then
    pass connector-echo-all-lengths
else
    fail connector-echo-all-lengths "exit $rc: $(oneline "$(echo "$out" | tail -n 2)")"
fi

t0=$(now_cs)
y $H restore /backup --shares-file /backup/shares.txt --password-file /backup/password.txt
restore_rc=$rc
restore_out=$out
restore_err=$err
note "restore through the connector: $(echo "$restore_out" | tail -n 1) ($(($(now_cs) - t0))0 ms, $sent frames)"
y $H -k 3 --password-file $APP_PW list
if [ $restore_rc = 0 ] && echo "$restore_out" | grep -q '^All done$' &&
    [ $rc = 0 ] && [ "$(echo "$out" | tail -n 1)" = "6 objects" ]; then
    pass connector-restore
else
    fail connector-restore "restore exit $restore_rc: $(oneline "$(echo "$restore_out" | tail -n 3) $restore_err"); list exit $rc: $(oneline "$(echo "$out" | tail -n 2) $err")"
fi

y $H -k 3 --password-file $APP_PW dump /tmp/cdump -w 2
files=$(ls /tmp/cdump/*.yhw 2>/dev/null | wc -l)
[ -f /tmp/cdump/0x0002-wrap-key.description ] || files="$files, no wrap key description"
inspect_out=$(yhsm inspect --shares-file /backup/shares.txt /tmp/cdump/*.yhw 2>&1)
inspect_rc=$?
if [ $rc = 0 ] && [ "$files" = 5 ] && [ $inspect_rc = 0 ]; then
    pass connector-dump
else
    fail connector-dump "exit $rc, $files files: $(oneline "$out $err"); inspect exit $inspect_rc: $(oneline "$inspect_out")"
fi

# libyubihsm's HTTP backend through the real connector, as the restored key.
ysh $H --authkey 3 -p application-demo -a list-objects
if [ $rc = 0 ] && [ "$(echo "$out" | grep -c '^id: ')" = 6 ]; then
    pass connector-libyubihsm
else
    fail connector-libyubihsm "exit $rc: $(oneline "$out")"
fi

# --- gadget D (slow: 300 ms per answer), a connector for its serial, a wrong serial ------
if ! start_gadget $SERIAL_D "$UDC_D" --delay-ms 300 || ! wait_until 15 on_host $SERIAL_D; then
    fail connector-serial-selects "gadget $SERIAL_D did not start: $(tail -n 3 /tmp/gadget-$SERIAL_D.log)"
    stop_connector "$conn1"
    return 0
fi
pid_d=$gadget_pid
HD=http://127.0.0.1:12346
conn2=
if start_connector 12346 --serial $SERIAL_D; then
    conn2=$connector_pid
    status=$(connector_status 12346)
    # Both C and D are attached; it reaches D alone (factory state: key 1 opens a session).
    y $HD --password-file $PW info
    if echo "$status" | grep -qx 'status=OK' && echo "$status" | grep -qx "serial=00$SERIAL_D" &&
        [ $rc = 0 ] && echo "$out" | grep -q "^serial: *$SERIAL_D\$"; then
        pass connector-serial-selects
    else
        fail connector-serial-selects "status $(oneline "$status"); info exit $rc: $(oneline "$out $err")"
    fi
else
    fail connector-serial-selects "yubihsm-connector --serial $SERIAL_D did not start: $(oneline "$(tail -n 5 /tmp/connector-12346.log)")"
fi

if start_connector 12347 --serial 99999999; then
    conn3=$connector_pid
    status=$(connector_status 12347)
    y http://127.0.0.1:12347 --password-file $PW info
    note "$err"
    if echo "$status" | grep -qx 'status=NO_DEVICE' && echo "$status" | grep -qx 'serial=0099999999' &&
        [ $rc = 1 ] && [ "$sent" = 0 ] &&
        echo "$err" | grep -q 'yubihsm-connector at http://127.0.0.1:12347 reports status=NO_DEVICE: it sees no YubiHSM 2'; then
        pass connector-wrong-serial
    else
        fail connector-wrong-serial "status $(oneline "$status"); info exit $rc: $(oneline "$out $err")"
    fi
    stop_connector "$conn3"
else
    fail connector-wrong-serial "yubihsm-connector --serial 99999999 did not start: $(oneline "$(tail -n 5 /tmp/connector-12347.log)")"
fi

# Unplug D while `yhsm list` waits for an answer through the connector, inside its session.
timeout 60 yhsm -v -c $HD --password-file $PW list >/tmp/cunplug.out 2>/tmp/cunplug.err &
client_pid=$!
if wait_until 20 grep -q '^<- authenticate-session' /tmp/cunplug.err; then
    sleep 0.1
    t0=$(now_cs)
    echo >"$CFG/usb_gadget/yhsm$SERIAL_D/UDC"
    wait_exit $client_pid 20
    elapsed=$(($(now_cs) - t0))
    message=$(grep '^yhsm: error:' /tmp/cunplug.err)
    note "$message (yhsm ended $((elapsed * 10)) ms after the unplug)"
    note "connector: $(grep -m 1 'failed usb proxy' /tmp/connector-12346.log | cut -c1-200)"
    if [ $status = 255 ]; then
        fail connector-unplug "yhsm still running 20 s after the unplug (hang)"
    elif [ $status = 1 ] && [ $elapsed -le 500 ] && [ "$(echo "$message" | wc -l)" = 1 ] &&
        echo "$message" | grep -q "yubihsm-connector at $HD answered HTTP 500 (Internal Server Error); it could not talk to the YubiHSM 2 over USB" &&
        grep -q 'failed usb proxy' /tmp/connector-12346.log; then
        pass connector-unplug
    else
        fail connector-unplug "exit $status after $((elapsed * 10)) ms: $(oneline "$(tail -n 3 /tmp/cunplug.err)")"
    fi
else
    kill $client_pid 2>/dev/null
    fail connector-unplug "no session opened: $(oneline "$(tail -n 5 /tmp/cunplug.err)")"
fi

stop_connector "$conn1"
stop_connector "$conn2"
wait_exit $pid_d 10
echo >"$CFG/usb_gadget/yhsm$SERIAL_C/UDC"
wait_exit $pid_c 10
# Both gone before gadget A: the checks after count on A being the only device.
wait_until 10 sh -c "! yhsm-usb-probe list | grep -q serial="
