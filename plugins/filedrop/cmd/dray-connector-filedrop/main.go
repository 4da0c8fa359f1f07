// Command dray-connector-filedrop is the file-drop connector's plugin
// binary: the agent starts it (pinned by SHA-256 in the agent config); it is
// not meant to be run by hand. See package filedrop for the configuration.
package main

import (
	"github.com/draylink/dray/plugins/filedrop"
	"github.com/draylink/dray/plugins/sdk"
)

func main() { sdk.Serve(filedrop.New()) }
