package repl

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/tickwire/tickwire/netcode/internal/wire"
)

type golden struct {
	name       string
	tick, base uint64
	time       int64
	payload    []byte
	msg        string // the state message, hex
	world      string // the client's world after it, JSON
}

// goldenExamples are REPLICATION.md's examples, made by the encoder: a
// full state, then a delta against it.
func goldenExamples(t testing.TB) []golden {
	typ, err := NewType(0, "p", []Field{
		{Name: "x", Kind: KindFloat, Min: 0, Max: 10, Step: 0.5},
		{Name: "hp", Kind: KindInt, Min: 0, Max: 3},
		{Name: "on", Kind: KindBool},
	})
	if err != nil {
		t.Fatal(err)
	}
	types := []*Type{typ}
	ent := func(x float64, hp float64, on bool) *Entity {
		e := NewEntity(typ)
		e.V[0], e.V[1] = typ.Fields[0].Quantise(x), typ.Fields[1].Quantise(hp)
		if on {
			e.V[2] = 1
		}
		return e
	}
	worlds := []struct {
		name string
		time int64
		ids  []uint32
		ents []*Entity
	}{
		{"full", 1_000_000, []uint32{3, 9}, []*Entity{ent(2.5, 2, true), ent(0, 0, false)}},
		{"delta", 34_333_333, []uint32{3, 10}, []*Entity{ent(3, 2, true), ent(10, 3, true)}},
	}
	snd, rcv := NewSender(), NewReceiver()
	enc := wire.NewEncoder()
	var out []golden
	for i, w := range worlds {
		tick := uint64(i + 1)
		p, base, st := deliver(t, snd, rcv, NewState(tick, types, w.ids, w.ents), tick)
		msg, err := enc.Encode(&wire.Message{Kind: wire.KindState, Seq: tick, Base: base, Time: w.time, Payload: p})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, golden{name: w.name, tick: tick, base: base, time: w.time, payload: append([]byte(nil), p...), msg: spaced(msg), world: worldJSON(st)})
	}
	return out
}

// worldJSON is a state as the golden examples show it: id to type name
// and field values.
func worldJSON(st *State) string {
	var parts []string
	for i := range st.Len() {
		id, e := st.At(i)
		fields := []string{fmt.Sprintf(`"type":%q`, e.Type.Name)}
		for j, f := range e.Type.Fields {
			var v any
			switch f.Kind {
			case KindBool:
				v = e.V[j] == 1
			case KindString:
				v = e.S[j]
			case KindQuat:
				v = e.Quat(j)
			default:
				v = e.Float(j)
			}
			b, _ := json.Marshal(v)
			fields = append(fields, fmt.Sprintf("%q:%s", f.Name, b))
		}
		parts = append(parts, fmt.Sprintf(`"%d":{%s}`, id, strings.Join(fields, ",")))
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// TestGoldenExamples pins REPLICATION.md's "Golden examples" to what the
// encoder makes and the decoder reads.
func TestGoldenExamples(t *testing.T) {
	doc, err := os.ReadFile("../../REPLICATION.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(doc), "\n## Golden examples\n")
	if !ok {
		t.Fatal(`REPLICATION.md has no "## Golden examples" section`)
	}
	line := regexp.MustCompile("(?m)^- `([a-z]+)`, tick (\\d+) against (\\d+): `([0-9a-f ]+)`\n  gives `([^`]+)`$")
	found := map[string][]string{}
	for _, m := range line.FindAllStringSubmatch(section, -1) {
		found[m[1]] = m[2:]
	}
	for _, g := range goldenExamples(t) {
		want := []string{fmt.Sprint(g.tick), fmt.Sprint(g.base), g.msg, g.world}
		got, ok := found[g.name]
		if !ok {
			t.Errorf("REPLICATION.md lacks example %q; it would read:\n- `%s`, tick %d against %d: `%s`\n  gives `%s`", g.name, g.name, g.tick, g.base, g.msg, g.world)
			continue
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("example %q:\n doc  %q\n code %q", g.name, got, want)
		}
	}
}
