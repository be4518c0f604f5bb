//go:build race

package ui

// The browser suite runs once, in `make test-unit`; under the race detector it would only
// repeat the same browser session slower.
const raceEnabled = true
