package deploy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"sigs.k8s.io/yaml"

	"github.com/pantry/pantry/internal/pgtest"
)

// The monitoring files (deploy/monitoring/) are checked by the tool that
// reads them, promtool (Debian's prometheus package): the rules parse
// and their unit tests pass, and every query of the Grafana dashboard
// parses too (as recording rules in a generated file). What promtool
// cannot know, that the metrics and labels they name exist, is checked
// against a real edge node and a real cloud (TestMonitoringMetricsExist).

const (
	alertsFile     = "monitoring/alerts.yml"
	alertTestsFile = "monitoring/alerts_test.yml"
	dashboardFile  = "monitoring/dashboard.json"
)

// promtool is the path of promtool, or the test fails naming its package.
func promtool(tb testing.TB) string {
	tb.Helper()
	return need(tb, "promtool", "prometheus")
}

// ruleFile is the part of a Prometheus rules file these tests read (and
// write, for the dashboard's queries).
type ruleFile struct {
	Groups []ruleGroup `json:"groups"`
}

type ruleGroup struct {
	Name  string `json:"name"`
	Rules []rule `json:"rules"`
}

type rule struct {
	Alert       string            `json:"alert,omitempty"`
	Record      string            `json:"record,omitempty"`
	Expr        string            `json:"expr"`
	For         string            `json:"for,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// alertRules reads alerts.yml.
func alertRules(tb testing.TB) []rule {
	tb.Helper()
	var f ruleFile
	readYAML(tb, alertsFile, &f)
	var rules []rule
	for _, g := range f.Groups {
		rules = append(rules, g.Rules...)
	}
	if len(rules) == 0 {
		tb.Fatalf("%s has no rules", alertsFile)
	}
	return rules
}

func readYAML(tb testing.TB, path string, v any) {
	tb.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(raw, v); err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
}

// TestAlertRules: promtool accepts the rules, and their unit tests
// (alerts_test.yml) pass.
func TestAlertRules(t *testing.T) {
	t.Parallel()
	pt := promtool(t)
	rules := alertRules(t)
	res := command{dir: "monitoring"}.must(t, pt, "check", "rules", "alerts.yml")
	if want := fmt.Sprintf("SUCCESS: %d rules found", len(rules)); !strings.Contains(res.stdout, want) {
		t.Errorf("promtool check rules: %q not in %s", want, res)
	}
	res = command{dir: "monitoring"}.must(t, pt, "test", "rules", "alerts_test.yml")
	if !strings.Contains(res.stdout, "SUCCESS") {
		t.Errorf("promtool test rules: no SUCCESS in %s", res)
	}
}

// TestAlertRulesCatch: promtool fails a broken copy, so the checks above
// can fail: an expression that does not parse, a duration that is not
// one, and a threshold moved so far that the unit tests no longer see
// the alert fire.
func TestAlertRulesCatch(t *testing.T) {
	t.Parallel()
	pt := promtool(t)
	good, err := os.ReadFile(alertsFile)
	if err != nil {
		t.Fatal(err)
	}
	tests, err := os.ReadFile(alertTestsFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, from, to string
		verb           string // the promtool command that must fail
		want           string // in its output
	}{
		{"TypoInExpression", "changes(pantry_sync_last_pull_timestamp_seconds[5m])", "chnages(pantry_sync_last_pull_timestamp_seconds[5m])", "check", "chnages"},
		{"UnbalancedExpression", "expr: pantry_sync_refused == 1", "expr: (pantry_sync_refused == 1", "check", "unclosed left parenthesis"},
		{"BadDuration", "for: 2m", "for: 2 minutes", "check", "2 minutes"},
		{"ThresholdMoved", "pantry_outbox_oldest_unpushed_age_seconds > 600", "pantry_outbox_oldest_unpushed_age_seconds > 6000", "test", "PantryEdgeOutboxBehind"},
		{"SeverityChanged", "severity: page\n        annotations:\n          summary: \"Edge node {{ $labels.instance }} is down\"",
			"severity: ticket\n        annotations:\n          summary: \"Edge node {{ $labels.instance }} is down\"", "test", "PantryEdgeDown"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if !bytes.Contains(good, []byte(c.from)) {
				t.Fatalf("%s has no %q to break", alertsFile, c.from)
			}
			dir := t.TempDir()
			os.WriteFile(filepath.Join(dir, "alerts.yml"), bytes.Replace(good, []byte(c.from), []byte(c.to), 1), 0o644)
			os.WriteFile(filepath.Join(dir, "alerts_test.yml"), tests, 0o644)
			args := []string{"check", "rules", "alerts.yml"}
			if c.verb == "test" {
				command{dir: dir}.must(t, pt, "check", "rules", "alerts.yml")
				args = []string{"test", "rules", "alerts_test.yml"}
			}
			res := command{dir: dir}.run(t, pt, args...)
			if res.code == 0 {
				t.Fatalf("promtool %s accepted alerts.yml with %q: %s", strings.Join(args, " "), c.to, res)
			}
			if !strings.Contains(res.stdout+res.stderr, c.want) {
				t.Errorf("promtool %s failed without naming %q: %s", strings.Join(args, " "), c.want, res)
			}
		})
	}
}

// alertTests is the part of a promtool unit-test file this test reads.
type alertTests struct {
	RuleFiles          []string `json:"rule_files"`
	EvaluationInterval string   `json:"evaluation_interval"`
	Tests              []struct {
		Name        string            `json:"name"`
		Interval    string            `json:"interval"`
		InputSeries []json.RawMessage `json:"input_series"`
		AlertTests  []struct {
			EvalTime  string            `json:"eval_time"`
			AlertName string            `json:"alertname"`
			ExpAlerts []json.RawMessage `json:"exp_alerts"`
		} `json:"alert_rule_test"`
	} `json:"tests"`
}

// TestAlertRulesConventions: every alert has a severity of page or
// ticket, a summary and a description, and unit tests that see it fire
// and see it stay quiet.
func TestAlertRulesConventions(t *testing.T) {
	t.Parallel()
	var tests alertTests
	readYAML(t, alertTestsFile, &tests)
	fires, quiet := map[string]bool{}, map[string]bool{}
	for _, tc := range tests.Tests {
		for _, at := range tc.AlertTests {
			if len(at.ExpAlerts) > 0 {
				fires[at.AlertName] = true
			} else {
				quiet[at.AlertName] = true
			}
		}
	}
	seen := map[string]bool{}
	for _, r := range alertRules(t) {
		if r.Alert == "" {
			t.Errorf("rule %q is not an alert: recording rules belong elsewhere", r.Record)
			continue
		}
		if seen[r.Alert] {
			t.Errorf("alert %s is defined twice", r.Alert)
		}
		seen[r.Alert] = true
		if s := r.Labels["severity"]; s != "page" && s != "ticket" {
			t.Errorf("%s: severity %q, want page or ticket", r.Alert, s)
		}
		if r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
			t.Errorf("%s: annotations %v, want a summary and a description", r.Alert, r.Annotations)
		}
		if !fires[r.Alert] {
			t.Errorf("%s: no unit test in %s sees it fire", r.Alert, alertTestsFile)
		}
		if !quiet[r.Alert] {
			t.Errorf("%s: no unit test in %s sees it stay quiet", r.Alert, alertTestsFile)
		}
	}
	for name := range union(fires, quiet) {
		if !seen[name] {
			t.Errorf("%s tests alert %s, which %s does not define", alertTestsFile, name, alertsFile)
		}
	}
}

// dashboard is the part of a Grafana dashboard these tests read.
type dashboard struct {
	UID           string  `json:"uid"`
	Title         string  `json:"title"`
	SchemaVersion int     `json:"schemaVersion"`
	Panels        []panel `json:"panels"`
	Templating    struct {
		List []struct {
			Name       string          `json:"name"`
			Type       string          `json:"type"`
			Query      json.RawMessage `json:"query"`
			Definition string          `json:"definition"`
			IncludeAll bool            `json:"includeAll"`
			Multi      bool            `json:"multi"`
		} `json:"list"`
	} `json:"templating"`
}

type panel struct {
	ID         int     `json:"id"`
	Type       string  `json:"type"`
	Title      string  `json:"title"`
	Panels     []panel `json:"panels"` // a collapsed row's
	Datasource struct {
		Type string `json:"type"`
		UID  string `json:"uid"`
	} `json:"datasource"`
	GridPos struct {
		H, W, X, Y int
	} `json:"gridPos"`
	Targets []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	} `json:"targets"`
}

// readDashboard decodes dashboard.json, refusing trailing data.
func readDashboard(tb testing.TB) dashboard {
	tb.Helper()
	raw, err := os.ReadFile(dashboardFile)
	if err != nil {
		tb.Fatal(err)
	}
	if !json.Valid(raw) {
		tb.Fatalf("%s is not valid JSON", dashboardFile)
	}
	var d dashboard
	if err := json.Unmarshal(raw, &d); err != nil {
		tb.Fatalf("%s: %v", dashboardFile, err)
	}
	return d
}

// panels lists the dashboard's panels, those of collapsed rows included.
func (d dashboard) panels() []panel {
	var out []panel
	for _, p := range d.Panels {
		out = append(out, p)
		out = append(out, p.Panels...)
	}
	return out
}

// queries lists every target's expression, named by panel and refId.
func (d dashboard) queries() map[string]string {
	q := map[string]string{}
	for _, p := range d.panels() {
		for _, tg := range p.Targets {
			q[fmt.Sprintf("panel %d (%s) %s", p.ID, p.Title, tg.RefID)] = tg.Expr
		}
	}
	return q
}

// TestDashboard checks dashboard.json as Grafana needs it (a uid, a
// schema version, panels with titles and queries, an edge-node variable
// that the edge panels use) and that it shows what an operator of a
// fleet looks at.
func TestDashboard(t *testing.T) {
	t.Parallel()
	d := readDashboard(t)
	if d.UID == "" || d.Title == "" || d.SchemaVersion < 30 {
		t.Errorf("uid %q, title %q, schemaVersion %d: want a uid, a title and a current schema", d.UID, d.Title, d.SchemaVersion)
	}
	var instance, datasource bool
	for _, v := range d.Templating.List {
		if v.Name == "instance" && v.Type == "query" && strings.Contains(string(v.Query), `up{job=\"pantry-edge\"}`) && v.IncludeAll && v.Multi {
			instance = true
		}
		if v.Name == "datasource" && v.Type == "datasource" && string(v.Query) == `"prometheus"` {
			datasource = true
		}
	}
	if !instance {
		t.Errorf("no templating variable instance (a query over up{job=\"pantry-edge\"}, multi, with All)")
	}
	if !datasource {
		t.Errorf("no templating variable datasource (of type datasource, prometheus): the dashboard would be tied to one Grafana's data source uid")
	}
	ids := map[int]bool{}
	for _, p := range d.panels() {
		if ids[p.ID] {
			t.Errorf("panel id %d used twice", p.ID)
		}
		ids[p.ID] = true
		if p.Title == "" {
			t.Errorf("panel %d has no title", p.ID)
		}
		if p.GridPos.W <= 0 || p.GridPos.H <= 0 || p.GridPos.X+p.GridPos.W > 24 {
			t.Errorf("panel %d (%s): gridPos %+v is not on Grafana's 24-column grid", p.ID, p.Title, p.GridPos)
		}
		if p.Type == "row" {
			continue
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %d (%s) has no query", p.ID, p.Title)
		}
		if p.Datasource.Type != "prometheus" || p.Datasource.UID != "${datasource}" {
			t.Errorf("panel %d (%s): datasource %+v, want prometheus ${datasource}", p.ID, p.Title, p.Datasource)
		}
		for _, tg := range p.Targets {
			if strings.TrimSpace(tg.Expr) == "" || tg.RefID == "" {
				t.Errorf("panel %d (%s): a target without expr or refId", p.ID, p.Title)
			}
			if strings.Contains(tg.Expr, `"pantry-edge"`) && !strings.Contains(tg.Expr, `instance=~"$instance"`) {
				t.Errorf("panel %d (%s): an edge query that ignores the instance variable: %s", p.ID, p.Title, tg.Expr)
			}
		}
	}
	// What the panels must show, by the metric each needs.
	shown := map[string]bool{}
	for _, expr := range d.queries() {
		for _, s := range selectors(t, expr) {
			shown[s.metric] = true
		}
	}
	for _, m := range []string{
		"up", // edge nodes and cloud instances up
		"pantry_outbox_depth", "pantry_outbox_oldest_unpushed_age_seconds",
		"pantry_sync_last_push_timestamp_seconds", "pantry_sync_last_pull_timestamp_seconds",
		"pantry_sync_clock_skew_seconds", "pantry_sync_dead_lettered_total",
		"pantry_orders_placed_total", "pantry_orders_refused_total",
		"pantry_http_request_duration_seconds_bucket", // order latency
		"pantry_staff_tablets_connected", "pantry_staff_absent",
		"pantry_cloud_http_requests_total", "pantry_cloud_http_request_duration_seconds_bucket",
		"pantry_cloud_sync_events_received_total",
	} {
		if !shown[m] {
			t.Errorf("no panel shows %s", m)
		}
	}
}

// TestDashboardQueriesParse has promtool parse every panel's query, as a
// recording rule in a generated rules file, with Grafana's variables
// replaced by what Grafana would put there.
func TestDashboardQueriesParse(t *testing.T) {
	t.Parallel()
	pt := promtool(t)
	queries := readDashboard(t).queries()
	file, err := dashboardRules(queries)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "dashboard-rules.yml")
	if err := os.WriteFile(path, file, 0o644); err != nil {
		t.Fatal(err)
	}
	res := must(t, pt, "check", "rules", path)
	if want := fmt.Sprintf("SUCCESS: %d rules found", len(queries)); !strings.Contains(res.stdout, want) {
		t.Errorf("promtool check rules on the dashboard's queries: %q not in %s", want, res)
	}

	t.Run("Catches", func(t *testing.T) {
		broken, err := dashboardRules(map[string]string{"a broken panel": `sum by (instance (rate(pantry_orders_placed_total[5m]))`})
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "broken.yml")
		os.WriteFile(path, broken, 0o644)
		if res := run(t, pt, "check", "rules", path); res.code == 0 {
			t.Fatalf("promtool check rules accepted a query that does not parse: %s", res)
		}
	})
}

// grafanaVars are the dashboard's variables and what Grafana substitutes
// for them when it sends a query.
var grafanaVars = strings.NewReplacer(
	"$__rate_interval", "1m",
	"$__interval", "30s",
	"$__range", "6h",
	"$instance", ".*",
	"${instance}", ".*",
)

// dashboardRules writes queries (by name) as a rules file of recording
// rules, so that promtool parses each one. A variable Grafana would not
// fill in is an error.
func dashboardRules(queries map[string]string) ([]byte, error) {
	g := ruleGroup{Name: "dashboard"}
	for i, name := range sortedKeys(queries) {
		expr := grafanaVars.Replace(queries[name])
		if strings.Contains(expr, "$") {
			return nil, fmt.Errorf("%s: a variable the dashboard does not define: %s", name, queries[name])
		}
		g.Rules = append(g.Rules, rule{Record: fmt.Sprintf("dashboard:query_%d", i), Expr: expr})
	}
	return yaml.Marshal(ruleFile{Groups: []ruleGroup{g}})
}

// selector is a metric a PromQL expression reads, with its label matchers.
type selector struct {
	metric   string
	matchers []matcher
	grouping []string // labels of by/on/ignoring/without clauses in the same expression
}

type matcher struct{ label, op, value string }

func (s selector) String() string {
	var m []string
	for _, x := range s.matchers {
		m = append(m, fmt.Sprintf("%s%s%q", x.label, x.op, x.value))
	}
	return s.metric + "{" + strings.Join(m, ", ") + "}"
}

var (
	promqlString   = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
	promqlMatchers = regexp.MustCompile(`\{[^{}]*\}`)
	promqlRange    = regexp.MustCompile(`\[[^\]]*\]`)
	promqlGrouping = regexp.MustCompile(`\b(?:by|on|ignoring|without|group_left|group_right)\s*\(([^()]*)\)`)
	promqlIdent    = regexp.MustCompile(`[A-Za-z_:][A-Za-z0-9_:]*`)
	promqlSelector = regexp.MustCompile(`([A-Za-z_:][A-Za-z0-9_:]*)\s*(\{[^{}]*\})?`)
	promqlMatcher  = regexp.MustCompile(`([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*("(?:[^"\\]|\\.)*")`)
)

// promqlKeywords are the words of PromQL that are neither metrics nor
// functions (a function is followed by a parenthesis).
var promqlKeywords = map[string]bool{
	"and": true, "or": true, "unless": true, "bool": true, "offset": true,
	"by": true, "on": true, "ignoring": true, "without": true, "group_left": true, "group_right": true,
	"inf": true, "nan": true,
}

// selectors finds the metrics expr reads. promtool (2.42) cannot list
// them, so this reads PromQL's simple surface: every identifier outside
// strings, label matchers, ranges and grouping clauses that is not a
// keyword or a function call is a metric. It fails the test on a name
// that is neither up nor pantry_*: a misspelt metric is a valid query
// that silently matches nothing.
func selectors(tb testing.TB, expr string) []selector {
	tb.Helper()
	var grouping []string
	for _, m := range promqlGrouping.FindAllStringSubmatch(expr, -1) {
		for _, l := range strings.Split(m[1], ",") {
			if l = strings.TrimSpace(l); l != "" {
				grouping = append(grouping, l)
			}
		}
	}
	// Blank out what is not an identifier of interest, keeping offsets.
	blank := func(re *regexp.Regexp, s string) string {
		return re.ReplaceAllStringFunc(s, func(m string) string { return strings.Repeat(" ", len(m)) })
	}
	// Strings first: a label value may hold braces or brackets.
	quoted := blank(promqlString, expr)
	bare := blank(promqlGrouping, blank(promqlRange, blank(promqlMatchers, quoted)))
	var out []selector
	for _, loc := range promqlIdent.FindAllStringIndex(bare, -1) {
		name := bare[loc[0]:loc[1]]
		rest := strings.TrimLeft(bare[loc[1]:], " \t\n")
		if promqlKeywords[strings.ToLower(name)] || strings.HasPrefix(rest, "(") {
			continue
		}
		if loc[0] > 0 && (bare[loc[0]-1] >= '0' && bare[loc[0]-1] <= '9' || bare[loc[0]-1] == '.') {
			continue // the unit of a number, as in 1e3
		}
		if name != "up" && !strings.HasPrefix(name, "pantry_") {
			tb.Errorf("%q reads metric %q: neither up nor a pantry_ metric (misspelt?)", expr, name)
			continue
		}
		s := selector{metric: name, grouping: grouping}
		// The matchers are in the original text at the same offset.
		if m := promqlSelector.FindStringSubmatch(expr[loc[0]:]); m != nil && m[2] != "" {
			for _, mm := range promqlMatcher.FindAllStringSubmatch(m[2], -1) {
				var v string
				if err := json.Unmarshal([]byte(mm[3]), &v); err != nil {
					tb.Errorf("%q: label value %s: %v", expr, mm[3], err)
				}
				s.matchers = append(s.matchers, matcher{label: mm[1], op: mm[2], value: v})
			}
		}
		out = append(out, s)
	}
	return out
}

// TestSelectors checks the PromQL reading above on the shapes the rules
// and the dashboard use, so that the existence check cannot pass by
// finding nothing.
func TestSelectors(t *testing.T) {
	t.Parallel()
	got := selectors(t, `histogram_quantile(0.99, sum by (instance, job, le) (rate(pantry_http_request_duration_seconds_bucket{method="POST", route="/api/v1/orders"}[5m]))) > 0.25
		and on (instance) time() - (pantry_sync_last_pull_timestamp_seconds > 0) + pantry_sync_clock_skew_seconds{instance=~"$instance"} or absent(up{job="pantry-edge"})`)
	var names []string
	for _, s := range got {
		names = append(names, s.String())
	}
	want := []string{
		`pantry_http_request_duration_seconds_bucket{method="POST", route="/api/v1/orders"}`,
		`pantry_sync_last_pull_timestamp_seconds{}`,
		`pantry_sync_clock_skew_seconds{instance=~"$instance"}`,
		`up{job="pantry-edge"}`,
	}
	if !slices.Equal(names, want) {
		t.Errorf("selectors:\n got %q\nwant %q", names, want)
	}
	if g := got[0].grouping; !slices.Equal(g, []string{"instance", "job", "le", "instance"}) {
		t.Errorf("grouping labels %q", g)
	}

	t.Run("Misspelt", func(t *testing.T) {
		rec := &recordingTB{TB: t}
		selectors(rec, `rate(pantyr_orders_placed_total[5m]) > 0`)
		if len(rec.errors) != 1 || !strings.Contains(rec.errors[0], "pantyr_orders_placed_total") {
			t.Errorf("a misspelt metric: errors %q, want one naming it", rec.errors)
		}
	})
}

// recordingTB keeps the errors a helper reports instead of failing.
type recordingTB struct {
	testing.TB
	errors []string
}

func (r *recordingTB) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

// monitoredSelectors lists every selector of the alert rules and the
// dashboard, by where it comes from.
func monitoredSelectors(t *testing.T) map[string][]selector {
	t.Helper()
	out := map[string][]selector{}
	for _, r := range alertRules(t) {
		out["alert "+r.Alert] = selectors(t, r.Expr)
	}
	for name, expr := range readDashboard(t).queries() {
		out["dashboard "+name] = selectors(t, expr)
	}
	return out
}

// exposition is a scrape of /metrics: metric families by name.
type exposition map[string]*dto.MetricFamily

func scrape(url string) (exposition, error) {
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics: %d %v", resp.StatusCode, err)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	return p.TextToMetricFamilies(bytes.NewReader(body))
}

// family finds the family a series name belongs to: itself, or the
// histogram or summary whose _bucket, _sum or _count it is.
func (e exposition) family(name string) (*dto.MetricFamily, bool) {
	if f, ok := e[name]; ok {
		return f, false
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		base, ok := strings.CutSuffix(name, suffix)
		if f, found := e[base]; ok && found && (f.GetType() == dto.MetricType_HISTOGRAM || suffix != "_bucket" && f.GetType() == dto.MetricType_SUMMARY) {
			return f, suffix == "_bucket"
		}
	}
	return nil, false
}

// targetLabels are the labels Prometheus adds to every series it scrapes.
var targetLabels = map[string]bool{"job": true, "instance": true}

// missing says what of sel the exposition lacks: the metric, a label it
// matches on, or a literal label value it names. A regular
// expression that is an alternation of plain words (unavailable|internal)
// must find each word; one with other syntax (5..) is not checked.
func (e exposition) missing(sel selector) []string {
	f, bucket := e.family(sel.metric)
	if f == nil {
		return []string{fmt.Sprintf("%s: no such metric", sel.metric)}
	}
	values := map[string]map[string]bool{}
	add := func(label, value string) {
		if values[label] == nil {
			values[label] = map[string]bool{}
		}
		values[label][value] = true
	}
	for _, m := range f.GetMetric() {
		for _, l := range m.GetLabel() {
			add(l.GetName(), l.GetValue())
		}
		for _, b := range m.GetHistogram().GetBucket() {
			if bucket {
				add("le", strconv.FormatFloat(b.GetUpperBound(), 'g', -1, 64))
			}
		}
		if bucket && m.GetHistogram() != nil {
			add("le", "+Inf")
		}
	}
	var out []string
	for _, m := range sel.matchers {
		if targetLabels[m.label] {
			continue
		}
		have, ok := values[m.label]
		if !ok {
			out = append(out, fmt.Sprintf("%s: no label %s (has %v)", sel, m.label, sortedKeys(values)))
			continue
		}
		for _, v := range literalAlternatives(m) {
			if !have[v] {
				out = append(out, fmt.Sprintf("%s: no series with %s=%q (has %v)", sel, m.label, v, sortedKeys(have)))
			}
		}
	}
	return out
}

// literalAlternatives is the values a matcher names: its value, or for a
// regular expression made only of words and |, each word.
func literalAlternatives(m matcher) []string {
	if m.op == "=" || m.op == "!=" {
		return []string{m.value}
	}
	if strings.ContainsAny(m.value, `.*+?()[]{}^$\`) {
		return nil
	}
	return strings.Split(m.value, "|")
}

// missingGrouping lists the labels a selector's expression groups or
// matches by that none of the metrics it reads has.
func missingGrouping(sels []selector, edge, cloud exposition) []string {
	have := map[string]bool{"le": true, "instance": true, "job": true}
	for _, s := range sels {
		exp := edge
		if strings.HasPrefix(s.metric, "pantry_cloud_") {
			exp = cloud
		}
		if f, _ := exp.family(s.metric); f != nil {
			for _, m := range f.GetMetric() {
				for _, l := range m.GetLabel() {
					have[l.GetName()] = true
				}
			}
		}
	}
	var out []string
	for _, s := range sels {
		for _, l := range s.grouping {
			if !have[l] {
				out = append(out, fmt.Sprintf("groups by %s, which none of its metrics has", l))
			}
		}
	}
	return out
}

// TestMonitoringMetricsExist starts a real cloud on PostgreSQL and a real
// edge node enrolled with it, has an attendee order (and be refused),
// and checks that every metric the alert rules and the dashboard read
// is exported by one of them, with the labels and label values they
// match on. pantry_cloud_* must come from the cloud, every other
// pantry_* from the edge node.
func TestMonitoringMetricsExist(t *testing.T) {
	t.Parallel()
	sels := monitoredSelectors(t)
	if len(sels) < 20 {
		t.Fatalf("only %d rules and queries found", len(sels))
	}
	w := startMonitoredFleet(t)
	w.order(t)

	var edge, cloud exposition
	eventually(t, 2*time.Minute, "every monitored metric on the edge node and the cloud", func() error {
		var err error
		if edge, err = scrape(w.edgeURL); err != nil {
			return err
		}
		touch(w.cloudURL + "/healthz") // a route the 5xx ratio leaves out
		if cloud, err = scrape(w.cloudURL); err != nil {
			return err
		}
		var missing []string
		for _, where := range sortedKeys(sels) {
			for _, s := range sels[where] {
				if s.metric == "up" {
					continue // Prometheus's own
				}
				exp := edge
				if strings.HasPrefix(s.metric, "pantry_cloud_") {
					exp = cloud
				}
				for _, m := range exp.missing(s) {
					missing = append(missing, where+": "+m)
				}
			}
			for _, m := range missingGrouping(sels[where], edge, cloud) {
				missing = append(missing, where+": "+m)
			}
		}
		if len(missing) > 0 {
			return fmt.Errorf("missing:\n%s", strings.Join(missing, "\n"))
		}
		return nil
	})

	// The same scrapes find what is not there.
	for _, c := range []struct {
		exp  exposition
		expr string
	}{
		{edge, `pantry_outbox_dept`},
		{edge, `pantry_orders_refused_total{code="disk_full"}`},
		{edge, `pantry_http_request_duration_seconds_bucket{route="POST /api/v1/orders"}`},
		{edge, `pantry_sync_consecutive_failures{dir="pull"}`},
		{edge, `pantry_orders_refused_total{code=~"unavailable|disk_full"}`},
		{cloud, `pantry_cloud_http_request_duration_seconds_bucket{route!="/sync/v1/pul"}`},
		{cloud, `pantry_cloud_logins_total{status="ok"}`},
	} {
		for _, s := range selectors(t, c.expr) {
			if m := c.exp.missing(s); len(m) == 0 {
				t.Errorf("%s: found on a real node, which does not export it", c.expr)
			}
		}
	}
	if m := missingGrouping(selectors(t, `max by (instance, stationn) (pantry_staff_absent)`), edge, cloud); len(m) != 1 {
		t.Errorf("grouping by a label no metric has: %q, want it reported", m)
	}
}

// fleet is a cloud and one edge node enrolled with it.
type fleet struct {
	cloudURL, edgeURL string
	token             string // the organization admin's access token
	itemID, roomCode  string
}

// startMonitoredFleet migrates a fresh database, creates an organization
// with a site, a room and an item on the menu, starts `pantry cloud
// serve`, enrolls an edge node and starts `pantry edge serve`.
func startMonitoredFleet(t *testing.T) *fleet {
	t.Helper()
	bin := staticPantry(t)
	db := pgtest.NewDatabase(t)
	migrate := []string{"cloud", "migrate", "--database-url", db}
	if pgtest.Citus() {
		migrate = append(migrate, "--citus")
	}
	must(t, bin, migrate...)
	pw := filepath.Join(t.TempDir(), "password")
	if err := os.WriteFile(pw, []byte("monitoring-admin-password-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	must(t, bin, "cloud", "org", "create", "--database-url", db, "--name", "Monitoring",
		"--admin-email", "admin@monitoring.example", "--admin-password-file", pw, "--json")
	cloudAddr := freeAddr(t)
	w := &fleet{cloudURL: "http://" + cloudAddr}
	startServing(t, bin, w.cloudURL, "cloud", "serve", "--database-url", db, "--http", cloudAddr)

	login := w.call(t, "POST", w.cloudURL+"/api/v1/auth/login", "", map[string]any{"email": "admin@monitoring.example", "password": "monitoring-admin-password-1"}, 200)
	w.token = login["access_token"].(string)
	item := w.admin(t, "POST", "/api/v1/items", map[string]any{"name": "Coffee", "station": "drinks", "price": map[string]any{"amount": 250, "currency": "EUR"}}, 201)
	w.itemID = item["id"].(string)
	site := w.admin(t, "POST", "/api/v1/sites", map[string]any{"name": "HQ", "timezone": "Europe/Amsterdam", "currency": "EUR"}, 201)
	siteID := site["id"].(string)
	room := w.admin(t, "POST", "/api/v1/sites/"+siteID+"/spaces", map[string]any{"name": "Room 1", "floor": "1"}, 201)
	w.roomCode = room["code"].(string)
	w.admin(t, "PUT", "/api/v1/sites/"+siteID+"/menu", map[string]any{"items": []map[string]any{{"item_id": w.itemID, "available": true}}}, 200)
	w.admin(t, "POST", "/api/v1/sites/"+siteID+"/stock/movements", map[string]any{"item_id": w.itemID, "delta": 10, "reason": "restock"}, 201)
	tok := w.admin(t, "POST", "/api/v1/sites/"+siteID+"/enrollment-tokens", map[string]any{}, 201)

	data := t.TempDir()
	must(t, bin, "edge", "init", "--data", data, "--cloud", w.cloudURL, "--token", tok["token"].(string), "--name", "monitoring-edge")
	edgeAddr := freeAddr(t)
	w.edgeURL = "http://" + edgeAddr
	startServing(t, bin, w.edgeURL, "edge", "serve", "--data", data, "--http", edgeAddr, "--mqtt", freeAddr(t), "--mqtt-ws", "")
	return w
}

// order has an attendee in the room place an order, which stays open
// (so the node watches its station's staff), and ask for more than the
// stock, which is refused.
func (w *fleet) order(t *testing.T) {
	t.Helper()
	sess := w.call(t, "POST", w.edgeURL+"/api/v1/sessions", "", map[string]any{"space_code": w.roomCode}, 201)
	tok := sess["token"].(string)
	line := func(qty int) map[string]any {
		return map[string]any{"lines": []map[string]any{{"item_id": w.itemID, "quantity": qty}}, "deliver_to": "room"}
	}
	// The menu reaches the node with its first pull.
	eventually(t, time.Minute, "an order placed on the edge node", func() error {
		status, body := w.try("POST", w.edgeURL+"/api/v1/orders", tok, line(1))
		if status != http.StatusCreated {
			return fmt.Errorf("POST /api/v1/orders: %d %v", status, body)
		}
		return nil
	})
	w.call(t, "POST", w.edgeURL+"/api/v1/orders", tok, line(50), http.StatusConflict)
}

func (w *fleet) admin(t *testing.T, method, path string, body any, want int) map[string]any {
	t.Helper()
	return w.call(t, method, w.cloudURL+path, w.token, body, want)
}

func (w *fleet) call(t *testing.T, method, url, token string, body any, want int) map[string]any {
	t.Helper()
	status, out := w.try(method, url, token, body)
	if status != want {
		t.Fatalf("%s %s: %d %v, want %d", method, url, status, out, want)
	}
	return out
}

// try sends a JSON request; status 0 means no answer.
func (w *fleet) try(method, url, token string, body any) (int, map[string]any) {
	raw, _ := json.Marshal(body)
	req, err := http.NewRequest(method, url, bytes.NewReader(raw))
	if err != nil {
		return 0, nil
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, map[string]any{"error": err.Error()}
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// touch sends a GET and ignores the answer.
func touch(url string) {
	if resp, err := http.Get(url); err == nil {
		resp.Body.Close()
	}
}

// startServing runs a pantry server until the test ends and waits for its
// /readyz; its output is shown when the test fails.
func startServing(t *testing.T, bin, url string, args ...string) {
	t.Helper()
	var out lockedOutput
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(time.Minute):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("pantry %s:\n%s", strings.Join(args[:2], " "), out.String())
		}
	})
	eventually(t, time.Minute, "pantry "+strings.Join(args[:2], " ")+" ready", func() error {
		select {
		case <-done:
			return fmt.Errorf("exited: %s", out.String())
		default:
		}
		resp, err := http.Get(url + "/readyz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("/readyz %d", resp.StatusCode)
		}
		return nil
	})
}

// lockedOutput collects a process's output from its two pipes.
type lockedOutput struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (o *lockedOutput) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.Write(p)
}

func (o *lockedOutput) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}
