package workerproto

import (
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/wsgikit/wsgikit/server/errorlog"
)

// configKeys are the JSON names of Config's fields (FDs' flattened in).
func configKeys(t reflect.Type) []string {
	var keys []string
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Anonymous {
			keys = append(keys, configKeys(f.Type)...)
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		keys = append(keys, name)
	}
	return keys
}

// TestBootMatchesProtocol: boot.py, the Python half of the contract, reads
// the environment variable, the Config keys and exits with the codes this
// package defines.
func TestBootMatchesProtocol(t *testing.T) {
	if !strings.Contains(bootPy, `os.environ.pop("`+EnvVar+`")`) {
		t.Errorf("boot.py does not read its config from %s", EnvVar)
	}
	for name, want := range map[string]int{"EXIT_IMPORT": ExitImport, "EXIT_NO_EXT": ExitNoExt, "EXIT_ABANDONED": ExitAbandoned} {
		m := regexp.MustCompile(`(?m)^` + name + ` = (\d+)`).FindStringSubmatch(bootPy)
		if m == nil {
			t.Errorf("boot.py defines no %s", name)
			continue
		}
		if got, _ := strconv.Atoi(m[1]); got != want {
			t.Errorf("boot.py: %s = %d, Go says %d", name, got, want)
		}
	}
	if m := regexp.MustCompile(`(?m)^RECORD_MARK = (".*?")`).FindStringSubmatch(bootPy); m == nil || m[1] != strconv.QuoteToASCII(errorlog.RecordMark) {
		t.Errorf("boot.py's RECORD_MARK %v is not errorlog.RecordMark %q", m, errorlog.RecordMark)
	}
	keys := configKeys(reflect.TypeFor[Config]())
	used := regexp.MustCompile(`cfg(?:\["|\.get\(")(\w+)"`).FindAllStringSubmatch(bootPy, -1)
	if len(used) == 0 {
		t.Fatal("boot.py reads no cfg keys: the pattern no longer matches it")
	}
	for _, m := range used {
		if !slices.Contains(keys, m[1]) {
			t.Errorf("boot.py reads cfg[%q], which Config does not have", m[1])
		}
	}
	// Exit codes boot.py passes to fail() must be the named ones.
	for _, m := range regexp.MustCompile(`fail\((\w+),`).FindAllStringSubmatch(bootPy, -1) {
		if m[1] != "code" && m[1] != "EXIT_IMPORT" && m[1] != "EXIT_NO_EXT" {
			t.Errorf("boot.py exits with %s, not a named code", m[1])
		}
	}
}
