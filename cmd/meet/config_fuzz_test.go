package main

import (
	"strings"
	"testing"
)

// FuzzConfigFile feeds arbitrary bytes to the config file parser and then
// to the same checks flags go through. Whatever the file holds, parsing
// ends with values for known keys or an error with a line number, and
// never panics. --secret-file is dropped before the checks: it names a
// file to read, not text to parse. Seeds: testdata/fuzz/FuzzConfigFile.
func FuzzConfigFile(f *testing.F) {
	f.Add([]byte("listen: \":8080\"\ndev: true\n"))
	keys := fileKeys()
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := parseConfigFile("meet.yaml", data)
		if err != nil {
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(line, "meet.yaml") {
					t.Fatalf("error line %q does not name the file", line)
				}
			}
			return
		}
		for k := range file {
			if _, ok := keys[k]; !ok || k == "config" {
				t.Fatalf("accepted key %q", k)
			}
		}
		vals := map[string]*string{}
		for _, o := range options() {
			v := o.def
			if s, ok := file[o.name]; ok && o.name != "secret-file" {
				v = s
			}
			vals[o.name] = &v
		}
		c, err := buildConfig(vals, file["secret"])
		if err == nil && len(c.Secret) < 32 {
			t.Fatalf("accepted a %d-byte secret", len(c.Secret))
		}
	})
}
