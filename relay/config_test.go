package relay

import (
	"os"
	"strings"
	"testing"

	"github.com/draylink/dray/internal/configfile"
)

func TestExampleConfig(t *testing.T) {
	b, err := os.ReadFile("testdata/fanout.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var cfg Config
	if err := configfile.Decode(b, &cfg); err != nil {
		t.Fatal(err)
	}
	tabs := cfg.RouteTables()
	for sink, want := range map[string]int{"erp": 4, "tms": 2, "hooks": 1, "wms-archive": 1} {
		if got := len(tabs[sink].Routes); got != want {
			t.Errorf("sink %s: %d routes; want %d", sink, got, want)
		}
	}
	if cfg.Sinks[0].Delivery.Batch == nil || cfg.Sinks[0].Delivery.Batch.MaxEvents != 100 || cfg.Sinks[1].Delivery.Workers != 32 ||
		cfg.Sinks[0].HTTP.Auth.OAuth2 == nil || cfg.Sinks[2].Delivery.StartAt != "newest" || cfg.Admin.Tokens[0].Secret.File == "" {
		t.Errorf("decoded %+v", cfg.Sinks)
	}
}

func TestFanOutConfigErrors(t *testing.T) {
	base := `
data_dir: /d
listen: {tcp: ":1"}
tls: {cert_file: c, key_file: k, client_ca_file: ca}
`
	for _, tc := range []struct {
		name, yaml string
		want       []string
	}{
		{"route to an unknown sink, bad jq, duplicate names", `
sinks:
  - {name: erp, url: "http://erp"}
  - {name: erp, url: "http://erp2"}
routes:
  - {name: a, sink: erp, path: '"/x"', transform: '{a: .b'}
  - {name: a, sink: tms, path: '"/x"', mode: cloudevents}
`, []string{"sinks[1].name", "routes[0].transform: jq parse error", "routes[1].name", "routes[1].sink: no sink named \"tms\""}},
		{"sink without route, batch format", `
sinks:
  - {name: erp, url: "http://erp", batch: {path: /b, format: cloudevents}}
  - {name: idle, url: "http://idle"}
routes:
  - {name: a, sink: erp, path: '"/x"', transform: '.'}
`, []string{"sinks[0].batch.format", "sinks[1]: no route sends to sink \"idle\""}},
		{"admin without tokens, unknown key", `
admin: {listen: "127.0.0.1:1"}
sinks:
  - {name: erp, url: "http://erp", wrokers: 3}
`, []string{"wrokers"}},
		{"admin token", `
admin: {listen: "127.0.0.1:1", tokens: [{name: ops}, {name: ops, env: X, file: Y}]}
`, []string{"admin.tokens[0]: set exactly one", "admin.tokens[1].name", "admin.tokens[1]: set exactly one"}},
		{"admin without tokens", `
admin: {listen: "127.0.0.1:1"}
`, []string{"admin.tokens: at least one"}},
	} {
		var cfg Config
		err := configfile.Decode([]byte(base+tc.yaml), &cfg)
		if err == nil {
			t.Errorf("%s: no error", tc.name)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %v\nwant %q", tc.name, err, w)
			}
		}
	}
}
