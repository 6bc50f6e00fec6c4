package main

import (
	"os"
	"strings"
	"testing"
)

// docRow is one row of the key table in docs/config.md.
type docRow struct{ flag, env, key, def string }

// readDocTable parses the "| Flag | Environment variable | ..." table.
func readDocTable(t *testing.T) map[string]docRow {
	t.Helper()
	b, err := os.ReadFile("../../docs/config.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]docRow{}
	for _, line := range strings.Split(string(b), "\n") {
		cells := strings.Split(line, " | ")
		if !strings.HasPrefix(line, "| ") || len(cells) < 5 || strings.HasPrefix(line, "| Flag") || strings.HasPrefix(line, "| ---") {
			continue
		}
		unq := func(s string) string { return strings.Trim(strings.TrimSpace(strings.TrimPrefix(s, "|")), "`") }
		r := docRow{flag: unq(cells[0]), env: unq(cells[1]), key: unq(cells[2]), def: unq(cells[3])}
		if r.def == "(empty)" {
			r.def = ""
		}
		if _, dup := rows[r.env]; dup {
			t.Errorf("docs/config.md lists %s twice", r.env)
		}
		rows[r.env] = r
	}
	if len(rows) == 0 {
		t.Fatal("no key table found in docs/config.md")
	}
	return rows
}

// TestDocConfigMatchesCode fails when a flag is added, renamed or given a
// new default without docs/config.md following, or when the doc lists a
// key the code no longer has.
func TestDocConfigMatchesCode(t *testing.T) {
	rows := readDocTable(t)
	want := map[string]docRow{}
	for _, o := range append(options(), secretOption()) {
		r := docRow{flag: "--" + o.name, env: o.env, key: o.name, def: o.def}
		if o.name == "secret" {
			r.flag = "—" // no flag: it would show in ps
		}
		if o.name == "config" {
			r.key = "—"
		}
		want[o.env] = r
	}
	keys := fileKeys()
	for env, w := range want {
		got, ok := rows[env]
		if !ok {
			t.Errorf("docs/config.md has no row for %s (%s)", env, w.flag)
			continue
		}
		if got != w {
			t.Errorf("docs/config.md row for %s is %+v, the code says %+v", env, got, w)
		}
		if _, ok := keys[w.key]; !ok && w.key != "—" {
			t.Errorf("%s: file key %q not accepted by the config file reader", env, w.key)
		}
	}
	for env, r := range rows {
		if _, ok := want[env]; !ok {
			t.Errorf("docs/config.md lists %s (%s), which the code lacks", env, r.flag)
		}
	}
}

// TestDocDevDefaultsMatchCode checks the "Under --dev" table of
// docs/config.md against devDefaults, both ways.
func TestDocDevDefaultsMatchCode(t *testing.T) {
	b, err := os.ReadFile("../../docs/config.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "## Under --dev")
	if !ok {
		t.Fatal(`docs/config.md has no "## Under --dev" section`)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	doc := map[string]string{}
	for _, line := range strings.Split(section, "\n") {
		cells := strings.Split(strings.Trim(line, "| "), " | ")
		if len(cells) != 2 || !strings.HasPrefix(cells[0], "`") {
			continue
		}
		doc[strings.Trim(cells[0], "`")] = strings.Trim(cells[1], "`")
	}
	want := devDefaults()
	for k, v := range want {
		if doc[k] != v {
			t.Errorf("docs/config.md under --dev: %s is %q, the code says %q", k, doc[k], v)
		}
	}
	for k := range doc {
		if _, ok := want[k]; !ok {
			t.Errorf("docs/config.md under --dev lists %s, which --dev does not change", k)
		}
	}
}
