// Command dray-connector-example is the example connector's plugin binary:
// the agent starts it (pinned by SHA-256 in the agent config); it is not
// meant to be run by hand.
package main

import (
	"github.com/draylink/dray/plugins/example"
	"github.com/draylink/dray/plugins/sdk"
)

func main() { sdk.Serve(example.New()) }
