#!/usr/bin/env bash
# scripts/ldap.sh - a private OpenLDAP server (Debian's slapd) for Junction's
# sign-in tests. See docs/ldap.md.
#
#   scripts/ldap.sh install   install slapd + ldap-utils (apt, non-interactive)
#   scripts/ldap.sh start     (re)build config, wipe + reseed, start, wait
#   scripts/ldap.sh stop      stop our slapd (pid file)
#   scripts/ldap.sh status    exit 0 if running and answering, 3 if stopped
#   scripts/ldap.sh env       print the connection facts as shell exports
#
# Environment:
#   JUNCTION_LDAP_HOME            cache folder (default: <repo>/.cache/ldap)
#   JUNCTION_LDAP_PORT            ldap:// + StartTLS port (default 3389)
#   JUNCTION_LDAPS_PORT           ldaps:// port (default 3636)
#   JUNCTION_LDAP_ADMIN_PASSWORD  rootdn password (default admin-secret)
#   JUNCTION_LDAP_SEED            seed LDIF (default scripts/ldap/seed.ldif)
#   JUNCTION_LDAP_DEBUG           slapd -d level (default stats; e.g. 0, any)
#   JUNCTION_LDAP_LISTEN_HOST     address slapd listens on (default 127.0.0.1;
#                                 0.0.0.0 in the docker-compose `ldap` container)
#
# This instance never uses /etc/ldap/slapd.d nor port 389: its cn=config is
# built with `slapadd -n0` from scripts/ldap/config.ldif.in into the cache
# folder on every start. Only 127.0.0.1 is listened on unless
# JUNCTION_LDAP_LISTEN_HOST says otherwise (the script itself always talks to
# 127.0.0.1).
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SCRIPT_DIR/.." && pwd)
TEMPLATE_DIR=$SCRIPT_DIR/ldap
# slapd, slapadd and slappasswd live in /usr/sbin, which is not always on PATH.
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

LDAP_HOME=${JUNCTION_LDAP_HOME:-$REPO/.cache/ldap}
LDAP_HOST=127.0.0.1
LISTEN_HOST=${JUNCTION_LDAP_LISTEN_HOST:-$LDAP_HOST}
LDAP_PORT=${JUNCTION_LDAP_PORT:-3389}
LDAPS_PORT=${JUNCTION_LDAPS_PORT:-3636}
ADMIN_PW=${JUNCTION_LDAP_ADMIN_PASSWORD:-admin-secret}
SEED_FILE=${JUNCTION_LDAP_SEED:-$TEMPLATE_DIR/seed.ldif}
DEBUG_LEVEL=${JUNCTION_LDAP_DEBUG:-stats}
START_TIMEOUT=30

BASE_DN="dc=junction,dc=test"
ADMIN_DN="cn=admin,$BASE_DN"
SVC_DN="cn=junction-svc,ou=services,$BASE_DN"
SVC_PW="svc-secret"

SCHEMA_DIR=/etc/ldap/schema
MODULE_DIR=/usr/lib/ldap

LDAP_URL="ldap://$LDAP_HOST:$LDAP_PORT"
LDAPS_URL="ldaps://$LDAP_HOST:$LDAPS_PORT"

log() { printf 'ldap.sh: %s\n' "$*" >&2; }
die() { printf 'ldap.sh: ERROR: %s\n' "$*" >&2; exit 1; }

# Resolve LDAP_HOME to an absolute path (slapd -F and cn=config need one).
resolve_home() {
  case $LDAP_HOME in
    "" | /) die "refusing to use '$LDAP_HOME' as JUNCTION_LDAP_HOME" ;;
  esac
  mkdir -p "$LDAP_HOME"
  LDAP_HOME=$(cd "$LDAP_HOME" && pwd)
  CONF_DIR=$LDAP_HOME/slapd.d
  DATA_DIR=$LDAP_HOME/data
  RUN_DIR=$LDAP_HOME/run
  TLS_DIR=$LDAP_HOME/tls
  PID_FILE=$RUN_DIR/slapd.pid
  LOG_FILE=$LDAP_HOME/slapd.log
  CA_CERT=$TLS_DIR/ca.crt
}

# Serialise concurrent invocations (e.g. parallel test workers) on one home.
take_lock() {
  if command -v flock >/dev/null 2>&1; then
    exec 9>"$LDAP_HOME/.lock"
    flock -w 120 9 || die "another scripts/ldap.sh holds $LDAP_HOME/.lock"
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
  for tool in slapd slapadd slappasswd ldapsearch ldapadd ldapwhoami; do
    command -v "$tool" >/dev/null 2>&1 || return 0
  done
  [ -e "$MODULE_DIR/back_mdb.la" ] && [ -e "$MODULE_DIR/memberof.la" ] || return 0
  [ -e "$SCHEMA_DIR/inetorgperson.ldif" ] || return 0
  return 1
}

apt_has_candidates() {
  local pkg cand
  for pkg in slapd ldap-utils; do
    cand=$(apt-cache policy "$pkg" 2>/dev/null | awk '/Candidate:/ { print $2 }')
    if [ -z "$cand" ] || [ "$cand" = "(none)" ]; then return 1; fi
  done
}

apt_install() {
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y \
    -o DPkg::Lock::Timeout=300 slapd ldap-utils
}

# The package's own slapd (port 389, /etc/ldap/slapd.d) must not run: we do
# not use it, and it would only confuse anyone debugging. With the preseed
# below the package creates no configuration, so it normally cannot start,
# but an older install or a systemd machine may still have one running.
stop_system_slapd() {
  local pid cmd pf
  if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
    as_root systemctl stop slapd.service >/dev/null 2>&1 || true
  fi
  for pf in /run/slapd/slapd.pid /var/run/slapd/slapd.pid; do
    [ -s "$pf" ] || continue
    pid=$(tr -dc '0-9' <"$pf")
    if [ -z "$pid" ] || [ ! -r "/proc/$pid/cmdline" ]; then continue; fi
    cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline")
    case $cmd in *slapd*) ;; *) continue ;; esac
    log "stopping the Debian package's own slapd (pid $pid)"
    as_root kill -TERM "$pid" 2>/dev/null || true
  done
  # Also catch a system slapd whose pid file is gone.
  for pid in $(system_slapd_pids); do
    log "stopping the Debian package's own slapd (pid $pid)"
    as_root kill -TERM "$pid" 2>/dev/null || true
  done
  local deadline=$((SECONDS + 10))
  while [ -n "$(system_slapd_pids)" ] && [ $SECONDS -lt $deadline ]; do sleep 0.2; done
  for pid in $(system_slapd_pids); do as_root kill -KILL "$pid" 2>/dev/null || true; done
}

# slapd processes that use the system configuration (not ours).
system_slapd_pids() {
  local d cmd
  for d in /proc/[0-9]*; do
    [ "$(cat "$d/comm" 2>/dev/null)" = slapd ] || continue
    cmd=$(tr '\0' ' ' <"$d/cmdline" 2>/dev/null) || continue
    case $cmd in
      *"-F $LDAP_HOME/"*) ;;                      # ours
      *"/etc/ldap/"* | *"ldap:///"*) echo "${d#/proc/}" ;;
    esac
  done
}

do_install() {
  local explicit=$1 installed=0
  if packages_missing; then
    log "installing slapd + ldap-utils (non-interactive)"
    # Preseed debconf: no package-made directory, so the package neither asks
    # for an admin password nor configures/starts a dc=nodomain slapd on 389.
    printf '%s\n' \
      'slapd slapd/no_configuration boolean true' \
      'slapd slapd/domain string junction.test' \
      'slapd shared/organization string Junction' |
      as_root debconf-set-selections
    if ! apt_has_candidates; then
      log "apt lists lack slapd/ldap-utils: running apt-get update"
      as_root apt-get update -o DPkg::Lock::Timeout=300
    fi
    if ! apt_install; then
      log "apt-get install failed; retrying after apt-get update (stale lists?)"
      as_root apt-get update -o DPkg::Lock::Timeout=300
      apt_install
    fi
    hash -r
    packages_missing && die "slapd/ldap-utils still missing after apt-get install"
    installed=1
  fi
  if [ "$explicit" = 1 ] || [ "$installed" = 1 ]; then
    stop_system_slapd
  fi
  if [ "$explicit" = 1 ]; then
    log "installed: $(slapd -VV 2>&1 | head -n1 | sed 's/^@(#) *//')"
  fi
}

# -------------------------------------------------------------------- tls --

# A throw-away CA (self-signed) plus a server certificate it signs, valid for
# 127.0.0.1, localhost and this machine's hostname. Kept across restarts
# (clients may have cached the CA) unless missing, invalid, not matching its
# key or those names, or expiring within a day.
ensure_tls() {
  # libldap (ldapsearch etc.) checks a URL host of "localhost" against the
  # machine's hostname, not "localhost", so that name goes in the cert too.
  local host san="IP:127.0.0.1, DNS:localhost" verify_host=()
  host=$(hostname 2>/dev/null || true)
  if [[ $host =~ ^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$ ]] && [ "$host" != localhost ]; then
    san="$san, DNS:$host"
    verify_host=(-verify_hostname "$host")
  fi
  mkdir -p "$TLS_DIR"
  chmod 700 "$TLS_DIR"
  if [ -s "$TLS_DIR/ca.crt" ] && [ -s "$TLS_DIR/server.crt" ] && [ -s "$TLS_DIR/server.key" ] &&
    openssl x509 -noout -checkend 86400 -in "$TLS_DIR/server.crt" >/dev/null 2>&1 &&
    openssl verify -CAfile "$TLS_DIR/ca.crt" -verify_ip 127.0.0.1 "${verify_host[@]}" \
      "$TLS_DIR/server.crt" >/dev/null 2>&1 &&
    [ "$(openssl x509 -noout -pubkey -in "$TLS_DIR/server.crt" 2>/dev/null)" = \
      "$(openssl pkey -pubout -in "$TLS_DIR/server.key" 2>/dev/null)" ]; then
    return 0
  fi
  log "generating a test CA and server certificate in $TLS_DIR"
  local cnf=$TLS_DIR/openssl.cnf
  cat >"$cnf" <<EOF
[ req ]
distinguished_name = dn
prompt = no
[ dn ]
O = Junction Test
CN = Junction Test LDAP CA
[ v3_ca ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[ v3_server ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = $san
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
  rm -f "$TLS_DIR"/ca.* "$TLS_DIR"/server.*
  (
    umask 077
    openssl req -config "$cnf" -x509 -new -newkey rsa:2048 -nodes -sha256 -days 3650 \
      -extensions v3_ca -keyout "$TLS_DIR/ca.key" -out "$TLS_DIR/ca.crt" 2>/dev/null
    openssl req -config "$cnf" -new -newkey rsa:2048 -nodes -sha256 \
      -subj "/O=Junction Test/CN=localhost" \
      -keyout "$TLS_DIR/server.key" -out "$TLS_DIR/server.csr" 2>/dev/null
    openssl x509 -req -in "$TLS_DIR/server.csr" -sha256 -days 3650 \
      -CA "$TLS_DIR/ca.crt" -CAkey "$TLS_DIR/ca.key" -set_serial "0x$(openssl rand -hex 16)" \
      -extfile "$cnf" -extensions v3_server -out "$TLS_DIR/server.crt" 2>/dev/null
  ) || die "openssl failed to create the test certificates"
  rm -f "$TLS_DIR/server.csr"
  chmod 644 "$TLS_DIR/ca.crt" "$TLS_DIR/server.crt"
}

# ------------------------------------------------------------ our process --

# Is $1 a live slapd started with our config folder?
is_our_slapd() {
  local pid=$1 cmd
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
  cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
  case $cmd in *slapd*"-F $CONF_DIR "*) return 0 ;; esac
  return 1
}

# Pid of our running slapd: from the pid file, else by scanning /proc (the
# pid file may be missing if slapd was killed hard or the folder was wiped).
our_pid() {
  local pid d
  if [ -s "$PID_FILE" ]; then
    pid=$(tr -dc '0-9' <"$PID_FILE")
    if is_our_slapd "$pid"; then echo "$pid"; return 0; fi
  fi
  for d in /proc/[0-9]*; do
    [ "$(cat "$d/comm" 2>/dev/null)" = slapd ] || continue
    if is_our_slapd "${d#/proc/}"; then echo "${d#/proc/}"; return 0; fi
  done
  return 1
}

ldap_answers() {
  ldapsearch -x -H "$LDAP_URL" -o nettimeout=2 -LLL -s base -b "" namingContexts \
    >/dev/null 2>&1
}

port_busy() { (exec 3<>"/dev/tcp/$LDAP_HOST/$1") 2>/dev/null; }

do_stop() {
  local pid
  if ! pid=$(our_pid); then
    rm -f "$PID_FILE"
    log "not running"
    return 0
  fi
  log "stopping slapd (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + 15))
  while is_our_slapd "$pid"; do
    if [ $SECONDS -ge $deadline ]; then
      log "slapd did not exit after SIGTERM; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.2
      break
    fi
    sleep 0.1
  done
  rm -f "$PID_FILE"
  log "stopped"
}

# Escape a string for use as a sed replacement with '|' as the delimiter.
sed_repl() { printf '%s' "$1" | sed -e 's/[|&\\]/\\&/g'; }

build_config() {
  local hash
  rm -rf "$CONF_DIR" "$DATA_DIR" "$RUN_DIR"
  mkdir -p "$CONF_DIR" "$DATA_DIR" "$RUN_DIR"
  hash=$(slappasswd -h '{SSHA}' -s "$ADMIN_PW")
  sed -e "s|@RUN_DIR@|$(sed_repl "$RUN_DIR")|g" \
    -e "s|@TLS_DIR@|$(sed_repl "$TLS_DIR")|g" \
    -e "s|@DATA_DIR@|$(sed_repl "$DATA_DIR")|g" \
    -e "s|@SCHEMA_DIR@|$(sed_repl "$SCHEMA_DIR")|g" \
    -e "s|@MODULE_DIR@|$(sed_repl "$MODULE_DIR")|g" \
    -e "s|@ROOT_PW_HASH@|$(sed_repl "$hash")|g" \
    "$TEMPLATE_DIR/config.ldif.in" >"$LDAP_HOME/config.ldif"
  if ! slapadd -n0 -F "$CONF_DIR" -l "$LDAP_HOME/config.ldif" >"$LDAP_HOME/slapadd.log" 2>&1; then
    cat "$LDAP_HOME/slapadd.log" >&2
    die "slapadd -n0 could not build cn=config from $LDAP_HOME/config.ldif"
  fi
}

# Copy the seed, replacing each clear-text "userPassword: x" with an {SSHA}
# hash from slappasswd. "userPassword:: base64" lines are left alone.
hash_seed() {
  local line re='^userPassword: (.*)$'
  while IFS= read -r line || [ -n "$line" ]; do
    line=${line%$'\r'}
    if [[ $line =~ $re ]]; then
      printf 'userPassword: %s\n' "$(slappasswd -h '{SSHA}' -s "${BASH_REMATCH[1]}")"
    else
      printf '%s\n' "$line"
    fi
  done <"$SEED_FILE"
}

write_env_file() {
  cat >"$LDAP_HOME/connection.env" <<EOF
JUNCTION_LDAP_URL='$LDAP_URL'
JUNCTION_LDAPS_URL='$LDAPS_URL'
JUNCTION_LDAP_BASE_DN='$BASE_DN'
JUNCTION_LDAP_BIND_DN='$SVC_DN'
JUNCTION_LDAP_BIND_PASSWORD='$SVC_PW'
JUNCTION_LDAP_ADMIN_DN='$ADMIN_DN'
JUNCTION_LDAP_ADMIN_PASSWORD='$ADMIN_PW'
JUNCTION_LDAP_CA_CERT='$CA_CERT'
EOF
}

# EXIT trap while starting: a failed start must not leave slapd running.
LAUNCHED_PID=
on_start_exit() {
  local rc=$?
  if [ "$rc" -ne 0 ] && [ -n "$LAUNCHED_PID" ]; then
    kill -TERM "$LAUNCHED_PID" 2>/dev/null || true
    log "stopped the half-started slapd (pid $LAUNCHED_PID)"
  fi
}

do_start() {
  local pid launched
  do_install 0
  if pid=$(our_pid); then
    log "our slapd is already running (pid $pid): restarting it"
    do_stop
  fi
  for port in "$LDAP_PORT" "$LDAPS_PORT"; do
    if port_busy "$port"; then
      ss -ltnp 2>/dev/null | grep -E "[:.]$port\b" >&2 || true
      die "port $LDAP_HOST:$port is already in use by another process (another JUNCTION_LDAP_HOME?)"
    fi
  done

  ensure_tls
  build_config

  : >"$LOG_FILE"
  # Foreground mode (-d) so errors land in our log file instead of syslog;
  # setsid + redirections detach it from the caller's session and pipes; 9>&-
  # keeps it from inheriting our lock.
  setsid slapd -F "$CONF_DIR" -h "ldap://$LISTEN_HOST:$LDAP_PORT/ ldaps://$LISTEN_HOST:$LDAPS_PORT/" \
    -d "$DEBUG_LEVEL" \
    </dev/null >>"$LOG_FILE" 2>&1 9>&- &
  launched=$!
  # If anything below fails, do not leave a half-seeded server behind.
  LAUNCHED_PID=$launched
  trap on_start_exit EXIT

  local deadline=$((SECONDS + START_TIMEOUT))
  until ldap_answers; do
    if ! kill -0 "$launched" 2>/dev/null && ! our_pid >/dev/null; then
      tail -n 30 "$LOG_FILE" >&2 || true
      die "slapd exited during startup (log: $LOG_FILE)"
    fi
    if [ $SECONDS -ge $deadline ]; then
      tail -n 30 "$LOG_FILE" >&2 || true
      die "slapd did not answer on $LDAP_URL within ${START_TIMEOUT}s (log: $LOG_FILE)"
    fi
    sleep 0.1
  done

  # From here on, stop the real slapd pid on failure.
  LAUNCHED_PID=$(our_pid) || LAUNCHED_PID=$launched

  # Seed online (not with slapadd -n1): the memberof overlay only runs for
  # LDAP operations, so an offline load would leave memberOf empty.
  hash_seed >"$LDAP_HOME/seed.ldif"
  if ! ldapadd -x -H "$LDAP_URL" -D "$ADMIN_DN" -w "$ADMIN_PW" -f "$LDAP_HOME/seed.ldif" \
    >"$LDAP_HOME/seed.log" 2>&1; then
    cat "$LDAP_HOME/seed.log" >&2
    die "seeding from $SEED_FILE failed"
  fi

  # Sanity checks: memberOf is maintained, and ldaps answers with our CA.
  if [ "$SEED_FILE" = "$TEMPLATE_DIR/seed.ldif" ]; then
    local n
    n=$(ldapsearch -x -H "$LDAP_URL" -D "$SVC_DN" -w "$SVC_PW" -LLL -b "ou=people,$BASE_DN" \
      '(uid=alice)' memberOf | grep -c '^memberOf:' || true)
    [ "$n" = 2 ] || die "seed check failed: alice has $n memberOf values, expected 2"
  fi
  LDAPTLS_CACERT=$CA_CERT ldapsearch -x -H "$LDAPS_URL" -o nettimeout=5 -LLL -s base -b "" \
    namingContexts >/dev/null 2>&1 || die "ldaps check failed on $LDAPS_URL (log: $LOG_FILE)"

  pid=$(our_pid) || die "slapd is answering but its pid was not found"
  LAUNCHED_PID=
  write_env_file
  log "slapd is up (pid $pid), seeded from $SEED_FILE"
  cat <<EOF
Junction test LDAP is running (pid $pid)
  URL           $LDAP_URL   (StartTLS available)
  LDAPS URL     $LDAPS_URL
  Base DN       $BASE_DN
  Bind DN       $SVC_DN   (password: $SVC_PW)
  Admin DN      $ADMIN_DN   (password: $ADMIN_PW)
  CA cert       $CA_CERT   (e.g. LDAPTLS_CACERT=$CA_CERT)
  Home          $LDAP_HOME   (log: $LOG_FILE)
  Env file      $LDAP_HOME/connection.env
EOF
}

do_status() {
  local pid
  if pid=$(our_pid); then
    if ldap_answers; then
      echo "running (pid $pid) on $LDAP_URL and $LDAPS_URL, home $LDAP_HOME"
      return 0
    fi
    echo "running (pid $pid) but not answering on $LDAP_URL (log: $LOG_FILE)"
    return 1
  fi
  echo "stopped (home $LDAP_HOME)"
  return 3
}

do_env() {
  cat <<EOF
export JUNCTION_LDAP_URL='$LDAP_URL'
export JUNCTION_LDAPS_URL='$LDAPS_URL'
export JUNCTION_LDAP_BASE_DN='$BASE_DN'
export JUNCTION_LDAP_BIND_DN='$SVC_DN'
export JUNCTION_LDAP_BIND_PASSWORD='$SVC_PW'
export JUNCTION_LDAP_ADMIN_DN='$ADMIN_DN'
export JUNCTION_LDAP_ADMIN_PASSWORD='$ADMIN_PW'
export JUNCTION_LDAP_CA_CERT='$CA_CERT'
EOF
}

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//'
}

main() {
  local cmd=${1:-}
  case $cmd in
    install | start | restart | stop | status | env) ;;
    -h | --help | help) usage; return 0 ;;
    *) usage >&2; return 2 ;;
  esac
  resolve_home
  case $cmd in
    install) take_lock; do_install 1 ;;
    start | restart) take_lock; do_start ;;
    stop) take_lock; do_stop ;;
    status) do_status ;;
    env) do_env ;;
  esac
}

main "$@"
