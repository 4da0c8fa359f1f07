// Command dray-connector-sql is the sql connector's plugin binary: the agent
// starts it (pinned by SHA-256 in the agent config); it is not meant to be
// run by hand. See package github.com/draylink/dray/plugins/sql.
package main

import (
	"github.com/draylink/dray/plugins/sdk"
	"github.com/draylink/dray/plugins/sql"
)

func main() { sdk.Serve(sql.New()) }
