package doctor

import (
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pantry/pantry/edge"
)

func TestDiskVerdict(t *testing.T) {
	const gib = 1 << 30
	tests := []struct {
		name          string
		free, minFree uint64
		readOnly      bool
		want          Status
		verdict       string
	}{
		{"Plenty", 50 * gib, gib, false, OK, "50.0 GiB free of 100.0 GiB (50%)"},
		{"UnderFloor", gib / 2, gib, false, Warn, "512.0 MiB free, under the 1.0 GiB floor"},
		{"OrdersAtRisk", FailFree - 1, gib, false, Fail, "the node refuses orders"},
		{"FloorBelowFailFree", FailFree / 2, 0, false, Fail, "only 32.0 MiB free"},
		{"Empty", 0, gib, false, Fail, "only 0 B free"},
		{"ReadOnlyMount", 50 * gib, gib, true, Fail, "mounted read-only"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, verdict, fix := diskVerdict(tt.free, 100*gib, tt.minFree, tt.readOnly)
			if got != tt.want || !strings.Contains(verdict, tt.verdict) {
				t.Fatalf("diskVerdict = %s %q, want %s with %q", got, verdict, tt.want, tt.verdict)
			}
			if (fix == "") != (got == OK) {
				t.Fatalf("fix %q with status %s", fix, got)
			}
		})
	}
}

func TestParseBytes(t *testing.T) {
	good := map[string]uint64{
		"1GiB": 1 << 30, "1G": 1 << 30, "500MiB": 500 << 20, "500m": 500 << 20, "1.5GiB": 3 << 29,
		"2TiB": 2 << 40, "64KiB": 64 << 10, "1048576": 1 << 20, "0": 0, " 1 GiB ": 1 << 30, "10B": 10,
	}
	for in, want := range good {
		if got, err := ParseBytes(in); err != nil || got != want {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "lots", "GiB", "-1GiB", "1PiB", "1e30", "1 GiB extra", "0x10"} {
		if got, err := ParseBytes(in); err == nil || !strings.Contains(err.Error(), "write it like") {
			t.Errorf("ParseBytes(%q) = %d, %v; want an error saying how to write a size", in, got, err)
		}
	}
}

func TestJudgeOwnership(t *testing.T) {
	name := func(uid int) string { return map[int]string{0: "root", 999: "pantry"}[uid] }
	dir := ownedFile{"/var/lib/pantry", 999, 0o750}
	tests := []struct {
		name    string
		files   []ownedFile
		euid    int
		want    Status
		verdict string
		fix     string
	}{
		{"ServiceUser", []ownedFile{dir, {"pantry.db", 999, 0o600}, {"pantry.db-wal", 999, 0o600}}, 999, OK, "belong to pantry and are writable", ""},
		{"RootRunsDoctor", []ownedFile{dir, {"pantry.db", 999, 0o600}}, 0, OK, "belong to pantry", ""},
		{"WALOfRoot", []ownedFile{dir, {"pantry.db", 999, 0o600}, {"pantry.db-wal", 0, 0o644}}, 0, Fail,
			"pantry.db-wal (owned by root): the node cannot write them", "chown pantry /var/lib/pantry/*"},
		{"ReadOnlyDir", []ownedFile{{"/var/lib/pantry", 999, 0o550}, {"pantry.db", 999, 0o600}}, 0, Fail,
			"/var/lib/pantry cannot be written by its owner pantry", "chmod u+rwx"},
		{"ReadOnlyDB", []ownedFile{dir, {"pantry.db", 999, 0o400}}, 0, Fail, "pantry.db cannot be written", "chmod u+rw"},
		{"OtherUserRunsDoctor", []ownedFile{dir, {"pantry.db", 999, 0o600}}, 1000, Warn, "doctor runs as", "sudo -u pantry pantry edge doctor"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, got, verdict, fix := judgeOwnership(tt.files, tt.euid, name)
			if got != tt.want || !strings.Contains(verdict, tt.verdict) || !strings.Contains(fix, tt.fix) {
				t.Fatalf("judgeOwnership = %s %q (fix %q), want %s with %q (fix with %q)", got, verdict, fix, tt.want, tt.verdict, tt.fix)
			}
		})
	}
}

func TestClockVerdict(t *testing.T) {
	sent := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	received := sent.Add(200 * time.Millisecond) // the cloud's time is taken at sent+100ms
	tests := []struct {
		name    string
		server  time.Time
		want    Status
		verdict string
	}{
		{"Agree", sent.Add(100 * time.Millisecond), OK, "0s ahead of the cloud's (±100ms)"},
		{"SlightlyBehind", sent.Add(2 * time.Second), OK, "1.9s behind"},
		{"Ahead", sent.Add(-30 * time.Second), Warn, "30.1s ahead of"},
		{"FarBehind", sent.Add(10 * time.Minute), Fail, "9m59.9s behind"},
		{"NoServerTime", time.Time{}, Warn, "not measured"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := &doctor{}
			d.clock(sent, received, tt.server)
			c := d.report.Checks[0]
			if c.Status != tt.want || !strings.Contains(c.Verdict, tt.verdict) {
				t.Fatalf("clock = %s %q, want %s with %q", c.Status, c.Verdict, tt.want, tt.verdict)
			}
			if !tt.server.IsZero() && c.Status != OK && !strings.Contains(c.Fix, "time sync") {
				t.Fatalf("clock fix = %q", c.Fix)
			}
		})
	}
}

func TestVersionAndDeadLetters(t *testing.T) {
	d := &doctor{cfg: Config{Version: "v1.2.0"}}
	d.version("v1.2.0")
	d.version("v1.3.0")
	d.deadLetters(0)
	d.deadLetters(3)
	got := []Status{}
	for _, c := range d.report.Checks {
		got = append(got, c.Status)
	}
	if want := []Status{OK, Warn, OK, Warn}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("statuses = %v, want %v (%+v)", got, want, d.report.Checks)
	}
	if c := d.report.Checks[1]; !strings.Contains(c.Verdict, "this edge runs v1.2.0, the cloud v1.3.0") {
		t.Fatalf("version = %q", c.Verdict)
	}
	if c := d.report.Checks[3]; !strings.Contains(c.Verdict, "3 of this node's events") || !strings.Contains(c.Fix, "re-applies") {
		t.Fatalf("dead letters = %+v", c)
	}
}

// TestCloudTLS: the TLS step against a real TLS listener, whose
// certificate this machine does not trust, then does.
func TestCloudTLS(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.NotFoundHandler())
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes are the point
	srv.StartTLS()
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	host, port, _ := net.SplitHostPort(u.Host)

	d := &doctor{cfg: Config{Timeout: 10 * time.Second, Now: time.Now}}
	if d.handshake(context.Background(), u, host, port) {
		t.Fatal("a certificate from an unknown authority passed")
	}
	if c := d.report.Checks[0]; c.Status != Fail || !strings.Contains(c.Fix, "not trusted here") {
		t.Fatalf("untrusted = %+v", c)
	}

	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	d = &doctor{cfg: Config{Timeout: 10 * time.Second, Now: time.Now, RootCAs: pool}}
	if !d.handshake(context.Background(), u, host, port) {
		t.Fatalf("a trusted certificate failed: %+v", d.report.Checks)
	}
	if c := d.report.Checks[0]; c.Status != OK || !strings.Contains(c.Verdict, "certificate for 127.0.0.1 valid until") {
		t.Fatalf("trusted = %+v", c)
	}
	// Near its end (httptest's certificate runs until 2084).
	d = &doctor{cfg: Config{Timeout: 10 * time.Second, RootCAs: pool, Now: func() time.Time { return srv.Certificate().NotAfter.Add(-24 * time.Hour) }}}
	d.handshake(context.Background(), u, host, port)
	if c := d.report.Checks[0]; c.Status != Warn || !strings.Contains(c.Verdict, "expires in 24h") {
		t.Fatalf("expiring = %+v", c)
	}

	plain, _ := url.Parse("http://pantry.example.com")
	d = &doctor{}
	d.handshake(context.Background(), plain, "pantry.example.com", "80")
	if c := d.report.Checks[0]; c.Status != Warn || !strings.Contains(c.Verdict, "unencrypted") {
		t.Fatalf("plain http = %+v", c)
	}
}

// metricsText is an excerpt of a running node's /metrics: one tablet at
// drinks, one for every station, and the food station alerted absent.
const metricsText = `# HELP pantry_staff_absent 1 while a station with open orders has had no tablet.
# TYPE pantry_staff_absent gauge
pantry_staff_absent{station="drinks"} 0
pantry_staff_absent{station="food"} 1
# HELP pantry_staff_tablets_connected Tablets connected to the broker now, by the station they declared (all: every station).
# TYPE pantry_staff_tablets_connected gauge
pantry_staff_tablets_connected{station="all"} 1
pantry_staff_tablets_connected{station="drinks"} 1
pantry_staff_tablets_connected{station="food"} 0
# HELP pantry_mqtt_clients_connected MQTT clients (tablets) connected now.
# TYPE pantry_mqtt_clients_connected gauge
pantry_mqtt_clients_connected 2
`

func TestParseTablets(t *testing.T) {
	connected, absent, err := parseTablets([]byte(metricsText))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fmt.Sprint(connected), "map[all:1 drinks:1 food:0]"; got != want {
		t.Fatalf("connected = %s, want %s", got, want)
	}
	if got, want := fmt.Sprint(absent), "[food]"; got != want {
		t.Fatalf("absent = %s, want %s", got, want)
	}
	for name, body := range map[string]string{
		"NotMetrics":   "<html>hello</html>",
		"NoTabletsYet": "# TYPE pantry_mqtt_clients_connected gauge\npantry_mqtt_clients_connected 2\n",
	} {
		if _, _, err := parseTablets([]byte(body)); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
}

// FuzzParseTablets: whatever answers at /metrics, doctor does not panic.
func FuzzParseTablets(f *testing.F) {
	f.Add([]byte(metricsText))
	f.Add([]byte("pantry_staff_tablets_connected{station=\"\"} NaN\n"))
	f.Add([]byte("pantry_staff_tablets_connected 1e308\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		connected, _, err := parseTablets(body)
		if err == nil && connected == nil {
			t.Fatal("no error and no tablets")
		}
	})
}

// TestDataDirLock: a flock on the lock file, as a running node holds it,
// is seen with its holder; once released it is not; without a lock file
// nothing is known.
func TestDataDirLock(t *testing.T) {
	dir := t.TempDir()
	if got := dataDirLock(dir); got.known {
		t.Fatalf("no lock file: %+v", got)
	}
	f, err := os.OpenFile(filepath.Join(dir, edge.LockFileName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got, want := dataDirLock(dir), (lockState{known: true}); got != want {
		t.Fatalf("unlocked = %+v, want %+v", got, want)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	if got, want := dataDirLock(dir), (lockState{known: true, held: true, pid: os.Getpid()}); got != want {
		t.Fatalf("locked = %+v, want %+v", got, want)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_UN); err != nil {
		t.Fatal(err)
	}
	if got := dataDirLock(dir); got.held {
		t.Fatalf("released = %+v", got)
	}
}

func TestFlockOn(t *testing.T) {
	tests := []struct {
		line string
		pid  int
		ok   bool
	}{
		{"3: FLOCK  ADVISORY  WRITE 4321 08:01:1234567 0 EOF", 4321, true},
		{"3: FLOCK  ADVISORY  WRITE 4321 08:01:7654321 0 EOF", 0, false},
		{"3: -> FLOCK  ADVISORY  WRITE 999 08:01:1234567 0 EOF", 0, false},
		{"1: POSIX  ADVISORY  WRITE 4321 08:01:1234567 0 EOF", 0, false},
		{"garbage", 0, false},
	}
	for _, tt := range tests {
		if pid, ok := flockOn(tt.line, "08:01:1234567"); pid != tt.pid || ok != tt.ok {
			t.Errorf("flockOn(%q) = %d, %v; want %d, %v", tt.line, pid, ok, tt.pid, tt.ok)
		}
	}
}
