package netcode

import (
	"context"
	"fmt"
	"time"
)

// Snapshot is a state update from the server.
type Snapshot struct {
	// Seq increases by one for each snapshot the server sends this client;
	// gaps are snapshots lost on the way.
	Seq uint64
	// Payload is the game's own encoding of its state. It belongs to the
	// caller.
	Payload []byte
	// Received is when this side read it off the network.
	Received time.Time
}

// Client is a player's connection to a game Server: state arrives as
// snapshots (newest wins), inputs go out unreliably, events both ways
// reliably and in order. Its methods are safe for concurrent use.
type Client struct {
	p *peer
}

// Dial connects to a server through sig, which it owns from then on: the
// client makes the offer and opens both channels, and Dial returns once they
// are open or ctx ends. A nil cfg means defaults.
func Dial(ctx context.Context, sig Signaler, cfg *ClientConfig) (*Client, error) {
	return dialWith(ctx, sig, cfg, snapshotsInit(), eventsInit())
}

// dialWith is Dial with the channel parameters given, for tests that offer
// what a server must refuse.
func dialWith(ctx context.Context, sig Signaler, cfg *ClientConfig, snapshots, events ChannelInfo) (*Client, error) {
	c, err := cfg.resolve()
	if err != nil {
		_ = sig.Close()
		return nil, err
	}
	newConn := clientConns(c)
	p := newPeer(c, roleClient, sig, nil)
	p.mkLink = func(gen uint32) (*link, error) {
		rc, err := newConn()
		if err != nil {
			return nil, err
		}
		l := p.newLink(rc, gen)
		for _, info := range []ChannelInfo{snapshots, events} {
			ch, err := rc.createChannel(info)
			if err != nil {
				_ = rc.close()
				return nil, fmt.Errorf("netcode: create %s channel: %w", info.Label, err)
			}
			p.watch(l, ch)
		}
		return l, nil
	}
	l, err := p.mkLink(0)
	if err != nil {
		_ = sig.Close()
		return nil, err
	}
	p.setLink(l)
	offer, err := l.rc.offer(false)
	if err != nil {
		_ = l.rc.close()
		_ = sig.Close()
		return nil, fmt.Errorf("netcode: offer: %w", err)
	}
	p.start()
	p.queueSDP(l, Signal{Type: SignalOffer, SDP: offer})
	if err := p.awaitOpen(ctx); err != nil {
		return nil, err
	}
	return &Client{p: p}, nil
}

// snapshotsInit is the unreliable channel: unordered, never retransmitted.
func snapshotsInit() ChannelInfo {
	zero := uint16(0)
	return ChannelInfo{Label: labelSnapshots, Protocol: protocolName, MaxRetransmits: &zero}
}

// eventsInit is the reliable, ordered channel.
func eventsInit() ChannelInfo {
	return ChannelInfo{Label: labelEvents, Protocol: protocolName, Ordered: true}
}

// SendInput sends an input to the server on the unreliable channel. It
// never blocks; it fails with ErrTooLarge over Config.MaxUnreliableSize and
// ErrCongested when the transport is backed up.
func (c *Client) SendInput(payload []byte) error { return c.p.sendUnreliable(payload) }

// SendEvent sends an event reliably and in order. It never blocks; it fails
// with ErrTooLarge over Config.MaxEventSize and ErrEventBufferFull when
// Config.EventBuffer bytes are still on their way.
func (c *Client) SendEvent(payload []byte) error { return c.p.sendEvent(payload) }

// World is the client's replica of the world the server replicates to
// it (World on the server; REPLICATION.md). It is empty until the first
// state arrives, and stays as it was after the client closes.
func (c *Client) World() *Replica { return c.p.replica }

// ReadSnapshot waits for a snapshot newer than any returned before. Only the
// newest is kept, so a slow reader skips snapshots but never holds up the
// network. After the client closes it returns the close error.
func (c *Client) ReadSnapshot(ctx context.Context) (Snapshot, error) {
	d, err := c.p.readDatagram(ctx)
	return Snapshot{Seq: d.seq, Payload: d.payload, Received: d.received}, err
}

// TryReadSnapshot returns the newest unread snapshot, if any, without
// waiting: for a render loop.
func (c *Client) TryReadSnapshot() (Snapshot, bool) {
	d, ok := c.p.tryReadDatagram()
	return Snapshot{Seq: d.seq, Payload: d.payload, Received: d.received}, ok
}

// ReadEvent waits for the next event from the server. Events queued before
// the client closed are returned before the close error.
func (c *Client) ReadEvent(ctx context.Context) ([]byte, error) { return c.p.readEvent(ctx) }

// ReadEvents appends every event received and not yet read to dst, without
// waiting.
func (c *Client) ReadEvents(dst [][]byte) [][]byte { return c.p.readEvents(dst) }

// ChannelInfo describes one data channel as the WebRTC stack reports it: in
// the browser, the RTCDataChannel's own attributes.
type ChannelInfo struct {
	Label    string `json:"label"`
	Protocol string `json:"protocol"`
	Ordered  bool   `json:"ordered"`
	// MaxRetransmits is nil for a reliable channel.
	MaxRetransmits *uint16 `json:"maxRetransmits"`
}

// Channels reports the parameters of the snapshot and event channels, so
// that a game (or a test) can check what the stack really negotiated.
func (c *Client) Channels() []ChannelInfo {
	out := make([]ChannelInfo, 0, 2)
	l := c.p.link.Load()
	if l == nil || !l.open.Load() {
		return out
	}
	for _, ch := range []*rtcChannel{l.u, l.r} {
		if ch != nil {
			out = append(out, ch.info())
		}
	}
	return out
}

// Stats returns the connection's counters.
func (c *Client) Stats() Stats { return c.p.statsSnapshot() }

// Path reports how the connection travels now: the candidate pair ICE
// selected. ErrNotConnected while it reconnects.
func (c *Client) Path(ctx context.Context) (Path, error) { return c.p.path(ctx) }

// State reports where the connection stands now.
func (c *Client) State() State { return State(c.p.state.Load()) }

// StateChanges delivers each transition with its reason: connected,
// reconnecting while ICE restarts, resuming on a new PeerConnection,
// connected again ("path back" or "resumed on a new connection"), closed
// (CloseConnectionLost when it could not recover). It keeps the latest 16
// for a game that reads it late.
func (c *Client) StateChanges() <-chan StateChange { return c.p.states }

// CheckPath tells the client its network may have changed: the lobby
// client calls it when its own connection drops or comes back. Connected,
// the client checks the path at once (anything from the server within a
// ping interval and a few round trips) rather than waiting for
// Config.SilenceTimeout; reconnecting, it stops restarting ICE and resumes
// on a new PeerConnection now; resuming, it makes its next attempt now. It
// never blocks.
func (c *Client) CheckPath(reason string) {
	select {
	case c.p.probeReq <- reason:
	default: // one is already waiting
	}
}

// Done is closed when the client closes for good: reconnecting and resuming
// do not close it.
func (c *Client) Done() <-chan struct{} { return c.p.closing }

// Err returns nil while the client is open, then a *CloseError saying why it
// closed.
func (c *Client) Err() error { return c.p.Err() }

// Close tells the server, releases the connection and waits for every
// goroutine the client started. It is idempotent and unblocks every waiting
// call. Telling the server takes a round trip on a working path, and at
// most 250 ms on one that is not.
func (c *Client) Close() error { return c.p.close(CloseNormal, "client closed", true) }

// CloseWithError closes the client as Close does, with the game's own code,
// which the server sees in the session's CloseError: from
// CloseApplicationMin to CloseApplicationMax, or ErrCloseCode.
func (c *Client) CloseWithError(code CloseCode, reason string) error {
	if err := checkAppCode(code); err != nil {
		return err
	}
	return c.p.close(code, reason, true)
}
