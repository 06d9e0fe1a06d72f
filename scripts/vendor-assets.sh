#!/usr/bin/env bash
# Re-creates static/vendor/ from npm packages at pinned versions.
# The result is committed, so running the system needs neither npm nor the network.
set -euo pipefail
cd "$(dirname "$0")/.."

TABLER=1.6.1
ICONS=1.13.2
HTMX=2.0.11
ECHARTS=6.1.0

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fetch() { # package@version → directory holding its files
  (cd "$work" && npm pack --silent "$1" >/dev/null 2>&1)
  local tgz
  tgz=$(ls -t "$work"/*.tgz | head -n 1)
  mkdir -p "$work/$2" && tar -xzf "$tgz" -C "$work/$2" --strip-components=1 && rm "$tgz"
}

rm -rf static/vendor && mkdir -p static/vendor

fetch "@tabler/core@$TABLER" tabler
mkdir -p "static/vendor/tabler-$TABLER"
cp "$work/tabler/dist/css/tabler.min.css" "$work/tabler/dist/js/tabler.min.js" "static/vendor/tabler-$TABLER/"
printf "MIT License, (c) codecalm.net (@tabler/core %s)\n" "$TABLER" >"static/vendor/tabler-$TABLER/LICENSE"

fetch "bootstrap-icons@$ICONS" icons
mkdir -p "static/vendor/bootstrap-icons-$ICONS/fonts"
cp "$work/icons/font/bootstrap-icons.min.css" "$work/icons/LICENSE" "static/vendor/bootstrap-icons-$ICONS/"
cp "$work/icons/font/fonts/bootstrap-icons.woff2" "$work/icons/font/fonts/bootstrap-icons.woff" "static/vendor/bootstrap-icons-$ICONS/fonts/"

fetch "htmx.org@$HTMX" htmx
mkdir -p "static/vendor/htmx-$HTMX"
cp "$work/htmx/dist/htmx.min.js" "$work/htmx/LICENSE" "static/vendor/htmx-$HTMX/"

fetch "echarts@$ECHARTS" echarts
mkdir -p "static/vendor/echarts-$ECHARTS"
cp "$work/echarts/dist/echarts.min.js" "$work/echarts/LICENSE" "static/vendor/echarts-$ECHARTS/"


# The npm packages reference source maps they do not ship in dist/: drop the references.
find static/vendor -name '*.min.*' -exec sed -i '/sourceMappingURL=/d' {} +
du -sh static/vendor/*
