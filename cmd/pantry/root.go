package main

import (
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func newRootCmd(getenv func(string) string, stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "pantry",
		Short:         "Offline-first ordering for corporate pantries",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(newEdgeCmd(getenv, stdout, stderr), newCloudCmd(getenv, stdout, stderr))
	root.AddCommand(newVersionCmd(stdout))
	root.AddCommand(newHealthcheckCmd(getenv, stdout))
	return root
}

// env binds flags to their PANTRY_* environment variables: a variable that
// is set becomes the flag's default, and an explicit flag still wins.
type env struct {
	getenv func(string) string
	flags  *pflag.FlagSet
	err    error
}

func (e *env) String(p *string, name, key, def, usage string) {
	if v := e.getenv(key); v != "" {
		def = v
	}
	e.flags.StringVar(p, name, def, usage+" (env "+key+")")
}

// Listen binds a listen address that may be switched off, with "" or
// "off" (any case). In the environment only "off" can say it: an empty
// variable reads as an unset one, which keeps the default.
func (e *env) Listen(p *string, name, key, def, usage string) {
	if v := e.getenv(key); v != "" {
		def = v
	}
	*p = listenOff(def)
	e.flags.Var((*listenValue)(p), name, usage+`, "off" disables (env `+key+`)`)
}

// listenValue is a listen address as a flag: "off" sets it empty.
type listenValue string

func (v *listenValue) String() string     { return string(*v) }
func (v *listenValue) Set(s string) error { *v = listenValue(listenOff(s)); return nil }
func (v *listenValue) Type() string       { return "string" }

// listenOff is addr, or "" for "off".
func listenOff(addr string) string {
	if strings.EqualFold(strings.TrimSpace(addr), "off") {
		return ""
	}
	return addr
}

func (e *env) Int(p *int, name, key string, def int, usage string) {
	if v := e.getenv(key); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil && e.err == nil {
			e.err = &envError{key, v}
		}
		def = n
	}
	e.flags.IntVar(p, name, def, usage+" (env "+key+")")
}

func (e *env) Duration(p *time.Duration, name, key string, def time.Duration, usage string) {
	if v := e.getenv(key); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil && e.err == nil {
			e.err = &envError{key, v}
		}
		def = d
	}
	e.flags.DurationVar(p, name, def, usage+" (env "+key+")")
}

func (e *env) Bool(p *bool, name, key string, def bool, usage string) {
	if v := e.getenv(key); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil && e.err == nil {
			e.err = &envError{key, v}
		}
		def = b
	}
	e.flags.BoolVar(p, name, def, usage+" (env "+key+")")
}

type envError struct{ key, value string }

func (e *envError) Error() string {
	return "environment variable " + e.key + "=" + strconv.Quote(e.value) + " is not a valid value"
}

func newLogger(w io.Writer, json bool) *slog.Logger {
	if json {
		return slog.New(slog.NewJSONHandler(w, nil))
	}
	return slog.New(slog.NewTextHandler(w, nil))
}
