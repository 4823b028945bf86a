// Command wsgikit is the CLI of the toolkit: `serve` (the reference WSGI
// server), `check` (conformance verdicts), `bench` (the load driver),
// `report` (rendering results), `servers` (the profiles it knows) and
// `chaos` (errors under operations). One file per verb; each maps its flags
// onto the package that does the work, which validates them.
package main
