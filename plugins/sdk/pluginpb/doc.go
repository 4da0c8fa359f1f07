// Package pluginpb holds the generated wire types and gRPC stubs of the
// connector protocol (plugins/sdk/proto/dray/plugin/v1/connector.proto).
// The SDK and pluginhost use it; connector authors use the sdk package
// instead. Regenerate with `make generate`; the generated files are
// committed.
package pluginpb
