#!/usr/bin/env bash
# The chart service at scale, one binary against another in the same run
# (issue 23): `render --period YEAR` (wall, max RSS), then `serve`: time
# from the process start to the first chart, resident memory once loaded,
# and the median of 10 requests of a chart and of a report. Then, for the
# last binary only, with cache_ttl = 1s: the reload after nothing changed
# and after 1,000 changed dossiers (updated_at moved on open ones received
# in the last 20 days, which are live: an edit to a settled row, such as a
# rejected one, would rightly force a full read; PostgreSQL
# URLs only, as the rows are changed with psql), three times each, the
# seconds its log gives.
#
#   [EXPORTER=target/release/motcua-exporter] bash bench/scale/dashboard.sh URL YEAR BINARY [BINARY…]
#
# With EXPORTER, first the exporter's first full refresh over the same URL:
# the time from its start to the first `motcua_up 1`, and the duration of
# that refresh (`motcua_refresh_duration_seconds`), then of two more full
# refreshes (full_resync_interval = 0s), the targets' yardstick.
#
# e.g. URL=postgres://postgres@127.0.0.1:5432/motcua_scale_10m YEAR=2025,
# BINARY a motcua-dashboard built at each commit compared.
set -euo pipefail
url=$1 year=$2
shift 2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf 'query_timeout = "30m"\n' > "$tmp/dashboard.toml"
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
port=19746
if [ -n "${EXPORTER:-}" ]; then
  echo "== $EXPORTER"
  base=http://127.0.0.1:$port
  start=$(date +%s.%N)
  MOTCUA_DATABASE_URL=$url "$EXPORTER" --listen 127.0.0.1:$port --refresh-interval 1s \
    --full-resync-interval 0s > "$tmp/exporter.log" 2>&1 &
  pid=$!
  until curl -s "$base/metrics" | grep -q '^motcua_up 1'; do
    kill -0 $pid || { cat "$tmp/exporter.log"; exit 1; }
    sleep 0.05
  done
  end=$(date +%s.%N)
  printf 'exporter: first full refresh done %.2f s after the start\n' "$(echo "$end - $start" | bc)"
  durations=()
  refreshes=0
  while [ ${#durations[@]} -lt 3 ]; do
    m=$(curl -s "$base/metrics")
    n=$(echo "$m" | awk '/^motcua_refreshes_total/ {s += $2} END {print s + 0}')
    if [ "$n" != "$refreshes" ]; then
      refreshes=$n
      durations+=("$(echo "$m" | awk '/^motcua_refresh_duration_seconds/ {print $2; exit}')")
    fi
    sleep 0.2
  done
  echo "exporter: full refreshes of ${durations[*]} s"
  kill $pid; wait $pid 2>/dev/null || true
  port=$((port + 1))
fi
for bin in "$@"; do
  echo "== $bin"
  rm -rf "$tmp/out"
  start=$(date +%s.%N)
  MOTCUA_DATABASE_URL=$url /usr/bin/time -v "$bin" --config "$tmp/dashboard.toml" \
    render --period "$year" --out "$tmp/out" 2> "$tmp/render.err" > /dev/null
  end=$(date +%s.%N)
  rss=$(grep -o 'Maximum resident set size (kbytes): [0-9]*' "$tmp/render.err" | grep -o '[0-9]*$')
  printf 'render --period %s: %.2f s wall, max RSS %d MB\n' "$year" "$(echo "$end - $start" | bc)" $((rss / 1024))
  port=$((port + 1))
  base=http://127.0.0.1:$port
  start=$(date +%s.%N)
  MOTCUA_DATABASE_URL=$url "$bin" --config "$tmp/dashboard.toml" serve --listen 127.0.0.1:$port \
    > "$tmp/serve.log" 2>&1 &
  pid=$!
  chart="$base/charts/on_time_trend.png?from=$year-01-01&to=$year-12-31&width=1200&height=700"
  until [ "$(curl -s -o /dev/null -w '%{http_code}' "$chart")" = 200 ]; do
    kill -0 $pid || { cat "$tmp/serve.log"; exit 1; }
    sleep 0.05
  done
  end=$(date +%s.%N)
  printf 'first chart from the process start: %.2f s\n' "$(echo "$end - $start" | bc)"
  printf 'resident after loading: %d MB (peak %d MB)\n' \
    $(($(awk '/VmRSS/ {print $2}' /proc/$pid/status) / 1024)) \
    $(($(awk '/VmHWM/ {print $2}' /proc/$pid/status) / 1024))
  for what in "$chart" "$base/charts/pending_by_agency.png?from=$year-01-01&to=$year-12-31" \
      "$base/charts/processing_time_distribution.svg?from=$year-01-01&to=$year-12-31" \
      "$base/reports/$year?format=json" "$base/reports/$year" "$base/index/$year?format=json"; do
    ms=$(for _ in $(seq 10); do curl -s -o /dev/null -w '%{time_total}\n' "$what"; done \
      | median)
    printf '%-90s median of 10: %.1f ms\n' "${what#$base}" "$(echo "$ms * 1000" | bc)"
  done
  kill $pid; wait $pid 2>/dev/null || true
done

bin=${!#}
case $url in postgres*) ;; *) exit 0 ;; esac
printf 'query_timeout = "30m"\ncache_ttl = "1s"\n' > "$tmp/reload.toml"
port=$((port + 1))
base=http://127.0.0.1:$port
MOTCUA_DATABASE_URL=$url "$bin" --config "$tmp/reload.toml" serve --listen 127.0.0.1:$port \
  > "$tmp/reload.log" 2>&1 &
pid=$!
chart="$base/charts/on_time_trend.png?from=$year-01-01&to=$year-12-31"
until [ "$(curl -s -o /dev/null -w '%{http_code}' "$chart")" = 200 ]; do
  kill -0 $pid || { cat "$tmp/reload.log"; exit 1; }
  sleep 0.1
done
# Asks for a page once the data is stale, then waits for the reload it starts.
reload() {
  local before
  before=$(grep -c 'read what changed' "$tmp/reload.log" || true)
  sleep 1.1
  curl -s -o /dev/null "$chart"
  until [ "$(grep -c 'read what changed' "$tmp/reload.log" || true)" -gt "$before" ]; do
    kill -0 $pid || { cat "$tmp/reload.log"; exit 1; }
    sleep 0.05
  done
  grep 'read what changed' "$tmp/reload.log" | tail -1 | sed 's/\x1b\[[0-9;]*m//g' \
    | grep -o 'changed=[0-9]*\|seconds=[0-9.]*' | paste -sd' '
}
for i in 1 2 3; do
  echo "reload, nothing changed: $(reload)"
done
for i in 1 2 3; do
  psql -q "$url" -c "UPDATE dossiers SET updated_at = now() AT TIME ZONE 'Asia/Ho_Chi_Minh'
    WHERE code IN (SELECT code FROM dossiers WHERE finished_at IS NULL AND status IN (2, 4, 5, 6)
                   AND received_at >= now() AT TIME ZONE 'Asia/Ho_Chi_Minh' - interval '20 days'
                   ORDER BY code OFFSET $((i * 1000)) LIMIT 1000)"
  echo "reload after 1,000 changed dossiers: $(reload)"
done
kill $pid; wait $pid 2>/dev/null || true
