#!/usr/bin/env bash
# The README's test command (`npm test`): every tier of tests, against real services.
# Postgres and RabbitMQ are expected at 127.0.0.1 (or DATABASE_URL / AMQP_URL); Kafka and
# LDAP are started by this script from scripts/kafka.sh and scripts/ldap.sh when a tier needs them.
set -euo pipefail
cd "$(dirname "$0")/.."

# Build first: the e2e tier and the CLI run the compiled output.
npm run --silent build

npx jest --selectProjects unit integration e2e --passWithNoTests=false "$@"
