#!/usr/bin/env bash
# A SoftHSM2 token served by `p11-kit server`, for the PKCS#11 key vault's tests and for local work.
#
#   bash scripts/hsm.sh start [DIR]   create (once) and start; prints the variables to export
#   bash scripts/hsm.sh env [DIR]     print the variables of a running HSM
#   bash scripts/hsm.sh status [DIR]  exit 0 when it runs
#   bash scripts/hsm.sh stop [DIR]    stop the server (the token stays in DIR)
#
# DIR defaults to $BACKOFFICE_HSM_DIR, else .hsm/ in the repository. `start` is idempotent: it
# creates the SoftHSM2 configuration and the token `backoffice` only when they are missing, and
# starts the server only when it does not answer. Use it as: eval "$(bash scripts/hsm.sh start)"
#
# Why a server: SoftHSM2 loaded into the Node process brings a second OpenSSL next to Node's and
# crashes under load (docs/keys.md). The server runs SoftHSM2 in a process of its own (one
# p11-kit-remote per connection); Node loads only p11-kit's small client module.
set -euo pipefail

TOKEN_LABEL=backoffice
# Test PINs: this token holds throw-away keys. Override them for anything else.
SO_PIN=${BACKOFFICE_HSM_SO_PIN:-87654321}
USER_PIN=${BACKOFFICE_HSM_PIN:-12345678}

repo=$(cd "$(dirname "$0")/.." && pwd)
command=${1:-start}
dir=${2:-${BACKOFFICE_HSM_DIR:-$repo/.hsm}}

say() { echo "hsm: $*" >&2; }
fail() {
  say "$*"
  exit 1
}

# The first existing file among the package's own list (dpkg -L) and the usual places.
find_module() {
  local package=$1 name=$2 override=$3 candidate
  if [[ -n $override ]]; then
    [[ -f $override ]] || fail "$override does not exist"
    echo "$override"
    return
  fi
  local multiarch
  multiarch=$(gcc -print-multiarch 2>/dev/null || dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)
  for candidate in $(dpkg -L "$package" 2>/dev/null | grep "/$name\$") \
    "/usr/lib/$multiarch/pkcs11/$name" "/usr/lib/$multiarch/softhsm/$name" "/usr/lib/softhsm/$name" \
    "/usr/lib64/pkcs11/$name" "/usr/lib/pkcs11/$name" "/usr/local/lib/softhsm/$name"; do
    if [[ -f $candidate ]]; then
      echo "$candidate"
      return
    fi
  done
  fail "$name not found: apt-get install -y softhsm2 p11-kit p11-kit-modules"
}

# A Unix socket path must stay under 108 bytes; a deep checkout falls back to the temporary folder.
socket_path() {
  local path=$dir/p11-kit.sock
  if ((${#path} > 100)); then
    path=${TMPDIR:-/tmp}/bo-hsm-$(echo -n "$dir" | sha256sum | cut -c1-12).sock
  fi
  echo "$path"
}

running() {
  [[ -f $dir/server.pid ]] || return 1
  local pid
  pid=$(cat "$dir/server.pid")
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null && [[ -S $(socket_path) ]]
}

print_env() {
  cat "$dir/env"
}

ensure_token() {
  mkdir -p "$dir/tokens"
  chmod 700 "$dir"
  if [[ ! -f $dir/softhsm2.conf ]]; then
    printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n' \
      "$dir/tokens" >"$dir/softhsm2.conf"
  fi
  export SOFTHSM2_CONF=$dir/softhsm2.conf
  if ! softhsm2-util --show-slots 2>/dev/null | grep -Eq "Label: +$TOKEN_LABEL +\$"; then
    say "initialising token '$TOKEN_LABEL' in $dir/tokens"
    softhsm2-util --init-token --free --label "$TOKEN_LABEL" --so-pin "$SO_PIN" --pin "$USER_PIN" >/dev/null
  fi
}

start() {
  command -v softhsm2-util >/dev/null && command -v p11-kit >/dev/null ||
    fail "softhsm2 and p11-kit are missing: apt-get install -y softhsm2 p11-kit p11-kit-modules"
  local provider client socket
  provider=$(find_module libsofthsm2 libsofthsm2.so "${SOFTHSM2_MODULE:-}")
  client=$(find_module p11-kit-modules p11-kit-client.so "${P11_KIT_CLIENT_MODULE:-}")
  if running; then
    print_env
    return
  fi
  ensure_token
  socket=$(socket_path)
  rm -f "$socket"
  # The server forks into the background; its stderr goes to a log so that `$(...)` does not wait on it.
  local output
  output=$(p11-kit server --provider "$provider" --name "$socket" --sh "pkcs11:token=$TOKEN_LABEL" 2>>"$dir/server.log") ||
    fail "p11-kit server did not start (see $dir/server.log)"
  local pid
  pid=$(sed -n 's/^P11_KIT_SERVER_PID=\([0-9]*\);.*/\1/p' <<<"$output")
  [[ -n $pid ]] || fail "unexpected output of p11-kit server: $output"
  echo "$pid" >"$dir/server.pid"
  for _ in $(seq 1 50); do
    [[ -S $socket ]] && break
    sleep 0.1
  done
  [[ -S $socket ]] || fail "the socket $socket did not appear (see $dir/server.log)"
  cat >"$dir/env" <<EOF
export P11_KIT_SERVER_ADDRESS=unix:path=$socket
export BACKOFFICE_TEST_PKCS11_MODULE=$client
export BACKOFFICE_TEST_PKCS11_TOKEN=$TOKEN_LABEL
export BACKOFFICE_TEST_PKCS11_PIN=$USER_PIN
EOF
  say "p11-kit server (pid $pid) serves token '$TOKEN_LABEL' at $socket"
  print_env
}

stop() {
  if running; then
    kill "$(cat "$dir/server.pid")"
    say "stopped"
  fi
  rm -f "$dir/server.pid" "$dir/env" "$(socket_path)"
}

case $command in
start) start ;;
stop) stop ;;
env) running && print_env || fail "not running: bash scripts/hsm.sh start" ;;
status) running ;;
*) fail "usage: bash scripts/hsm.sh start|env|status|stop [DIR]" ;;
esac
