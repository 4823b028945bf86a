package main

import (
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/spf13/pflag"

	"github.com/wsgikit/wsgikit/internal/textutil"
)

// applyConfig fills flags not given on the command line, from WSGIKIT_*
// environment variables first, then from the TOML file (keys are the flag
// names: workers = 4, bind = ["127.0.0.1:8000"], "keep-alive" = 5). The
// positional app may come from the key "app" or WSGIKIT_APP.
func applyConfig(fs *pflag.FlagSet, file string, app *string) error {
	fromFile := map[string]any{}
	if file != "" {
		md, err := toml.DecodeFile(file, &fromFile)
		if err != nil {
			// The decoder quotes the file's bytes, newlines included.
			return fmt.Errorf("config %s: %s", file, textutil.OneLine(err.Error()))
		}
		_ = md
	}
	for key := range fromFile {
		if key != "app" && fs.Lookup(key) == nil {
			return fmt.Errorf("config %s: unknown setting %q%s", file, key, suggest(fs, key))
		}
	}
	if *app == "" {
		if v := os.Getenv("WSGIKIT_APP"); v != "" {
			*app = v
		} else if v, ok := fromFile["app"].(string); ok {
			*app = v
		}
	}
	var err error
	fs.VisitAll(func(f *pflag.Flag) {
		if err != nil || f.Changed || f.Name == "config" {
			return
		}
		env := envName(f.Name)
		if v, ok := os.LookupEnv(env); ok {
			if e := setFlag(f, v); e != nil {
				err = fmt.Errorf("%s=%q: %v", env, v, e)
			}
			return
		}
		v, ok := fromFile[f.Name]
		if !ok {
			return
		}
		var vals []string
		switch v := v.(type) {
		case []any:
			for _, x := range v {
				vals = append(vals, fmt.Sprint(x))
			}
		default:
			vals = []string{fmt.Sprint(v)}
		}
		for _, s := range vals {
			if e := setFlag(f, s); e != nil {
				err = fmt.Errorf("config %s: %s = %s: %v", file, f.Name, shownValue(v), e)
				return
			}
		}
	})
	return err
}

// shownValue shows a value from the file as TOML writes it, strings quoted,
// so that one holding a newline keeps the error on one line.
func shownValue(v any) string {
	switch v := v.(type) {
	case string:
		return strconv.Quote(v)
	case []any:
		parts := make([]string, len(v))
		for i, x := range v {
			parts[i] = shownValue(x)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case map[string]any:
		parts := make([]string, 0, len(v))
		for _, k := range slices.Sorted(maps.Keys(v)) {
			parts = append(parts, strconv.Quote(k)+" = "+shownValue(v[k]))
		}
		return "{" + strings.Join(parts, ", ") + "}"
	default:
		return fmt.Sprint(v)
	}
}

// envNotFlags are the WSGIKIT_* variables that are not serve settings: the
// harness's, the tests' and the worker's own.
var envNotFlags = map[string]bool{
	"WSGIKIT_APP": true, "WSGIKIT_BIN": true, "WSGIKIT_APPS": true, "WSGIKIT_LIBDIR": true,
	"WSGIKIT_CPUPROFILE": true, "WSGIKIT_SINK": true, "WSGIKIT_WORKER": true,
	"WSGIKIT_ALLOW_MISSING": true, "WSGIKIT_ARTIFACTS": true, "WSGIKIT_WHEELS": true,
	"WSGIKIT_TEST_DIE_AFTER_START": true,
}

// unknownEnv warns about WSGIKIT_* variables that set nothing (a typo
// would otherwise be ignored in silence), naming the nearest setting.
func unknownEnv(fs *pflag.FlagSet, environ []string) []string {
	known := map[string]bool{}
	var names []string // without the WSGIKIT_ prefix, which every one shares
	fs.VisitAll(func(f *pflag.Flag) {
		known[envName(f.Name)] = true
		names = append(names, strings.TrimPrefix(envName(f.Name), "WSGIKIT_"))
	})
	var warn []string
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(k, "WSGIKIT_") || envNotFlags[k] || known[k] {
			continue
		}
		w := fmt.Sprintf("warning: %s is not a wsgikit setting; ignored", k)
		if best, ok := closest(names, strings.TrimPrefix(k, "WSGIKIT_")); ok {
			w += fmt.Sprintf(" (did you mean WSGIKIT_%s?)", best)
		}
		warn = append(warn, w)
	}
	return warn
}

// envName is the WSGIKIT_* variable that sets a flag.
func envName(flag string) string {
	return "WSGIKIT_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

func setFlag(f *pflag.Flag, v string) error {
	if f.Value.Type() == "stringArray" && strings.Contains(v, ",") && !strings.HasPrefix(f.Name, "bind") {
		for _, p := range strings.Split(v, ",") {
			if err := f.Value.Set(p); err != nil {
				return err
			}
		}
		return nil
	}
	if err := f.Value.Set(v); err != nil {
		return err
	}
	f.Changed = true
	return nil
}

// suggest names the closest flag, for a one-line "did you mean".
func suggest(fs *pflag.FlagSet, key string) string {
	if best, ok := closestFlag(fs, key); ok {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	return ""
}

// closestFlag is the flag name nearest to key, if one is near enough.
func closestFlag(fs *pflag.FlagSet, key string) (string, bool) {
	var names []string
	fs.VisitAll(func(f *pflag.Flag) { names = append(names, f.Name) })
	return closest(names, key)
}

// closest is the name in names that key was most likely meant as.
func closest(names []string, key string) (string, bool) {
	if m := textutil.CloseMatches(key, names, 1); len(m) > 0 {
		return m[0], true
	}
	return "", false
}
