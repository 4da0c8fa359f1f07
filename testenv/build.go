package testenv

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/draylink/dray/testenv/proc"
)

// Binaries are the built dray binaries.
type Binaries struct {
	Dir   string
	Agent string
	Relay string
}

var (
	buildOnce sync.Once
	built     *Binaries
	buildErr  error
)

// ModuleRoot is the directory of the dray go.mod.
func ModuleRoot() (string, error) { return proc.ModuleRoot() }

// buildTemp builds pkgs into a new temporary directory (shared by the
// tests of one process) and returns it.
func buildTemp(pattern string, pkgs ...string) (string, error) {
	dir, err := os.MkdirTemp("", pattern)
	if err != nil {
		return "", err
	}
	return proc.Build(context.Background(), "", dir, nil, pkgs...)
}

// Build compiles dray-agent and dray-relay once per test process (into a
// temporary directory the tests share) and returns their paths.
func Build(t testing.TB) *Binaries {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := buildTemp("dray-bin-", "./agent/cmd/dray-agent", "./relay/cmd/dray-relay")
		if err != nil {
			buildErr = err
			return
		}
		built = &Binaries{Dir: dir, Agent: filepath.Join(dir, "dray-agent"), Relay: filepath.Join(dir, "dray-relay")}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return built
}
