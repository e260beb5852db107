#!/usr/bin/env bash
# Builds teamhub's JupyterLab extension: node dependencies exactly as package-lock.json pins
# them (npm ci), the TypeScript, and the prebuilt extension in teamhub/labextension/ (which
# the wheel ships to share/jupyter/labextensions/teamhub-jupyterlab/). Works offline once
# node_modules is there: the builder takes JupyterLab's core metadata from node_modules.
#
#   labextension/build.sh                          # install deps if needed, build
#   labextension/build.sh --check                  # also: tsc --noEmit, eslint, vitest
#   labextension/build.sh --install-into .venv     # also: copy the build into that prefix,
#                                                  # as `pip install` of the wheel would
# Needs Node.js >= 20.19 and npm.
set -euo pipefail
cd "$(dirname "$0")"

check=0
prefix=""
while [ $# -gt 0 ]; do
    case "$1" in
        --check) check=1 ;;
        --install-into) prefix=${2:?--install-into needs a prefix}; shift ;;
        *) echo "labextension/build.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
case "$prefix" in
    ""|/*) ;;
    *) prefix="$OLDPWD/$prefix" ;;
esac

if ! command -v npm >/dev/null 2>&1; then
    echo "labextension/build.sh: npm (Node.js >= 20.19) is needed to build the JupyterLab extension" >&2
    exit 1
fi

# Reinstall node_modules only when the lock file changed since the last install.
stamp=node_modules/.teamhub-package-lock.json
if [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
    echo "labextension/build.sh: npm ci" >&2
    npm ci --no-audit --no-fund --loglevel=error >&2
    cp package-lock.json "$stamp"
fi

if [ "$check" = 1 ]; then
    npm run --silent typecheck
    npm run --silent lint
    npm test --silent
fi

# Rebuild when a source is newer than the last build.
out=teamhub/labextension
if [ ! -f "$out/package.json" ] || [ -n "$(find src style package.json package-lock.json \
        tsconfig.json tsconfig.build.json install.json -newer "$out/package.json" -print -quit)" ]; then
    echo "labextension/build.sh: building the extension into labextension/$out" >&2
    npm run --silent build >&2
    # install.json tells `jupyter labextension list` which Python package ships the extension.
    cp install.json "$out/install.json"
    touch "$out/package.json"
fi

if [ -n "$prefix" ]; then
    dest="$prefix/share/jupyter/labextensions/teamhub-jupyterlab"
    rm -rf "$dest"
    mkdir -p "$dest"
    cp -R "$out/." "$dest/"
    echo "labextension/build.sh: installed into $dest" >&2
fi
