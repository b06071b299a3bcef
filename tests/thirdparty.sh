# Sourced by the interop scripts: finds a third-party source tarball and checks it.
#
# thirdparty_tarball FILE SHA256 VAR: prints the path of FILE, taken from the environment
# variable VAR when it is set, else from the first `shared/thirdparty/FILE` found in the
# repository's parent directories (the layout of a checkout next to a shared directory of
# vendored sources), else anywhere up to four levels below the root; fails when none is found or when its sha256 is not SHA256.
# apt_install PACKAGE...: installs the Debian packages that are missing (root only).

thirdparty_tarball() {
    local file=$1 want=$2 var=$3 path= dir got
    if [ -n "${!var:-}" ]; then
        path=${!var}
        [ -f "$path" ] || {
            echo "$var=$path: no such file" >&2
            return 1
        }
    else
        dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
        while :; do
            if [ -f "$dir/shared/thirdparty/$file" ]; then
                path=$dir/shared/thirdparty/$file
                break
            fi
            [ "$dir" != / ] || break
            dir=$(dirname "$dir")
        done
        # A checkout elsewhere (a CI clone in a scratch directory): look for the same layout
        # anywhere near the top of the file system.
        [ -n "$path" ] || path=$(find / -maxdepth 4 \( -path /proc -o -path /sys -o -path /dev \) -prune \
            -o -path "*/shared/thirdparty/$file" -type f -print 2>/dev/null | head -n 1)
        [ -n "$path" ] || {
            echo "$file not found: set $var to its path (or place it in shared/thirdparty/ of a parent directory)" >&2
            return 1
        }
    fi
    got=$(sha256sum "$path" | cut -d' ' -f1)
    [ "$got" = "$want" ] || {
        echo "$path: sha256 $got, expected $want (not the release the tests were written for)" >&2
        return 1
    }
    echo "$path"
}

apt_install() {
    local missing=() p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -gt 0 ] || return 0
    if [ "$(id -u)" != 0 ]; then
        echo "missing packages ${missing[*]}: install them (apt-get install ${missing[*]}) or run as root" >&2
        return 1
    fi
    echo "apt-get install ${missing[*]}" >&2
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1; then
        apt-get update -qq >/dev/null 2>&1 || true
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || {
            echo "apt-get install ${missing[*]} failed" >&2
            return 1
        }
    fi
}
