#!/bin/sh
# One more interpreter's pass of `make test` (the main pass runs on
# .venv/default): with WSGIKIT_PYTHON=PYTHON (a peers venv's bin/python), our
# server's integration tests, its conformance (no FAIL, no NON-STRICT), and
# every plain peer profile serving the hello, bench, Flask and Django apps. A
# profile that cannot run on this interpreter here is skipped with the reason
# (`wsgikit servers` shows it too); the reasons are printed at the end.
# Usage: test-interpreter.sh TAG PYTHON LOGDIR (WSGIKIT_BIN set; GO optional).
set -u
[ $# -eq 3 ] || { echo "usage: $0 TAG PYTHON LOGDIR" >&2; exit 2; }
tag=$1 logdir=$3
WSGIKIT_PYTHON=$2
export WSGIKIT_PYTHON
[ -x "$WSGIKIT_PYTHON" ] || { echo "$tag: $WSGIKIT_PYTHON missing: run make setup" >&2; exit 1; }
mkdir -p "$logdir" || exit 1
t0=$(date +%s)
rc=0

# step NAME go-test-args...: one package's tests; its -v log goes to LOGDIR.
step() {
  name=$1
  shift
  log="$logdir/$tag-$name.log"
  s=$(date +%s)
  if "${GO:-go}" test -count=1 -timeout 15m -v "$@" >"$log" 2>&1; then
    echo "$tag: $name ok ($(($(date +%s) - s)) s)"
  else
    rc=1
    echo "$tag: $name FAILED ($(($(date +%s) - s)) s); last lines of $log:"
    grep -v -E '^=== (RUN|PAUSE|CONT)' "$log" | tail -n 60
  fi
}

step server ./server -run '^Test(Serve|Process)'
step conformance ./conformance -run '^TestWsgikitStrict$'
# Plain profiles only: the @debian ones and nginx's run on Debian's
# interpreter whatever WSGIKIT_PYTHON says.
step peers ./internal/harness -run '^TestBuiltinProfilesServeEveryApp$/^[^@:]+$'
grep -h ': unsupported here with' "$logdir/$tag-peers.log" | sed -e 's/^ *[a-z_]*\.go:[0-9]*: /  skipped: /'
version=$("$WSGIKIT_PYTHON" -c 'import platform; print(platform.python_version())')
if [ $rc -eq 0 ]; then verdict=passed; else verdict=FAILED; fi
echo "$tag (Python $version): $verdict in $(($(date +%s) - t0)) s"
exit $rc
