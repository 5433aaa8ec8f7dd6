//go:build js && wasm

// Command wasm is Tickwire's browser client: the lobby client and the
// netcode client compiled to WebAssembly, with a JS API for games not
// written in Go. Build it with `make wasm`; load it with tickwire.js, which
// wraps the raw API below into the one tickwire.d.ts declares.
//
// The raw API, on globalThis.__tickwire once the program runs, works on
// numeric handles rather than objects, so that its functions are made once
// and nothing is left to release when a lobby or a game closes. Values
// other than payloads cross as JSON text (values.go):
//
//	version                        {lobby, wire}
//	connect(url, token, optsJSON)  Promise<JSON {id, player, name}>
//	queue(id, optsJSON)            Promise<ticket>
//	waitMatch(id)                  Promise<JSON Match>
//	createRoom(id, optsJSON)       Promise<JSON Match>
//	joinRoom(id, code)             Promise<JSON Match>
//	rooms(id, mode)                Promise<JSON RoomInfo[]>
//	createParty(id)                Promise<JSON Party>
//	joinParty(id, code)            Promise<JSON Party>
//	leave(id)                      Promise<undefined>
//	notices(id, cb)                cb(JSON Notice) from now on; undefined or an Error
//	closeLobby(id)                 Promise<undefined>, once the connection is down
//	play(id, matchJSON, optsJSON, sink)  Promise<game handle>; sink is
//	                               {snapshot(state, seq), event(ev), state(s, closeJSON), world(changeJSON)}
//	listen(game, "snapshot"|"event"|"world")  starts delivering to the sink; undefined or an Error
//	world(game, op, arg)           JSON: the replicated world (world.go)
//	sendInput(game, payload)       true, false (dropped: congested) or an Error
//	sendEvent(game, payload)       undefined or an Error
//	stats(game), channels(game)    JSON or an Error
//	closeGame(game)                Promise<undefined>, once sink.state("closed") has run
//	handles()                      {lobbies, games}: how many are open, for leak tests
//
// Synchronous calls return an Error rather than throw (a Go function cannot
// throw into JS); tickwire.js throws it. Every Promise is settled from a
// goroutine: no callback from JS ever waits for the network. Guest tokens
// come from tickwire.js (fetch), which maps the lobby's HTTP statuses to
// the error codes of the JS API.
package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"syscall/js"
	"time"

	"github.com/tickwire/tickwire/lobby"
	"github.com/tickwire/tickwire/netcode"
)

// The protocol versions this build speaks.
const (
	lobbyVersion = lobby.ProtocolVersion
	wireVersion  = netcode.WireVersion
)

const (
	dialTimeout        = 30 * time.Second // the lobby connection
	defaultPlayTimeout = 30 * time.Second // both channels open
	maxDecodeWarnings  = 10               // console warnings per game for bad payloads
)

var console = js.Global().Get("console")

func main() {
	api := jsObject.New()
	version := jsObject.New()
	version.Set("lobby", lobbyVersion)
	version.Set("wire", wireVersion)
	api.Set("version", version)
	for _, f := range []struct {
		name string
		fn   func(args []js.Value) any
	}{
		{"connect", apiConnect},
		{"queue", apiQueue},
		{"waitMatch", apiWaitMatch},
		{"createRoom", apiCreateRoom},
		{"joinRoom", apiJoinRoom},
		{"rooms", apiRooms},
		{"createParty", apiCreateParty},
		{"joinParty", apiJoinParty},
		{"leave", apiLeave},
		{"notices", apiNotices},
		{"closeLobby", apiCloseLobby},
		{"play", apiPlay},
		{"listen", apiListen},
		{"sendInput", apiSendInput},
		{"sendEvent", apiSendEvent},
		{"stats", apiStats},
		{"channels", apiChannels},
		{"world", apiWorld},
		{"closeGame", apiCloseGame},
		{"handles", apiHandles},
	} {
		// Made once, for the life of the program: never released.
		api.Set(f.name, js.FuncOf(func(_ js.Value, args []js.Value) (ret any) {
			defer func() {
				// A Go panic inside a callback would end the program and
				// every game with it: turn it into an Error.
				if r := recover(); r != nil {
					ret = errorToJS(fmt.Errorf("tickwire: %s: internal error: %v", f.name, r))
				}
			}()
			return f.fn(args)
		}))
	}
	js.Global().Set("__tickwire", api)
	// tickwire.js waits for this; without the loader, __tickwire is enough.
	if ready := js.Global().Get("__tickwireReady"); ready.Type() == js.TypeFunction {
		ready.Invoke(api)
	}
	select {} // the callbacks run on; returning would end the program
}

// arg returns args[i], undefined when absent.
func arg(args []js.Value, i int) js.Value {
	if i < len(args) {
		return args[i]
	}
	return js.Undefined()
}

// str returns args[i] as a string: "" for undefined or null, an error for
// anything else that is not a string.
func str(args []js.Value, i int, what string) (string, error) {
	switch v := arg(args, i); v.Type() {
	case js.TypeString:
		return v.String(), nil
	case js.TypeUndefined, js.TypeNull:
		return "", nil
	default:
		return "", badArg("%s is a %s, not a string", what, v.Type())
	}
}

// promise runs work in a goroutine and settles a Promise with its result,
// converted by toJS (nil: undefined, as for a Promise<void>), or rejects it
// with errorToJS.
func promise(work func() (any, error)) js.Value {
	var resolve, reject js.Value
	executor := js.FuncOf(func(_ js.Value, args []js.Value) any {
		resolve, reject = args[0], args[1]
		return nil
	})
	p := jsPromise.New(executor) // the executor runs synchronously
	executor.Release()
	go func() {
		v, err := safely(work)
		if err != nil {
			reject.Invoke(errorToJS(err))
			return
		}
		if v == nil {
			resolve.Invoke()
			return
		}
		resolve.Invoke(toJS(v))
	}()
	return p
}

// safely runs work, turning a panic into an error.
func safely(work func() (any, error)) (v any, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("tickwire: internal error: %v", r)
		}
	}()
	return work()
}

// rejected is a Promise rejected with err, for arguments that are wrong
// before any work starts.
func rejected(err error) js.Value { return jsPromise.Call("reject", errorToJS(err)) }

// resolved is a Promise resolved with undefined.
func resolved() js.Value { return jsPromise.Call("resolve") }

// withTimeout runs work with ctx bounded by d, its deadline turned into
// errTimeout.
func withTimeout(ctx context.Context, d time.Duration, what string, work func(context.Context) (any, error)) (any, error) {
	ctx, cancel := context.WithTimeoutCause(ctx, d, fmt.Errorf("%w: %s after %v", errTimeout, what, d))
	defer cancel()
	v, err := work(ctx)
	if err != nil && errors.Is(err, context.DeadlineExceeded) {
		if cause := context.Cause(ctx); cause != nil {
			err = cause
		}
	}
	return v, err
}

// --- handles ---------------------------------------------------------------

type registry[T any] struct {
	mu   sync.Mutex
	next int
	m    map[int]T
}

func (r *registry[T]) add(v T) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = map[int]T{}
	}
	r.next++
	r.m[r.next] = v
	return r.next
}

func (r *registry[T]) get(id js.Value) (T, error) {
	var zero T
	if id.Type() != js.TypeNumber {
		return zero, badArg("handle is a %s, not a number", id.Type())
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	v, ok := r.m[id.Int()]
	if !ok {
		return zero, errClosedHandle
	}
	return v, nil
}

func (r *registry[T]) remove(id int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.m, id)
}

func (r *registry[T]) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.m)
}

var (
	lobbies registry[*lobbyHandle]
	games   registry[*gameHandle]
)

// --- lobby -----------------------------------------------------------------

type lobbyHandle struct {
	id     int
	c      *lobby.Client
	ctx    context.Context // ends when the lobby connection does
	cancel context.CancelFunc

	mu       sync.Mutex
	noticeCB js.Value
	pumping  bool
	closed   chan struct{} // after the watcher has cleaned up
}

func apiConnect(args []js.Value) any {
	url, err := str(args, 0, "lobby URL")
	if err != nil {
		return rejected(err)
	}
	token, err := str(args, 1, "token")
	if err != nil {
		return rejected(err)
	}
	text, err := str(args, 2, "connect options")
	var o connectOptions
	if err == nil {
		err = parseOptions(text, "connect options", &o)
	}
	if err != nil {
		return rejected(err)
	}
	return promise(func() (any, error) {
		return withTimeout(context.Background(), dialTimeout, "connecting to the lobby", func(ctx context.Context) (any, error) {
			c, err := lobby.Dial(ctx, url, token, &lobby.ClientConfig{Lobbies: o.Lobbies})
			if err != nil {
				var le *lobby.Error
				if !errors.As(err, &le) && !errors.Is(err, lobby.ErrProtocol) && ctx.Err() == nil {
					err = &networkError{err}
				}
				return nil, err
			}
			h := &lobbyHandle{c: c, closed: make(chan struct{})}
			h.ctx, h.cancel = context.WithCancel(context.Background())
			h.id = lobbies.add(h)
			go h.watch()
			return jsonText(struct {
				ID     int    `json:"id"`
				Player string `json:"player"`
				Name   string `json:"name"`
			}{h.id, c.Player(), c.Name()})
		})
	})
}

// watch cleans up once the lobby connection ends, for whatever reason.
func (h *lobbyHandle) watch() {
	<-h.c.Done()
	h.cancel()
	lobbies.remove(h.id)
	_ = h.c.Close() // waits for the client's goroutines
	close(h.closed)
}

// lobbyCall runs op on the lobby with handle args[0] in a goroutine, and
// resolves with its result as JSON text.
func lobbyCall(args []js.Value, op func(h *lobbyHandle) (any, error)) js.Value {
	h, err := lobbies.get(arg(args, 0))
	if err != nil {
		return rejected(err)
	}
	return promise(func() (any, error) {
		v, err := op(h)
		if err != nil {
			if errors.Is(err, context.Canceled) {
				// The handle's context ends with the connection: say why.
				err = h.c.Err()
			}
			return nil, err
		}
		if v == nil {
			return nil, nil
		}
		return jsonText(v)
	})
}

func apiQueue(args []js.Value) any {
	var o queueOptions
	text, err := str(args, 1, "queue options")
	if err == nil {
		err = parseOptions(text, "queue options", &o)
	}
	if err != nil {
		return rejected(err)
	}
	return lobbyCall(args, func(h *lobbyHandle) (any, error) {
		ticket, err := h.c.Queue(h.ctx, o.Mode, o.Region, o.Rating)
		if err != nil {
			return nil, err
		}
		return ticket, nil
	})
}

func apiWaitMatch(args []js.Value) any {
	return lobbyCall(args, func(h *lobbyHandle) (any, error) {
		m, err := h.c.WaitMatch(h.ctx)
		if err != nil {
			return nil, err
		}
		return toMatchJSON(m), nil
	})
}

func apiCreateRoom(args []js.Value) any {
	var o roomOptions
	text, err := str(args, 1, "room options")
	if err == nil {
		err = parseOptions(text, "room options", &o)
	}
	if err != nil {
		return rejected(err)
	}
	return lobbyCall(args, func(h *lobbyHandle) (any, error) {
		m, err := h.c.CreateRoom(h.ctx, lobby.RoomOptions{Mode: o.Mode, Region: o.Region, Name: o.Name, Public: o.Public, Max: o.Max})
		if err != nil {
			return nil, err
		}
		return toMatchJSON(m), nil
	})
}

func apiJoinRoom(args []js.Value) any {
	code, err := str(args, 1, "room code")
	if err != nil {
		return rejected(err)
	}
	return lobbyCall(args, func(h *lobbyHandle) (any, error) {
		m, err := h.c.JoinRoom(h.ctx, code)
		if err != nil {
			return nil, err
		}
		return toMatchJSON(m), nil
	})
}

func apiRooms(args []js.Value) any {
	mode, err := str(args, 1, "mode")
	if err != nil {
		return rejected(err)
	}
	return lobbyCall(args, func(h *lobbyHandle) (any, error) {
		rs, err := h.c.Rooms(h.ctx, mode)
		if err != nil {
			return nil, err
		}
		return nonNil(rs), nil
	})
}

func apiCreateParty(args []js.Value) any {
	return lobbyCall(args, func(h *lobbyHandle) (any, error) {
		p, err := h.c.CreateParty(h.ctx)
		if err != nil {
			return nil, err
		}
		return toPartyJSON(p), nil
	})
}

func apiJoinParty(args []js.Value) any {
	code, err := str(args, 1, "party code")
	if err != nil {
		return rejected(err)
	}
	return lobbyCall(args, func(h *lobbyHandle) (any, error) {
		p, err := h.c.JoinParty(h.ctx, code)
		if err != nil {
			return nil, err
		}
		return toPartyJSON(p), nil
	})
}

func apiLeave(args []js.Value) any {
	return lobbyCall(args, func(h *lobbyHandle) (any, error) {
		return nil, h.c.Leave(h.ctx)
	})
}

// apiNotices sets the notice callback; the first call starts delivering
// (notices wait in the client until then, up to 64).
func apiNotices(args []js.Value) any {
	h, err := lobbies.get(arg(args, 0))
	if err != nil {
		return errorToJS(err)
	}
	cb := arg(args, 1)
	if cb.Type() != js.TypeFunction {
		return errorToJS(badArg("notice callback is a %s, not a function", cb.Type()))
	}
	h.mu.Lock()
	h.noticeCB = cb
	start := !h.pumping
	h.pumping = true
	h.mu.Unlock()
	if start {
		go h.pumpNotices()
	}
	return nil
}

func (h *lobbyHandle) pumpNotices() {
	for {
		select {
		case n := <-h.c.Notices():
			h.notify(toNoticeJSON(n))
		case <-h.c.Done():
			// What was queued before the end, then the end itself.
			for drained := false; !drained; {
				select {
				case n := <-h.c.Notices():
					h.notify(toNoticeJSON(n))
				default:
					drained = true
				}
			}
			h.notify(noticeJSON{Type: "closed", Reason: h.c.Err().Error()})
			return
		}
	}
}

func (h *lobbyHandle) notify(n noticeJSON) {
	text, err := jsonText(n)
	if err != nil {
		return
	}
	h.mu.Lock()
	cb := h.noticeCB
	h.mu.Unlock()
	invoke(cb, text)
}

func apiCloseLobby(args []js.Value) any {
	h, err := lobbies.get(arg(args, 0))
	if err != nil {
		return resolved() // closing twice is fine
	}
	return promise(func() (any, error) {
		_ = h.c.Close() // waits for the client's goroutines: never in a callback
		<-h.closed
		return nil, nil
	})
}

// invoke calls a JS callback from a goroutine. tickwire.js catches what the
// game's own callbacks throw; this guards against a throwing sink anyway,
// since a panic in a goroutine would end the program.
func invoke(cb js.Value, args ...any) {
	if cb.Type() != js.TypeFunction {
		return
	}
	defer func() {
		if r := recover(); r != nil {
			console.Call("error", fmt.Sprintf("tickwire: callback threw: %v", r))
		}
	}()
	cb.Invoke(args...)
}

// --- game ------------------------------------------------------------------

type gameHandle struct {
	id    int
	c     *netcode.Client
	codec codec

	mu        sync.Mutex
	sink      js.Value // {snapshot, event, state, world} from tickwire.js
	listening [3]bool  // snapshot, event, world
	// The Go clock and performance.now() read at one moment, for world.at.
	goEpoch   time.Time
	perfEpoch float64
	ending    bool // Done has closed: no new pumps
	pumps     sync.WaitGroup
	closed    chan struct{} // after sink.state("closed") has run
}

func apiPlay(args []js.Value) any {
	h, err := lobbies.get(arg(args, 0))
	if err != nil {
		return rejected(err)
	}
	var o playOptions
	var m *lobby.Match
	var cd codec
	text, err := str(args, 1, "match")
	if err == nil {
		m, err = parseMatch(text)
	}
	if err == nil {
		text, err = str(args, 2, "play options")
	}
	if err == nil {
		err = parseOptions(text, "play options", &o)
	}
	if err == nil {
		cd, err = parseCodec(o.Codec)
	}
	if err != nil {
		return rejected(err)
	}
	sink := arg(args, 3)
	if sink.Type() != js.TypeObject {
		return rejected(badArg("play needs a sink object"))
	}
	timeout := defaultPlayTimeout
	if o.Timeout > 0 {
		timeout = time.Duration(o.Timeout * float64(time.Millisecond))
	}
	return promise(func() (any, error) {
		return withTimeout(h.ctx, timeout, "opening the channels", func(ctx context.Context) (any, error) {
			c, err := h.c.Connect(ctx, m, &netcode.ClientConfig{RelayOnly: o.RelayOnly})
			if err != nil {
				if errors.Is(err, context.Canceled) {
					err = h.c.Err()
				}
				return nil, err
			}
			g := &gameHandle{c: c, codec: cd, sink: sink, closed: make(chan struct{}),
				goEpoch: time.Now(), perfEpoch: js.Global().Get("performance").Call("now").Float()}
			g.id = games.add(g)
			g.pumps.Add(1)
			go g.pumpStates()
			go g.watch()
			return g.id, nil
		})
	})
}

// watch ends the game once the client starts closing: it waits for the
// pumps to deliver what arrived before, releases the client, forgets the
// handle and tells the sink.
func (g *gameHandle) watch() {
	<-g.c.Done()
	g.mu.Lock()
	g.ending = true
	listened := g.listening[1]
	g.mu.Unlock()
	g.pumps.Wait()
	if !listened {
		g.holdEvents()
	}
	_ = g.c.Close()
	games.remove(g.id)
	g.mu.Lock()
	state := g.sink.Get("state")
	g.sink = js.Undefined()
	g.mu.Unlock()
	if text, err := jsonText(toCloseJSON(g.c.Err(), g.c.Stats())); err == nil {
		invoke(state, "closed", text)
	}
	close(g.closed)
}

// holdEvents hands the sink the events that arrived but were never
// listened for, so that an onEvent set after the close still gets them, as
// the Go API's ReadEvent does: a game's last words ("game over") are often
// sent just before the server closes it.
func (g *gameHandle) holdEvents() {
	var held []any
	g.readEvents(func(v js.Value) { held = append(held, v) }) // closed: returns with the queue
	if len(held) == 0 {
		return
	}
	g.mu.Lock()
	cb := g.sink.Get("held")
	g.mu.Unlock()
	invoke(cb, held)
}

// pumpStates reports the connection's transitions (reconnecting, resuming,
// connected again) to sink.state as they happen; watch reports the close,
// with its details, after this pump has stopped.
func (g *gameHandle) pumpStates() {
	defer g.pumps.Done()
	for {
		select {
		case sc := <-g.c.StateChanges():
			if sc.State == netcode.StateClosed {
				continue
			}
			text, err := jsonText(stateJSON{Reason: sc.Reason})
			if err != nil {
				continue
			}
			g.mu.Lock()
			cb := g.sink.Get("state")
			g.mu.Unlock()
			invoke(cb, sc.State.String(), text)
		case <-g.c.Done():
			return
		}
	}
}

func apiListen(args []js.Value) any {
	g, err := games.get(arg(args, 0))
	if err != nil {
		return errorToJS(err)
	}
	kind, _ := str(args, 1, "kind")
	var i int
	switch kind {
	case "snapshot":
		i = 0
	case "event":
		i = 1
	case "world":
		i = 2
	default:
		return errorToJS(badArg("listen(%q): want \"snapshot\", \"event\" or \"world\"", kind))
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.ending || g.listening[i] {
		return nil
	}
	g.listening[i] = true
	g.pumps.Add(1)
	switch i {
	case 0:
		go g.pumpSnapshots(g.sink.Get("snapshot"))
	case 1:
		go g.pumpEvents(g.sink.Get("event"))
	default:
		go g.pumpWorld(g.sink.Get("world"))
	}
	return nil
}

func (g *gameHandle) pumpSnapshots(cb js.Value) {
	defer g.pumps.Done()
	dec := newDecoder()
	warned := 0
	for {
		s, err := g.c.ReadSnapshot(context.Background())
		if err != nil {
			return
		}
		v, err := g.payload(dec, s.Payload)
		if err != nil {
			if warned < maxDecodeWarnings {
				warned++
				console.Call("warn", fmt.Sprintf("tickwire: snapshot %d dropped: %v", s.Seq, err))
			}
			continue
		}
		invoke(cb, v, float64(s.Seq))
	}
}

func (g *gameHandle) pumpEvents(cb js.Value) {
	defer g.pumps.Done()
	g.readEvents(func(v js.Value) { invoke(cb, v) })
}

// readEvents decodes each event into f, in order, until the game has
// closed and its queue is empty; one that does not decode is dropped with
// a warning.
func (g *gameHandle) readEvents(f func(js.Value)) {
	dec := newDecoder()
	warned := 0
	for {
		b, err := g.c.ReadEvent(context.Background())
		if err != nil {
			return
		}
		v, err := g.payload(dec, b)
		if err != nil {
			if warned < maxDecodeWarnings {
				warned++
				console.Call("warn", fmt.Sprintf("tickwire: event dropped: %v", err))
			}
			continue
		}
		f(v)
	}
}

// payload decodes a received payload into a JS value.
func (g *gameHandle) payload(dec *decoder, b []byte) (js.Value, error) {
	if g.codec == codecRaw {
		return toJS(b), nil
	}
	v, err := dec.decode(b)
	if err != nil {
		return js.Undefined(), err
	}
	return toJS(v), nil
}

// outgoing encodes a payload the game sends.
func (g *gameHandle) outgoing(v js.Value) ([]byte, error) {
	if g.codec == codecRaw {
		return bytesFromJS(v)
	}
	p, err := fromJS(v)
	if err != nil {
		return nil, err
	}
	return encodePayload(p)
}

func apiSendInput(args []js.Value) any {
	g, err := games.get(arg(args, 0))
	if err != nil {
		return errorToJS(err)
	}
	b, err := g.outgoing(arg(args, 1))
	if err != nil {
		return errorToJS(err)
	}
	// Neither send waits: they hand the message to the browser's channel.
	switch err := g.c.SendInput(b); {
	case err == nil:
		return true
	case errors.Is(err, netcode.ErrCongested):
		return false
	default:
		return errorToJS(err)
	}
}

func apiSendEvent(args []js.Value) any {
	g, err := games.get(arg(args, 0))
	if err != nil {
		return errorToJS(err)
	}
	b, err := g.outgoing(arg(args, 1))
	if err != nil {
		return errorToJS(err)
	}
	if err := g.c.SendEvent(b); err != nil {
		return errorToJS(err)
	}
	return nil
}

func apiStats(args []js.Value) any {
	g, err := games.get(arg(args, 0))
	if err != nil {
		return errorToJS(err)
	}
	return jsonOrError(toStatsJSON(g.c.Stats()))
}

func apiChannels(args []js.Value) any {
	g, err := games.get(arg(args, 0))
	if err != nil {
		return errorToJS(err)
	}
	// netcode.ChannelInfo has the d.ts names as JSON tags, and a nil
	// MaxRetransmits (a reliable channel) is null.
	return jsonOrError(nonNil(g.c.Channels()))
}

func jsonOrError(v any) any {
	text, err := jsonText(v)
	if err != nil {
		return errorToJS(err)
	}
	return text
}

func apiCloseGame(args []js.Value) any {
	g, err := games.get(arg(args, 0))
	if err != nil {
		return resolved() // closing twice is fine
	}
	return promise(func() (any, error) {
		_ = g.c.Close() // waits for the client's goroutines: never in a callback
		<-g.closed
		return nil, nil
	})
}

func apiHandles([]js.Value) any {
	o := jsObject.New()
	o.Set("lobbies", lobbies.count())
	o.Set("games", games.count())
	return o
}
