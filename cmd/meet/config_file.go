package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"go.yaml.in/yaml/v3"
)

// secretOption is the one key with no flag: a secret on the command line
// shows in ps, so the token secret itself comes only from the environment
// or the config file (--secret-file names a file holding it).
func secretOption() option {
	return option{"secret", "MEET_SECRET", "", "the token secret itself, at least 32 bytes (or use --secret-file); never logged or shown"}
}

// fileKeys are the keys a config file may hold: every flag's name except
// --config itself, plus secret.
func fileKeys() map[string]option {
	keys := map[string]option{"secret": secretOption()}
	for _, o := range options() {
		if o.name != "config" {
			keys[o.name] = o
		}
	}
	return keys
}

// isSecretKey reports whether a key's value must never be shown: the
// summary of `meet config check` prints "(set)" instead. The Redis and SMTP
// URLs may carry passwords.
func isSecretKey(name string) bool {
	switch name {
	case "secret", "stripe-key", "stripe-webhook-secret", "redis", "smtp-url":
		return true
	}
	return false
}

// configPath finds --config in args (before any "--"), else MEET_CONFIG.
// It runs before the FlagSet does because the file supplies the defaults
// the FlagSet is built with.
func configPath(args []string, getenv func(string) string) string {
	for i, a := range args {
		if a == "--" {
			break
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || name != "config" {
			continue
		}
		if hasVal {
			return val
		}
		if i+1 < len(args) {
			return args[i+1]
		}
	}
	return getenv("MEET_CONFIG")
}

// readConfigFile reads a YAML config file of flat "key: value" pairs, the
// keys being the flag names. Every problem is reported, one per line, with
// the file's line number, so one run of `meet config check` shows them all.
func readConfigFile(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--config: %v", err)
	}
	return parseConfigFile(path, b)
}

func parseConfigFile(path string, b []byte) (map[string]string, error) {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
		return map[string]string{}, nil // an empty file sets nothing
	} else if err != nil {
		return nil, fmt.Errorf("%s: %v", path, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if err := dec.Decode(new(yaml.Node)); !errors.Is(err, io.EOF) {
		// A second document ("---") would be ignored silently.
		return nil, fmt.Errorf("%s: more than one YAML document; keep all keys in one", path)
	}
	if len(doc.Content) == 0 {
		return map[string]string{}, nil
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s:%d: want key: value pairs, e.g. \"listen: :8080\"", path, root.Line)
	}
	keys := fileKeys()
	vals := map[string]string{}
	var errs []error
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		at := fmt.Sprintf("%s:%d", path, k.Line)
		switch _, known := keys[k.Value]; {
		case k.Kind != yaml.ScalarNode:
			errs = append(errs, fmt.Errorf("%s: a key must be a plain name", at))
			continue
		case k.Value == "config":
			errs = append(errs, fmt.Errorf("%s: key \"config\" cannot be set in a config file", at))
			continue
		case !known:
			errs = append(errs, fmt.Errorf("%s: unknown key %q (keys are the flag names without --; see docs/config.md)", at, k.Value))
			continue
		}
		if _, dup := vals[k.Value]; dup {
			errs = append(errs, fmt.Errorf("%s: key %q is set twice", at, k.Value))
			continue
		}
		s, err := scalarValue(k.Value, v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: key %q: %v", at, k.Value, err))
			continue
		}
		vals[k.Value] = s
	}
	return vals, errors.Join(errs...)
}

// scalarValue is a value as the flag would take it. Only plans may be a
// list: YAML is easier to write than the JSON the flag wants, so a list is
// turned into that JSON.
func scalarValue(key string, v *yaml.Node) (string, error) {
	switch {
	case v.Kind == yaml.AliasNode:
		return "", errors.New("aliases are not supported")
	case v.Kind == yaml.ScalarNode && v.Tag == "!!null":
		return "", nil
	case v.Kind == yaml.ScalarNode:
		return v.Value, nil
	case key == "plans" && v.Kind == yaml.SequenceNode:
		var plans []any
		if err := v.Decode(&plans); err != nil {
			return "", err
		}
		j, err := json.Marshal(plans)
		if err != nil {
			return "", fmt.Errorf("want a list of plans: %v", err)
		}
		return string(j), nil
	}
	return "", errors.New("want a single value, not a list or a map")
}
