package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tickwire/tickwire/internal/dots"
	"github.com/tickwire/tickwire/lobby"
)

// envPrefix is prepended to a flag's name, upper-cased with dashes turned
// to underscores, to make its environment variable: -game-udp is
// TICKWIRE_LOBBY_GAME_UDP.
const envPrefix = "TICKWIRE_LOBBY_"

// envName is the environment variable twin of a flag.
func envName(flagName string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// config is the command's configuration, validated.
type config struct {
	Addr string // HTTP listen address

	Game         bool   // run the embedded game server
	GameUDP      string // its netcode UDP address
	GameTCP      string // its ICE-TCP address, "" for none
	PublicIPs    []string
	PublicIPAuto bool // discover the public address with the first -stun server
	GameName     string
	GameRegion   string
	GameCapacity int
	GameHz       int

	Modes    map[string]lobby.Mode
	FillWait time.Duration
	Backfill bool

	Key         string // lobby.Config.GameServerKey
	GuestSecret string
	TokenTTL    time.Duration
	SeatTimeout time.Duration

	STUN         []string
	TURNURLs     []string
	TURNSecret   string
	TURNTTL      time.Duration
	TURNEmbedded string // UDP and TCP address of an embedded TURN server, or ""
	TURNRelayIP  string
	TURNTLSAddr  string // its TLS (turns:) address, or ""
	TURNCert     string // PEM files for TURNTLSAddr
	TURNKey      string
	TURNHost     string // its host in the URLs handed out, or "" for the relay IP

	Origins   []string
	LogLevel  slog.Level
	LogFormat string // text or json

	Redis        string // the RedisStore's URL, or "" for a lobby alone in memory
	RedisPrefix  string
	Metrics      bool   // serve /metrics
	Pprof        string // host:port of net/http/pprof, or ""
	DrainTimeout time.Duration

	Web string // a directory of static files served at "/", or ""

	// Set by tests rather than flags.
	out   io.Writer         // the banner and logs; os.Stderr in main
	ready func(base string) // called with the lobby's base URL once it serves
	// sigterm receives SIGTERM (main): the stop it starts drains the
	// embedded game server first, as Kubernetes stops a pod.
	sigterm <-chan os.Signal
}

// flagDoc describes one flag for -h: its value name and what it does.
type flagDoc struct {
	name, value, usage string
}

// parseConfig reads the flags in args over the environment (getenv) over
// the defaults, and validates the result. -h returns flag.ErrHelp after
// writing the usage to usageOut.
func parseConfig(args []string, getenv func(string) string, usageOut io.Writer) (*config, error) {
	fs := flag.NewFlagSet("lobby", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are returned, usage printed by us
	fs.Usage = func() {}

	var docs []flagDoc
	str := func(p *string, name, def, value, usage string) {
		fs.StringVar(p, name, def, usage)
		docs = append(docs, flagDoc{name, value, usage})
	}
	boolean := func(p *bool, name string, def bool, usage string) {
		fs.BoolVar(p, name, def, usage)
		docs = append(docs, flagDoc{name, "", usage})
	}
	dur := func(p *time.Duration, name string, def time.Duration, usage string) {
		fs.DurationVar(p, name, def, usage)
		docs = append(docs, flagDoc{name, "duration", usage})
	}
	integer := func(p *int, name string, def int, usage string) {
		fs.IntVar(p, name, def, usage)
		docs = append(docs, flagDoc{name, "n", usage})
	}

	var c config
	var modes, stun, turnURLs, origins, logLevel, publicIP string
	str(&c.Addr, "addr", "127.0.0.1:8080", "host:port",
		"HTTP address the lobby listens on (players and remote game servers). Use :8080 or a public address to be reachable from other machines, behind TLS in production.")
	boolean(&c.Game, "game", true,
		"Run the embedded game server (a demo game of moving dots) in this process. -game=false runs a lobby alone, for game servers that register with -key.")
	str(&c.GameUDP, "game-udp", "127.0.0.1:0", "host:port",
		"UDP address of the embedded game server: every player's WebRTC traffic arrives on this one port. The default is loopback only, with a port the system picks; in production use a fixed port on an address players can reach, such as 0.0.0.0:7777 on a host with a public IP.")
	str(&c.GameTCP, "game-tcp", "", "host:port|off",
		"TCP address of the embedded game server's ICE-TCP, which players on networks that block UDP connect to without a relay. Default: the -game-udp address (its port number, over TCP). off: no ICE-TCP.")
	str(&publicIP, "public-ip", "", "ips|auto",
		"Public address of the embedded game server, advertised to players in place of its interface address, for a server behind 1:1 NAT: a cloud VM whose public IP is not on its interface, Docker with published ports, a Kubernetes hostPort. One IPv4 and/or one IPv6, comma-separated, each an IP or IP:port where the forwarded UDP port differs from -game-udp's. auto: ask the first -stun server which address the game port is reached on.")
	str(&c.GameName, "game-name", "embedded", "name", "Name of the embedded game server, as the lobby shows it.")
	str(&c.GameRegion, "game-region", "", "region", "Region of the embedded game server; players queueing for another region are not placed on it. Empty: any.")
	integer(&c.GameCapacity, "game-capacity", 64, "Seats the embedded game server takes, over all its rooms.")
	integer(&c.GameHz, "game-hz", 30, "Tick rate of the embedded game: states of its world per second to each player.")
	str(&modes, "modes", "default=2-4", "list",
		"Game modes players can queue for, comma-separated name=min-max (room sizes), such as default=2-4,duel=2-2. name=n means n-n.")
	dur(&c.FillWait, "fill-wait", 10*time.Second,
		"How long matchmaking holds out for a full room before it makes one of at least the mode's minimum size. 0: at once.")
	boolean(&c.Backfill, "backfill", false, "Let matchmaking fill free seats of running rooms before opening new ones.")
	str(&c.Key, "key", "", "secret",
		"Shared key that game servers in other processes present to register (lobby.DialGameServer); at least 16 bytes. Empty: only the embedded game server.")
	str(&c.GuestSecret, "guest-secret", "", "secret",
		"Secret that signs guest tokens, at least 16 bytes. Empty: a random one, so tokens die with the process; set it when several lobbies share players.")
	dur(&c.TokenTTL, "token-ttl", 24*time.Hour, "How long a guest token stays valid.")
	dur(&c.SeatTimeout, "seat-timeout", 30*time.Second, "How long a matched player has to connect to its game server before its seat is given up.")
	str(&stun, "stun", "", "urls", "STUN URLs handed to players with each match, comma-separated, such as stun:stun.l.google.com:19302.")
	str(&turnURLs, "turn-url", "", "urls",
		"TURN URLs handed to players with short-lived credentials, comma-separated, one for each transport the TURN server serves, such as turn:turn.example.com:3478?transport=udp, turn:turn.example.com:3478?transport=tcp, turns:turn.example.com:443?transport=tcp. A turn: URL without ?transport= is tried over UDP only: players whose networks block UDP get a relay only from the tcp and turns: ones. Needs -turn-secret.")
	str(&c.TURNSecret, "turn-secret", "", "secret",
		"Secret shared with the TURN server (coturn's static-auth-secret, use-auth-secret). With -turn-embedded and no secret, a random one.")
	dur(&c.TURNTTL, "turn-ttl", time.Hour, "How long TURN credentials stay valid.")
	str(&c.TURNEmbedded, "turn-embedded", "", "host:port",
		"Run an embedded TURN server on this address, UDP and TCP on the same port, and hand players a URL for each transport it serves, for small deployments. A wildcard host needs -turn-relay-ip.")
	str(&c.TURNRelayIP, "turn-relay-ip", "", "ip",
		"Public IP of the embedded TURN server, for relayed traffic; behind 1:1 NAT (a cloud VM), the public one. Default: the -turn-embedded host.")
	str(&c.TURNTLSAddr, "turn-tls-addr", "", "host:port",
		"Also serve the embedded TURN server over TLS (turns:) on this address, such as :443, for networks that let only web traffic out. Needs -turn-embedded, -turn-cert and -turn-key.")
	str(&c.TURNCert, "turn-cert", "", "file",
		"PEM certificate chain for -turn-tls-addr, valid for -turn-host (or the relay IP). Read at start: restart after renewing it.")
	str(&c.TURNKey, "turn-key", "", "file", "PEM private key of -turn-cert.")
	str(&c.TURNHost, "turn-host", "", "name",
		"Host name of the embedded TURN server in the URLs handed to players, such as turn.example.com: with -turn-tls-addr, a name the certificate holds. Default: the relay IP.")
	str(&origins, "origin", "", "patterns",
		"Browser origins allowed to open a player WebSocket, comma-separated host patterns such as game.example.com,*.example.com; * allows every origin. Empty: same origin only. Native clients are always allowed.")
	str(&logLevel, "log-level", "info", "level", "Log level: debug, info, warn or error. WebRTC (pion) warnings show at debug only.")
	str(&c.LogFormat, "log-format", "text", "text|json", "Log format: text (key=value) or json (one object a line, for log collectors).")
	str(&c.Redis, "redis", "", "url",
		"Share the lobby's state (queues, parties, rooms, seats, game servers, spent tokens) with other lobby nodes through this Redis, such as redis://redis:6379/0, rediss://:password@host:6380/0 or unix:///run/redis.sock: players and game servers then connect to any node, and a node that stops or dies loses only its connections. Every node needs the same -guest-secret, -key and -modes. Empty: this process alone, its state in memory.")
	str(&c.RedisPrefix, "redis-prefix", "tickwire", "name", "Names this lobby's keys in -redis, so that lobbies with other modes or secrets can share the Redis.")
	boolean(&c.Metrics, "metrics", true, "Serve Prometheus metrics at /metrics: the lobby's players, queues, matches, rooms, signaling and limits, and the embedded game server's sessions.")
	str(&c.Pprof, "pprof", "", "host:port",
		"Serve Go's profiler (net/http/pprof) at /debug/pprof/ on this address, for diagnosis. Keep it on loopback or a private network. Empty: off.")
	dur(&c.DrainTimeout, "drain-timeout", 30*time.Second,
		"On SIGTERM (how Kubernetes stops a pod), how long the embedded game server drains before the process stops: no new room or player goes to it, and the rooms on it play on until they end or this passes. Keep it below the pod's terminationGracePeriodSeconds. 0: stop at once. Ctrl-C (SIGINT) stops at once.")
	str(&c.Web, "web", "", "dir",
		"Serve the static files of this directory at / next to the lobby's own routes, such as the browser demo that make run builds into build/web. Empty: no page.")

	// The command line first; then the environment for every flag it did
	// not set.
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			writeUsage(usageOut, fs, docs)
		}
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q: this command takes flags only", fs.Arg(0))
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	for _, d := range docs {
		env := envName(d.name)
		if v := getenv(env); v != "" && !given[d.name] {
			if err := fs.Set(d.name, v); err != nil {
				return nil, fmt.Errorf("%s=%q: %v", env, v, err)
			}
		}
	}

	// bad names where a bad value came from: the flag, else its variable.
	bad := func(name, format string, args ...any) error {
		src := "-" + name
		if !given[name] && getenv(envName(name)) != "" {
			src = envName(name)
		}
		return fmt.Errorf("%s: "+format, append([]any{src}, args...)...)
	}

	if err := checkHostPort(c.Addr); err != nil {
		return nil, bad("addr", "%v", err)
	}
	if c.Game {
		if err := checkHostPort(c.GameUDP); err != nil {
			return nil, bad("game-udp", "%v", err)
		}
		switch c.GameTCP {
		case "":
			c.GameTCP = c.GameUDP
		case "off":
			c.GameTCP = ""
		default:
			if err := checkHostPort(c.GameTCP); err != nil {
				return nil, bad("game-tcp", "%v", err)
			}
		}
	} else {
		for _, name := range []string{"game-tcp", "public-ip"} {
			if fs.Lookup(name).Value.String() != "" {
				return nil, bad(name, "only applies with the embedded game server (-game)")
			}
		}
	}
	if c.GameCapacity < 1 {
		return nil, bad("game-capacity", "%d seats: need at least 1", c.GameCapacity)
	}
	if c.GameHz < 1 || c.GameHz > 1000 {
		return nil, bad("game-hz", "%d: need 1 to 1000", c.GameHz)
	}
	if c.FillWait < 0 {
		return nil, bad("fill-wait", "negative duration %v", c.FillWait)
	}
	var err error
	if c.Modes, err = parseModes(modes); err != nil {
		return nil, bad("modes", "%v", err)
	}
	for name, m := range c.Modes {
		m.FillWait = c.FillWait
		if m.FillWait == 0 {
			m.FillWait = time.Nanosecond // lobby.Mode's zero means its default
		}
		m.Backfill = c.Backfill
		c.Modes[name] = m
		if c.Game && m.MaxPlayers > dots.MaxPlayers {
			return nil, bad("modes", "mode %q: rooms of %d; the embedded game fits at most %d players in a snapshot", name, m.MaxPlayers, dots.MaxPlayers)
		}
		if c.Game && m.MaxPlayers > c.GameCapacity {
			return nil, bad("modes", "mode %q: rooms of %d do not fit in -game-capacity %d", name, m.MaxPlayers, c.GameCapacity)
		}
	}
	if c.Key != "" && len(c.Key) < 16 {
		return nil, bad("key", "%d bytes: need at least 16", len(c.Key))
	}
	if !c.Game && c.Key == "" {
		return nil, bad("game", "no embedded game server and no -key: no game server could ever register, so no match could be placed")
	}
	if c.GuestSecret != "" && len(c.GuestSecret) < 16 {
		return nil, bad("guest-secret", "%d bytes: need at least 16", len(c.GuestSecret))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"token-ttl", c.TokenTTL}, {"seat-timeout", c.SeatTimeout}, {"turn-ttl", c.TURNTTL}} {
		if d.v <= 0 {
			return nil, bad(d.name, "%v: must be positive", d.v)
		}
	}
	if c.STUN, err = parseURLs(stun, "stun:", "stuns:"); err != nil {
		return nil, bad("stun", "%v", err)
	}
	if publicIP == "auto" {
		if len(c.STUN) == 0 || !strings.HasPrefix(strings.ToLower(c.STUN[0]), "stun:") {
			return nil, bad("public-ip", "auto needs a stun: URL in -stun (%s) to ask", envName("stun"))
		}
		c.PublicIPAuto = true
	} else if publicIP != "" {
		families := map[bool]bool{}
		for _, a := range splitList(publicIP) {
			ip := net.ParseIP(strings.Trim(a, "[]"))
			if ip == nil {
				host, _, err := net.SplitHostPort(a)
				if ip = net.ParseIP(host); err != nil || ip == nil {
					return nil, bad("public-ip", "%q is neither an IP nor an IP:port", a)
				}
			}
			if families[ip.To4() != nil] {
				return nil, bad("public-ip", "at most one IPv4 and one IPv6 address")
			}
			families[ip.To4() != nil] = true
			c.PublicIPs = append(c.PublicIPs, a)
		}
	}
	if c.TURNURLs, err = parseURLs(turnURLs, "turn:", "turns:"); err != nil {
		return nil, bad("turn-url", "%v", err)
	}
	if len(c.TURNURLs) > 0 && c.TURNSecret == "" {
		return nil, bad("turn-url", "needs -turn-secret (%s), the secret shared with the TURN server", envName("turn-secret"))
	}
	if c.TURNRelayIP != "" && net.ParseIP(c.TURNRelayIP) == nil {
		return nil, bad("turn-relay-ip", "%q is not an IP address", c.TURNRelayIP)
	}
	if c.TURNEmbedded != "" {
		if err := checkHostPort(c.TURNEmbedded); err != nil {
			return nil, bad("turn-embedded", "%v", err)
		}
		host, _, _ := net.SplitHostPort(c.TURNEmbedded)
		if ip := net.ParseIP(host); c.TURNRelayIP == "" && (ip == nil || ip.IsUnspecified() || ip.To4() == nil) {
			return nil, bad("turn-embedded", "%q: needs an IPv4 address, or -turn-relay-ip with a wildcard one", c.TURNEmbedded)
		}
	} else {
		for _, name := range []string{"turn-relay-ip", "turn-tls-addr", "turn-host"} {
			if fs.Lookup(name).Value.String() != "" {
				return nil, bad(name, "only applies with -turn-embedded")
			}
		}
	}
	if c.TURNTLSAddr != "" {
		if err := checkHostPort(c.TURNTLSAddr); err != nil {
			return nil, bad("turn-tls-addr", "%v", err)
		}
		if c.TURNCert == "" || c.TURNKey == "" {
			return nil, bad("turn-tls-addr", "needs -turn-cert and -turn-key (%s, %s)", envName("turn-cert"), envName("turn-key"))
		}
	}
	for _, f := range []struct{ name, v string }{{"turn-cert", c.TURNCert}, {"turn-key", c.TURNKey}} {
		if f.v == "" {
			continue
		}
		if c.TURNTLSAddr == "" {
			return nil, bad(f.name, "only applies with -turn-tls-addr")
		}
		if _, err := os.Stat(f.v); err != nil {
			return nil, bad(f.name, "%v", err)
		}
	}
	c.Origins = splitList(origins)
	if c.Web != "" {
		fi, err := os.Stat(c.Web)
		if err != nil {
			return nil, bad("web", "%v", err)
		}
		if !fi.IsDir() {
			return nil, bad("web", "%q is not a directory", c.Web)
		}
	}
	if err := c.LogLevel.UnmarshalText([]byte(logLevel)); err != nil {
		return nil, bad("log-level", "%q: want debug, info, warn or error", logLevel)
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		return nil, bad("log-format", "%q: want text or json", c.LogFormat)
	}
	if c.Redis != "" {
		if !strings.Contains(c.Redis, "://") {
			return nil, bad("redis", "%q: want a URL such as redis://host:6379/0", c.Redis)
		}
		if c.GuestSecret == "" {
			return nil, bad("redis", "needs -guest-secret (%s), the same on every node: a token one node issues must open a connection on any other", envName("guest-secret"))
		}
	}
	if c.RedisPrefix == "" || strings.ContainsAny(c.RedisPrefix, "{}") {
		return nil, bad("redis-prefix", "%q: want a name without braces", c.RedisPrefix)
	}
	if c.Pprof != "" {
		if err := checkHostPort(c.Pprof); err != nil {
			return nil, bad("pprof", "%v", err)
		}
	}
	if c.DrainTimeout < 0 {
		return nil, bad("drain-timeout", "negative duration %v", c.DrainTimeout)
	}
	return &c, nil
}

// writeUsage is -h: every flag with its value, default and environment
// variable.
func writeUsage(w io.Writer, fs *flag.FlagSet, docs []flagDoc) {
	fmt.Fprintf(w, `Usage: go run ./lobby/cmd/lobby [flags]

Runs a Tickwire lobby: guest tokens, matchmaking, rooms and the WebRTC
signaling broker, over HTTP and WebSocket (lobby/PROTOCOL.md). By default it
also runs an embedded game server, so that one command gives players
somewhere to play:

  GET  /healthz     200 while the lobby runs
  GET  /readyz      200 while a game server can take rooms, else 503
  POST /v1/guest    a guest token
  GET  /v1/play     WebSocket for players
  GET  /v1/server   WebSocket for game servers in other processes (-key)
  GET  /metrics     Prometheus metrics (-metrics)
  GET  /            the files of -web, if set (a browser game, say)

Every flag has an environment variable twin, shown below. A flag on the
command line wins over its variable, which wins over the default; an empty
variable counts as unset.

Flags:
`)
	for _, d := range docs {
		f := fs.Lookup(d.name)
		head := "  -" + d.name
		if d.value != "" {
			head += " " + d.value
		}
		def := f.DefValue
		switch {
		case def == "":
			def = "none"
		case d.value != "" && d.value != "n" && d.value != "duration":
			def = strconv.Quote(def)
		}
		fmt.Fprintf(w, "%s\n", head)
		for _, line := range wrap(d.usage, 72) {
			fmt.Fprintf(w, "      %s\n", line)
		}
		fmt.Fprintf(w, "      env %s, default %s\n", envName(d.name), def)
	}
	fmt.Fprintf(w, `
Examples:
  go run ./lobby/cmd/lobby                                  # lobby and game server on localhost
  go run ./examples/lobbybots -lobby http://127.0.0.1:8080  # in another terminal
  TICKWIRE_LOBBY_ADDR=:8080 TICKWIRE_LOBBY_GAME_UDP=0.0.0.0:7777 go run ./lobby/cmd/lobby
  go run ./lobby/cmd/lobby -web build/web                   # and the browser demo make run builds there
  go run ./lobby/cmd/lobby -redis redis://127.0.0.1:6379/0 -guest-secret S -key K -addr :8081   # one node of several

Bad values exit with status 2.
`)
}

// wrap breaks s into lines of at most width bytes, at spaces.
func wrap(s string, width int) []string {
	var lines []string
	line := ""
	for _, word := range strings.Fields(s) {
		if line != "" && len(line)+1+len(word) > width {
			lines = append(lines, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += word
	}
	if line != "" {
		lines = append(lines, line)
	}
	return lines
}

// checkHostPort accepts "host:port" and ":port" with a numeric port.
func checkHostPort(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q: want host:port: %v", addr, err)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("%q: port %q is not a number from 0 to 65535", addr, port)
	}
	return nil
}

// parseModes reads "name=min-max,name=n".
func parseModes(s string) (map[string]lobby.Mode, error) {
	out := map[string]lobby.Mode{}
	items := splitList(s)
	if len(items) == 0 {
		return nil, errors.New("no mode: want at least one name=min-max")
	}
	for _, item := range items {
		name, size, ok := strings.Cut(item, "=")
		name = strings.TrimSpace(name)
		if !ok || name == "" || len(name) > 64 {
			return nil, fmt.Errorf("%q: want name=min-max with a name of 1 to 64 bytes", item)
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("mode %q given twice", name)
		}
		lo, hi, ranged := strings.Cut(size, "-")
		minP, err1 := strconv.Atoi(strings.TrimSpace(lo))
		maxP, err2 := minP, error(nil)
		if ranged {
			maxP, err2 = strconv.Atoi(strings.TrimSpace(hi))
		}
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("%q: sizes must be numbers, as in %s=2-4", item, name)
		}
		if minP < 1 || maxP < minP || maxP > 1024 {
			return nil, fmt.Errorf("%q: need 1 <= min <= max <= 1024", item)
		}
		out[name] = lobby.Mode{MinPlayers: minP, MaxPlayers: maxP}
	}
	return out, nil
}

// parseURLs splits a comma list of URLs that must start with one of the
// schemes.
func parseURLs(s string, schemes ...string) ([]string, error) {
	urls := splitList(s)
	for _, u := range urls {
		ok := false
		for _, sc := range schemes {
			ok = ok || strings.HasPrefix(u, sc) && len(u) > len(sc)
		}
		if !ok {
			return nil, fmt.Errorf("%q: want a URL starting with %s", u, strings.Join(schemes, " or "))
		}
	}
	return urls, nil
}

// splitList splits a comma list, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// modeNames lists the modes, sorted, for the banner.
func modeNames(modes map[string]lobby.Mode) []string {
	names := make([]string, 0, len(modes))
	for name := range modes {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}
