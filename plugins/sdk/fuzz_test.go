package sdk_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/draylink/dray/plugins/sdk"
)

// FuzzDecodeConfig: any input decodes without panicking; input that is not
// JSON (blank input means "{}") is always reported, and every problem says
// what is wrong.
func FuzzDecodeConfig(f *testing.F) {
	for _, s := range []string{
		`{"dsn":"x","poll":"2s","batch":5,"tables":[{"name":"a","key":"b"}],"primary":{"name":"p"},"labels":{"k":"v"}}`,
		`{"batch":"ten","extra":1,"tables":{"name":1}}`,
		`null`, `[]`, `{"poll":5}`, `{"labels":{"k":1}}`, `{`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var cfg testConfig
		problems := sdk.DecodeConfig(data, &cfg)
		if len(problems) == 0 && len(bytes.TrimSpace(data)) > 0 && !json.Valid(data) {
			var x any
			if json.Unmarshal(data, &x) != nil {
				t.Fatalf("DecodeConfig(%q) accepted invalid JSON", data)
			}
		}
		for _, p := range problems {
			if p.Msg == "" {
				t.Fatalf("DecodeConfig(%q): problem without a message at %q", data, p.Path)
			}
		}
	})
}
