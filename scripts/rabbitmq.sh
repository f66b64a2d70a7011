#!/usr/bin/env bash
# The RabbitMQ-broker tests use the machine's RabbitMQ: make sure it answers, starting (or
# installing) it if needed. KB_TEST_AMQP_URL points the tests at another server.
set -euo pipefail
url="${KB_TEST_AMQP_URL:-amqp://guest:guest@127.0.0.1:5672//}"
answers() {
  .venv/bin/python -c "from kombu import Connection; import sys; Connection(sys.argv[1], connect_timeout=3).ensure_connection(max_retries=0)" "$url" 2>/dev/null
}
if answers; then
  exit 0
fi
if [ -n "${KB_TEST_AMQP_URL:-}" ]; then
  echo "RabbitMQ at KB_TEST_AMQP_URL does not answer" >&2; exit 1
fi
if ! command -v rabbitmq-server >/dev/null; then
  echo "installing RabbitMQ (Debian package)" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rabbitmq-server >/dev/null
fi
# guest/guest may log in from loopback only, which is where the tests connect from.
rabbitmq-server -detached 2>/dev/null || service rabbitmq-server start >/dev/null 2>&1 || true
for _ in $(seq 60); do
  if answers; then exit 0; fi
  sleep 1
done
echo "RabbitMQ did not start (see /var/log/rabbitmq)" >&2
exit 1
