// Package installer installs dray-agent and dray-relay as OS services.
//
// On Linux with systemd it writes its own hardened unit (Unit): a
// dedicated account, NoNewPrivileges, ProtectSystem=strict with only the
// data directory writable, empty capability sets, PrivateTmp, ProtectHome,
// Restart=always after 5 s. kardianos/service's stock unit is not used: it
// hard-codes RestartSec=120 and knows none of these settings. Elsewhere
// (Windows, launchd on macOS, other Linux init systems) the service is
// registered through github.com/kardianos/service, with delayed automatic
// start and restart on failure on Windows.
//
// An install is a list of steps, each with its undo (Plan). The steps are
// idempotent, so installing twice is fine (the second run updates the
// unit), and when a step fails the steps done so far are undone in reverse
// order, so a failed install leaves nothing behind — kardianos/service does
// not roll back, and its next Install fails with "Init already exists".
// Uninstall keeps the data directory and the account (the spool and the
// identity survive a reinstall); Purge removes them too.
//
// Everything the installer touches on the host goes through Host: the
// filesystem root, the commands it runs (systemctl, useradd, userdel,
// icacls) and the init detection, so tests run in a sandbox.
//
// The relay and the agent register the same commands (Commands): install,
// uninstall, start, stop, status, and run-service (what a kardianos-managed
// service runs; systemd runs the plain `run` command).
package installer
