// Package logsetup builds a process's structured logger (log/slog) from its
// configuration, the same way for every dray binary.
package logsetup

import (
	"fmt"
	"io"
	"log/slog"
)

// New returns a logger writing JSON (or text) at level ("debug", "info",
// "warn", "error") to w.
func New(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log level %q: %w", level, err)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "json", "":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("log format %q: want json or text", format)
}
