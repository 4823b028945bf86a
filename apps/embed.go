// Package apps carries wsgikit's Python apps inside the binary, so that a
// wsgikit installed without its source tree can still run them: the harness
// writes them out to a directory of their own when apps/ is not found.
package apps

import "embed"

// FS holds every app, launcher and the README, at their paths under apps/.
//
//go:embed *.py *.md django_app/*.py
var FS embed.FS
