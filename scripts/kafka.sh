#!/usr/bin/env bash
# Real single-node Apache Kafka (KRaft, broker+controller combined) for tests,
# built from Maven Central jars: no Docker, no Kafka package. See docs/kafka.md.
#
#   scripts/kafka.sh jars     fetch the broker jars into the cache (idempotent)
#   scripts/kafka.sh start    start (or keep) the broker; prints the bootstrap address on stdout
#   scripts/kafka.sh stop     SIGTERM, up to 30 s, then SIGKILL
#   scripts/kafka.sh status   exit 0 if our broker is running and answering
#
# Needs only bash, coreutils, java (17+) and mvn (reaching Maven Central).
# Environment:
#   JUNCTION_KAFKA_HOME             cache folder      (default <repo>/.cache/kafka)
#   JUNCTION_KAFKA_PORT             PLAINTEXT port    (default 19092)
#   JUNCTION_KAFKA_CONTROLLER_PORT  controller port   (default 19093)
#   JUNCTION_KAFKA_START_TIMEOUT    seconds           (default 90)
#   JUNCTION_KAFKA_STOP_TIMEOUT     seconds           (default 30)
# Progress goes to stderr; `start` prints only "127.0.0.1:<port>" on stdout.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$SCRIPT_DIR/.." && pwd)"
SUPPORT="$SCRIPT_DIR/kafka"

HOST=127.0.0.1 # never "localhost": Node may resolve it to ::1
PORT="${JUNCTION_KAFKA_PORT:-19092}"
CONTROLLER_PORT="${JUNCTION_KAFKA_CONTROLLER_PORT:-19093}"
START_TIMEOUT="${JUNCTION_KAFKA_START_TIMEOUT:-90}"
STOP_TIMEOUT="${JUNCTION_KAFKA_STOP_TIMEOUT:-30}"
CLUSTER_ID="SnVuY3Rpb24tS2Fma2EtMQ" # base64url("Junction-Kafka-1"), 22 chars

KAFKA_HOME="${JUNCTION_KAFKA_HOME:-$REPO/.cache/kafka}"
mkdir -p "$KAFKA_HOME"
KAFKA_HOME="$(cd "$KAFKA_HOME" && pwd -P)" # absolute, symlinks resolved: matched in the JVM's command line
LIBS="$KAFKA_HOME/libs"
DATA="$KAFKA_HOME/data"
LOG_DIR="$KAFKA_HOME/logs"
LOG_FILE="$LOG_DIR/server.log"  # log4j2 output (INFO)
OUT_FILE="$LOG_DIR/kafka.out"   # JVM stdout/stderr (crashes, log4j status)
PID_FILE="$KAFKA_HOME/kafka.pid"
PROPS="$KAFKA_HOME/server.properties"
STAMP="$LIBS/.junction-complete"

log() { printf 'kafka.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
# alive, read_pid, running_pid, port_open, cmd_stop
source "$(dirname "${BASH_SOURCE[0]}")/lib/jvm-service.sh"

for v in PORT CONTROLLER_PORT START_TIMEOUT STOP_TIMEOUT; do
  [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a number, got '${!v}'"
done
[[ $PORT != "$CONTROLLER_PORT" ]] || die "JUNCTION_KAFKA_PORT and JUNCTION_KAFKA_CONTROLLER_PORT must differ"

java_bin() {
  if [[ -n ${JAVA_HOME:-} && -x $JAVA_HOME/bin/java ]]; then
    printf '%s\n' "$JAVA_HOME/bin/java"
  elif command -v java >/dev/null 2>&1; then
    command -v java
  else
    die "java (17 or newer) not found"
  fi
}

# ---------------------------------------------------------------- jars

pom_hash() { sha256sum "$SUPPORT/pom.xml" | cut -d' ' -f1; }

jars_ok() { [[ -f $STAMP && "$(<"$STAMP")" == "$(pom_hash)" ]]; }

cmd_jars() {
  if jars_ok; then
    log "jars already in $LIBS"
    return 0
  fi
  command -v mvn >/dev/null 2>&1 || die "mvn not found"
  local tmp="$KAFKA_HOME/libs.tmp.$$"
  rm -rf "$KAFKA_HOME"/libs.tmp.* # leftovers of an interrupted fetch
  log "fetching Kafka jars with Maven into $LIBS ..."
  # </dev/null: CI has no stdin; -B: batch mode. Maven 3.8 prints stray colour codes even
  # with -q, so its output goes to a file, shown only on failure.
  local mvn_log="$KAFKA_HOME/mvn.log"
  if ! mvn -B -q -f "$SUPPORT/pom.xml" \
      org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies \
      -DincludeScope=runtime -DoutputDirectory="$tmp" </dev/null >"$mvn_log" 2>&1; then
    cat "$mvn_log" >&2
    rm -rf "$tmp"
    die "mvn failed to fetch the Kafka jars (log: $mvn_log)"
  fi
  compgen -G "$tmp/kafka_2.13-*.jar" >/dev/null || { rm -rf "$tmp"; die "no kafka_2.13 jar was copied"; }
  pom_hash >"$tmp/.junction-complete"
  rm -rf "$LIBS"
  mv "$tmp" "$LIBS"
  log "jars ready: $(compgen -G "$LIBS/*.jar" | wc -l) files"
}

# ---------------------------------------------------------------- process helpers

# ours PID: a live JVM started by this script for this KAFKA_HOME (guards against pid reuse).
ours() {
  local pid=$1 cmd
  alive "$pid" || return 1
  cmd="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" || return 1
  [[ $cmd == *"-Djunction.kafka.home=$KAFKA_HOME "* && $cmd == *" kafka.Kafka "* ]]
}

# rpc REQUEST N: send REQUEST (a printf format of a whole, size-prefixed Kafka request) to
# 127.0.0.1:PORT and print the first N bytes of the response as hex (empty on failure).
# Pure bash + coreutils, so readiness is a real protocol round trip, not just an open socket.
# All requests use header v1: api_key, api_version, correlation_id, client_id "junction".
rpc() {
  local hex
  # shellcheck disable=SC2016 # $0..$3 expand in the inner bash
  hex="$(timeout 5 bash -c '
    exec 3<>"/dev/tcp/$0/$1" || exit 1
    printf "$2" >&3
    head -c "$3" <&3 | od -An -v -tx1
  ' "$HOST" "$PORT" "$1" "$2" 2>/dev/null)" || true
  printf '%s\n' "${hex//[[:space:]]/}"
}

# answering: ApiVersions v0 (key 18) gets a response with our correlation id and error NONE.
answering() {
  local hex
  hex="$(rpc '\x00\x00\x00\x12\x00\x12\x00\x00\x00\x00\x4a\x4e\x00\x08junction' 10)"
  # size(4) correlation_id(4) error_code(2)
  [[ ${#hex} -eq 20 && ${hex:8:8} == 00004a4e && ${hex:16:4} == 0000 ]]
}

# find_coordinator KEY_TYPE: FindCoordinator v2 (key 10) for key "junction-warmup", KEY_TYPE
# 0 = group, 1 = transaction. Prints the error code as 4 hex digits (0000 = ready, 000f =
# COORDINATOR_NOT_AVAILABLE). The first call creates __consumer_offsets / __transaction_state.
find_coordinator() {
  local hex
  hex="$(rpc "\\x00\\x00\\x00\\x24\\x00\\x0a\\x00\\x02\\x00\\x00\\x4a\\x4f\\x00\\x08junction\\x00\\x0fjunction-warmup\\x0$1" 14)"
  # size(4) correlation_id(4) throttle_time_ms(4) error_code(2)
  [[ ${#hex} -eq 28 && ${hex:8:8} == 00004a4f ]] && printf '%s\n' "${hex:24:4}"
}

# init_producer_id: InitProducerId v1 (key 22), transactional_id null (an idempotent producer).
# Prints the error code (000e = COORDINATOR_LOAD_IN_PROGRESS while the broker fetches its first
# block of producer ids from the controller).
init_producer_id() {
  local hex
  hex="$(rpc '\x00\x00\x00\x18\x00\x16\x00\x01\x00\x00\x4a\x50\x00\x08junction\xff\xff\x00\x00\x75\x30' 14)"
  # size(4) correlation_id(4) throttle_time_ms(4) error_code(2)
  [[ ${#hex} -eq 28 && ${hex:8:8} == 00004a50 ]] && printf '%s\n' "${hex:24:4}"
}

# warm_up: make the first consumer group, transactional and idempotent producer of the tests
# succeed at once instead of after a retried COORDINATOR_NOT_AVAILABLE / LOAD_IN_PROGRESS.
# Best effort, never fatal: clients retry these errors anyway.
warm_up() {
  local what err deadline=$((SECONDS + 20))
  for what in "group coordinator:find_coordinator 0" "transaction coordinator:find_coordinator 1" \
    "producer ids:init_producer_id"; do
    while :; do
      err="$(${what#*:} || true)"
      [[ $err == 0000 ]] && break
      if ((SECONDS >= deadline)); then
        log "warning: ${what%%:*} not ready yet (error '${err:-no answer}'); clients will retry"
        break
      fi
      sleep 0.2
    done
  done
}

print_tail() {
  local f shown=""
  for f in "$LOG_FILE" "$OUT_FILE"; do
    if [[ -s $f ]]; then
      log "---- last 60 lines of $f ----"
      tail -n 60 "$f" >&2
      shown=1
    fi
  done
  [[ -n $shown ]] || log "($LOG_FILE and $OUT_FILE are empty)"
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
    log "running (pid $pid), answering on $HOST:$PORT"
    return 0
  fi
  log "running (pid $pid) but not answering on $HOST:$PORT"
  return 1
}

# ---------------------------------------------------------------- start

write_props() {
  local t
  t="$(<"$SUPPORT/server.properties.in")"
  t="${t//@HOST@/$HOST}"
  t="${t//@PORT@/$PORT}"
  t="${t//@CONTROLLER_PORT@/$CONTROLLER_PORT}"
  t="${t//@DATA_DIR@/$DATA}"
  printf '%s\n' "$t" >"$PROPS"
}

cmd_start() {
  cmd_jars
  local java pid
  java="$(java_bin)"

  pid="$(running_pid)"
  if [[ -n $pid ]]; then
    if answering; then
      log "already running (pid $pid)"
      printf '%s:%s\n' "$HOST" "$PORT"
      return 0
    fi
    log "pid $pid is ours but does not answer: restarting it"
    cmd_stop
  fi
  rm -f "$PID_FILE"

  local p
  for p in "$PORT" "$CONTROLLER_PORT"; do
    port_open "$p" && die "port $HOST:$p is already in use by another process (set JUNCTION_KAFKA_PORT / JUNCTION_KAFKA_CONTROLLER_PORT)"
  done

  [[ -n $DATA && $DATA == "$KAFKA_HOME"/* ]] || die "refusing to wipe '$DATA'"
  rm -rf "$DATA"
  mkdir -p "$DATA" "$LOG_DIR"
  write_props

  local common=(-Djava.awt.headless=true
    "-Dlog4j2.configurationFile=$SUPPORT/log4j2.properties"
    "-Dkafka.logs.dir=$LOG_DIR"
    -cp "$LIBS/*")

  log "formatting KRaft storage in $DATA ..."
  if ! "$java" -Xmx256m -Djunction.kafka.logfile=format.log "${common[@]}" \
      kafka.tools.StorageTool format --config "$PROPS" --cluster-id "$CLUSTER_ID" \
      </dev/null >"$LOG_DIR/format.out" 2>&1; then
    cat "$LOG_DIR/format.out" >&2
    die "kafka.tools.StorageTool format failed"
  fi

  log "starting broker on $HOST:$PORT (controller $HOST:$CONTROLLER_PORT) ..."
  rm -f "$LOG_FILE" "$OUT_FILE"
  # stdin from /dev/null and stdout/stderr to a file: callers capturing our output
  # (e.g. child_process.execSync) must not wait on pipes held open by the JVM.
  nohup "$java" -Xms256m -Xmx512m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
    -XX:+ExitOnOutOfMemoryError \
    "-Djunction.kafka.home=$KAFKA_HOME" \
    "${common[@]}" \
    kafka.Kafka "$PROPS" </dev/null >"$OUT_FILE" 2>&1 &
  pid=$!
  printf '%s\n' "$pid" >"$PID_FILE"

  local started=$SECONDS deadline=$((SECONDS + START_TIMEOUT)) log_ok=""
  while :; do
    if ! alive "$pid"; then
      wait "$pid" 2>/dev/null || true
      print_tail
      rm -f "$PID_FILE"
      die "broker exited during start-up"
    fi
    if [[ -z $log_ok && -f $LOG_FILE ]] && [[ "$(<"$LOG_FILE")" == *"Kafka Server started"* ]]; then
      log_ok=1
    fi
    if [[ -n $log_ok ]] && answering; then
      break
    fi
    if ((SECONDS >= deadline)); then
      print_tail
      log "not ready after ${START_TIMEOUT}s: stopping it"
      cmd_stop || true
      die "broker did not start within ${START_TIMEOUT}s"
    fi
    sleep 0.25
  done
  warm_up
  log "ready in $((SECONDS - started))s (pid $pid); log: $LOG_FILE"
  printf '%s:%s\n' "$HOST" "$PORT"
}

case "${1:-}" in
  jars) cmd_jars ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  *)
    echo "usage: $0 {jars|start|stop|status}" >&2
    exit 2
    ;;
esac
