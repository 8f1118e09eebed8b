package config

import (
	"strings"
	"testing"
)

func FuzzParseProperties(f *testing.F) {
	for _, s := range []string{"a=b\n", "# c\n!d\nk : v\n", "multi=a\\\n  b\n", "=\n", "x\\", "k=v=w\n:z\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParsePropertiesString(s)
		if err != nil {
			return
		}
		for k, v := range m {
			if k != strings.TrimSpace(k) || v != strings.TrimSpace(v) {
				t.Fatalf("untrimmed entry %q=%q from %q", k, v, s)
			}
		}
	})
}

func FuzzResolve(f *testing.F) {
	for _, s := range []string{"plain", "${env:HOME}", "${file:/nonexistent:k}", "${", "a${b}c${", "${unknown:x}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ps, err := NewProviders(map[string]string{"config.providers": "env,file",
			"config.providers.env.class": "env", "config.providers.file.class": "file"})
		if err != nil {
			t.Fatal(err)
		}
		out, err := ps.Resolve(map[string]string{"k": s})
		if err != nil {
			return
		}
		if !strings.Contains(s, "${") && out.Values["k"] != s {
			t.Fatalf("a value without references changed: %q -> %q", s, out.Values["k"])
		}
	})
}

func FuzzValidate(f *testing.F) {
	f.Add("db", "5432", "initial", "a,b", "true")
	f.Add("", "x", "nope", ",,,", "maybe")
	f.Fuzz(func(t *testing.T, host, port, mode, tables, enabled string) {
		props := map[string]string{"host": host, "port": port, "mode": mode, "tables": tables, "enabled": enabled}
		infos := testDef.Validate("x", props, nil)
		_, err := testDef.Parse(props)
		if (err == nil) != (infos.ErrorCount == 0) {
			t.Fatalf("Parse and Validate disagree: %v vs %d errors", err, infos.ErrorCount)
		}
	})
}
