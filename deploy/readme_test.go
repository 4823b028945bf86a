package deploy

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// readmeBlocks are the fenced code blocks of the README's section on load
// from several machines.
func readmeBlocks(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, sec, ok := strings.Cut(string(b), "\n## Load from several machines\n")
	if !ok {
		t.Fatal("README.md has no section \"Load from several machines\"")
	}
	sec, _, _ = strings.Cut(sec, "\n## ")
	var blocks []string
	parts := strings.Split(sec, "```")
	for i := 1; i < len(parts); i += 2 {
		_, body, _ := strings.Cut(parts[i], "\n")
		blocks = append(blocks, body)
	}
	return blocks
}

func readmeBlock(t *testing.T, containing string) string {
	t.Helper()
	for _, b := range readmeBlocks(t) {
		if strings.Contains(b, containing) {
			return b
		}
	}
	t.Fatalf("the README's section has no code block with %q", containing)
	return ""
}

// TestReadmeShowsThePdshScript: every line the README shows of the pdsh
// recipe is a line of deploy/pdsh.sh, which TestPdshRecipe runs.
func TestReadmeShowsThePdshScript(t *testing.T) {
	script, err := os.ReadFile("pdsh.sh")
	if err != nil {
		t.Fatal(err)
	}
	lines := map[string]bool{}
	for _, l := range strings.Split(string(script), "\n") {
		lines[l] = true
	}
	for _, l := range strings.Split(strings.TrimSpace(readmeBlock(t, "pdsh -w")), "\n") {
		if !lines[l] {
			t.Errorf("the README shows %q, which deploy/pdsh.sh does not have", l)
		}
	}
}

// TestReadmeKubernetesRecipe: the README's commands name the manifests'
// files and Jobs, and replace the start placeholder they carry.
func TestReadmeKubernetesRecipe(t *testing.T) {
	block := readmeBlock(t, "kubectl")
	if !strings.Contains(block, `sed "s/`+startPlaceholder+`/$START/"`) {
		t.Errorf("the README's recipe does not replace %s:\n%s", startPlaceholder, block)
	}
	for _, m := range regexp.MustCompile(`deploy/kubernetes/[a-z]+\.yaml`).FindAllString(block, -1) {
		if _, err := os.Stat(filepath.Join("..", m)); err != nil {
			t.Errorf("the README names %s: %v", m, err)
		}
	}
	for _, j := range []string{agentsJob(t).Name, mergeJob(t).Name} {
		if !strings.Contains(block, "job/"+j) {
			t.Errorf("the README's recipe does not wait for job/%s:\n%s", j, block)
		}
	}
}
