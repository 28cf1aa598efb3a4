#!/bin/sh
# Rebuild static/vendor/plotly/plotly.min.js: plotly.js (the version the installed Python plotly was built for)
# with only the trace types in entry.js. Needs node and npm; installs into a temporary directory, touches
# nothing else. Usage: tools/plotly-bundle/build.sh [PLOTLY_JS_VERSION]   (then run the tests: see VERSIONS.txt)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
version=${1:-4.1.1}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$here/entry.js" "$here/build.mjs" "$work/"
cd "$work"
npm init -y >/dev/null
npm install --no-audit --no-fund --silent "plotly.js@$version" "esbuild@0.28.2"
node build.mjs "$root/static/vendor/plotly/plotly.min.js" "$version"
cp node_modules/plotly.js/LICENSE "$root/static/vendor/plotly/LICENSE"
rm -f "$root/static/vendor/plotly/plotly.min.css"  # maplibre's, for map charts: never served
ls -l "$root/static/vendor/plotly/plotly.min.js"
