#!/usr/bin/env bash
# Real Apache ActiveMQ Artemis for the AMQP 1.0 tests, from Maven Central's binary distribution
# (org.apache.activemq:apache-artemis:<version>:tar.gz:bin): no Docker, no Debian package.
# Serves only AMQP, only on 127.0.0.1: plain on 25673, TLS on 25674 (a self-signed certificate
# made with keytool when the instance is created; its PEM is <home>/tls/broker.pem).
#
#   scripts/artemis.sh fetch    fetch and unpack the distribution into the cache (idempotent)
#   scripts/artemis.sh start    start (or keep) the broker, data wiped; prints its amqp:// URL on stdout
#   scripts/artemis.sh stop     SIGTERM, up to 30 s, then SIGKILL
#   scripts/artemis.sh status   exit 0 if our broker is running and answering AMQP
#
# Needs only bash, coreutils, tar, java (17+, with keytool) and mvn (reaching Maven Central; the
# distribution stays in ~/.m2, so a second fetch is offline).
# Environment:
#   JUNCTION_ARTEMIS_HOME           cache folder: distribution + instance (default <repo>/.cache/artemis);
#                                   point it at another checkout's cache to use the broker started there
#   JUNCTION_ARTEMIS_VERSION        default 2.40.0
#   JUNCTION_ARTEMIS_PORT           AMQP port      (default 25673)
#   JUNCTION_ARTEMIS_TLS_PORT       AMQP+TLS port  (default 25674)
#   JUNCTION_ARTEMIS_USER           the one user   (default junction)
#   JUNCTION_ARTEMIS_PASSWORD       its password   (default junction-secret)
#   JUNCTION_ARTEMIS_START_TIMEOUT  seconds        (default 90)
#   JUNCTION_ARTEMIS_STOP_TIMEOUT   seconds        (default 30)
# Progress goes to stderr; `start` prints only "amqp://127.0.0.1:<port>" on stdout.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$SCRIPT_DIR/.." && pwd)"
SUPPORT="$SCRIPT_DIR/artemis"

HOST=127.0.0.1 # never "localhost": Node may resolve it to ::1
VERSION="${JUNCTION_ARTEMIS_VERSION:-2.40.0}"
PORT="${JUNCTION_ARTEMIS_PORT:-25673}"
TLS_PORT="${JUNCTION_ARTEMIS_TLS_PORT:-25674}"
USER_NAME="${JUNCTION_ARTEMIS_USER:-junction}"
PASSWORD="${JUNCTION_ARTEMIS_PASSWORD:-junction-secret}"
START_TIMEOUT="${JUNCTION_ARTEMIS_START_TIMEOUT:-90}"
STOP_TIMEOUT="${JUNCTION_ARTEMIS_STOP_TIMEOUT:-30}"
KEYSTORE_PASSWORD=junction-test-keystore # guards nothing: a throw-away test certificate

ARTEMIS_CACHE="${JUNCTION_ARTEMIS_HOME:-$REPO/.cache/artemis}"
mkdir -p "$ARTEMIS_CACHE"
ARTEMIS_CACHE="$(cd "$ARTEMIS_CACHE" && pwd -P)" # absolute, symlinks resolved: matched in the JVM's command line
DIST="$ARTEMIS_CACHE/apache-artemis-$VERSION"
INSTANCE="$ARTEMIS_CACHE/instance"
DATA="$INSTANCE/data"
TLS_DIR="$ARTEMIS_CACHE/tls"
KEYSTORE="$TLS_DIR/broker.p12"
LOG_DIR="$INSTANCE/log"
OUT_FILE="$LOG_DIR/artemis.out" # JVM stdout/stderr (the console log, crashes)
PID_FILE="$ARTEMIS_CACHE/artemis.pid"
DIST_STAMP="$DIST/.junction-complete"
INSTANCE_STAMP="$INSTANCE/.junction-complete"

log() { printf 'artemis.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
# alive, read_pid, running_pid, port_open, cmd_stop
source "$(dirname "${BASH_SOURCE[0]}")/lib/jvm-service.sh"

for v in PORT TLS_PORT START_TIMEOUT STOP_TIMEOUT; do
  [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a number, got '${!v}'"
done
[[ $PORT != "$TLS_PORT" ]] || die "JUNCTION_ARTEMIS_PORT and JUNCTION_ARTEMIS_TLS_PORT must differ"
[[ $VERSION =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "JUNCTION_ARTEMIS_VERSION must look like 2.40.0"
[[ $USER_NAME =~ ^[A-Za-z0-9._-]+$ ]] || die "JUNCTION_ARTEMIS_USER may hold only letters, digits, . _ -"
[[ -n $PASSWORD && $PASSWORD != *$'\n'* ]] || die "JUNCTION_ARTEMIS_PASSWORD must be one non-empty line"

java_home() {
  if [[ -n ${JAVA_HOME:-} && -x $JAVA_HOME/bin/java ]]; then
    printf '%s\n' "$JAVA_HOME"
  elif command -v java >/dev/null 2>&1; then
    local java
    java="$(readlink -f "$(command -v java)")"
    printf '%s\n' "${java%/bin/java}"
  else
    die "java (17 or newer) not found"
  fi
}

# ---------------------------------------------------------------- distribution and instance

cmd_fetch() {
  if [[ -f $DIST_STAMP ]]; then
    log "distribution already in $DIST"
    return 0
  fi
  command -v mvn >/dev/null 2>&1 || die "mvn not found"
  local tmp="$ARTEMIS_CACHE/fetch.tmp.$$"
  rm -rf "$ARTEMIS_CACHE"/fetch.tmp.* # leftovers of an interrupted fetch
  mkdir -p "$tmp"
  log "fetching apache-artemis $VERSION (bin) with Maven ..."
  # </dev/null: CI has no stdin; -B: batch mode. Maven prints stray colour codes even with -q,
  # so its output goes to a file, shown only on failure. No POM needed for dependency:copy.
  local mvn_log="$ARTEMIS_CACHE/mvn.log"
  if ! (cd "$tmp" && mvn -B -q org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy \
      "-Dartifact=org.apache.activemq:apache-artemis:$VERSION:tar.gz:bin" \
      -DoutputDirectory="$tmp" </dev/null >"$mvn_log" 2>&1); then
    cat "$mvn_log" >&2
    rm -rf "$tmp"
    die "mvn failed to fetch apache-artemis $VERSION (log: $mvn_log)"
  fi
  tar -xzf "$tmp/apache-artemis-$VERSION-bin.tar.gz" -C "$tmp" ||
    { rm -rf "$tmp"; die "could not unpack apache-artemis-$VERSION-bin.tar.gz"; }
  [[ -x $tmp/apache-artemis-$VERSION/bin/artemis ]] ||
    { rm -rf "$tmp"; die "the archive holds no apache-artemis-$VERSION/bin/artemis"; }
  touch "$tmp/apache-artemis-$VERSION/.junction-complete"
  rm -rf "$DIST"
  mv "$tmp/apache-artemis-$VERSION" "$DIST"
  rm -rf "$tmp"
  log "distribution ready in $DIST"
}

# The instance (bin/, etc/) is created once per version; broker.xml and the users are rewritten
# on every start, so a change of port or password needs no new instance.
ensure_instance() {
  if [[ -f $INSTANCE_STAMP && "$(<"$INSTANCE_STAMP")" == "$VERSION" ]]; then return 0; fi
  [[ $INSTANCE == "$ARTEMIS_CACHE"/* ]] || die "refusing to wipe '$INSTANCE'"
  rm -rf "$INSTANCE"
  log "creating the broker instance in $INSTANCE ..."
  # The user given here is replaced at start; --no-autotune skips a disk benchmark.
  if ! JAVA_HOME="$(java_home)" "$DIST/bin/artemis" create --silent --force \
      --user "$USER_NAME" --password "$PASSWORD" --require-login \
      --host "$HOST" --no-web --no-autotune --nio \
      --no-hornetq-acceptor --no-mqtt-acceptor --no-stomp-acceptor \
      --java-memory 512M "$INSTANCE" </dev/null >"$ARTEMIS_CACHE/create.log" 2>&1; then
    cat "$ARTEMIS_CACHE/create.log" >&2
    die "artemis create failed"
  fi
  printf '%s\n' "$VERSION" >"$INSTANCE_STAMP"
}

ensure_certificate() {
  [[ -f $KEYSTORE && -f $TLS_DIR/broker.pem ]] && return 0
  local keytool
  keytool="$(java_home)/bin/keytool"
  [[ -x $keytool ]] || die "keytool not found next to java"
  rm -rf "$TLS_DIR"
  mkdir -p "$TLS_DIR"
  log "making a self-signed certificate for $HOST ..."
  "$keytool" -genkeypair -alias broker -keyalg RSA -keysize 2048 -validity 3650 \
    -dname "CN=$HOST, O=Junction test broker" -ext "SAN=IP:$HOST,DNS:localhost" \
    -storetype PKCS12 -keystore "$KEYSTORE" -storepass "$KEYSTORE_PASSWORD" \
    </dev/null >"$TLS_DIR/keytool.log" 2>&1 || { cat "$TLS_DIR/keytool.log" >&2; die "keytool -genkeypair failed"; }
  "$keytool" -exportcert -rfc -alias broker -keystore "$KEYSTORE" -storepass "$KEYSTORE_PASSWORD" \
    -file "$TLS_DIR/broker.pem" </dev/null >>"$TLS_DIR/keytool.log" 2>&1 ||
    { cat "$TLS_DIR/keytool.log" >&2; die "keytool -exportcert failed"; }
}

write_config() {
  local t
  t="$(<"$SUPPORT/broker.xml.in")"
  t="${t//@HOST@/$HOST}"
  t="${t//@PORT@/$PORT}"
  t="${t//@TLS_PORT@/$TLS_PORT}"
  t="${t//@DATA@/$DATA}"
  t="${t//@KEYSTORE@/$KEYSTORE}"
  t="${t//@KEYSTORE_PASSWORD@/$KEYSTORE_PASSWORD}"
  printf '%s\n' "$t" >"$INSTANCE/etc/broker.xml"
  # Artemis' properties login module reads plain passwords as well as ENC(...) ones.
  umask 077
  printf '%s = %s\n' "$USER_NAME" "$PASSWORD" >"$INSTANCE/etc/artemis-users.properties"
  printf 'amq = %s\n' "$USER_NAME" >"$INSTANCE/etc/artemis-roles.properties"
  umask 022
}

# ---------------------------------------------------------------- process helpers

# ours PID: a live JVM started by this script for this cache folder (guards against pid reuse).
ours() {
  local pid=$1 cmd
  alive "$pid" || return 1
  cmd="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" || return 1
  [[ $cmd == *"-Djunction.artemis.home=$ARTEMIS_CACHE "* && $cmd == *"org.apache.activemq.artemis.boot.Artemis"* ]]
}

# answering: the AMQP port answers the SASL protocol header with its own (a real AMQP 1.0
# round trip in pure bash, not just an open socket).
answering() {
  local hex
  # shellcheck disable=SC2016 # $0/$1 expand in the inner bash
  hex="$(timeout 5 bash -c '
    exec 3<>"/dev/tcp/$0/$1" || exit 1
    printf "AMQP\x03\x01\x00\x00" >&3
    head -c 8 <&3 | od -An -v -tx1
  ' "$HOST" "$PORT" 2>/dev/null)" || true
  [[ ${hex//[[:space:]]/} == 414d515003010000 ]]
}

print_tail() {
  local f shown=""
  for f in "$LOG_DIR/artemis.log" "$OUT_FILE"; do
    if [[ -s $f ]]; then
      log "---- last 60 lines of $f ----"
      tail -n 60 "$f" >&2
      shown=1
    fi
  done
  [[ -n $shown ]] || log "(no broker log yet in $LOG_DIR)"
}

# ---------------------------------------------------------------- stop / status

cmd_status() {
  local pid
  pid="$(running_pid)"
  if [[ -z $pid ]]; then
    log "not running"
    return 1
  fi
  if answering; then
    log "running (pid $pid), answering AMQP on $HOST:$PORT (TLS $HOST:$TLS_PORT)"
    return 0
  fi
  log "running (pid $pid) but not answering on $HOST:$PORT"
  return 1
}

# ---------------------------------------------------------------- start

cmd_start() {
  local pid
  pid="$(running_pid)"
  if [[ -n $pid ]]; then
    if answering; then
      log "already running (pid $pid)"
      printf 'amqp://%s:%s\n' "$HOST" "$PORT"
      return 0
    fi
    log "pid $pid is ours but does not answer: restarting it"
    cmd_stop
  fi
  rm -f "$PID_FILE"

  local p
  for p in "$PORT" "$TLS_PORT"; do
    port_open "$p" && die "port $HOST:$p is already in use by another process (set JUNCTION_ARTEMIS_PORT / JUNCTION_ARTEMIS_TLS_PORT)"
  done

  cmd_fetch
  ensure_instance
  ensure_certificate
  [[ -n $DATA && $DATA == "$INSTANCE"/* ]] || die "refusing to wipe '$DATA'"
  rm -rf "$DATA" "$INSTANCE/tmp"
  mkdir -p "$DATA" "$LOG_DIR" "$INSTANCE/tmp"
  write_config

  log "starting broker on $HOST:$PORT (TLS $HOST:$TLS_PORT) ..."
  rm -f "$OUT_FILE" "$LOG_DIR/artemis.log"
  # JAVA_ARGS replaces the instance profile's (2 GB-free defaults); the marker lets `ours` know
  # the JVM. stdin from /dev/null and output to a file: callers capturing our output
  # (e.g. child_process.execSync) must not wait on pipes held open by the JVM.
  JAVA_HOME="$(java_home)" \
    JAVA_ARGS="-Xms64m -Xmx512m -XX:+UseG1GC -XX:+ExitOnOutOfMemoryError -XX:TieredStopAtLevel=1 -Djava.awt.headless=true -Dlog4j2.disableJmx=true --add-opens java.base/jdk.internal.misc=ALL-UNNAMED" \
    JAVA_ARGS_APPEND="-Djunction.artemis.home=$ARTEMIS_CACHE" \
    nohup "$INSTANCE/bin/artemis" run </dev/null >"$OUT_FILE" 2>&1 &
  pid=$!
  printf '%s\n' "$pid" >"$PID_FILE"

  local started=$SECONDS deadline=$((SECONDS + START_TIMEOUT))
  while :; do
    if ! alive "$pid"; then
      wait "$pid" 2>/dev/null || true
      print_tail
      rm -f "$PID_FILE"
      die "broker exited during start-up"
    fi
    answering && break
    if ((SECONDS >= deadline)); then
      print_tail
      log "not ready after ${START_TIMEOUT}s: stopping it"
      cmd_stop || true
      die "broker did not start within ${START_TIMEOUT}s"
    fi
    sleep 0.25
  done
  log "ready in $((SECONDS - started))s (pid $pid); log: $LOG_DIR/artemis.log"
  printf 'amqp://%s:%s\n' "$HOST" "$PORT"
}

case "${1:-}" in
  fetch) cmd_fetch ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  *)
    echo "usage: $0 {fetch|start|stop|status}" >&2
    exit 2
    ;;
esac
