package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// ErrUsage is returned by Parse when the command line itself is malformed
// (an unknown flag, a flag without its value). The flag package has then
// already written what was wrong and the usage to the parser's output.
var ErrUsage = errors.New("config: invalid command line")

// Error is a setting whose value cannot be used. It names the flag and the
// variable, whichever the value came from, so the operator knows both
// where to look and how else it can be set.
type Error struct {
	Flag     string // flag name without dashes; "" when the setting has none
	Env      string // environment variable
	FromFlag bool   // the value came from the flag, not the variable
	Value    string // the value as given, quoted; masked or omitted for secrets
	Reason   string // what is wrong, "must be ..."
}

// Error names first where the value came from, then the other way to set
// the same setting: `invalid SWITCHBOARD_WORKERS "abc" (flag --workers):
// must be a whole number from 1 to 256`.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("invalid ")
	switch {
	case e.FromFlag:
		fmt.Fprintf(&b, "--%s %s (variable %s)", e.Flag, e.Value, e.Env)
	case e.Flag != "":
		fmt.Fprintf(&b, "%s %s (flag --%s)", e.Env, e.Value, e.Flag)
	default:
		fmt.Fprintf(&b, "%s %s", e.Env, e.Value)
	}
	b.WriteString(": ")
	b.WriteString(e.Reason)
	return b.String()
}

// Parser reads one command's settings from its command line and the
// environment. A command may declare flags of its own on Flags before
// calling Parse.
type Parser struct {
	cmd   Command
	fs    *flag.FlagSet
	given map[*option]*rawValue
}

// rawValue is a flag's text as given; it is parsed and checked after the
// command line is read, with the other sources, so that a bad flag value
// gets the same message as a bad variable.
type rawValue struct {
	text   string
	isBool bool
}

func (r *rawValue) String() string     { return r.text }
func (r *rawValue) Set(s string) error { r.text = s; return nil }
func (r *rawValue) IsBoolFlag() bool   { return r.isBool }

// NewParser declares the flags of cmd's settings on a flag set named name
// ("serve", "token create"), writing usage and flag errors to output.
func NewParser(name string, cmd Command, output io.Writer) *Parser {
	p := &Parser{cmd: cmd, fs: flag.NewFlagSet(name, flag.ContinueOnError), given: map[*option]*rawValue{}}
	p.fs.SetOutput(output)
	for _, o := range options {
		if !o.appliesTo(cmd) || o.flag == "" {
			continue
		}
		r := &rawValue{text: o.def, isBool: o.isBool}
		p.given[o] = r
		p.fs.Var(r, o.flag, fmt.Sprintf("%s (%s)", o.usage, o.env))
	}
	p.fs.Usage = func() {
		out := p.fs.Output()
		fmt.Fprintf(out, "usage: switchboard %s [flags]\n\nflags:\n", name)
		p.fs.PrintDefaults()
		first := true
		for _, o := range options {
			if !o.appliesTo(cmd) || o.flag != "" {
				continue
			}
			if first {
				fmt.Fprint(out, "\nenvironment only:\n")
				first = false
			}
			fmt.Fprintf(out, "  %s\n    \t%s\n", o.env, o.usage)
		}
	}
	return p
}

// Flags is the flag set, for the command's own flags.
func (p *Parser) Flags() *flag.FlagSet { return p.fs }

// Parse reads args, then for each setting takes the flag if it was given,
// else the environment variable if it is set and not empty, else the
// default, and checks every value. It returns flag.ErrHelp for -h,
// ErrUsage for a malformed command line, or every invalid setting at once
// (each an *Error, joined).
func (p *Parser) Parse(args []string, lookupEnv func(string) (string, bool)) (*Config, error) {
	if err := p.fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %v", ErrUsage, err)
	}
	if p.fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %s", strconv.Quote(p.fs.Arg(0)))
	}
	onCommandLine := map[string]bool{}
	p.fs.Visit(func(f *flag.Flag) { onCommandLine[f.Name] = true })

	c := &Config{Command: p.cmd}
	var errs []error
	for _, o := range options {
		if !o.appliesTo(p.cmd) {
			continue
		}
		v, fromFlag, given := o.def, false, false
		if o.flag != "" && onCommandLine[o.flag] {
			v, fromFlag, given = p.given[o].text, true, true
		} else if s, ok := lookupEnv(o.env); ok && s != "" {
			v, given = s, true
		}
		err := o.set(c, v)
		if err == nil {
			continue
		}
		if !given {
			// A default that fails its own check is a bug in the table,
			// which TestDefaults catches; say so rather than blame the
			// operator.
			panic(fmt.Sprintf("config: default of %s is invalid: %v", o.key, err))
		}
		shown := strconv.Quote(v)
		if o.display != nil {
			shown = o.display(v)
		}
		errs = append(errs, &Error{Flag: o.flag, Env: o.env, FromFlag: fromFlag, Value: shown, Reason: err.Error()})
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return c, nil
}
