#!/usr/bin/env bash
# tests/db/test_pooler.py migrates through a real transaction pooler (PgBouncer). Install it
# from Debian's packages when it is missing and this user may; otherwise say how (the test
# then fails naming it, rather than passing without it).
set -euo pipefail
if command -v pgbouncer >/dev/null 2>&1 || [ -x /usr/sbin/pgbouncer ]; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing pgbouncer (apt-get) for the pooler test"
  apt-get install -y -qq pgbouncer >/dev/null 2>&1 \
    || { apt-get update -qq >/dev/null && apt-get install -y -qq pgbouncer >/dev/null; }
  exit 0
fi
echo "note: pgbouncer is missing and cannot be installed here; tests/db/test_pooler.py will" \
  "fail until it is (apt-get install pgbouncer, or brew install pgbouncer)" >&2
