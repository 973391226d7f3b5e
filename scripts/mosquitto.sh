#!/usr/bin/env bash
# scripts/mosquitto.sh - a private Mosquitto (Debian's `mosquitto`) for Junction's MQTT tests.
#
#   scripts/mosquitto.sh start    (re)write the config, start (or keep) our broker, wait until it answers
#   scripts/mosquitto.sh stop     SIGTERM (persistence is saved), up to 15 s, then SIGKILL
#   scripts/mosquitto.sh status   exit 0 if our broker is running and answering, 3 if stopped
#   scripts/mosquitto.sh env      print the connection facts as shell exports
#
# Environment:
#   JUNCTION_MOSQUITTO_HOME      instance folder (default <repo>/.cache/mosquitto); point it at an
#                                instance started from another checkout to use that one
#   JUNCTION_MOSQUITTO_PORT      plain MQTT port (default 18830)
#   JUNCTION_MOSQUITTO_TLS_PORT  MQTT over TLS port (default 18831)
#
# Never the system broker on 1883: this one listens on 127.0.0.1 only, with its own config, a test
# CA and server certificate (openssl), a password file (user junction, password junction-secret;
# anonymous clients are refused) and persistence on, so that QoS 1 sessions and the messages queued
# for them survive a broker restart.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SCRIPT_DIR/.." && pwd)
# mosquitto lives in /usr/sbin, which is not always on PATH.
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

HOST=127.0.0.1 # never "localhost": Node may resolve it to ::1
PORT=${JUNCTION_MOSQUITTO_PORT:-18830}
TLS_PORT=${JUNCTION_MOSQUITTO_TLS_PORT:-18831}
TEST_USER=junction
TEST_PASSWORD=junction-secret
START_TIMEOUT=20

log() { printf 'mosquitto.sh: %s\n' "$*" >&2; }
die() { printf 'mosquitto.sh: ERROR: %s\n' "$*" >&2; exit 1; }

for v in PORT TLS_PORT; do
  [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a number, got '${!v}'"
done
[[ $PORT != 1883 && $TLS_PORT != 1883 ]] || die "1883 is the system broker's port; pick another"

MQ_HOME=${JUNCTION_MOSQUITTO_HOME:-$REPO/.cache/mosquitto}
case $MQ_HOME in "" | /) die "refusing to use '$MQ_HOME' as JUNCTION_MOSQUITTO_HOME" ;; esac
mkdir -p "$MQ_HOME"
MQ_HOME=$(cd "$MQ_HOME" && pwd) # absolute: it is matched in the broker's command line
CONF=$MQ_HOME/mosquitto.conf
DATA_DIR=$MQ_HOME/data
TLS_DIR=$MQ_HOME/tls
PASSWD=$MQ_HOME/passwd
PID_FILE=$MQ_HOME/mosquitto.pid
LOG_FILE=$MQ_HOME/mosquitto.log
CA_CERT=$TLS_DIR/ca.crt

take_lock() {
  if command -v flock >/dev/null 2>&1; then
    exec 9>"$MQ_HOME/.lock"
    flock -w 60 9 || die "another scripts/mosquitto.sh holds $MQ_HOME/.lock"
  fi
}

# ---------------------------------------------------------------- install --

as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo -n "$@"
  else
    die "need root (or password-less sudo) to run: $*"
  fi
}

packages_missing() {
  local tool
  for tool in mosquitto mosquitto_passwd mosquitto_sub; do
    command -v "$tool" >/dev/null 2>&1 || return 0
  done
  return 1
}

apt_install() {
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
    -o DPkg::Lock::Timeout=300 mosquitto mosquitto-clients
}

# The package's own broker (1883) is left alone: it is not ours, and these tests never use it.
do_install() {
  packages_missing || return 0
  log "installing mosquitto + mosquitto-clients (non-interactive)"
  if ! apt_install; then
    log "apt-get install failed; retrying after apt-get update (stale lists?)"
    as_root apt-get update -q -o DPkg::Lock::Timeout=300
    apt_install
  fi
  hash -r
  packages_missing && die "mosquitto still missing after apt-get install"
  return 0
}

# -------------------------------------------------------------------- tls --

# A throw-away CA and a server certificate it signs for 127.0.0.1 and localhost, kept across
# restarts (clients may hold the CA) unless missing, expiring within a day or not matching.
ensure_tls() {
  mkdir -p "$TLS_DIR"
  chmod 700 "$TLS_DIR"
  if [ -s "$CA_CERT" ] && [ -s "$TLS_DIR/server.crt" ] && [ -s "$TLS_DIR/server.key" ] &&
    openssl x509 -noout -checkend 86400 -in "$TLS_DIR/server.crt" >/dev/null 2>&1 &&
    openssl verify -CAfile "$CA_CERT" -verify_ip 127.0.0.1 "$TLS_DIR/server.crt" >/dev/null 2>&1 &&
    [ "$(openssl x509 -noout -pubkey -in "$TLS_DIR/server.crt" 2>/dev/null)" = \
      "$(openssl pkey -pubout -in "$TLS_DIR/server.key" 2>/dev/null)" ]; then
    return 0
  fi
  log "generating a test CA and server certificate in $TLS_DIR"
  local cnf=$TLS_DIR/openssl.cnf
  cat >"$cnf" <<'EOF'
[ req ]
distinguished_name = dn
prompt = no
[ dn ]
O = Junction Test
CN = Junction Test MQTT CA
[ v3_ca ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[ v3_server ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
  rm -f "$TLS_DIR"/ca.* "$TLS_DIR"/server.*
  (
    umask 077
    openssl req -config "$cnf" -x509 -new -newkey rsa:2048 -nodes -sha256 -days 3650 \
      -extensions v3_ca -keyout "$TLS_DIR/ca.key" -out "$CA_CERT" 2>/dev/null
    openssl req -config "$cnf" -new -newkey rsa:2048 -nodes -sha256 \
      -subj "/O=Junction Test/CN=localhost" \
      -keyout "$TLS_DIR/server.key" -out "$TLS_DIR/server.csr" 2>/dev/null
    openssl x509 -req -in "$TLS_DIR/server.csr" -sha256 -days 3650 \
      -CA "$CA_CERT" -CAkey "$TLS_DIR/ca.key" -set_serial "0x$(openssl rand -hex 16)" \
      -extfile "$cnf" -extensions v3_server -out "$TLS_DIR/server.crt" 2>/dev/null
  ) || die "openssl failed to create the test certificates"
  rm -f "$TLS_DIR/server.csr"
  chmod 644 "$CA_CERT" "$TLS_DIR/server.crt"
}

# ----------------------------------------------------------------- config --

write_config() {
  mkdir -p "$DATA_DIR"
  rm -f "$PASSWD"
  (umask 077 && : >"$PASSWD")
  mosquitto_passwd -b "$PASSWD" "$TEST_USER" "$TEST_PASSWORD" >/dev/null 2>&1 ||
    die "mosquitto_passwd could not write $PASSWD"
  # Started as root, mosquitto drops to user `mosquitto` unless told to stay: it must read and
  # write this folder, so it runs as whoever runs the script.
  cat >"$CONF" <<EOF
# Written by scripts/mosquitto.sh on every start; edits are lost.
user $(id -un)
pid_file $PID_FILE
log_dest file $LOG_FILE
log_type error
log_type warning
log_type notice
connection_messages true

persistence true
persistence_location $DATA_DIR/
autosave_interval 5

per_listener_settings false
allow_anonymous false
password_file $PASSWD
# Offline persistent sessions keep their queued QoS 1 messages, however many (fault tests queue
# thousands while a gateway is down).
max_queued_messages 0
max_inflight_messages 100

listener $PORT $HOST

listener $TLS_PORT $HOST
cafile $CA_CERT
certfile $TLS_DIR/server.crt
keyfile $TLS_DIR/server.key
EOF
}

# ------------------------------------------------------------ our process --

# Is $1 a live mosquitto started with our config?
is_ours() {
  local pid=$1 cmd
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
  cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
  case $cmd in *mosquitto*"-c $CONF "*) return 0 ;; esac
  return 1
}

# Pid of our broker: from the pid file, else by scanning /proc (a killed broker leaves a stale file).
our_pid() {
  local pid d
  if [ -s "$PID_FILE" ]; then
    pid=$(tr -dc '0-9' <"$PID_FILE")
    if is_ours "$pid"; then echo "$pid"; return 0; fi
  fi
  for d in /proc/[0-9]*; do
    [ "$(cat "$d/comm" 2>/dev/null)" = mosquitto ] || continue
    if is_ours "${d#/proc/}"; then echo "${d#/proc/}"; return 0; fi
  done
  return 1
}

# A real MQTT round trip: $SYS/broker/version is retained, so a subscriber gets it at once.
answering() {
  mosquitto_sub -h "$HOST" -p "$PORT" -u "$TEST_USER" -P "$TEST_PASSWORD" -i "junction-ready-$$" \
    -t '$SYS/broker/version' -C 1 -W 2 >/dev/null 2>&1
}

answering_tls() {
  mosquitto_sub -h "$HOST" -p "$TLS_PORT" --cafile "$CA_CERT" -u "$TEST_USER" -P "$TEST_PASSWORD" \
    -i "junction-ready-tls-$$" -t '$SYS/broker/version' -C 1 -W 5 >/dev/null 2>&1
}

port_busy() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

do_stop() {
  local pid
  if ! pid=$(our_pid); then
    rm -f "$PID_FILE"
    log "not running"
    return 0
  fi
  log "stopping mosquitto (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + 15))
  while is_ours "$pid"; do
    if [ $SECONDS -ge $deadline ]; then
      log "mosquitto did not exit after SIGTERM; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.2
      break
    fi
    sleep 0.1
  done
  rm -f "$PID_FILE"
  log "stopped"
}

LAUNCHED_PID=
on_start_exit() {
  local rc=$?
  if [ "$rc" -ne 0 ] && [ -n "$LAUNCHED_PID" ]; then
    kill -TERM "$LAUNCHED_PID" 2>/dev/null || true
    log "stopped the half-started mosquitto (pid $LAUNCHED_PID)"
  fi
}

do_start() {
  local pid
  do_install
  if pid=$(our_pid); then
    if answering; then
      log "already running (pid $pid)"
      print_facts "$pid"
      return 0
    fi
    log "pid $pid is ours but does not answer: restarting it"
    do_stop
  fi
  for port in "$PORT" "$TLS_PORT"; do
    if port_busy "$port"; then
      ss -ltnp 2>/dev/null | grep -E "[:.]$port\b" >&2 || true
      die "port $HOST:$port is already in use by another process (another JUNCTION_MOSQUITTO_HOME?)"
    fi
  done
  ensure_tls
  write_config
  rm -f "$PID_FILE"
  # -d daemonises (and writes the pid file); 9>&- keeps our lock from being inherited.
  mosquitto -c "$CONF" -d </dev/null >>"$LOG_FILE" 2>&1 9>&- || {
    tail -n 20 "$LOG_FILE" >&2 || true
    die "mosquitto did not start (log: $LOG_FILE)"
  }
  trap on_start_exit EXIT
  local deadline=$((SECONDS + START_TIMEOUT))
  until pid=$(our_pid) && answering; do
    LAUNCHED_PID=${pid:-}
    if [ $SECONDS -ge $deadline ]; then
      tail -n 20 "$LOG_FILE" >&2 || true
      die "mosquitto did not answer on $HOST:$PORT within ${START_TIMEOUT}s (log: $LOG_FILE)"
    fi
    sleep 0.1
  done
  LAUNCHED_PID=$pid
  answering_tls || die "MQTT over TLS does not answer on $HOST:$TLS_PORT (log: $LOG_FILE)"
  LAUNCHED_PID=
  log "mosquitto is up (pid $pid)"
  print_facts "$pid"
}

print_facts() {
  cat <<EOF
Junction test Mosquitto is running (pid $1)
  URL       mqtt://$HOST:$PORT
  TLS URL   mqtts://$HOST:$TLS_PORT   (CA: $CA_CERT)
  User      $TEST_USER   (password: $TEST_PASSWORD)
  Home      $MQ_HOME   (log: $LOG_FILE)
EOF
}

do_status() {
  local pid
  if pid=$(our_pid); then
    if answering; then
      echo "running (pid $pid) on mqtt://$HOST:$PORT and mqtts://$HOST:$TLS_PORT, home $MQ_HOME"
      return 0
    fi
    echo "running (pid $pid) but not answering on $HOST:$PORT (log: $LOG_FILE)"
    return 1
  fi
  echo "stopped (home $MQ_HOME)"
  return 3
}

do_env() {
  cat <<EOF
export JUNCTION_MQTT_URL='mqtt://$HOST:$PORT'
export JUNCTION_MQTTS_URL='mqtts://$HOST:$TLS_PORT'
export JUNCTION_MQTT_USER='$TEST_USER'
export JUNCTION_MQTT_PASSWORD='$TEST_PASSWORD'
export JUNCTION_MQTT_CA_CERT='$CA_CERT'
EOF
}

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//'
}

case ${1:-} in
  start) take_lock; do_start ;;
  stop) take_lock; do_stop ;;
  status) do_status ;;
  env) do_env ;;
  -h | --help | help) usage ;;
  *) usage >&2; exit 2 ;;
esac
