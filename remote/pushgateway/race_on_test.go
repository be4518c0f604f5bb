//go:build race

package pushgateway

// raceEnabled shortens the randomised oracle tests under the race detector (make test-race).
const raceEnabled = true
