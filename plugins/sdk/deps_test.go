package sdk_test

import (
	"errors"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/draylink/dray/"

// TestDependencies enforces the SDK boundary (Tailscale's deptest): the SDK,
// its subpackages and the example connector import nothing of dray's but
// canonical and the SDK itself, so a third party can build a connector from
// the SDK and canonical alone. The conformance suite, a test helper, may also
// use pluginhost to start connectors the way the agent does. Test-only
// imports do not count.
func TestDependencies(t *testing.T) {
	sdkOnly := []string{module + "canonical", module + "plugins/sdk"}
	rules := []struct {
		pattern string
		allowed []string
	}{
		{module + "plugins/sdk/...", sdkOnly},
		{module + "plugins/example/...", append(slices.Clone(sdkOnly), module+"plugins/example")},
		{module + "plugins/sdk/conformance", append(slices.Clone(sdkOnly), module+"plugins/pluginhost")},
	}
	for _, goos := range []string{"linux", "windows", "darwin"} {
		for _, r := range rules {
			for pkg, deps := range goDeps(t, goos, r.pattern) {
				if strings.HasPrefix(pkg, module+"plugins/sdk/conformance") && !strings.HasSuffix(r.pattern, "conformance") {
					continue // has its own rule
				}
				for _, dep := range deps {
					if strings.HasPrefix(dep, module) && !within(dep, r.allowed) {
						t.Errorf("GOOS=%s: %s depends on %s; only %v are allowed", goos, pkg, dep, r.allowed)
					}
				}
			}
		}
	}
}

// within reports whether pkg is one of roots or below one.
func within(pkg string, roots []string) bool {
	for _, r := range roots {
		if pkg == r || strings.HasPrefix(pkg, r+"/") {
			return true
		}
	}
	return false
}

// goDeps maps each package matching pattern to its (non-test) dependencies.
func goDeps(t *testing.T, goos, pattern string) map[string][]string {
	t.Helper()
	cmd := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Deps " "}}`, pattern)
	cmd.Env = append(os.Environ(), "GOOS="+goos, "GOARCH=amd64", "CGO_ENABLED=0")
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("go list %s: %v\n%s", pattern, err, stderr)
	}
	m := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if len(f) > 0 {
			m[f[0]] = f[1:]
		}
	}
	if len(m) == 0 {
		t.Fatalf("go list %s: no packages", pattern)
	}
	return m
}
