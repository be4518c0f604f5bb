//go:build !race

package pushgateway

const raceEnabled = false
