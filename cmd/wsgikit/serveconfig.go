package main

import (
	"fmt"
	"os"
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
			return fmt.Errorf("config %s: %w", file, err)
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
		env := "WSGIKIT_" + strings.ToUpper(strings.NewReplacer("-", "_").Replace(f.Name))
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
				err = fmt.Errorf("config %s: %s = %v: %v", file, f.Name, v, e)
				return
			}
		}
	})
	return err
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
	var names []string
	fs.VisitAll(func(f *pflag.Flag) { names = append(names, f.Name) })
	if m := textutil.CloseMatches(key, names, 1); len(m) > 0 {
		return fmt.Sprintf(" (did you mean %q?)", m[0])
	}
	return ""
}
