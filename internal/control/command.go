package control

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

// Canonical command names. ParseCommand returns these in Command.Name, also
// for the gh-ost spellings it accepts (throttle, no-throttle, unpostpone,
// panic), so a handler switches on one set of names.
const (
	CmdStatus       = "status"
	CmdPause        = "pause"
	CmdResume       = "resume"
	CmdChunkSize    = "chunk-size"
	CmdMaxLagMillis = "max-lag-millis"
	CmdMaxLoad      = "max-load"
	CmdCutOver      = "cut-over"
	CmdAbort        = "abort"
	CmdHelp         = "help"
)

// Limits ParseCommand enforces on numeric arguments. They catch typos (an
// extra zero or three) before a handler sees them; the handler may narrow
// them further.
const (
	MaxChunkSize    = 1_000_000
	MaxMaxLagMillis = 3_600_000 // one hour
	// MaxLineBytes is the longest command line accepted.
	MaxLineBytes = 4096
)

// Command is one parsed control command.
type Command struct {
	// Name is one of the Cmd* constants.
	Name string
	// Arg is the argument: the decimal number for chunk-size and
	// max-lag-millis, the load spec for max-load ("" clears it), "json"
	// for `status json`, else "".
	Arg string
}

// String spells the command the way ParseCommand reads it.
func (c Command) String() string {
	switch {
	case c.Name == CmdStatus && c.Arg != "":
		return c.Name + " " + c.Arg
	case c.Arg != "" || c.Name == CmdMaxLoad:
		return c.Name + "=" + c.Arg
	}
	return c.Name
}

// canonical maps the gh-ost command names operators already type to ours.
func canonical(name string) string {
	switch name {
	case "throttle":
		return CmdPause
	case "no-throttle":
		return CmdResume
	case "unpostpone":
		return CmdCutOver
	case "panic":
		return CmdAbort
	case "?":
		return CmdHelp
	case "sup":
		return CmdStatus
	}
	return name
}

// isStatusVar reports whether v can be a global status variable name as
// max-load accepts it (Threads_running, Threads_connected, ...).
func isStatusVar(v string) bool {
	if v == "" || !unicode.IsLetter(rune(v[0])) {
		return false
	}
	for _, r := range v {
		if r > unicode.MaxASCII || !(r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r)) {
			return false
		}
	}
	return true
}

// ParseCommand parses one command line: a name, then optionally '=' or
// spaces and an argument ("chunk-size=500", "chunk-size 500",
// "status json"). Names are case-insensitive. The error is one sentence
// fit to show to the operator.
func ParseCommand(line string) (Command, error) {
	line = strings.TrimSpace(line)
	if line == "" {
		return Command{}, fmt.Errorf("empty command; send help for the list")
	}
	if len(line) > MaxLineBytes {
		return Command{}, fmt.Errorf("command is longer than %d bytes", MaxLineBytes)
	}
	name, arg, hasArg := line, "", false
	if i := strings.IndexAny(line, "= \t"); i >= 0 {
		name, arg, hasArg = line[:i], strings.TrimSpace(line[i+1:]), true
		// "chunk-size = 500": the '=' may follow spaces.
		if line[i] != '=' && strings.HasPrefix(arg, "=") {
			arg = strings.TrimSpace(arg[1:])
		}
	}
	name = canonical(strings.ToLower(name))
	cmd := Command{Name: name}
	switch name {
	case CmdStatus:
		switch strings.ToLower(arg) {
		case "":
		case "json", "--json":
			cmd.Arg = "json"
		default:
			return Command{}, fmt.Errorf("status takes no argument but json, not %q", arg)
		}
	case CmdPause, CmdResume, CmdCutOver, CmdAbort, CmdHelp:
		if arg != "" {
			return Command{}, fmt.Errorf("%s takes no argument", name)
		}
	case CmdChunkSize:
		n, err := parseCount(name, arg, 1, MaxChunkSize)
		if err != nil {
			return Command{}, err
		}
		cmd.Arg = strconv.FormatInt(n, 10)
	case CmdMaxLagMillis:
		n, err := parseCount(name, arg, 1, MaxMaxLagMillis)
		if err != nil {
			return Command{}, err
		}
		cmd.Arg = strconv.FormatInt(n, 10)
	case CmdMaxLoad:
		// A bare "max-load" is more likely a question than a wish to
		// remove the limit, so clearing needs the explicit "max-load=".
		if !hasArg {
			return Command{}, fmt.Errorf("max-load needs a spec such as max-load=Threads_running=25, or max-load= to clear it")
		}
		spec, err := parseLoadSpec(arg)
		if err != nil {
			return Command{}, err
		}
		cmd.Arg = spec
	default:
		return Command{}, fmt.Errorf("unknown command %q; send help for the list", name)
	}
	return cmd, nil
}

// parseCount parses a decimal integer in [lo, hi].
func parseCount(name, arg string, lo, hi int64) (int64, error) {
	if arg == "" {
		return 0, fmt.Errorf("%s needs a number, as in %s=%d", name, name, lo*1000)
	}
	n, err := strconv.ParseInt(arg, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s needs a whole number, not %q", name, arg)
	}
	if n < lo || n > hi {
		return 0, fmt.Errorf("%s must be between %d and %d, not %d", name, lo, hi, n)
	}
	return n, nil
}

// parseLoadSpec checks a gh-ost style load spec,
// "Threads_running=25,Threads_connected=500", and returns it with spaces
// removed. The empty spec is valid: it clears the limit.
func parseLoadSpec(spec string) (string, error) {
	if spec == "" {
		return "", nil
	}
	parts := strings.Split(spec, ",")
	out := make([]string, 0, len(parts))
	for _, p := range parts {
		v, limit, ok := strings.Cut(strings.TrimSpace(p), "=")
		v, limit = strings.TrimSpace(v), strings.TrimSpace(limit)
		if !ok || !isStatusVar(v) {
			return "", fmt.Errorf("max-load needs status-variable=number pairs separated by commas, not %q", p)
		}
		n, err := strconv.ParseInt(limit, 10, 64)
		if err != nil || n < 0 {
			return "", fmt.Errorf("max-load limit for %s must be a whole number of at least 0, not %q", v, limit)
		}
		out = append(out, v+"="+strconv.FormatInt(n, 10))
	}
	return strings.Join(out, ","), nil
}

// helpText is the reply to help, and GET / over HTTP.
const helpText = `tailor control commands (one per line; the reply ends with the connection):
  status            where the migration is, for people
  status json       the same as one JSON object
  pause             stop copying rows until resume; captured changes are still applied (gh-ost: throttle)
  resume            undo pause (gh-ost: no-throttle)
  chunk-size=N      rows per copy chunk, 1..1000000
  max-lag-millis=N  throttle while a replica lags more than N ms, 1..3600000
  max-load=SPEC     throttle while a status variable exceeds its limit,
                    e.g. max-load=Threads_running=25,Threads_connected=500; max-load= clears
  cut-over          proceed with a postponed cut-over (gh-ost: unpostpone)
  abort             stop the migration now; the original table is not swapped (gh-ost: panic)
  help              this text
`
