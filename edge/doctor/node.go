package doctor

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/pantry/pantry/edge/sqlite"
)

// presenceFresh is how recent a running node's presence snapshot must be
// for doctor to believe it still runs: the node rewrites it every minute
// (edge/presence.go), so three minutes allows two missed beats.
const presenceFresh = 3 * time.Minute

// node tells a running node from a stopped one: by the lock a running
// node holds on its data directory, by its /healthz, and when neither
// says, by the presence snapshot a running node keeps fresh in its
// database. It reports whether to check the listeners.
func (d *doctor) node(ctx context.Context, db *sqlite.Reader) bool {
	base := d.baseURL()
	lock := lockState{}
	if d.dirOK {
		lock = dataDirLock(d.cfg.DataDir)
	}
	status, body, err := d.get(ctx, base+"/healthz")
	answers := err == nil && status == http.StatusOK
	if answers {
		var h struct{ Status string }
		if json.Unmarshal(body, &h) != nil || h.Status != "ok" {
			d.add("node", Fail, base+"/healthz answers, but not as an edge node does: another program listens there",
				"pass --http with the node's HTTP address (PANTRY_HTTP_ADDR)")
			return false
		}
	}
	switch {
	case answers && lock.known && !lock.held:
		d.add("node", Warn, fmt.Sprintf("a node answers %s/healthz, but none holds the lock of %s: it may serve another data directory", base, d.cfg.DataDir),
			"pass --data with the running node's directory (systemctl cat pantry-edge shows PANTRY_DATA), or --http with this one's address")
		return true
	case answers:
		d.ok("node", "running"+holder(lock)+": "+base+"/healthz answers")
		return true
	case lock.held:
		d.add("node", Fail, fmt.Sprintf("running%s, but %s/healthz does not answer (%s)", holder(lock), base, short(status, err)),
			"pass --http with the address it listens on (PANTRY_HTTP_ADDR); if it is right, the node hangs: look at journalctl -u pantry-edge, then systemctl restart pantry-edge")
		return false
	}
	d.stopped(ctx, db, lock, base, short(status, err))
	return false
}

// holder names the process holding the lock, if known.
func holder(l lockState) string {
	if !l.held || l.pid <= 0 {
		return ""
	}
	return fmt.Sprintf(" (process %d holds the data directory's lock)", l.pid)
}

// stopped reports a node that does not answer and holds no lock (or runs
// where locks cannot be seen), after what its presence snapshot says.
func (d *doctor) stopped(ctx context.Context, db *sqlite.Reader, lock lockState, base, why string) {
	start := "systemctl start pantry-edge (or pantry edge serve --data " + d.cfg.DataDir + ")"
	var p sqlite.StaffPresence
	var recorded bool
	if db != nil {
		p, recorded, _ = db.LastStaffPresence(ctx)
	}
	age := d.cfg.Now().Sub(p.ObservedAt).Round(time.Second)
	switch {
	case recorded && p.Running && age < presenceFresh && !lock.known:
		d.add("node", Fail, fmt.Sprintf("the node was running %s ago (it recorded its tablets), but %s/healthz does not answer (%s)", age, base, why),
			"pass --http with the address it listens on (PANTRY_HTTP_ADDR); if it is right, the node hangs: look at journalctl -u pantry-edge, then systemctl restart pantry-edge")
	case recorded && p.Running:
		d.add("node", Warn, fmt.Sprintf("node not running: listeners not checked (it did not stop cleanly: last heard of %s ago)", age),
			start+"; journalctl -u pantry-edge tells why it stopped")
	default:
		d.add("node", Warn, "node not running: listeners not checked (nothing answers "+base+"/healthz)", start+"; if it runs, pass --http with its address")
	}
}

func short(status int, err error) string {
	if err != nil {
		return err.Error()
	}
	return fmt.Sprintf("HTTP %d", status)
}

// baseURL is the running node's HTTP base URL, as reached from here.
func (d *doctor) baseURL() string { return "http://" + local(d.cfg.HTTPAddr) }

// local turns a listen address into one to dial on this machine: an
// empty or unspecified host (":8080", "0.0.0.0:8080") is the loopback.
func local(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return net.JoinHostPort(host, port)
}

// maxBody bounds what doctor reads of an answer.
const maxBody = 8 << 20

// get fetches url within the configured timeout.
func (d *doctor) get(ctx context.Context, url string) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, nil, err
	}
	res, err := (&http.Client{Transport: &http.Transport{Proxy: nil}}).Do(req) // a proxy never stands between doctor and a node on this machine
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, maxBody))
	return res.StatusCode, body, err
}

// listeners checks a running node: ready over HTTP, its MQTT ports taking
// connections and the tablets connected, from its metrics.
func (d *doctor) listeners(ctx context.Context) {
	base := d.baseURL()
	if status, body, err := d.get(ctx, base+"/readyz"); err != nil || status != http.StatusOK {
		d.add("http", Fail, fmt.Sprintf("%s/readyz says the node is not ready (%s %s)", base, short(status, err), strings.TrimSpace(string(body))),
			"its store or broker is not working: look at journalctl -u pantry-edge, then systemctl restart pantry-edge")
	} else {
		d.ok("http", base+" ready: attendee pages, staff API and metrics answer")
	}
	d.tcp(ctx, "mqtt", d.cfg.MQTTAddr, "--mqtt", "PANTRY_MQTT_ADDR", "tablets")
	if d.cfg.MQTTWSAddr != "" {
		d.tcp(ctx, "mqtt-ws", d.cfg.MQTTWSAddr, "--mqtt-ws", "PANTRY_MQTT_WS_ADDR", "the staff app in a browser")
	}
	d.tablets(ctx, base)
}

// tcp checks that addr takes TCP connections.
func (d *doctor) tcp(ctx context.Context, name, addr, flag, env, who string) {
	target := local(addr)
	dialer := net.Dialer{Timeout: d.cfg.Timeout}
	conn, err := dialer.DialContext(ctx, "tcp", target)
	if err != nil {
		d.add(name, Fail, fmt.Sprintf("nothing takes connections on %s: %s cannot connect (%v)", target, who, err),
			fmt.Sprintf("pass %s with the address the node listens on (%s); if it is right, look at journalctl -u pantry-edge", flag, env))
		return
	}
	conn.Close()
	d.ok(name, target+" takes connections")
}

// tablets reads the tablets connected now, and the stations alerted as
// without one, from the node's metrics.
func (d *doctor) tablets(ctx context.Context, base string) {
	status, body, err := d.get(ctx, base+"/metrics")
	if err != nil || status != http.StatusOK {
		d.add("tablets", Warn, fmt.Sprintf("cannot read %s/metrics (%s): tablets not checked", base, short(status, err)), "look at journalctl -u pantry-edge")
		return
	}
	connected, absent, err := parseTablets(body)
	if err != nil {
		d.add("tablets", Warn, "cannot read the node's metrics: "+err.Error(), "is "+base+" an edge node of this version? pantry version tells")
		return
	}
	total, by := 0, []string{}
	for _, st := range sortedKeys(connected) {
		if n := connected[st]; n > 0 {
			total += n
			by = append(by, fmt.Sprintf("%s: %d", st, n))
		}
	}
	staff := base + "/staff"
	switch {
	case len(absent) > 0:
		d.add("tablets", Warn, fmt.Sprintf("%d connected, but open orders wait with no tablet for station %s (staff.absent)", total, strings.Join(absent, ", ")),
			"sign in the staff app for that station on the pantry's tablet: "+staff)
	case total == 0:
		d.add("tablets", Warn, "no tablet connected now: new orders reach no one",
			"sign in the staff app on the pantry's tablet: "+staff)
	default:
		d.ok("tablets", fmt.Sprintf("%d connected now (%s)", total, strings.Join(by, ", ")))
	}
}

// maxTablets bounds a tablet count doctor believes.
const maxTablets = 1e6

// parseTablets reads pantry_staff_tablets_connected (tablets by the
// station they declared) and pantry_staff_absent (stations alerted) from
// a Prometheus text exposition.
func parseTablets(body []byte) (connected map[string]int, absent []string, err error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		return nil, nil, fmt.Errorf("parse metrics: %w", err)
	}
	fam, ok := families["pantry_staff_tablets_connected"]
	if !ok {
		return nil, nil, fmt.Errorf("no pantry_staff_tablets_connected among them")
	}
	connected = map[string]int{}
	for _, m := range fam.GetMetric() {
		v := m.GetGauge().GetValue()
		if !(v >= 0 && v <= maxTablets) { // NaN too
			return nil, nil, fmt.Errorf("pantry_staff_tablets_connected is %v", v)
		}
		connected[station(m)] += int(v)
	}
	if fam, ok := families["pantry_staff_absent"]; ok {
		for _, m := range fam.GetMetric() {
			if m.GetGauge().GetValue() == 1 {
				st := station(m)
				if st == "" {
					st = "(lines without a station)"
				}
				absent = append(absent, st)
			}
		}
	}
	slices.Sort(absent)
	return connected, absent, nil
}

// station is a metric's station label.
func station(m interface {
	GetLabel() []*dto.LabelPair
}) string {
	for _, p := range m.GetLabel() {
		if p.GetName() == "station" {
			return p.GetValue()
		}
	}
	return ""
}

func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
