package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/pion/sctp"
)

// bench sctp runs pion/sctp alone, without ICE or DTLS, between the two
// hosts of a lab link, so that the lab can read every packet's chunks: where
// loss and grid count a data channel's packets, this says which packets they
// are (DATA, SACK, FORWARD-TSN, bundled or not, retransmitted or not). It is
// how docs/upstream measures pion/sctp patches (go build -modfile).

// sctpMode is one stream's reliability, as a data channel would set it.
type sctpMode struct {
	name      string
	unordered bool
	relType   byte
	relVal    uint32
}

// sctpModes are the channels a game might use: netcode's snapshot channel
// (unordered, maxRetransmits 0), the same with one retransmission, and an
// ordered reliable channel.
var sctpModes = []sctpMode{
	{"unreliable", true, sctp.ReliabilityTypeRexmit, 0},
	{"rexmit1", true, sctp.ReliabilityTypeRexmit, 1},
	{"reliable", false, sctp.ReliabilityTypeReliable, 0},
}

// sctpStreamID is the stream every mode uses, as a first data channel would.
const sctpStreamID = 1

type sctpWireParams struct {
	gridParams
	Modes []string `json:"modes"`
}

type sctpWireReport struct {
	Scenario string         `json:"scenario"`
	Args     []string       `json:"args"`
	Params   sctpWireParams `json:"params"`
	Cells    []gridCell     `json:"cells"`
}

func init() {
	register(subcommand{"sctp", "pion/sctp alone over vnet: packets per message by kind (DATA, SACK, FORWARD-TSN, bundles)", cmdSCTP})
}

func cmdSCTP(ctx context.Context, args []string, e *env) error {
	fs := newFlagSet("sctp", e)
	lossList := fs.String("losses", "0,0.05", "comma-separated loss fractions")
	delayList := fs.String("delays", "0,25ms,75ms", "comma-separated one-way delays")
	modeList := fs.String("modes", "unreliable,rexmit1,reliable", "comma-separated streams to measure: unreliable (unordered, maxRetransmits 0), rexmit1 (unordered, maxRetransmits 1), reliable (ordered)")
	sf := addStreamFlags(fs, 4*time.Second, 3*time.Second)
	out := addOutputFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := sf.check(fs); err != nil {
		return err
	}
	losses, err := parseList(*lossList, parseLoss)
	if err != nil {
		return usageErrorf(fs, "-losses: %v", err)
	}
	delays, err := parseList(*delayList, parseDelay)
	if err != nil {
		return usageErrorf(fs, "-delays: %v", err)
	}
	modes, err := parseList(*modeList, parseSCTPMode)
	if err != nil {
		return usageErrorf(fs, "-modes: %v", err)
	}

	r := &sctpWireReport{Scenario: "sctp", Args: e.args, Params: sctpWireParams{
		gridParams: gridParams{Losses: losses, JitterMS: ms(sf.jitter), Hz: sf.hz, DurationS: sf.duration.Seconds(),
			DrainS: sf.drain.Seconds(), Size: sf.size, Seed: sf.seed, BackHz: sf.backHz},
	}}
	for _, d := range delays {
		r.Params.DelaysMS = append(r.Params.DelaysMS, ms(d))
	}
	var transports []streamTransport
	for _, m := range modes {
		r.Params.Modes = append(r.Params.Modes, m.name)
		transports = append(transports, m.transport())
	}
	base := streamConfig{jitter: sf.jitter, hz: sf.hz, duration: sf.duration, drain: sf.drain, size: sf.size, seed: sf.seed, backHz: sf.backHz}
	bar := e.newProgress("sctp", len(losses)*len(delays)*base.messages())
	for _, d := range delays {
		for _, l := range losses {
			cfg := base
			cfg.loss, cfg.delay = l, d
			bar.relabel(fmt.Sprintf("sctp %.3g%% %v", 100*l, d))
			results, err := runStream(ctx, cfg, transports, bar)
			if err != nil {
				bar.finish()
				return fmt.Errorf("loss %v, delay %v: %w", l, d, err)
			}
			r.Cells = append(r.Cells, gridCell{Loss: l, DelayMS: ms(d), Results: results})
		}
	}
	bar.finish()
	return emit(r, out, e)
}

func parseLoss(s string) (float64, error) {
	l, err := strconv.ParseFloat(s, 64)
	if err == nil && (l < 0 || l >= 1) {
		err = fmt.Errorf("loss %v not in [0, 1)", l)
	}
	return l, err
}

func parseSCTPMode(s string) (sctpMode, error) {
	for _, m := range sctpModes {
		if m.name == s {
			return m, nil
		}
	}
	return sctpMode{}, fmt.Errorf("unknown mode %q", s)
}

func (m sctpMode) transport() streamTransport {
	return streamTransport{"sctp-" + m.name, m.relType == sctp.ReliabilityTypeReliable,
		func(ctx context.Context, l *labLink, rec *recorder) (*streamer, error) {
			return openSCTPStream(ctx, l, m, rec)
		}}
}

// openSCTPStream associates the link's server (the sender) with its client
// over plain UDP, as pion/webrtc would over DTLS (same MTU), and streams on
// one stream opened at both ends with m's reliability, as a data channel's
// DCEP exchange leaves it.
func openSCTPStream(ctx context.Context, link *labLink, m sctpMode, rec *recorder) (_ *streamer, err error) {
	const port = 5000
	serverAddr := &net.UDPAddr{IP: net.ParseIP(link.serverIP), Port: port}
	clientAddr := &net.UDPAddr{IP: net.ParseIP(link.clientIP), Port: port}
	serverConn, err := link.server.DialUDP("udp4", serverAddr, clientAddr)
	if err != nil {
		return nil, fmt.Errorf("vnet dial: %w", err)
	}
	clientConn, err := link.client.DialUDP("udp4", clientAddr, serverAddr)
	if err != nil {
		_ = serverConn.Close()
		return nil, fmt.Errorf("vnet dial: %w", err)
	}
	opts := func(c net.Conn) []sctp.AssociationOption {
		// pion/webrtc's outbound MTU (sctptransport.go).
		return []sctp.AssociationOption{sctp.WithNetConn(c), sctp.WithMTU(1200), sctp.WithLoggerFactory(quietLogs())}
	}
	type opened struct {
		a   *sctp.Association
		err error
	}
	srvCh := make(chan opened, 1)
	go func() {
		var o []sctp.ServerOption
		for _, opt := range opts(serverConn) {
			o = append(o, opt)
		}
		a, err := sctp.ServerWithOptions(o...)
		srvCh <- opened{a, err}
	}()
	var co []sctp.ClientOption
	for _, opt := range opts(clientConn) {
		co = append(co, opt)
	}
	client, cerr := sctp.ClientContext(ctx, co...)
	if cerr != nil {
		// Closing the conns ends the server's handshake too.
		_ = clientConn.Close()
		_ = serverConn.Close()
	}
	srv := <-srvCh
	if err := errors.Join(cerr, srv.err); err != nil {
		for _, a := range []*sctp.Association{client, srv.a} {
			if a != nil {
				_ = a.Close()
			}
		}
		_ = clientConn.Close()
		_ = serverConn.Close()
		return nil, fmt.Errorf("sctp association: %w", err)
	}
	server := srv.a
	closeAll := func() {
		_ = client.Close()
		_ = server.Close()
	}
	far, err := server.OpenStream(sctpStreamID, sctp.PayloadTypeWebRTCBinary)
	if err != nil {
		closeAll()
		return nil, fmt.Errorf("open stream: %w", err)
	}
	near, err := client.OpenStream(sctpStreamID, sctp.PayloadTypeWebRTCBinary)
	if err != nil {
		closeAll()
		return nil, fmt.Errorf("open stream: %w", err)
	}
	for _, s := range []*sctp.Stream{far, near} {
		s.SetReliabilityParams(m.unordered, m.relType, m.relVal)
	}

	kinds := newPacketKinds()
	link.inspect = kinds.add

	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		buf := make([]byte, 2048)
		for {
			n, err := near.Read(buf)
			if err != nil {
				return // closed
			}
			rec.add(buf[:n], time.Now())
		}
	}()
	go func() {
		defer wg.Done()
		drain(far)
	}()
	return &streamer{
		send: func(b []byte) (bool, error) {
			if _, err := far.Write(b); err != nil {
				return false, err
			}
			return true, nil
		},
		back: func(b []byte) (bool, error) {
			if _, err := near.Write(b); err != nil {
				return false, err
			}
			return true, nil
		},
		finish: func(r *lossResult) {
			total, byKind := kinds.snapshot()
			if msgs := r.N + r.BackSent; msgs > 0 {
				r.WirePacketsPerMsg = float64(total) / float64(msgs)
				r.Kinds = make(map[string]float64, len(byKind))
				for k, n := range byKind {
					r.Kinds[k] = float64(n) / float64(msgs)
				}
			}
		},
		close: func() {
			closeAll()
			wg.Wait()
		},
	}, nil
}

// packetKinds counts a link's SCTP packets by direction and the chunks they
// carry, in order: "out DATA", "back SACK", "out SACK+FORWARD-TSN+DATA". A
// DATA chunk whose TSN already went by in its direction is "DATA(rtx)".
type packetKinds struct {
	mu     sync.Mutex
	total  int
	byKind map[string]int
	seen   [2]map[uint32]bool // TSNs by direction: out, back
}

func newPacketKinds() *packetKinds {
	return &packetKinds{byKind: map[string]int{}, seen: [2]map[uint32]bool{{}, {}}}
}

func (k *packetKinds) add(b []byte, fromServer, _ bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	dir, seen := "back ", k.seen[1]
	if fromServer {
		dir, seen = "out ", k.seen[0]
	}
	k.total++
	k.byKind[dir+classifySCTP(b, seen)]++
}

func (k *packetKinds) snapshot() (int, map[string]int) {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := make(map[string]int, len(k.byKind))
	for name, n := range k.byKind {
		out[name] = n
	}
	return k.total, out
}

// sctpChunkNames are the chunk types (RFC 9260 section 3.2, RFC 3758, RFC
// 8260) a data channel's association sends once established.
var sctpChunkNames = map[byte]string{
	0: "DATA", 3: "SACK", 4: "HEARTBEAT", 5: "HEARTBEAT-ACK", 6: "ABORT", 7: "SHUTDOWN", 8: "SHUTDOWN-ACK",
	9: "ERROR", 14: "SHUTDOWN-COMPLETE", 64: "I-DATA", 130: "RE-CONFIG", 192: "FORWARD-TSN", 194: "I-FORWARD-TSN",
}

// classifySCTP names b's chunks in order, a run of the same name once;
// seen holds the DATA TSNs of b's direction so far and learns b's.
func classifySCTP(b []byte, seen map[uint32]bool) string {
	const commonHeader, chunkHeader = 12, 4
	if len(b) < commonHeader+chunkHeader {
		return "malformed"
	}
	var names []string
	for off := commonHeader; off < len(b); {
		if len(b)-off < chunkHeader {
			return "malformed"
		}
		typ, length := b[off], int(binary.BigEndian.Uint16(b[off+2:]))
		if length < chunkHeader || length > len(b)-off {
			return "malformed"
		}
		name, ok := sctpChunkNames[typ]
		if !ok {
			name = "type" + strconv.Itoa(int(typ))
		}
		if (typ == 0 || typ == 64) && length >= 8 {
			tsn := binary.BigEndian.Uint32(b[off+4:])
			if seen[tsn] {
				name += "(rtx)"
			}
			seen[tsn] = true
		}
		if len(names) == 0 || names[len(names)-1] != name {
			names = append(names, name)
		}
		off += (length + 3) &^ 3
	}
	return strings.Join(names, "+")
}

func (r *sctpWireReport) writeTable(w io.Writer) error {
	p := r.Params
	if _, err := fmt.Fprintf(w, "pion/sctp over vnet without DTLS, %d Hz, %d-byte messages, %gs per cell, back %d Hz\n\n",
		p.Hz, p.Size, p.DurationS, p.BackHz); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	writeRow(tw, []string{"loss", "delay", "stream", "n", "delivered", "p50", "p99", "pkts/msg", "packets per message by kind"})
	for _, c := range r.Cells {
		for _, res := range c.Results {
			writeRow(tw, []string{fmt.Sprintf("%.3g%%", 100*c.Loss), fmt.Sprintf("%gms", c.DelayMS), res.Transport,
				fmt.Sprint(res.N), fmt.Sprintf("%.2f%%", 100*res.Delivered), fmtMicros(res.P50), fmtMicros(res.P99),
				fmt.Sprintf("%.2f", res.WirePacketsPerMsg), formatKinds(res.Kinds)})
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, c := range r.Cells {
		for _, res := range c.Results {
			if res.Error != "" {
				if _, err := fmt.Fprintf(w, "%s at %.3g%%/%gms broke: %s\n", res.Transport, 100*c.Loss, c.DelayMS, res.Error); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// formatKinds lists kinds from the most frequent, leaving out those under
// 0.005 per message.
func formatKinds(kinds map[string]float64) string {
	names := make([]string, 0, len(kinds))
	for k, v := range kinds {
		if v >= 0.005 {
			names = append(names, k)
		}
	}
	slices.SortFunc(names, func(a, b string) int {
		if kinds[a] != kinds[b] {
			if kinds[a] > kinds[b] {
				return -1
			}
			return 1
		}
		return strings.Compare(a, b)
	})
	parts := make([]string, len(names))
	for i, k := range names {
		parts[i] = fmt.Sprintf("%s %.2f", k, kinds[k])
	}
	return strings.Join(parts, ", ")
}

func (r *sctpWireReport) writeHTML(w io.Writer) error {
	var sections []htmlSection
	for _, c := range r.Cells {
		sections = append(sections, lossSection(fmt.Sprintf("pion/sctp alone, %.3g%% loss, %g ms delay", 100*c.Loss, c.DelayMS), c.Results))
	}
	return writeHTMLPage(w, "Tickwire bench: sctp", r.Args, sections)
}
