package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

func init() {
	register(subcommand{"compare", "a subcommand on an older revision and on this tree, alternately, with head/base ratios", cmdCompare})
}

// How compare builds the base revision's tool.
const (
	// toolHead builds this tree's bench sources against the base
	// revision's library: one measuring code, two libraries. Files that do
	// not compile against the older library are left out, and with them
	// their own subcommands only (see register).
	toolHead = "head"
	// toolOwn builds the base revision's own bench.
	toolOwn = "own"
	// toolAuto is head when that builds with the subcommand, else own.
	toolAuto = "auto"
)

type compareSide struct {
	// Rev is what was asked for; Commit what it resolved to. The head is
	// the working tree, uncommitted changes included (Dirty).
	Rev    string `json:"rev"`
	Commit string `json:"commit"`
	Dirty  bool   `json:"dirty,omitempty"`
	// Tool says which bench sources measured this side: "own" (the
	// revision's own) or "head" (this tree's, built against the
	// revision's library).
	Tool string `json:"tool"`
	// Omitted are the bench files of this tree left out of the head tool
	// because they do not compile against the base revision.
	Omitted []string `json:"omitted,omitempty"`
	// Note says why auto chose own.
	Note string `json:"note,omitempty"`
}

// compareMetric is one numeric leaf of the subcommand's JSON, named by its
// path; arrays of results are keyed by their identifying fields
// (results[transport=netcode].p50_us), not by position.
type compareMetric struct {
	Name string  `json:"name"`
	Base float64 `json:"base"`
	Head float64 `json:"head"`
	// Ratio is head/base of the medians: 1 when both are 0, null when only
	// the base is.
	Ratio *float64 `json:"ratio"`
	// BaseRuns and HeadRuns are every run's value, in order.
	BaseRuns []float64 `json:"base_runs"`
	HeadRuns []float64 `json:"head_runs"`
}

type compareReport struct {
	Scenario string      `json:"scenario"`
	Args     []string    `json:"args"`
	Base     compareSide `json:"base"`
	Head     compareSide `json:"head"`
	// Command is the subcommand and its flags, run with -json on each side.
	Command []string        `json:"command"`
	Runs    int             `json:"runs"`
	Metrics []compareMetric `json:"metrics"`
	// OnlyBase and OnlyHead are metrics one side's JSON has and the other's
	// lacks (a field added since), with their medians.
	OnlyBase map[string]float64 `json:"only_base,omitempty"`
	OnlyHead map[string]float64 `json:"only_head,omitempty"`
	// BaseReports and HeadReports are the subcommand's own JSON, run by
	// run, for whoever needs more than the numbers (bench results).
	BaseReports []json.RawMessage `json:"base_reports"`
	HeadReports []json.RawMessage `json:"head_reports"`
	TookS       float64           `json:"took_s"`
}

func cmdCompare(ctx context.Context, args []string, e *env) error {
	fs := newFlagSet("compare", e)
	base := fs.String("base", "", "the `revision` to compare this tree with (a commit, tag or branch), required")
	runs := fs.Int("runs", 3, "runs of each side, alternately base then head; medians are compared")
	tool := fs.String("tool", toolAuto, "which bench measures the base: head (this tree's bench built against the base's library), own (the base's own bench), or auto (head when it builds with the subcommand, else own)")
	repo := fs.String("C", ".", "a `directory` inside the git checkout to compare")
	goTool := fs.String("go", "go", "go command to build with")
	out := addOutputFlags(fs)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: go run ./bench compare -base REV [-runs 3] [-tool auto|head|own] [-json] [-html FILE] SUBCOMMAND [flags]\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	command := fs.Args()
	switch {
	case *base == "":
		return usageErrorf(fs, "-base is required")
	case len(command) == 0:
		return usageErrorf(fs, "name the subcommand to compare, with its flags")
	case *runs < 1:
		return usageErrorf(fs, "-runs must be positive")
	case *tool != toolAuto && *tool != toolHead && *tool != toolOwn:
		return usageErrorf(fs, "-tool must be auto, head or own")
	case command[0] == "compare" || command[0] == "results" || strings.HasPrefix(command[0], "-"):
		return usageErrorf(fs, "cannot compare %q: name a measuring subcommand (rtt, loss, grid, ccu, idle, connect, ...)", command[0])
	}
	r, err := runCompare(ctx, compareConfig{base: *base, runs: *runs, tool: *tool, repo: *repo, goTool: *goTool, command: command}, e)
	if err != nil {
		return err
	}
	r.Args = e.args
	return emit(r, out, e)
}

type compareConfig struct {
	base, tool, repo, goTool string
	runs                     int
	command                  []string
}

func runCompare(ctx context.Context, cfg compareConfig, e *env) (*compareReport, error) {
	started := time.Now()
	top, err := gitOutput(ctx, cfg.repo, "rev-parse", "--show-toplevel")
	if err != nil {
		return nil, fmt.Errorf("%s is not in a git checkout: %w", cfg.repo, err)
	}
	if _, err := os.Stat(filepath.Join(top, "bench")); err != nil {
		return nil, fmt.Errorf("%s has no bench directory: %w", top, err)
	}
	baseCommit, err := gitOutput(ctx, top, "rev-parse", "--verify", "--quiet", cfg.base+"^{commit}")
	if err != nil {
		return nil, fmt.Errorf("unknown revision %q in %s", cfg.base, top)
	}
	headCommit, _ := gitOutput(ctx, top, "rev-parse", "HEAD")
	// Untracked files count: the build takes them.
	status, _ := gitOutput(ctx, top, "status", "--porcelain")
	r := &compareReport{
		Scenario: "compare", Command: cfg.command, Runs: cfg.runs,
		Base: compareSide{Rev: cfg.base, Commit: baseCommit},
		Head: compareSide{Rev: "working tree", Commit: headCommit, Dirty: status != "", Tool: toolOwn},
	}

	tmp, err := os.MkdirTemp("", "tickwire-compare-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	tree := filepath.Join(tmp, "base")
	fmt.Fprintf(e.stderr, "compare: git worktree add --detach %s %s\n", tree, shortHash(baseCommit))
	if _, err := gitOutput(ctx, top, "worktree", "add", "--detach", tree, baseCommit); err != nil {
		return nil, fmt.Errorf("materialise %s: %w", cfg.base, err)
	}
	defer func() {
		// Not ctx: an interrupted compare must still remove its worktree.
		if _, err := gitOutput(context.Background(), top, "worktree", "remove", "--force", tree); err != nil {
			fmt.Fprintf(e.stderr, "compare: remove worktree %s: %v\n", tree, err)
		}
	}()

	headBin := filepath.Join(tmp, "bench-head")
	fmt.Fprintf(e.stderr, "compare: building this tree's bench\n")
	if out, err := goBuild(ctx, cfg.goTool, top, headBin); err != nil {
		return nil, fmt.Errorf("build this tree's bench: %w\n%s", err, out)
	}
	if err := checkSubcommand(ctx, headBin, top, cfg.command[0]); err != nil {
		return nil, fmt.Errorf("this tree's bench: %w", err)
	}
	baseBin := filepath.Join(tmp, "bench-base")
	if err := buildBase(ctx, cfg, top, tree, baseBin, &r.Base, e); err != nil {
		return nil, err
	}

	var baseFlat, headFlat []*flatJSON
	args := append(slices.Clone(cfg.command), "-json")
	for i := range cfg.runs {
		for _, side := range []struct {
			name, bin, dir string
			raw            *[]json.RawMessage
			flat           *[]*flatJSON
		}{
			{"base", baseBin, tree, &r.BaseReports, &baseFlat},
			{"head", headBin, top, &r.HeadReports, &headFlat},
		} {
			fmt.Fprintf(e.stderr, "compare: run %d of %d, %s: %s\n", i+1, cfg.runs, side.name, strings.Join(args, " "))
			raw, err := runSide(ctx, side.bin, side.dir, args, e)
			if err != nil {
				return nil, fmt.Errorf("%s, run %d: %w", side.name, i+1, err)
			}
			f, err := flattenJSON(raw)
			if err != nil {
				return nil, fmt.Errorf("%s, run %d: %w", side.name, i+1, err)
			}
			*side.raw = append(*side.raw, raw)
			*side.flat = append(*side.flat, f)
		}
	}
	r.Metrics, r.OnlyBase, r.OnlyHead = compareMetrics(baseFlat, headFlat)
	r.TookS = time.Since(started).Round(time.Second).Seconds()
	return r, nil
}

// buildBase builds the base side's tool as cfg.tool says, into bin.
func buildBase(ctx context.Context, cfg compareConfig, top, tree, bin string, side *compareSide, e *env) error {
	if cfg.tool != toolOwn {
		fmt.Fprintf(e.stderr, "compare: building this tree's bench against %s's library\n", cfg.base)
		omitted, err := buildOverlay(ctx, cfg.goTool, filepath.Join(top, "bench"), tree, bin, configTags(tree)...)
		if err == nil {
			err = checkSubcommand(ctx, bin, tree, cfg.command[0])
			if err != nil && len(omitted) > 0 {
				err = fmt.Errorf("%w (left out, not compiling against %s: %s)", err, cfg.base, strings.Join(omitted, ", "))
			}
		}
		if err == nil {
			side.Tool, side.Omitted = toolHead, omitted
			return nil
		}
		if cfg.tool == toolHead {
			return fmt.Errorf("this tree's bench against %s: %w", cfg.base, err)
		}
		side.Note = fmt.Sprintf("this tree's bench did not build against %s: %v", cfg.base, err)
		fmt.Fprintf(e.stderr, "compare: %s; using %s's own bench\n", side.Note, cfg.base)
		// The overlay replaced the base's bench sources: restore them.
		if _, err := gitOutput(ctx, tree, "checkout", "--", "bench"); err != nil {
			return fmt.Errorf("restore %s's bench: %w", cfg.base, err)
		}
		if _, err := gitOutput(ctx, tree, "clean", "-fdq", "--", "bench"); err != nil {
			return fmt.Errorf("restore %s's bench: %w", cfg.base, err)
		}
	}
	fmt.Fprintf(e.stderr, "compare: building %s's own bench\n", cfg.base)
	if out, err := goBuild(ctx, cfg.goTool, tree, bin); err != nil {
		return fmt.Errorf("build %s's bench: %w\n%s", cfg.base, err, out)
	}
	if err := checkSubcommand(ctx, bin, tree, cfg.command[0]); err != nil {
		return fmt.Errorf("%s's own bench: %w; try -tool head", cfg.base, err)
	}
	side.Tool = toolOwn
	return nil
}

// configTags returns the build flags this tree's bench needs against tree's
// library: the tag tickwire_config_v1 when tree's netcode predates the
// split of its Config (no ServerConfig), which swaps netcodecfg.go for
// netcodecfg_v1.go. Without it every file that makes a netcode server or
// client would be left out.
func configTags(tree string) []string {
	b, err := os.ReadFile(filepath.Join(tree, "netcode", "server_config.go"))
	if err == nil && bytes.Contains(b, []byte("type ServerConfig struct")) {
		return nil
	}
	return []string{"-tags=tickwire_config_v1"}
}

// compileErrorFile matches the file of a compiler or go-list error in the
// bench package, as go build prints them from the module root.
var compileErrorFile = regexp.MustCompile(`(?m)^(?:\./)?bench/([^/:\s]+\.go):\d+`)

// buildOverlay replaces tree's bench sources with those in src (tests
// excepted), then builds them, leaving out each file that does not compile
// against tree's library until the rest does. main.go is never left out.
func buildOverlay(ctx context.Context, goTool, src, tree, bin string, flags ...string) (omitted []string, err error) {
	dst := filepath.Join(tree, "bench")
	if err := os.RemoveAll(dst); err != nil {
		return nil, err
	}
	if err := copyTree(src, dst, func(name string) bool { return !strings.HasSuffix(name, "_test.go") }); err != nil {
		return nil, fmt.Errorf("copy bench sources: %w", err)
	}
	for {
		out, err := goBuild(ctx, goTool, tree, bin, append([]string{"-gcflags=-e"}, flags...)...)
		if err == nil {
			return omitted, nil
		}
		if ctx.Err() != nil {
			return omitted, ctx.Err()
		}
		var bad []string
		for _, m := range compileErrorFile.FindAllStringSubmatch(out, -1) {
			if !slices.Contains(bad, m[1]) {
				bad = append(bad, m[1])
			}
		}
		if len(bad) == 0 || slices.Contains(bad, "main.go") {
			return omitted, fmt.Errorf("%w\n%s", err, out)
		}
		for _, f := range bad {
			if err := os.Remove(filepath.Join(dst, f)); err != nil {
				return omitted, fmt.Errorf("%w\n%s", err, out)
			}
			omitted = append(omitted, f)
		}
	}
}

// copyTree copies the regular files under src that keep accepts (by base
// name) to dst.
func copyTree(src, dst string, keep func(name string) bool) error {
	return filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if !d.Type().IsRegular() || !keep(d.Name()) {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
}

func goBuild(ctx context.Context, goTool, dir, bin string, flags ...string) (string, error) {
	args := append([]string{"build", "-o", bin}, flags...)
	cmd := exec.CommandContext(ctx, goTool, append(args, "./bench")...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// checkSubcommand asks bin for name's flags: a bench without it exits 2.
func checkSubcommand(ctx context.Context, bin, dir, name string) error {
	cmd := exec.CommandContext(ctx, bin, name, "-h")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("no subcommand %q (%v): %s", name, err, firstLine(string(out)))
	}
	return nil
}

// runSide runs one side's bench in its own tree and returns its JSON.
func runSide(ctx context.Context, bin, dir string, args []string, e *env) ([]byte, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	var stdout bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, e.stderr
	if e.tty != nil {
		cmd.Stderr = e.tty // so that the child draws its progress bar
	}
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s: %w", strings.Join(args, " "), err)
	}
	return stdout.Bytes(), nil
}

func gitOutput(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			return "", fmt.Errorf("git %s: %s", args[0], firstLine(msg))
		}
		return "", fmt.Errorf("git %s: %w", args[0], err)
	}
	return strings.TrimSpace(string(out)), nil
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return line
}

func shortHash(h string) string { return h[:min(len(h), 9)] }

// flatJSON is one report's numeric leaves, in the order they came.
type flatJSON struct {
	names  []string
	values map[string]float64
}

// compareIDFields are the numeric fields that name an element of an array
// rather than measure it (a grid cell's loss and delay, a flood phase's
// rate); every string field names it too.
var compareIDFields = []string{"loss", "delay_ms", "rate", "clients", "sessions", "hz", "size", "n_sessions"}

// compareSkip are the fields that echo the command rather than measure:
// equal on both sides by construction.
var compareSkip = []string{"args", "params", "scenario"}

// flattenJSON decodes one JSON object keeping its key order and collects
// its numeric leaves.
func flattenJSON(b []byte) (*flatJSON, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	v, err := decodeOrdered(dec)
	if err != nil {
		return nil, fmt.Errorf("decode JSON: %w", err)
	}
	if _, ok := v.(orderedObject); !ok {
		return nil, errors.New("decode JSON: not an object")
	}
	if dec.More() {
		return nil, errors.New("decode JSON: more than one value")
	}
	f := &flatJSON{values: map[string]float64{}}
	f.walk("", v, true)
	return f, nil
}

func (f *flatJSON) add(name string, x float64) {
	if _, dup := f.values[name]; !dup {
		f.names = append(f.names, name)
	}
	f.values[name] = x
}

func (f *flatJSON) walk(name string, v any, top bool) {
	switch v := v.(type) {
	case json.Number:
		if x, err := v.Float64(); err == nil {
			f.add(name, x)
		}
	case orderedObject:
		for _, kv := range v {
			if top && slices.Contains(compareSkip, kv.key) {
				continue
			}
			f.walk(joinName(name, kv.key), kv.value, false)
		}
	case []any:
		if len(v) > 0 && allNumbers(v) {
			return // samples or per-round figures, summarised beside them
		}
		keys := elementKeys(v)
		for i, x := range v {
			obj, ok := x.(orderedObject)
			if !ok {
				f.walk(fmt.Sprintf("%s[%d]", name, i), x, false)
				continue
			}
			prefix := fmt.Sprintf("%s[%s]", name, keys[i])
			for _, kv := range obj {
				if keys[i] != strconv.Itoa(i) && isIDField(kv) {
					continue // in the name already
				}
				f.walk(joinName(prefix, kv.key), kv.value, false)
			}
		}
	}
}

func joinName(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

func allNumbers(v []any) bool {
	for _, x := range v {
		if _, ok := x.(json.Number); !ok {
			return false
		}
	}
	return true
}

func isIDField(kv orderedField) bool {
	switch kv.value.(type) {
	case string:
		return kv.key != "error"
	case json.Number:
		return slices.Contains(compareIDFields, kv.key)
	}
	return false
}

// elementKeys names each element of an array by its identifying fields
// (key=value,...), or by its index where they are missing or not unique.
func elementKeys(v []any) []string {
	keys := make([]string, len(v))
	seen := map[string]bool{}
	unique := true
	for i, x := range v {
		obj, ok := x.(orderedObject)
		if !ok {
			unique = false
			break
		}
		var parts []string
		for _, kv := range obj {
			if isIDField(kv) {
				parts = append(parts, fmt.Sprintf("%s=%v", kv.key, kv.value))
			}
		}
		keys[i] = strings.Join(parts, ",")
		if keys[i] == "" || seen[keys[i]] {
			unique = false
			break
		}
		seen[keys[i]] = true
	}
	if !unique {
		for i := range keys {
			keys[i] = strconv.Itoa(i)
		}
	}
	return keys
}

// orderedObject is a JSON object with its keys in document order, which
// encoding/json's maps lose.
type orderedObject []orderedField

type orderedField struct {
	key   string
	value any
}

// decodeOrdered decodes the next JSON value: orderedObject, []any,
// json.Number, string, bool or nil.
func decodeOrdered(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch tok {
	case json.Delim('{'):
		var obj orderedObject
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return nil, err
			}
			key, ok := k.(string)
			if !ok {
				return nil, fmt.Errorf("object key %v", k)
			}
			v, err := decodeOrdered(dec)
			if err != nil {
				return nil, err
			}
			obj = append(obj, orderedField{key, v})
		}
		if _, err := dec.Token(); err != nil { // }
			return nil, err
		}
		return obj, nil
	case json.Delim('['):
		arr := []any{}
		for dec.More() {
			v, err := decodeOrdered(dec)
			if err != nil {
				return nil, err
			}
			arr = append(arr, v)
		}
		if _, err := dec.Token(); err != nil { // ]
			return nil, err
		}
		return arr, nil
	default:
		return tok, nil
	}
}

// compareMetrics pairs the runs' leaves by name, in the base's order then
// any the head adds.
func compareMetrics(base, head []*flatJSON) (metrics []compareMetric, onlyBase, onlyHead map[string]float64) {
	var names []string
	for _, side := range [][]*flatJSON{base, head} {
		for _, f := range side {
			for _, n := range f.names {
				if !slices.Contains(names, n) {
					names = append(names, n)
				}
			}
		}
	}
	runsOf := func(side []*flatJSON, name string) []float64 {
		var xs []float64
		for _, f := range side {
			if x, ok := f.values[name]; ok {
				xs = append(xs, x)
			}
		}
		return xs
	}
	for _, n := range names {
		b, h := runsOf(base, n), runsOf(head, n)
		switch {
		case len(b) == 0:
			if onlyHead == nil {
				onlyHead = map[string]float64{}
			}
			onlyHead[n] = median(h)
		case len(h) == 0:
			if onlyBase == nil {
				onlyBase = map[string]float64{}
			}
			onlyBase[n] = median(b)
		default:
			m := compareMetric{Name: n, Base: median(b), Head: median(h), BaseRuns: b, HeadRuns: h}
			switch {
			case m.Base != 0:
				x := m.Head / m.Base
				m.Ratio = &x
			case m.Head == 0:
				x := 1.0
				m.Ratio = &x
			}
			metrics = append(metrics, m)
		}
	}
	return metrics, onlyBase, onlyHead
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// spread is the runs' range as a fraction of their median: how much to
// trust a ratio near 1.
func spread(xs []float64) float64 {
	m := median(xs)
	if len(xs) < 2 || m == 0 {
		return 0
	}
	return (slices.Max(xs) - slices.Min(xs)) / math.Abs(m)
}

func (r *compareReport) metric(name string) *compareMetric {
	for i := range r.Metrics {
		if r.Metrics[i].Name == name {
			return &r.Metrics[i]
		}
	}
	return nil
}

func fmtRatio(x *float64) string {
	if x == nil {
		return "n/a"
	}
	return fmt.Sprintf("%.3f", *x)
}

func fmtNumber(x float64) string {
	return strconv.FormatFloat(x, 'g', 6, 64)
}

func (r *compareReport) describe() string {
	tool := "its own bench"
	if r.Base.Tool == toolHead {
		tool = "this tree's bench built against its library"
	}
	s := fmt.Sprintf("go run ./bench %s: base %s (%s, %s) against this tree (%s%s), %d run(s) each, alternately; medians",
		strings.Join(r.Command, " "), r.Base.Rev, shortHash(r.Base.Commit), tool, shortHash(r.Head.Commit),
		map[bool]string{true: " with uncommitted changes", false: ""}[r.Head.Dirty], r.Runs)
	if len(r.Base.Omitted) > 0 {
		s += fmt.Sprintf("; left out of the base's tool, not compiling against it: %s", strings.Join(r.Base.Omitted, ", "))
	}
	if r.Base.Note != "" {
		s += "; " + r.Base.Note
	}
	return s
}

func (r *compareReport) rows() [][]string {
	var rows [][]string
	for _, m := range r.Metrics {
		rows = append(rows, []string{m.Name, fmtNumber(m.Base), fmtNumber(m.Head), fmtRatio(m.Ratio),
			fmt.Sprintf("%.0f%%", 100*spread(m.BaseRuns)), fmt.Sprintf("%.0f%%", 100*spread(m.HeadRuns))})
	}
	return rows
}

var compareHead = []string{"metric", "base", "head", "head/base", "base spread", "head spread"}

func (r *compareReport) writeTable(w io.Writer) error {
	if _, err := fmt.Fprintf(w, "%s\n\n", r.describe()); err != nil {
		return err
	}
	// Names left-aligned, figures right-aligned.
	rows := append([][]string{compareHead}, r.rows()...)
	width := 0
	for _, row := range rows {
		width = max(width, len(row[0]))
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	for _, row := range rows {
		writeRow(tw, append([]string{fmt.Sprintf("%-*s", width, row[0])}, row[1:]...))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, side := range []struct {
		name string
		m    map[string]float64
	}{{"base", r.OnlyBase}, {"head", r.OnlyHead}} {
		for _, n := range slices.Sorted(maps.Keys(side.m)) {
			if _, err := fmt.Fprintf(w, "only in %s: %s = %s\n", side.name, n, fmtNumber(side.m[n])); err != nil {
				return err
			}
		}
	}
	_, err := fmt.Fprintf(w, "spread: the runs' range over their median. Took %gs.\n", r.TookS)
	return err
}

func (r *compareReport) writeHTML(w io.Writer) error {
	return writeHTMLPage(w, "Tickwire bench: compare", r.Args, []htmlSection{{
		Title:   "head/base",
		Caption: r.describe() + ". Spread: the runs' range over their median.",
		Table:   htmlTable{Head: compareHead, Rows: r.rows()},
	}})
}
