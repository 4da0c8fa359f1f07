//go:build unix && race

package pluginhost_test

// raceEnabled: the test plugins are built with the race detector too, and
// halt at the first race, so a race in the SDK fails these tests.
const raceEnabled = true
