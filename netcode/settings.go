//go:build !js

package netcode

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/pion/ice/v4"
	"github.com/pion/logging"
	"github.com/pion/webrtc/v4"
)

// newSettingEngine holds the pion tuning both ends share. The browser build
// (settings_js.go) can only detach: the browser owns ICE there.
func newSettingEngine(cfg *Config) webrtc.SettingEngine {
	var se webrtc.SettingEngine
	// Detached channels give us a blocking Read per channel. Every detached
	// channel must be read, or an unreliable channel stays reliable
	// (FIELD-NOTES.md, "pion traps").
	se.DetachDataChannels()
	se.SetICETimeouts(cfg.ICEDisconnectedTimeout, cfg.ICEFailedTimeout, cfg.ICEKeepaliveInterval)
	// A Tickwire server is reached by address, never by an mDNS name, and
	// mDNS sockets cost goroutines per connection.
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	if cfg.Net != nil {
		se.SetNet(cfg.Net)
	}
	if len(cfg.NetworkTypes) > 0 {
		se.SetNetworkTypes(cfg.NetworkTypes)
	}
	// SCTP has one congestion window for both channels, and a timeout on
	// the reliable one drops it to a single packet: snapshots then queue
	// behind the event being recovered and arrive in late bursts (measured
	// on vnet at 25 ms and 5% loss: 60-210 ms late). Flooring the window at
	// RFC 4960's initial window, no more than a new connection may send,
	// keeps a game's small, steady snapshot stream moving.
	se.SetSCTPMinCwnd(sctpMinCwnd)
	se.LoggerFactory = slogFactory{cfg.Logger}
	return se
}

// sctpMinCwnd is RFC 4960's initial congestion window (section 7.2.1).
const sctpMinCwnd = 4380

func newClientAPI(cfg *Config) *webrtc.API {
	se := newSettingEngine(cfg)
	// Lets a client reach a server on the same machine, the first thing a
	// newcomer tries; the extra candidate costs nothing elsewhere.
	se.SetIncludeLoopbackCandidate(true)
	return webrtc.NewAPI(webrtc.WithSettingEngine(se))
}

// slogFactory sends pion's warnings and errors to the configured logger;
// pion's info and debug chatter goes to Debug.
type slogFactory struct{ log *slog.Logger }

func (f slogFactory) NewLogger(scope string) logging.LeveledLogger {
	return slogLogger{f.log.With("pion", scope)}
}

type slogLogger struct{ log *slog.Logger }

func (l slogLogger) logf(level slog.Level, format string, args ...any) {
	if l.log.Enabled(context.Background(), level) {
		l.log.Log(context.Background(), level, fmt.Sprintf(format, args...))
	}
}

func (l slogLogger) Trace(string)                 {}
func (l slogLogger) Tracef(string, ...any)        {}
func (l slogLogger) Debug(msg string)             { l.logf(slog.LevelDebug, "%s", msg) }
func (l slogLogger) Debugf(f string, args ...any) { l.logf(slog.LevelDebug, f, args...) }
func (l slogLogger) Info(msg string)              { l.logf(slog.LevelDebug, "%s", msg) }
func (l slogLogger) Infof(f string, args ...any)  { l.logf(slog.LevelDebug, f, args...) }
func (l slogLogger) Warn(msg string)              { l.logf(slog.LevelWarn, "%s", msg) }
func (l slogLogger) Warnf(f string, args ...any)  { l.logf(slog.LevelWarn, f, args...) }
func (l slogLogger) Error(msg string)             { l.logf(slog.LevelError, "%s", msg) }
func (l slogLogger) Errorf(f string, args ...any) { l.logf(slog.LevelError, f, args...) }
