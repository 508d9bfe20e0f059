#!/usr/bin/env bash
# Runs the official Python SDK (pyodps) through its Storage API user guide against the
# maxstorage emulator: pyodps 0.13.1 (odps.apis.storage_api_v2, the user guide's API)
# and pyodps 0.13.2 (odps.maxstorage), each on a fresh emulator.
#
#   bash conformance/python/run.sh
#
# Environment:
#   PYSDK_CACHE_DIR          where the two virtualenvs live
#                            (default: $CARGO_TARGET_DIR, else <repo>/target)
#   MAXSTORAGE_EMULATOR_BIN  an emulator binary to use instead of building one
#   PYTHON                   the interpreter that creates the virtualenvs (default python3)
#   PYSDK_ONLY               0.13.1 or 0.13.2 to run one SDK only
#
# Prints one summary line per case, the details of every failing case, and last a line
# `N passed, M failed`; exits non-zero if any case or any setup step failed.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
target_dir="${CARGO_TARGET_DIR:-$repo/target}"
case "$target_dir" in /*) ;; *) target_dir="$repo/$target_dir" ;; esac
cache_dir="${PYSDK_CACHE_DIR:-$target_dir}"
python="${PYTHON:-python3}"
access_id="pysdk-conformance-id"
access_key="pysdk-conformance-secret"

work="$(mktemp -d "${TMPDIR:-/tmp}/pysdk-conformance.XXXXXX")"
emulator_pid=""
emulator_addr=""

cleanup() {
    if [ -n "$emulator_pid" ] && kill -0 "$emulator_pid" 2>/dev/null; then
        kill "$emulator_pid" 2>/dev/null
        wait "$emulator_pid" 2>/dev/null
    fi
    emulator_pid=""
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

passed=0
failed=0
setup_failures=()

setup_failed() {
    echo "SETUP FAILED: $*" >&2
    setup_failures+=("$*")
}

# --- virtualenvs -----------------------------------------------------------

requirements() { echo "pyodps==$1 pyarrow pandas zstandard lz4"; }

venv_ok() { # dir version
    local dir="$1" version="$2"
    [ -x "$dir/bin/python" ] || return 1
    [ "$(cat "$dir/.pysdk-requirements" 2>/dev/null)" = "$(requirements "$version")" ] || return 1
    "$dir/bin/python" - "$version" >/dev/null 2>&1 <<'EOF'
import sys
import importlib.metadata as md
import lz4.frame, pandas, pyarrow, zstandard, odps  # noqa: F401
assert md.version("pyodps") == sys.argv[1], md.version("pyodps")
EOF
}

ensure_venv() { # version -> prints the venv dir on success
    local version="$1"
    local dir="$cache_dir/pysdk-venv-$version"
    if venv_ok "$dir" "$version"; then
        echo "$dir"
        return 0
    fi
    echo "creating $dir ($(requirements "$version")) ..." >&2
    mkdir -p "$cache_dir" || return 1
    local partial="$dir.partial.$$"
    local log="$cache_dir/pysdk-venv-$version.log"
    rm -rf "$partial"
    {
        if "$python" -m venv "$partial"; then
            # shellcheck disable=SC2046
            "$partial/bin/python" -m pip install --disable-pip-version-check --no-input \
                --progress-bar off --retries 5 --timeout 60 $(requirements "$version")
        else
            # A Python without ensurepip: an empty venv filled by this pip.
            rm -rf "$partial" &&
                "$python" -m venv --without-pip "$partial" &&
                # shellcheck disable=SC2046
                "$python" -m pip --python "$partial/bin/python" install --disable-pip-version-check \
                    --no-input --progress-bar off --retries 5 --timeout 60 $(requirements "$version")
        fi
    } >"$log" 2>&1
    local rc=$?
    if [ $rc -ne 0 ]; then
        echo "pip install for pyodps $version failed (exit $rc); the end of $log:" >&2
        tail -n 25 "$log" >&2
        rm -rf "$partial"
        return 1
    fi
    requirements "$version" >"$partial/.pysdk-requirements"
    rm -rf "$dir"
    mv "$partial" "$dir" || return 1
    if ! venv_ok "$dir" "$version"; then
        echo "the new virtualenv $dir does not import pyodps $version, pyarrow, pandas, zstandard, lz4" >&2
        return 1
    fi
    echo "$dir"
}

# --- emulator --------------------------------------------------------------

emulator_bin="${MAXSTORAGE_EMULATOR_BIN:-}"
if [ -z "$emulator_bin" ]; then
    echo "building the emulator (cargo build --locked -p maxstorage-emulator) ..." >&2
    if (cd "$repo" && cargo build --locked -p maxstorage-emulator --bin maxstorage-emulator) >"$work/build.log" 2>&1; then
        emulator_bin="$target_dir/debug/maxstorage-emulator"
    else
        tail -n 30 "$work/build.log" >&2
        setup_failed "cargo build of the emulator failed"
    fi
fi
if [ -n "$emulator_bin" ] && [ ! -x "$emulator_bin" ]; then
    setup_failed "emulator binary $emulator_bin is missing"
    emulator_bin=""
fi

# Not in a subshell: it sets emulator_pid (for stop_emulator and the exit trap) and
# emulator_addr.
start_emulator() { # read-compression blob-crc
    local mode="$1" blob_crc="$2"
    emulator_addr=""
    local data="$work/data-$mode-$RANDOM"
    local out="$work/emulator-$mode.out"
    : >"$out"
    "$emulator_bin" --data-dir "$data" --listen 127.0.0.1:0 \
        --access-id "$access_id" --access-key "$access_key" \
        --read-compression "$mode" --blob-crc "$blob_crc" >"$out" 2>"$work/emulator-$mode.err" &
    emulator_pid=$!
    local i addr=""
    for i in $(seq 1 300); do
        addr="$(head -n 1 "$out" 2>/dev/null)"
        [ -n "$addr" ] && break
        kill -0 "$emulator_pid" 2>/dev/null || break
        sleep 0.1
    done
    if [ -z "$addr" ]; then
        echo "the emulator did not print its address; its stderr:" >&2
        tail -n 20 "$work/emulator-$mode.err" >&2
        return 1
    fi
    emulator_addr="$addr"
}

stop_emulator() {
    if [ -n "$emulator_pid" ]; then
        kill "$emulator_pid" 2>/dev/null
        wait "$emulator_pid" 2>/dev/null
        emulator_pid=""
    fi
}

# --- one SDK ---------------------------------------------------------------

run_sdk() { # version module read-compression blob-crc
    local version="$1" module="$2" mode="$3" blob_crc="$4"
    if [ -n "${PYSDK_ONLY:-}" ] && [ "$PYSDK_ONLY" != "$version" ]; then
        return 0
    fi
    local venv
    if ! venv="$(ensure_venv "$version")"; then
        setup_failed "virtualenv for pyodps $version"
        return 0
    fi
    [ -n "$emulator_bin" ] || return 0
    if ! start_emulator "$mode" "$blob_crc"; then
        setup_failed "emulator for pyodps $version did not start"
        stop_emulator
        return 0
    fi
    echo
    local addr="$emulator_addr"
    echo "### pyodps $version ($module) against the emulator at $addr (--read-compression $mode --blob-crc $blob_crc)"
    local results="$work/results-$version.json"
    timeout 900 "$venv/bin/python" "$here/user_guide.py" --sdk "$module" --addr "$addr" \
        --access-id "$access_id" --access-key "$access_key" --results "$results"
    local rc=$?
    if ! kill -0 "$emulator_pid" 2>/dev/null; then
        echo "the emulator exited during the run; its stderr:" >&2
        tail -n 30 "$work/emulator-$mode.err" >&2
    fi
    stop_emulator
    if [ -f "$results" ]; then
        local counts
        counts="$("$venv/bin/python" -c 'import json,sys; r=json.load(open(sys.argv[1])); print(r["passed"], r["failed"])' "$results")"
        passed=$((passed + ${counts% *}))
        failed=$((failed + ${counts#* }))
    else
        setup_failed "the pyodps $version test program ended without results (exit $rc)"
    fi
}

# Each SDK gets the read and blob layouts it reads (protocol.md A4, A12).
run_sdk 0.13.1 storage_api_v2 ipc inside
run_sdk 0.13.2 maxstorage body outside

echo
for f in "${setup_failures[@]+"${setup_failures[@]}"}"; do
    echo "setup failure: $f"
done
failed=$((failed + ${#setup_failures[@]}))
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
