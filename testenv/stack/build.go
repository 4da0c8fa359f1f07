package stack

import (
	"context"
	"io"
	"path/filepath"

	"github.com/draylink/dray/testenv/proc"
)

// Binaries are the paths of the programs a stack runs.
type Binaries struct {
	Dir      string
	Agent    string // dray-agent
	Relay    string // dray-relay
	SQL      string // dray-connector-sql
	FileDrop string // dray-connector-filedrop
	RefSink  string // dray-refsink
	WMSSim   string // dray-wmssim
}

// Packages are the main packages Build compiles.
var Packages = []string{
	"./agent/cmd/dray-agent",
	"./relay/cmd/dray-relay",
	"./plugins/sql/cmd/dray-connector-sql",
	"./plugins/filedrop/cmd/dray-connector-filedrop",
	"./testenv/cmd/dray-refsink",
	"./testenv/cmd/dray-wmssim",
}

// BinariesIn returns the binaries' paths in dir (built or not).
func BinariesIn(dir string) Binaries {
	p := func(n string) string { return filepath.Join(dir, n) }
	return Binaries{Dir: dir, Agent: p("dray-agent"), Relay: p("dray-relay"), SQL: p("dray-connector-sql"),
		FileDrop: p("dray-connector-filedrop"), RefSink: p("dray-refsink"), WMSSim: p("dray-wmssim")}
}

// Build compiles every program of the stack into dir with one `go build`
// in the module at root (the module of the working directory when
// empty); the compiler's output also goes to progress when not nil.
func Build(ctx context.Context, root, dir string, progress io.Writer) (Binaries, error) {
	abs, err := proc.Build(ctx, root, dir, progress, Packages...)
	if err != nil {
		return Binaries{}, err
	}
	return BinariesIn(abs), nil
}
