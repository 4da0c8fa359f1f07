package installer

import (
	"fmt"
	"strings"
)

// RestartSec is how long systemd waits before restarting the service.
const RestartSec = "5s"

// Unit renders the hardened systemd unit of spec, as `install` writes it.
// Only the data directory is writable; the configuration, the binaries and
// the plugins are not.
func Unit(s Spec) string {
	return unit(s, fmt.Sprintf("Written by %s install; changes are lost on the next install.", s.Name))
}

// PackagedUnit is Unit as a package ships it (print-unit).
func PackagedUnit(s Spec) string {
	return unit(s, fmt.Sprintf("Shipped by the %s package; change it with systemctl edit %s.", s.Name, s.Name))
}

func unit(s Spec, origin string) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	w("# %s", origin)
	w("[Unit]")
	w("Description=%s", s.Description)
	w("Documentation=https://github.com/draylink/dray")
	w("After=network-online.target")
	w("Wants=network-online.target")
	w("# Restart=always, without a limit on how often.")
	w("StartLimitIntervalSec=0")
	w("")
	w("[Service]")
	w("Type=simple")
	w("User=%s", s.User)
	w("Group=%s", s.User)
	w("ExecStart=%s", execLine(s.Executable, s.Arguments))
	w("WorkingDirectory=%s", s.DataDir)
	w("Restart=always")
	w("RestartSec=%s", RestartSec)
	w("TimeoutStopSec=90s")
	w("UMask=0027")
	w("LimitNOFILE=65536")
	w("# Hardening: no privileges, nothing writable but the data directory.")
	w("NoNewPrivileges=yes")
	w("CapabilityBoundingSet=")
	w("AmbientCapabilities=")
	w("ProtectSystem=strict")
	w("ReadWritePaths=%s", s.DataDir)
	w("ProtectHome=yes")
	w("PrivateTmp=yes")
	w("PrivateDevices=yes")
	w("ProtectKernelTunables=yes")
	w("ProtectKernelModules=yes")
	w("ProtectKernelLogs=yes")
	w("ProtectControlGroups=yes")
	w("ProtectClock=yes")
	w("ProtectHostname=yes")
	w("RestrictSUIDSGID=yes")
	w("RestrictRealtime=yes")
	w("RestrictNamespaces=yes")
	w("RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6")
	w("LockPersonality=yes")
	w("SystemCallArchitectures=native")
	w("")
	w("[Install]")
	w("WantedBy=multi-user.target")
	return b.String()
}

// execLine quotes each word that needs it (systemd's rules: double quotes,
// backslash escapes; % doubled).
func execLine(exe string, args []string) string {
	words := append([]string{exe}, args...)
	for i, a := range words {
		a = strings.ReplaceAll(a, "%", "%%")
		if a == "" || strings.ContainsAny(a, " \t\"'\\;$") {
			a = `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(a) + `"`
		}
		words[i] = a
	}
	return strings.Join(words, " ")
}
