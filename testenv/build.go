package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
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
func ModuleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", fmt.Errorf("not inside the dray module")
	}
	return filepath.Dir(mod), nil
}

// Build compiles dray-agent and dray-relay once per test process (into a
// directory removed when the process exits... by the OS temp cleaner; tests
// share it) and returns their paths.
func Build(t testing.TB) *Binaries {
	t.Helper()
	buildOnce.Do(func() {
		root, err := ModuleRoot()
		if err != nil {
			buildErr = err
			return
		}
		dir, err := os.MkdirTemp("", "dray-bin-")
		if err != nil {
			buildErr = err
			return
		}
		cmd := exec.Command("go", "build", "-o", dir+string(filepath.Separator), "./agent/cmd/dray-agent", "./relay/cmd/dray-relay")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %w\n%s", err, out)
			return
		}
		built = &Binaries{Dir: dir, Agent: filepath.Join(dir, "dray-agent"), Relay: filepath.Join(dir, "dray-relay")}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return built
}
