package deploy

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// composeService is the part of a service in `docker-compose config`'s
// (normalised) output that the test reads.
type composeService struct {
	Image       string            `json:"image"`
	Command     []string          `json:"command"`
	Environment map[string]string `json:"environment"`
	DependsOn   map[string]struct {
		Condition string `json:"condition"`
	} `json:"depends_on"`
	Ports       []string       `json:"ports"`
	Volumes     []string       `json:"volumes"`
	Healthcheck map[string]any `json:"healthcheck"`
	ReadOnly    bool           `json:"read_only"`
	CapDrop     []string       `json:"cap_drop"`
	PullPolicy  string         `json:"pull_policy"`
}

// composeConfig runs `docker-compose config` on a compose file: Debian's
// docker-compose validates it against the Compose schema without a
// container engine, then prints it normalised (anchors and merge keys
// resolved).
func composeConfig(t *testing.T, file string) (map[string]composeService, result) {
	t.Helper()
	bin := need(t, "docker-compose", "docker-compose")
	res := command{dir: filepath.Dir(file)}.run(t, bin, "--file", file, "--project-name", "pantry", "config")
	if res.code != 0 {
		return nil, res
	}
	raw, err := yaml.YAMLToJSON([]byte(res.stdout))
	if err != nil {
		t.Fatalf("docker-compose config printed no YAML: %v\n%s", err, res.stdout)
	}
	var f struct {
		Services map[string]composeService `json:"services"`
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatalf("docker-compose config: %v\n%s", err, res.stdout)
	}
	return f.Services, res
}

// TestCompose checks deploy/compose.yaml as the tool reads it: PostgreSQL
// with a health check, a migration that waits for it, two cloud instances
// that wait for the migration and share its database, an edge in demo
// mode, and only commands and PANTRY_* variables the binary knows.
func TestCompose(t *testing.T) {
	abs, err := filepath.Abs("compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	services, res := composeConfig(t, abs)
	if services == nil {
		t.Fatalf("docker-compose config rejects compose.yaml: %s", res)
	}
	bin := staticPantry(t)
	healthEnv := helpEnv(t, bin, "healthcheck")

	db, migrate, edge := services["db"], services["migrate"], services["edge"]
	if !strings.Contains(db.Image, "postgres") || db.Healthcheck == nil {
		t.Errorf("db: image %q, healthcheck %v; want PostgreSQL with a health check", db.Image, db.Healthcheck)
	}
	if got := strings.Join(migrate.Command, " "); got != "cloud migrate" {
		t.Errorf("migrate runs %q, want cloud migrate", got)
	}
	if c := migrate.DependsOn["db"].Condition; c != "service_healthy" {
		t.Errorf("migrate waits for db to be %q, want service_healthy", c)
	}
	var clouds []string
	for name, s := range services {
		if strings.Join(s.Command, " ") == "cloud serve" {
			clouds = append(clouds, name)
			checkCloudService(t, name, s, migrate)
		}
	}
	if len(clouds) != 2 {
		t.Errorf("%d services run cloud serve (%v), want 2 instances on one database", len(clouds), clouds)
	}
	if got := strings.Join(edge.Command, " "); !strings.HasPrefix(got, "edge serve --demo") {
		t.Errorf("edge runs %q, want edge serve --demo", got)
	}
	if !hasMount(edge.Volumes, "/var/lib/pantry") {
		t.Errorf("edge keeps no volume at /var/lib/pantry: %v", edge.Volumes)
	}
	for name, s := range services {
		if name == "db" {
			continue
		}
		if s.Image != "localhost/pantry:latest" || s.PullPolicy != "never" || !s.ReadOnly || !contains(s.CapDrop, "ALL") {
			t.Errorf("%s: image %q pull_policy %q read_only %v cap_drop %v; want make image's localhost/pantry:latest, never pulled, read-only, no capabilities",
				name, s.Image, s.PullPolicy, s.ReadOnly, s.CapDrop)
		}
		checkVars(t, "compose service "+name, sortedKeys(s.Environment), union(helpEnv(t, bin, s.Command...), healthEnv))
	}
}

func checkCloudService(t *testing.T, name string, s, migrate composeService) {
	t.Helper()
	if c := s.DependsOn["migrate"].Condition; c != "service_completed_successfully" {
		t.Errorf("%s waits for migrate to be %q, want service_completed_successfully", name, c)
	}
	if s.Environment["PANTRY_DATABASE_URL"] == "" || s.Environment["PANTRY_DATABASE_URL"] != migrate.Environment["PANTRY_DATABASE_URL"] {
		t.Errorf("%s uses database %q, migrate %q: want the same one", name, s.Environment["PANTRY_DATABASE_URL"], migrate.Environment["PANTRY_DATABASE_URL"])
	}
	// The image's HEALTHCHECK asks PANTRY_HEALTHCHECK_URL: /readyz on the
	// port cloud serve listens on.
	addr := s.Environment["PANTRY_HTTP_ADDR"]
	_, port, _ := strings.Cut(addr, ":")
	if hc := s.Environment["PANTRY_HEALTHCHECK_URL"]; port == "" || hc != "http://127.0.0.1:"+port+"/readyz" {
		t.Errorf("%s: PANTRY_HTTP_ADDR %q, PANTRY_HEALTHCHECK_URL %q; want the health check at /readyz on the serving port", name, addr, hc)
	}
	if len(s.Ports) != 1 || !strings.Contains(s.Ports[0], ":"+port+"/") {
		t.Errorf("%s publishes %v, want one port mapped to container port %s", name, s.Ports, port)
	}
}

func hasMount(volumes []string, target string) bool {
	for _, v := range volumes {
		if parts := strings.Split(v, ":"); len(parts) >= 2 && parts[1] == target {
			return true
		}
	}
	return false
}

// TestComposeConfigCatches shows the check can fail: docker-compose
// config rejects a compose file with each of these mistakes.
func TestComposeConfigCatches(t *testing.T) {
	good, err := os.ReadFile("compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, from, to string }{
		{"UnknownKey", "    restart: on-failure\n", "    restart: on-failure\n    restarts: 3\n"},
		{"BadCondition", "{condition: service_healthy}", "{condition: service_ready}"},
		{"ReadOnlyNotBool", "read_only: true", "read_only: [yes]"},
		{"UnknownVolume", "[edgedata:/var/lib/pantry]", "[edgedta:/var/lib/pantry]"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if !strings.Contains(string(good), c.from) {
				t.Fatalf("compose.yaml has no %q to break", c.from)
			}
			file := filepath.Join(t.TempDir(), "compose.yaml")
			os.WriteFile(file, []byte(strings.Replace(string(good), c.from, c.to, 1)), 0o644)
			if services, res := composeConfig(t, file); services != nil {
				t.Errorf("docker-compose config accepted compose.yaml with %q: %s", c.to, res)
			}
		})
	}
}
