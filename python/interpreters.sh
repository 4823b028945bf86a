#!/bin/sh
# Prints "TAG=PATH" for every CPython 3.10+ on this machine, one per minor
# version, Debian's /usr/bin/python3 first (it wins its minor version): the
# interpreters `make setup` makes a peers venv for and `make build`
# builds the worker extension for. PYTHONS="path ..." overrides the search.
set -eu
root="${PYENV_ROOT:-$HOME/.pyenv}"
cands="${PYTHONS:-/usr/bin/python3 $(ls -d "$root"/versions/3.*/bin/python3 2>/dev/null | sort -V)}"
seen=" "
for p in $cands; do
  [ -x "$p" ] || continue
  v=$("$p" -c 'import sys; print("%d.%d" % sys.version_info[:2]) if sys.version_info >= (3, 10) and sys.implementation.name == "cpython" else None' 2>/dev/null) || continue
  case "$v" in ""|None) continue ;; esac
  case "$seen" in *" $v "*) continue ;; esac
  seen="$seen$v "
  echo "py$v=$p"
done
