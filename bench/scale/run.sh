#!/usr/bin/env bash
# The scale benchmark of issue 5: motcua on PostgreSQL at 1 and 10 million
# dossiers, against the PostgreSQL floor and a peer (query-exporter).
# See bench/scale/README.md for the method.
#
#   bash bench/scale/run.sh [--fresh] [SIZE...]      # default sizes: 1000000 10000000
#
# --fresh   drop and reload the databases even when they already hold the size
#
# Environment: MOTCUA_BENCH_PG (default postgres://postgres@127.0.0.1:5432), the
# server to load and measure; the databases are motcua_scale_1m, motcua_scale_10m
# (motcua_scale_<N> for other sizes) and are left in place for reruns.
# Results: target/bench-scale/results-<SIZE>.md (and .json, logs-<SIZE>/).
set -euo pipefail
cd "$(dirname "$0")/../.."

fresh=()
sizes=()
for arg in "$@"; do
    case "$arg" in
        --fresh) fresh=(--fresh) ;;
        -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
        *[!0-9_]*|"") echo "run.sh: not a size: $arg" >&2; exit 2 ;;
        *) sizes+=("${arg//_/}") ;;
    esac
done
[ ${#sizes[@]} -gt 0 ] || sizes=(1000000 10000000)
pg="${MOTCUA_BENCH_PG:-postgres://postgres@127.0.0.1:5432}"
out=target/bench-scale
mkdir -p "$out"

step() { printf '\n== %s\n' "$*"; }

step "release binaries"
cargo build --release -p motcua-exporter -p motcua-dashboard
cargo build --release -p motcua-exporter --example scrape_load
cargo build --release -p motcua-queries --example load_postgres
# What was built: the commit, and whether the working tree differed from it.
printf '{"commit": "%s", "dirty_tree": %s, "built": "%s"}\n' \
    "$(git log -1 --format=%h)" \
    "$([ -n "$(git status --porcelain --untracked-files=no)" ] && echo true || echo false)" \
    "$(date -u +%Y-%m-%dT%H:%M:%SZ)" > "$out/build-info.json"

step "peer: query-exporter in target/bench-venv"
venv=target/bench-venv
if [ ! -x "$venv/bin/query-exporter" ] || ! "$venv/bin/python" -c 'import psycopg' 2>/dev/null; then
    python=""
    for candidate in python3.13 python3.12 \
        "$HOME"/.pyenv/versions/3.13*/bin/python3.13 "$HOME"/.pyenv/versions/3.12*/bin/python3.12; do
        if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys; assert sys.version_info >= (3, 12)' 2>/dev/null; then
            python="$candidate"
            break
        fi
    done
    [ -n "$python" ] || { echo "run.sh: query-exporter needs Python >= 3.12 (python3.12 or python3.13)" >&2; exit 1; }
    rm -rf "$venv"
    "$python" -m venv "$venv"
    "$venv/bin/pip" install --quiet --upgrade pip
    "$venv/bin/pip" install --quiet query-exporter 'psycopg[binary]'
fi
"$venv/bin/query-exporter" --version

for size in "${sizes[@]}"; do
    if [ $((size % 1000000)) -eq 0 ]; then name="motcua_scale_$((size / 1000000))m"; else name="motcua_scale_$size"; fi
    url="$pg/$name"
    step "$size dossiers: load $name (skipped when it already holds this size)"
    target/release/examples/load_postgres --url "$url" --dossiers "$size" "${fresh[@]}"
    step "$size dossiers: measure"
    "$venv/bin/python" bench/scale/bench.py --url "$url" --size "$size" --out "$out/results-$size.md"
done

step "results"
for size in "${sizes[@]}"; do
    cat "$out/results-$size.md" 2>/dev/null || echo "(no table for $size)"
done
