// Package python holds no Go code: its tests run, for real, what `make
// setup`, `make lock` and `make wheel` run here (venv.py builds the peers
// venvs from peers.lock; mkwheel.py builds the pip wheels; interpreters.sh
// finds the CPythons).
package python
