// Package fsowner gives files and directories that root writes on behalf of
// a service account the owner of the directory they go in.
//
// `dray-agent enroll` and `dray-relay ca init` are run by an administrator,
// usually as root, and write keys and certificates that the service later
// reads (and, for the agent, renews) as its own unprivileged account. The
// installer makes the data directory the account's; fsowner carries that
// ownership down to what is written inside it, so a key written by root
// with mode 0600 is still readable by the service. Run as any other user,
// or where files have no Unix owner (Windows), it does nothing.
package fsowner
