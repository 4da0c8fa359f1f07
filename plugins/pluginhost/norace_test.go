//go:build unix && !race

package pluginhost_test

const raceEnabled = false
