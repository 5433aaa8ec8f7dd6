//go:build !js

package main

import (
	"bytes"
	"go/ast"
	"go/parser"
	"go/printer"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestClientAPITwins holds the twin-file rule to its word: a browser game
// written in Go must compile against the same client API as a native one.
// It parses the files each build of netcode and lobby compiles and
// compares their exported declarations, signatures and exported struct
// fields included. The browser build may only lack the server side and
// the native-only tuning, which are listed here by name, and may declare
// only the types listed in emptyInBrowser empty, so a client symbol that
// goes missing or changes shape in one build fails the test.
func TestClientAPITwins(t *testing.T) {
	serverOnly := map[string][]string{
		"netcode": {
			"Input", "Server", "NewServer", "ServerConfig", "Session",
			"Server.Accept", "Server.Broadcast", "Server.Close", "Server.Sessions",
			"Server.Shutdown", "Server.TCPAddr", "Server.UDPAddr",
			"ServerStats", "Server.Stats", "Server.PublicAddrs",
			"Session.Close", "Session.Done", "Session.Err", "Session.ID",
			"Session.ReadEvent", "Session.ReadEvents", "Session.ReadInput",
			"Session.ReadInputs", "Session.RestartICE", "Session.SendEvent",
			"Session.SendSnapshot", "Session.State", "Session.StateChanges",
			"Session.Stats", "Session.Path", "Session.CloseWithError",
			"Room", "NewRoom", "Room.Add", "Room.Remove", "Room.Sessions",
			"Room.Len", "Room.Broadcast",
			"SignalHandler", "NewSignalHandler", "SignalHandlerConfig",
			"SignalHandler.ServeHTTP", "SignalHandler.Close",
			"World", "NewWorld", "WorldConfig", "World.Register", "World.RegisterBytes",
			"World.Set", "World.SetBytes", "World.Remove", "World.Len", "World.SetWeight",
			"World.Place", "World.Join", "World.Leave", "World.Viewers", "World.Tick",
			"Viewer", "Viewer.SetBudget", "Viewer.Focus", "Viewer.SetInterest", "Viewer.SetWeight",
			// Native only: NativeConfig.NetworkTypes's type.
			"NetworkType", "NetworkUDP4", "NetworkUDP6", "NetworkTCP4", "NetworkTCP6",
		},
		"lobby": {
			"Config", "Mode", "Server", "NewServer", "Stats", "Readiness",
			"Server.AttachGameServer", "Server.Close", "Server.ServeHTTP",
			"Server.Shutdown", "Server.Stats", "Server.Readiness", "Server.Listener",
			"GameServer", "GameServerConfig", "DialGameServer", "Player",
			"GameServer.Accept", "GameServer.Close", "GameServer.Done",
			"GameServer.EndRoom", "GameServer.Err", "GameServer.ID",
			"GameServer.Capacity", "GameServer.Linked",
			"GuestTokenResponse",
			"TURNServer", "TURNServerConfig", "NewTURNServer", "TURNStats",
			"TURNServer.Addr", "TURNServer.Close", "TURNServer.Stats",
			"TURNServer.TCPAddr", "TURNServer.TLSAddr", "TURNServer.URLs",
			// Issue 18: stores, drain, metrics.
			"Store", "RedisStore", "RedisConfig", "NewRedisStore", "RedisStore.Close", "RedisStore.Spend",
			"GameServer.Drain", "GameServer.Seats",
			"Metrics", "Server.Metrics", "QueueLen", "Histogram",
			"LimitMessageRate", "LimitConnsPerIP", "LimitTCPConnsPerIP", "LimitKeyFailures", "LimitSignals",
			"LimitRooms", "LimitSendQueue", "LimitGuestRate",
		},
	}
	// emptyInBrowser are the structs the browser build declares with no
	// fields, so that the structs embedding them have the same shape in
	// both builds while browser code that sets a native-only field does
	// not compile.
	emptyInBrowser := map[string]bool{"netcode.NativeConfig": true}
	for pkg, only := range serverOnly {
		t.Run(pkg, func(t *testing.T) {
			dir := filepath.Join("..", pkg)
			native := exportedAPI(t, dir, nil)
			browser := exportedAPI(t, dir, []string{"GOOS=js", "GOARCH=wasm"})
			if len(browser) < 10 {
				t.Fatalf("the browser build of %s exports only %d declarations: the parse went wrong", pkg, len(browser))
			}
			for name, decl := range browser {
				switch n, ok := native[name]; {
				case !ok:
					t.Errorf("%s.%s exists only in the browser build", pkg, name)
				case emptyInBrowser[pkg+"."+name]:
					if decl != "type struct{}" {
						t.Errorf("%s.%s should be empty in the browser build: %s", pkg, name, decl)
					}
				case n != decl:
					t.Errorf("%s.%s differs between the builds:\nnative:  %s\nbrowser: %s", pkg, name, n, decl)
				}
			}
			for name := range native {
				if _, ok := browser[name]; !ok && !slices.Contains(only, name) {
					t.Errorf("%s.%s is missing from the browser build", pkg, name)
				}
			}
			for _, name := range only {
				if _, ok := native[name]; !ok {
					t.Errorf("%s.%s is listed as server-only but the native build does not export it", pkg, name)
				}
				if _, ok := browser[name]; ok {
					t.Errorf("%s.%s is listed as server-only but the browser build has it too", pkg, name)
				}
			}
		})
	}
}

// exportedAPI maps each exported declaration of the package in dir, as the
// build selected by env compiles it, to its printed form: a function's
// signature, a type's definition without unexported fields or comments, a
// constant's or variable's type and value.
func exportedAPI(t *testing.T, dir string, env []string) map[string]string {
	t.Helper()
	cmd := exec.Command("go", "list", "-f", `{{join .GoFiles "\n"}}`, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list in %s with %v: %v", dir, env, err)
	}
	fset := token.NewFileSet()
	api := map[string]string{}
	print := func(n any) string {
		var b bytes.Buffer
		if err := printer.Fprint(&b, fset, n); err != nil {
			t.Fatal(err)
		}
		return strings.Join(strings.Fields(b.String()), " ")
	}
	for _, name := range strings.Fields(string(out)) {
		f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if !d.Name.IsExported() {
					continue
				}
				key := d.Name.Name
				if d.Recv != nil {
					recv := d.Recv.List[0].Type
					if s, ok := recv.(*ast.StarExpr); ok {
						recv = s.X
					}
					switch g := recv.(type) { // a generic type's: T[P] or T[P, Q]
					case *ast.IndexExpr:
						recv = g.X
					case *ast.IndexListExpr:
						recv = g.X
					}
					if !recv.(*ast.Ident).IsExported() {
						continue
					}
					key = recv.(*ast.Ident).Name + "." + key
					recv = d.Recv.List[0].Type
					api[key] = "(" + print(recv) + ") " + print(d.Type)
					continue
				}
				api[key] = print(d.Type)
			case *ast.GenDecl:
				for _, s := range d.Specs {
					switch s := s.(type) {
					case *ast.TypeSpec:
						if s.Name.IsExported() {
							api[s.Name.Name] = typeString(print, s)
						}
					case *ast.ValueSpec:
						for i, n := range s.Names {
							if !n.IsExported() {
								continue
							}
							v := d.Tok.String()
							if s.Type != nil {
								v += " " + print(s.Type)
							}
							if i < len(s.Values) {
								v += " = " + print(s.Values[i])
							}
							api[n.Name] = v
						}
					}
				}
			}
		}
	}
	return api
}

// typeString prints a type definition with only its exported fields and
// methods: unexported ones are each build's own business.
func typeString(print func(any) string, s *ast.TypeSpec) string {
	prefix := "type "
	if s.Assign.IsValid() {
		prefix = "alias "
	}
	var fields *ast.FieldList
	kind := "struct"
	switch x := s.Type.(type) {
	case *ast.StructType:
		fields = x.Fields
	case *ast.InterfaceType:
		fields, kind = x.Methods, "interface"
	default:
		return prefix + print(s.Type)
	}
	var parts []string
	for _, f := range fields.List {
		var names []string
		for _, n := range f.Names {
			if n.IsExported() {
				names = append(names, n.Name)
			}
		}
		switch {
		case len(f.Names) == 0: // embedded
			parts = append(parts, "embed "+print(f.Type))
		case len(names) > 0:
			p := strings.Join(names, ", ") + " " + print(f.Type)
			if f.Tag != nil {
				p += " " + f.Tag.Value
			}
			parts = append(parts, p)
		}
	}
	return prefix + kind + "{" + strings.Join(parts, "; ") + "}"
}
