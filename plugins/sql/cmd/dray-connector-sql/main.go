// Command dray-connector-sql is the sql connector's plugin binary: the agent
// starts it (pinned by SHA-256 in the agent config); it is not meant to be
// run by hand. See package github.com/draylink/dray/plugins/sql.
package main

import (
	"os"
	"runtime/debug"

	"github.com/draylink/dray/plugins/sdk"
	"github.com/draylink/dray/plugins/sql"
)

func main() {
	// Mapping rows allocates much short-lived garbage while the live heap
	// stays small (a page of rows): collecting at 5× the live heap instead
	// of 2× cut the plugin's CPU per row by about a quarter
	// (docs/PERFORMANCE.md, "sql connector"), and the soft limit keeps the
	// heap bounded anyway. GOGC and GOMEMLIMIT in the connector's env
	// override both.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(256 << 20)
	}
	sdk.Serve(sql.New())
}
