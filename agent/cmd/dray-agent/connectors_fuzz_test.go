package main

import (
	"encoding/json"
	"testing"

	"github.com/draylink/dray/agent"
	"github.com/draylink/dray/internal/configfile"
)

// FuzzConnectorConfigBlock: any YAML under a connector's config: key either
// becomes valid JSON or is reported as problems; it never panics.
func FuzzConnectorConfigBlock(f *testing.F) {
	for _, s := range []string{
		"dir: /in\npoll_interval: 2s\n",
		"a: &x [1, 2.5, true, null, 0x1f, 2025-03-14]\nb: *x\n",
		"a: 1\na: 2\n",
		"? [1]\n: x\n",
		"r: .inf\n",
		"m: {<<: {a: 1}}\n",
		"- 1\n- !custom x\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, block string) {
		doc := baseConfig + "connectors:\n  - name: c\n    path: /x\n    sha256: " +
			"0000000000000000000000000000000000000000000000000000000000000000\n    config:\n"
		for _, line := range splitLines(block) {
			doc += "      " + line + "\n"
		}
		var cfg agent.Config
		if err := configfile.Decode([]byte(doc), &cfg); err != nil || len(cfg.Connectors) != 1 {
			return
		}
		if raw := cfg.Connectors[0].Config.JSON(); !json.Valid(raw) {
			t.Fatalf("accepted block gave invalid JSON %q", raw)
		}
	})
}

func splitLines(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	if start < len(s) {
		out = append(out, s[start:])
	}
	return out
}
