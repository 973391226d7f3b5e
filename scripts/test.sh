#!/usr/bin/env bash
# The README's test command (`npm test`): every tier of tests, against real services.
# PostgreSQL and RabbitMQ are expected at 127.0.0.1 (TEST_DATABASE_ADMIN_URL / AMQP_URL to point
# elsewhere); Kafka and ActiveMQ Artemis (from Maven Central) and slapd (from Debian) are started
# here and stopped after.
set -euo pipefail
cd "$(dirname "$0")/.."

started=()
cleanup() {
  for service in "${started[@]}"; do scripts/"$service".sh stop >/dev/null 2>&1 || true; done
}
trap cleanup EXIT

if ! scripts/kafka.sh status >/dev/null 2>&1; then
  echo "== starting Kafka (scripts/kafka.sh)"
  scripts/kafka.sh start >/dev/null
  started+=(kafka)
fi
if ! scripts/artemis.sh status >/dev/null 2>&1; then
  echo "== starting ActiveMQ Artemis (scripts/artemis.sh)"
  scripts/artemis.sh start >/dev/null
  started+=(artemis)
fi
if ! scripts/ldap.sh status >/dev/null 2>&1; then
  echo "== starting slapd (scripts/ldap.sh)"
  scripts/ldap.sh start >/dev/null
  started+=(ldap)
fi
if ! scripts/mosquitto.sh status >/dev/null 2>&1; then
  echo "== starting Mosquitto (scripts/mosquitto.sh)"
  scripts/mosquitto.sh start >/dev/null
  started+=(mosquitto)
fi

# The e2e tier runs the compiled gateway and CLI.
npm run --silent build

npx jest --selectProjects unit integration e2e "$@"
