package deploy

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// startPlaceholder is the START_AT both manifests carry until the recipe
// puts the run's start there (an agent given it refuses: it is past).
const startPlaceholder = "2000-01-01T00:00:00Z"

// manifests decodes a multi-document YAML file strictly (an unknown or
// duplicate field is an error) into the Kubernetes API types, by kind.
func manifests(t *testing.T, path string) (jobs []*batchv1.Job, claims []*corev1.PersistentVolumeClaim) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for i, doc := range bytes.Split(b, []byte("\n---\n")) {
		var meta struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
		}
		if err := yaml.Unmarshal(doc, &meta); err != nil {
			t.Fatalf("%s, document %d: %v", path, i+1, err)
		}
		var obj any
		switch meta.APIVersion + " " + meta.Kind {
		case "batch/v1 Job":
			j := &batchv1.Job{}
			jobs, obj = append(jobs, j), j
		case "v1 PersistentVolumeClaim":
			c := &corev1.PersistentVolumeClaim{}
			claims, obj = append(claims, c), c
		default:
			t.Fatalf("%s, document %d: unexpected %s %s", path, i+1, meta.APIVersion, meta.Kind)
		}
		if err := yaml.UnmarshalStrict(doc, obj); err != nil {
			t.Fatalf("%s, document %d (%s): %v", path, i+1, meta.Kind, err)
		}
	}
	return jobs, claims
}

// envOf is a container's environment as NAME=value (literal values only).
func envOf(t *testing.T, c corev1.Container) map[string]string {
	t.Helper()
	env := map[string]string{}
	for _, e := range c.Env {
		if e.ValueFrom != nil {
			t.Fatalf("container %s: env %s is not a literal value", c.Name, e.Name)
		}
		env[e.Name] = e.Value
	}
	return env
}

// onlyContainer checks what both Jobs share: one container whose shell
// script reads the run's settings from its environment, never retried,
// the results volume mounted where RESULTS says, from the claim.
func onlyContainer(t *testing.T, j *batchv1.Job, claim string) corev1.Container {
	t.Helper()
	spec := j.Spec.Template.Spec
	if spec.RestartPolicy != corev1.RestartPolicyNever || j.Spec.BackoffLimit == nil || *j.Spec.BackoffLimit != 0 {
		t.Errorf("job %s: restartPolicy %q, backoffLimit %v; a retried agent would start late: want Never and 0", j.Name, spec.RestartPolicy, j.Spec.BackoffLimit)
	}
	if len(spec.Containers) != 1 {
		t.Fatalf("job %s: %d containers, want 1", j.Name, len(spec.Containers))
	}
	c := spec.Containers[0]
	env := envOf(t, c)
	if !slices.Equal(c.Command, []string{"sh", "-c"}) || len(c.Args) != 1 {
		t.Fatalf("job %s: command %q args %q, want sh -c SCRIPT", j.Name, c.Command, c.Args)
	}
	if env["START_AT"] != startPlaceholder {
		t.Errorf("job %s: START_AT %q, want the placeholder %s the recipe replaces", j.Name, env["START_AT"], startPlaceholder)
	}
	if len(c.VolumeMounts) != 1 || c.VolumeMounts[0].MountPath != env["RESULTS"] {
		t.Errorf("job %s: mounts %+v, RESULTS %q", j.Name, c.VolumeMounts, env["RESULTS"])
	}
	if len(spec.Volumes) != 1 || spec.Volumes[0].PersistentVolumeClaim == nil || spec.Volumes[0].PersistentVolumeClaim.ClaimName != claim ||
		spec.Volumes[0].Name != c.VolumeMounts[0].Name {
		t.Errorf("job %s: volumes %+v, want the claim %s mounted", j.Name, spec.Volumes, claim)
	}
	return c
}

// TestKubernetesManifests decodes deploy/kubernetes strictly into the
// Kubernetes API types and checks the run they describe: an Indexed Job
// with one pod per agent, each an agent of one run writing its part to
// a ReadWriteMany volume, and a merge Job reading the parts from it.
func TestKubernetesManifests(t *testing.T) {
	agents, merges := agentsJob(t), mergeJob(t)
	a, m := agents.Spec.Template.Spec.Containers[0], merges.Spec.Template.Spec.Containers[0]
	for _, want := range []string{"wsgikit bench ", `--url fleet="$TARGET"`, "$LOAD", `--agent "pod-$JOB_COMPLETION_INDEX"`,
		`--start-at "$START_AT"`, `-o "$RESULTS/$START_AT/pod-$JOB_COMPLETION_INDEX"`} {
		if !strings.Contains(a.Args[0], want) {
			t.Errorf("agent script %q lacks %q", a.Args[0], want)
		}
	}
	if !strings.Contains(m.Args[0], `wsgikit bench merge "$RESULTS/$START_AT"/pod-* -o `) {
		t.Errorf("merge script %q", m.Args[0])
	}
	if a.Image != m.Image {
		t.Errorf("images %q and %q", a.Image, m.Image)
	}
}

func agentsJob(t *testing.T) *batchv1.Job {
	t.Helper()
	jobs, claims := manifests(t, filepath.Join("kubernetes", "agents.yaml"))
	if len(jobs) != 1 || len(claims) != 1 {
		t.Fatalf("agents.yaml: %d jobs, %d claims; want 1 of each", len(jobs), len(claims))
	}
	j, pvc := jobs[0], claims[0]
	if !slices.Contains(pvc.Spec.AccessModes, corev1.ReadWriteMany) {
		t.Errorf("claim %s: access modes %v; the agents' pods write from several nodes: want ReadWriteMany", pvc.Name, pvc.Spec.AccessModes)
	}
	if j.Spec.CompletionMode == nil || *j.Spec.CompletionMode != batchv1.IndexedCompletion || j.Spec.Completions == nil ||
		j.Spec.Parallelism == nil || *j.Spec.Completions != *j.Spec.Parallelism || *j.Spec.Completions < 2 {
		t.Fatalf("job %s: completion mode %v, completions %v, parallelism %v; want Indexed, every agent at once", j.Name,
			j.Spec.CompletionMode, j.Spec.Completions, j.Spec.Parallelism)
	}
	onlyContainer(t, j, pvc.Name)
	return j
}

func mergeJob(t *testing.T) *batchv1.Job {
	t.Helper()
	_, claims := manifests(t, filepath.Join("kubernetes", "agents.yaml"))
	jobs, more := manifests(t, filepath.Join("kubernetes", "merge.yaml"))
	if len(jobs) != 1 || len(more) != 0 {
		t.Fatalf("merge.yaml: %d jobs, %d claims; want one job", len(jobs), len(more))
	}
	onlyContainer(t, jobs[0], claims[0].Name)
	return jobs[0]
}

// TestKubernetesJobsRunHere runs the manifests' containers as Kubernetes
// would, as processes here: the agents Job's script once per completion
// index (JOB_COMPLETION_INDEX set, as the Job controller sets it), with
// the environment of the manifest where the recipe's values (target, load,
// start, volume) are this test's, against one wsgikit server on loopback;
// then the merge Job's script on their parts.
func TestKubernetesJobsRunHere(t *testing.T) {
	bin := wsgikitBin(t)
	agents, merges := agentsJob(t), mergeJob(t)
	port := freePort(t)
	srv := startServer(t, bin, nil, []string{fmt.Sprintf("127.0.0.1:%d", port)}, fmt.Sprintf("127.0.0.1:%d", freePort(t)), nil)
	shims := t.TempDir()
	if err := os.Symlink(bin, filepath.Join(shims, "wsgikit")); err != nil {
		t.Fatal(err)
	}
	results, start := t.TempDir(), startAt()
	ours := map[string]string{"TARGET": fmt.Sprintf("http://127.0.0.1:%d", port), "LOAD": agentLoad, "START_AT": start, "RESULTS": results}
	envFor := func(c corev1.Container, extra ...string) []string {
		env := []string{"PATH=" + shims + ":" + os.Getenv("PATH")}
		for k, v := range envOf(t, c) {
			if o, ok := ours[k]; ok {
				v = o
			}
			env = append(env, k+"="+v)
		}
		return append(env, extra...)
	}
	a := agents.Spec.Template.Spec.Containers[0]
	run := &fleetRun{t: t, srv: srv}
	for i := 0; i < int(*agents.Spec.Completions); i++ {
		run.agents = append(run.agents, startAgent(t, fmt.Sprintf("pod %d", i), append(a.Command, a.Args...),
			envFor(a, fmt.Sprintf("JOB_COMPLETION_INDEX=%d", i)), "", 1))
	}
	before := run.measure()
	m := merges.Spec.Template.Spec.Containers[0]
	merge := startAgent(t, "merge", append(m.Command, m.Args...), envFor(m), "", 0)
	if err := <-merge.done; err != nil {
		t.Fatalf("merge job: %v\n%s", err, merge.output())
	}
	parts, err := filepath.Glob(filepath.Join(results, start, "pod-*"))
	if err != nil || len(parts) != int(*agents.Spec.Completions) {
		t.Fatalf("parts %v (%v)", parts, err)
	}
	checkMerged(t, srv, before, readBench(t, filepath.Join(results, start, "merged", "bench.json")), parts)
}
