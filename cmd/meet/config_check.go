package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// printProblems writes each line of err (errors.Join puts one problem on
// each) as its own "meet: " line, so a script or a person can count them.
func printProblems(w io.Writer, err error) {
	for _, line := range strings.Split(err.Error(), "\n") {
		if line != "" {
			fmt.Fprintf(w, "meet: %s\n", line)
		}
	}
}

// configCheck is `meet config check [--config FILE] [flags]`: it reads the
// configuration exactly as a start would, and the TLS files too, but binds
// nothing and talks to no one. Exit 0 prints "configuration OK" and each
// setting with its source; secrets show only as "(set)". Exit 2 prints one
// line per problem.
func configCheck(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	cfg, err := parseConfig(args, getenv, stdout)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(stdout, "\nmeet config check [--config FILE] [flags] checks these settings and exits: 0 OK, 2 with one line per problem.")
		return 0
	}
	if err == nil {
		_, err = newTLSSetup(cfg.Ops) // reads --tls-cert/--tls-key/--acme-ca-file
	}
	if err != nil {
		printProblems(stderr, err)
		return 2
	}
	fmt.Fprintln(stdout, "configuration OK")
	for _, s := range cfg.Settings {
		if s.Source == "default" && s.Value == "" {
			continue // unset: nothing to report
		}
		v := s.Value
		if isSecretKey(s.Name) {
			v = "(set)"
		}
		fmt.Fprintf(stdout, "  %-22s %-40s (%s)\n", s.Name, v, s.Source)
	}
	if cfg.Dev {
		fmt.Fprintln(stdout, "warning: development mode; the secret is generated on every start")
	}
	return 0
}

// subcommand recognises `meet config check ...`; ok is false for a plain
// start, whose arguments are all flags.
func subcommand(args []string) (rest []string, ok bool, err error) {
	if len(args) == 0 || args[0] != "config" {
		return args, false, nil
	}
	if len(args) < 2 || args[1] != "check" {
		return nil, true, errors.New("usage: meet config check [--config FILE] [flags]")
	}
	return args[2:], true, nil
}
