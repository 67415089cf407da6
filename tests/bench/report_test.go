package bench_test

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"
)

// row is one line of docs/benchmarks.md.
type row struct {
	Figure   string
	Ours     string
	Baseline string
	Ratio    string
	Goal     string
}

var (
	reportMu  sync.Mutex
	report    = map[string][]row{}
	notes     = map[string]string{}
	startLoad = loadAverage()
)

// explain sets the paragraph printed under a section's heading: how its
// figures were taken, so the file stays readable once rewritten.
func explain(section, text string) {
	reportMu.Lock()
	defer reportMu.Unlock()
	notes[section] = text
}

// loadAverage is /proc/loadavg's 1-, 5- and 15-minute figures.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

func record(section string, r row) {
	reportMu.Lock()
	defer reportMu.Unlock()
	report[section] = append(report[section], r)
}

func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(p*float64(len(s))+0.5) - 1
	return s[max(0, min(i, len(s)-1))]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

func memTotal() string {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return "unknown"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "MemTotal:") {
			var kb int64
			fmt.Sscanf(strings.TrimSpace(strings.TrimPrefix(l, "MemTotal:")), "%d", &kb)
			return fmt.Sprintf("%.0f GiB", float64(kb)/(1<<20))
		}
	}
	return "unknown"
}

// writeReport writes the table once every benchmark ran.
func writeReport() error {
	path := os.Getenv("EZ_BENCH_REPORT")
	if path == "" {
		path = "../../docs/benchmarks.md"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Benchmarks\n\nWritten by `make bench` on %s. Machine: %d cores, %s memory, %s/%s, %s.\n",
		time.Now().UTC().Format("2006-01-02 15:04 UTC"), runtime.NumCPU(), memTotal(), runtime.GOOS, runtime.GOARCH, runtime.Version())
	fmt.Fprintf(&b, "Load average (1, 5, 15 min) when the run started: %s; when it ended: %s.\n", startLoad, loadAverage())
	b.WriteString("Every baseline is measured in the same run on the same machine; ratios are what the goals refer to. " +
		"Earlier figures, measured alone or before a change, with their dates and the machine's load, are kept by hand " +
		"in [benchmarks-history.md](benchmarks-history.md); this file is rewritten by every run.\n")
	b.WriteString("\nKnobs: `EZ_BENCH_USAGE_ROWS` sets the logged rows of the usage statistics (default 1,000,000; " +
		"the issue also asks for 10,000,000) and `EZ_BENCH_USAGE_SEED=sql` loads them with `generate_series` and the " +
		"roll-ups in SQL instead of through `POST /logs` (10M rows in minutes instead of hours; the default `make bench` " +
		"stays within its timeout). The issue's 10M figures: `make bench BENCH_RUN=TestUsageStats EZ_BENCH_USAGE_ROWS=10000000 " +
		"EZ_BENCH_USAGE_SEED=sql EZ_BENCH_REPORT=/tmp/usage-10m.md` (about 10 minutes; `BENCH_TIMEOUT=90m` for the whole suite at 10M; " +
		"without `EZ_BENCH_REPORT` a partial run rewrites this file with its rows only). `EZ_BENCH_BEFORE_BIN=path` also measures a binary built from an earlier commit in the " +
		"same run (HTTP edge, log ingestion, usage statistics) and logs its figures for before/after comparisons.\n")
	sections := make([]string, 0, len(report))
	for s := range report {
		sections = append(sections, s)
	}
	sort.Strings(sections)
	for _, s := range sections {
		fmt.Fprintf(&b, "\n## %s\n\n", s)
		if n := notes[s]; n != "" {
			b.WriteString(n + "\n\n")
		}
		b.WriteString("| figure | ours | baseline (same run) | ratio | goal |\n|---|---|---|---|---|\n")
		for _, r := range report[s] {
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", r.Figure, r.Ours, r.Baseline, r.Ratio, r.Goal)
		}
	}
	fmt.Print(b.String())
	if f := flag.Lookup("test.run"); os.Getenv("EZ_BENCH_REPORT") == "" && f != nil && f.Value.String() != "" && f.Value.String() != "." {
		// A partial run (BENCH_RUN) would replace every other section.
		fmt.Fprintln(os.Stderr, "bench report: a partial run (-run "+f.Value.String()+") leaves docs/benchmarks.md as it is; set EZ_BENCH_REPORT to write it to a file")
		return nil
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}
