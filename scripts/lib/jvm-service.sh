# shellcheck shell=bash
# Process handling shared by the scripts that run a JVM broker for the tests (kafka.sh, artemis.sh).
# The sourcing script defines log, die and `ours PID` (its own JVM for its own folder), and sets
# PID_FILE, HOST and STOP_TIMEOUT.

# alive PID: the process exists and is not a zombie (kill -0 succeeds on zombies).
alive() {
  local pid=$1 stat
  [[ -r /proc/$pid/stat ]] || return 1
  stat="$(</proc/"$pid"/stat)" 2>/dev/null || return 1
  stat="${stat##*) }"
  [[ ${stat%% *} != Z ]]
}

read_pid() {
  local pid=""
  [[ -f $PID_FILE ]] && pid="$(<"$PID_FILE")"
  [[ $pid =~ ^[0-9]+$ ]] && printf '%s\n' "$pid"
  return 0
}

running_pid() {
  local pid
  pid="$(read_pid)"
  [[ -n $pid ]] && ours "$pid" && printf '%s\n' "$pid"
  return 0
}

# port_open PORT: something accepts TCP connections on 127.0.0.1:PORT.
port_open() {
  # shellcheck disable=SC2016 # $0/$1 expand in the inner bash
  timeout 3 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$HOST" "$1" 2>/dev/null
}

cmd_stop() {
  local pid
  pid="$(running_pid)"
  if [[ -z $pid ]]; then
    rm -f "$PID_FILE"
    log "not running"
    return 0
  fi
  log "stopping broker (pid $pid) ..."
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + STOP_TIMEOUT))
  while alive "$pid" && ((SECONDS < deadline)); do sleep 0.2; done
  if alive "$pid"; then
    log "still alive after ${STOP_TIMEOUT}s: SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    deadline=$((SECONDS + 10))
    while alive "$pid" && ((SECONDS < deadline)); do sleep 0.1; done
    alive "$pid" && die "pid $pid survived SIGKILL"
  fi
  rm -f "$PID_FILE"
  log "stopped"
}
