package deploy

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/yaml"
)

// The manifests are checked against the Kubernetes API's own Go types
// (k8s.io/api, the version go.mod pins): every field must exist with the
// right type (quantities, ports, probes), unknown fields are refused. No
// JSON schema set for kubeconform could be had offline from the package
// registries this project uses.

// manifests is every object under k8s/, by kind.
type manifests struct {
	deployments []appsv1.Deployment
	jobs        []batchv1.Job
	services    []corev1.Service
	secrets     []corev1.Secret
	pdbs        []policyv1.PodDisruptionBudget
}

// decodeStrict decodes one YAML document into the type its apiVersion
// and kind name, refusing unknown fields.
func (m *manifests) decodeStrict(doc []byte) error {
	var head struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
	}
	if err := yaml.Unmarshal(doc, &head); err != nil {
		return err
	}
	switch head.APIVersion + " " + head.Kind {
	case "apps/v1 Deployment":
		return decodeInto(doc, &m.deployments)
	case "batch/v1 Job":
		return decodeInto(doc, &m.jobs)
	case "v1 Service":
		return decodeInto(doc, &m.services)
	case "v1 Secret":
		return decodeInto(doc, &m.secrets)
	case "policy/v1 PodDisruptionBudget":
		return decodeInto(doc, &m.pdbs)
	}
	return fmt.Errorf("unexpected kind %q of apiVersion %q", head.Kind, head.APIVersion)
}

func decodeInto[T any](doc []byte, list *[]T) error {
	var v T
	if err := yaml.UnmarshalStrict(doc, &v); err != nil {
		return err
	}
	*list = append(*list, v)
	return nil
}

// loadManifests decodes each file, every document in it.
func loadManifests(t *testing.T, files ...string) *manifests {
	t.Helper()
	m := &manifests{}
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range bytes.Split(b, []byte("\n---")) {
			if len(bytes.TrimSpace(doc)) == 0 {
				continue
			}
			if err := m.decodeStrict(doc); err != nil {
				t.Errorf("%s, document %d: %v", file, i+1, err)
			}
		}
	}
	return m
}

// TestKubernetes decodes every manifest strictly and checks the cloud's
// shape: two replicas probed on /readyz and /healthz, resources, a
// non-root read-only container, a migration Job, a disruption budget and
// a Service that select those pods, and real commands and variables.
func TestKubernetes(t *testing.T) {
	files := kustomizeResources(t)
	m := loadManifests(t, append(files, filepath.Join("k8s", "secret.example.yaml"))...)
	if len(m.deployments) != 1 || len(m.jobs) != 1 || len(m.services) != 1 || len(m.pdbs) != 1 || len(m.secrets) != 1 {
		t.Fatalf("k8s/ has %d Deployments, %d Jobs, %d Services, %d PodDisruptionBudgets, %d Secrets; want one each",
			len(m.deployments), len(m.jobs), len(m.services), len(m.pdbs), len(m.secrets))
	}
	bin := staticPantry(t)
	d, job, svc, pdb, secret := m.deployments[0], m.jobs[0], m.services[0], m.pdbs[0], m.secrets[0]

	if d.Spec.Replicas == nil || *d.Spec.Replicas != 2 {
		t.Errorf("Deployment replicas %v, want 2", d.Spec.Replicas)
	}
	pod := d.Spec.Template
	if !selects(d.Spec.Selector.MatchLabels, pod.Labels) {
		t.Errorf("Deployment selector %v does not select its pods %v", d.Spec.Selector.MatchLabels, pod.Labels)
	}
	if len(pod.Spec.Containers) != 1 {
		t.Fatalf("the cloud pod has %d containers, want 1", len(pod.Spec.Containers))
	}
	c := pod.Spec.Containers[0]
	if got := strings.Join(c.Args, " "); got != "cloud serve" {
		t.Errorf("the cloud container runs %q, want cloud serve", got)
	}
	checkProbes(t, c)
	checkResources(t, "the cloud container", c)
	checkSecurity(t, "the cloud pod", pod.Spec, c)
	checkTmp(t, pod.Spec, c)
	checkDatabaseSecret(t, "the cloud container", c, secret)
	checkVars(t, "the cloud container", envNames(c), helpEnv(t, bin, c.Args...))

	jp := job.Spec.Template.Spec
	if len(jp.Containers) != 1 || !strings.HasPrefix(strings.Join(jp.Containers[0].Args, " "), "cloud migrate") {
		t.Fatalf("the Job runs %v, want one container running cloud migrate", jp.Containers)
	}
	if jp.RestartPolicy != corev1.RestartPolicyOnFailure && jp.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("the Job's restartPolicy is %q", jp.RestartPolicy)
	}
	if job.Spec.BackoffLimit == nil || job.Spec.TTLSecondsAfterFinished == nil {
		t.Error("the Job sets no backoffLimit or ttlSecondsAfterFinished")
	}
	jc := jp.Containers[0]
	if jc.Image != c.Image {
		t.Errorf("the Job migrates with image %q, the Deployment serves %q: want one image", jc.Image, c.Image)
	}
	checkResources(t, "the migration container", jc)
	checkSecurity(t, "the migration pod", jp, jc)
	checkDatabaseSecret(t, "the migration container", jc, secret)
	checkVars(t, "the migration container", envNames(jc), helpEnv(t, bin, jc.Args...))

	if !selects(pdb.Spec.Selector.MatchLabels, pod.Labels) || pdb.Spec.MinAvailable == nil || pdb.Spec.MinAvailable.IntValue() < 1 ||
		pdb.Spec.MinAvailable.IntValue() >= int(*d.Spec.Replicas) {
		t.Errorf("PodDisruptionBudget selects %v with minAvailable %v: want the cloud pods, at least 1 and fewer than the replicas",
			pdb.Spec.Selector.MatchLabels, pdb.Spec.MinAvailable)
	}
	if !selects(svc.Spec.Selector, pod.Labels) || len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].TargetPort.String() != "http" {
		t.Errorf("Service selects %v on %v: want the cloud pods' http port", svc.Spec.Selector, svc.Spec.Ports)
	}
}

// kustomizeResources is the files kustomization.yaml applies; it must
// name every manifest in k8s/ but the Secret example.
func kustomizeResources(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("k8s", "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var k struct {
		Resources []string `json:"resources"`
	}
	if err := yaml.Unmarshal(b, &k); err != nil {
		t.Fatalf("kustomization.yaml: %v", err)
	}
	all, _ := filepath.Glob(filepath.Join("k8s", "*.yaml"))
	var want, got []string
	for _, f := range all {
		if base := filepath.Base(f); base != "kustomization.yaml" && base != "secret.example.yaml" {
			want = append(want, base)
		}
	}
	var files []string
	for _, r := range k.Resources {
		got = append(got, r)
		files = append(files, filepath.Join("k8s", r))
	}
	sort.Strings(got)
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("kustomization.yaml applies %v, want every manifest: %v", got, want)
	}
	return files
}

func selects(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func checkProbes(t *testing.T, c corev1.Container) {
	t.Helper()
	var port int32
	for _, p := range c.Ports {
		if p.Name == "http" {
			port = p.ContainerPort
		}
	}
	if addr := envValue(c, "PANTRY_HTTP_ADDR"); port == 0 || addr != fmt.Sprintf(":%d", port) {
		t.Errorf("container port http=%d, PANTRY_HTTP_ADDR=%q: want cloud serve listening on the probed port", port, addr)
	}
	for _, p := range []struct {
		name  string
		probe *corev1.Probe
		path  string
	}{
		{"readinessProbe", c.ReadinessProbe, "/readyz"},
		{"livenessProbe", c.LivenessProbe, "/healthz"},
	} {
		if p.probe == nil || p.probe.HTTPGet == nil {
			t.Errorf("no HTTP %s", p.name)
			continue
		}
		if p.probe.HTTPGet.Path != p.path || p.probe.HTTPGet.Port.String() != "http" {
			t.Errorf("%s asks %s on port %s, want %s on http", p.name, p.probe.HTTPGet.Path, p.probe.HTTPGet.Port.String(), p.path)
		}
	}
}

func checkResources(t *testing.T, what string, c corev1.Container) {
	t.Helper()
	r := c.Resources
	if r.Requests.Cpu().IsZero() || r.Requests.Memory().IsZero() || r.Limits.Memory().IsZero() {
		t.Errorf("%s requests cpu %s, memory %s, limits memory %s: set each", what, r.Requests.Cpu(), r.Requests.Memory(), r.Limits.Memory())
	}
	if r.Limits.Memory().Cmp(*r.Requests.Memory()) < 0 {
		t.Errorf("%s limits memory %s below its request %s", what, r.Limits.Memory(), r.Requests.Memory())
	}
}

// checkSecurity: non-root (the image's uid 65532), no privilege
// escalation, no capabilities, a read-only root filesystem, no API token.
func checkSecurity(t *testing.T, what string, pod corev1.PodSpec, c corev1.Container) {
	t.Helper()
	ps, cs := pod.SecurityContext, c.SecurityContext
	if ps == nil || ps.RunAsNonRoot == nil || !*ps.RunAsNonRoot || ps.RunAsUser == nil || *ps.RunAsUser != 65532 {
		t.Errorf("%s: securityContext %+v, want runAsNonRoot and runAsUser 65532 (the image's user)", what, ps)
	}
	if ps != nil && (ps.SeccompProfile == nil || ps.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault) {
		t.Errorf("%s: seccompProfile %+v, want RuntimeDefault", what, ps.SeccompProfile)
	}
	if cs == nil || cs.ReadOnlyRootFilesystem == nil || !*cs.ReadOnlyRootFilesystem ||
		cs.AllowPrivilegeEscalation == nil || *cs.AllowPrivilegeEscalation ||
		cs.Capabilities == nil || len(cs.Capabilities.Drop) != 1 || cs.Capabilities.Drop[0] != "ALL" {
		t.Errorf("%s: container securityContext %+v, want readOnlyRootFilesystem, no privilege escalation, capabilities drop ALL", what, cs)
	}
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Errorf("%s mounts a service account token it never uses", what)
	}
}

// checkTmp: with a read-only root, SQLite's and Go's temporary files need
// a writable /tmp.
func checkTmp(t *testing.T, pod corev1.PodSpec, c corev1.Container) {
	t.Helper()
	for _, m := range c.VolumeMounts {
		if m.MountPath != "/tmp" {
			continue
		}
		for _, v := range pod.Volumes {
			if v.Name == m.Name && v.EmptyDir != nil {
				return
			}
		}
	}
	t.Error("the cloud container has no emptyDir at /tmp")
}

func checkDatabaseSecret(t *testing.T, what string, c corev1.Container, secret corev1.Secret) {
	t.Helper()
	for _, e := range c.Env {
		if e.Name != "PANTRY_DATABASE_URL" {
			continue
		}
		ref := e.ValueFrom
		if ref == nil || ref.SecretKeyRef == nil || ref.SecretKeyRef.Name != secret.Name {
			t.Errorf("%s takes PANTRY_DATABASE_URL from %+v, want Secret %s", what, ref, secret.Name)
		} else if _, ok := secret.StringData[ref.SecretKeyRef.Key]; !ok {
			t.Errorf("%s reads key %q, which secret.example.yaml lacks", what, ref.SecretKeyRef.Key)
		}
		return
	}
	t.Errorf("%s has no PANTRY_DATABASE_URL", what)
}

func envNames(c corev1.Container) []string {
	var names []string
	for _, e := range c.Env {
		names = append(names, e.Name)
	}
	return names
}

func envValue(c corev1.Container, name string) string {
	for _, e := range c.Env {
		if e.Name == name {
			return e.Value
		}
	}
	return ""
}

// TestKubernetesDecodeCatches shows the strict decoding can fail: each
// mistake in the Deployment is refused.
func TestKubernetesDecodeCatches(t *testing.T) {
	good, err := os.ReadFile(filepath.Join("k8s", "deployment.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, from, to string }{
		{"UnknownField", "  replicas: 2\n", "  replica: 2\n"},
		{"WrongType", "  replicas: 2\n", "  replicas: two\n"},
		{"BadQuantity", "memory: 512Mi", "memory: 512 megabytes"},
		{"ProbeFieldMisspelt", "periodSeconds: 5", "periodSecond: 5"},
		{"PortNotNumber", "containerPort: 8081", "containerPort: http"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if !bytes.Contains(good, []byte(c.from)) {
				t.Fatalf("deployment.yaml has no %q to break", c.from)
			}
			var m manifests
			if err := m.decodeStrict(bytes.Replace(good, []byte(c.from), []byte(c.to), 1)); err == nil {
				t.Errorf("a Deployment with %q decoded without error", strings.TrimSpace(c.to))
			}
		})
	}
}
