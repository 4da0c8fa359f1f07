package sdk_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/draylink/dray/plugins/sdk"
)

type table struct {
	Name string `json:"name"`
	Key  string `json:"key"`
}

type testConfig struct {
	DSN      string            `json:"dsn"`
	Poll     time.Duration     `json:"poll"`
	Batch    int               `json:"batch"`
	Ratio    float64           `json:"ratio"`
	Enabled  bool              `json:"enabled"`
	Tables   []table           `json:"tables"`
	Primary  *table            `json:"primary"`
	Labels   map[string]string `json:"labels"`
	Untagged string
	Ignored  string `json:"-"`
}

func TestDecodeConfig(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want testConfig
		errs []sdk.FieldError
	}{
		{
			name: "valid",
			in: `{"dsn":"postgres://x","poll":"1m30s","batch":500,"ratio":0.5,"enabled":true,
				"tables":[{"name":"moves","key":"id"}],"primary":{"name":"orders"},"labels":{"a":"b"},"Untagged":"u"}`,
			want: testConfig{DSN: "postgres://x", Poll: 90 * time.Second, Batch: 500, Ratio: 0.5, Enabled: true,
				Tables: []table{{Name: "moves", Key: "id"}}, Primary: &table{Name: "orders"}, Labels: map[string]string{"a": "b"}, Untagged: "u"},
		},
		{name: "empty", in: ``},
		{name: "null", in: `null`},
		{
			name: "every problem, with paths, in key order",
			in:   `{"batch":"ten","dsn":3,"extra":1,"poll":"soon","tables":[{"name":"m","kye":"id"},{"name":5}],"Ignored":"x","primary":{"nme":"o"}}`,
			want: testConfig{Tables: []table{{Name: "m"}, {}}, Primary: &table{}},
			errs: []sdk.FieldError{
				{Path: "Ignored", Msg: "unknown field"},
				{Path: "batch", Msg: "want an integer, got a string"},
				{Path: "dsn", Msg: "want a string, got a number (3)"},
				{Path: "extra", Msg: "unknown field"},
				{Path: "poll", Msg: `want a duration such as "2s" or "1m30s", got "soon"`},
				{Path: "primary.nme", Msg: "unknown field"},
				{Path: "tables[0].kye", Msg: "unknown field"},
				{Path: "tables[1].name", Msg: "want a string, got a number (5)"},
			},
		},
		{
			name: "keys are case-sensitive",
			in:   `{"DSN":"x"}`,
			errs: []sdk.FieldError{{Path: "DSN", Msg: "unknown field"}},
		},
		{
			name: "wrong shapes",
			in:   `{"tables":{"name":"x"},"primary":[1],"poll":5,"batch":1.5}`,
			errs: []sdk.FieldError{
				{Path: "batch", Msg: "want an integer, got a number (1.5)"},
				{Path: "poll", Msg: `want a duration such as "2s" or "1m30s", got a number (5)`},
				{Path: "primary", Msg: "want an object, got a list"},
				{Path: "tables", Msg: "want a list, got an object"},
			},
			want: testConfig{Primary: &table{}},
		},
		{
			name: "not an object",
			in:   `[1,2]`,
			errs: []sdk.FieldError{{Msg: "want an object, got a list"}},
		},
		{
			name: "not JSON",
			in:   `{"dsn":`,
			errs: []sdk.FieldError{{Msg: "not valid JSON: unexpected end of JSON input"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got testConfig
			errs := sdk.DecodeConfig([]byte(tt.in), &got)
			if !reflect.DeepEqual(errs, tt.errs) {
				t.Errorf("problems:\n got %v\nwant %v", errs, tt.errs)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("decoded %+v; want %+v", got, tt.want)
			}
		})
	}
}

func TestConfigErrorMessage(t *testing.T) {
	err := &sdk.ConfigError{Fields: []sdk.FieldError{{Path: "dir", Msg: "required"}, {Msg: "bad"}}}
	if got, want := err.Error(), "invalid configuration: dir: required; bad"; got != want {
		t.Errorf("got %q; want %q", got, want)
	}
}

func TestDecodeConfigPanicsOnNonStruct(t *testing.T) {
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "pointer to a struct") {
			t.Errorf("recovered %v; want a panic about the argument", r)
		}
	}()
	var m map[string]any
	sdk.DecodeConfig([]byte(`{}`), &m)
}
