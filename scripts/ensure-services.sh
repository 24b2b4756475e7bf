#!/usr/bin/env bash
# Makes sure the services the test suite talks to are running on this machine, starting any that is not,
# with Debian's own commands. Idempotent: a running service is left alone.
set -euo pipefail

wait_port() {  # host port name seconds
  for _ in $(seq 1 "$4"); do
    if (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; then return 0; fi
    sleep 1
  done
  echo "ensure-services: $3 is not answering on $1:$2 after $4 s" >&2
  return 1
}
port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

if ! port_open 127.0.0.1 5432; then
  echo "ensure-services: starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -n 1)" main start
fi
wait_port 127.0.0.1 5432 PostgreSQL 30
# The development database (benches, makemigrations --check); pytest makes its own test_dialix beside it.
if ! psql -h 127.0.0.1 -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'dialix'" | grep -q 1; then
  createdb -h 127.0.0.1 -U postgres dialix
fi

if ! port_open 127.0.0.1 6379; then
  echo "ensure-services: starting Redis"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
fi
wait_port 127.0.0.1 6379 Redis 15

if ! port_open 127.0.0.1 5672; then
  echo "ensure-services: starting RabbitMQ"
  rabbitmq-server -detached
fi
wait_port 127.0.0.1 5672 RabbitMQ 90
echo "ensure-services: PostgreSQL, Redis and RabbitMQ are up"
