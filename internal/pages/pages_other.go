//go:build !linux

package pages

import "log/slog"

// DropStartup does nothing outside Linux.
func DropStartup(*slog.Logger) uintptr { return 0 }
