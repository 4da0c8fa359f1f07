// Command dray-connector-filedrop is the file-drop connector's plugin
// binary: the agent starts it (pinned by SHA-256 in the agent config); it is
// not meant to be run by hand. See package filedrop for the configuration.
package main

import (
	"os"
	"runtime/debug"

	"github.com/draylink/dray/plugins/filedrop"
	"github.com/draylink/dray/plugins/sdk"
)

func main() {
	// The connector allocates a few objects per record and keeps little
	// alive (one batch): collecting at 4× the live heap instead of 2× cuts
	// the garbage collector's CPU by about half for a few MiB more. A GOGC
	// in the plugin's environment (the agent's env for it) wins.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	sdk.Serve(filedrop.New())
}
