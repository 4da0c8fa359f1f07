package testenv_test

import (
	"path/filepath"
	"testing"

	"github.com/draylink/dray/agent"
	"github.com/draylink/dray/internal/configfile"
	"github.com/draylink/dray/relay"
	"github.com/draylink/dray/testenv"
)

// TestExampleConfigsAreValid keeps docs/examples in step with the code: the
// documented configuration files must load with the strict loaders.
func TestExampleConfigsAreValid(t *testing.T) {
	root, err := testenv.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	var a agent.Config
	if err := configfile.Load(filepath.Join(root, "docs/examples/agent.yaml"), &a); err != nil {
		t.Errorf("docs/examples/agent.yaml: %v", err)
	}
	if a.Site != "MEM1" || len(a.Sources) != 1 {
		t.Errorf("agent example decoded to %+v", a)
	}
	var r relay.Config
	if err := configfile.Load(filepath.Join(root, "docs/examples/relay.yaml"), &r); err != nil {
		t.Errorf("docs/examples/relay.yaml: %v", err)
	}
}
