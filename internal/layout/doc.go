// Package layout holds no code: its tests keep the package graph and
// docs/ARCHITECTURE.md true (every package mapped there; the judge never
// importing the judged; the master linking neither the engine nor cgo).
package layout
