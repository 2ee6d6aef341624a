package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/tailor-osc/tailor/internal/mysql"
)

// promptSentinel is what --password holds when given without a value: ask.
const promptSentinel = "\x00prompt"

// connFlags are the flags that say how to reach the server. Their names are
// gh-ost's (and the mysql client's).
type connFlags struct {
	host         string
	port         int
	socket       string
	user         string
	password     string
	defaultsFile string
}

func (f *connFlags) register(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVar(&f.host, "host", "127.0.0.1", "server host")
	fs.IntVar(&f.port, "port", 3306, "server port")
	fs.StringVar(&f.socket, "socket", "", "server unix socket (instead of --host and --port)")
	fs.StringVar(&f.user, "user", "", "user name (default: from --defaults-file, else the login name)")
	fs.StringVar(&f.password, "password", "", "password; given without a value, tailor asks for it. Prefer MYSQL_PWD or --defaults-file: a value on the command line is visible in the process list")
	fs.Lookup("password").NoOptDefVal = promptSentinel
	fs.StringVar(&f.defaultsFile, "defaults-file", "", "my.cnf-style option file whose [client] and [tailor] groups give user, password, host, port, socket")
}

// resolve builds the connection settings: flags given on the command line
// win, then the option file, then MYSQL_PWD for the password.
func (f *connFlags) resolve(cmd *cobra.Command, stdin io.Reader, stderr io.Writer) (mysql.ConnConfig, error) {
	c := mysql.ConnConfig{Host: f.host, Port: f.port, Socket: f.socket, User: f.user}
	changed := func(name string) bool { return cmd.Flags().Changed(name) }
	if f.defaultsFile != "" {
		opts, err := mysql.ReadOptionFile(f.defaultsFile)
		if err != nil {
			return c, usageError{fmt.Errorf("--defaults-file: %w", err)}
		}
		if v, ok := opts["host"]; ok && !changed("host") {
			c.Host = v
		}
		if v, ok := opts["port"]; ok && !changed("port") {
			p, err := strconv.Atoi(v)
			if err != nil {
				return c, usageError{fmt.Errorf("--defaults-file: port %q is not a number", v)}
			}
			c.Port = p
		}
		if v, ok := opts["socket"]; ok && !changed("socket") {
			c.Socket = v
		}
		if v, ok := opts["user"]; ok && !changed("user") {
			c.User = v
		}
		if v, ok := opts["password"]; ok && !changed("password") {
			c.Password = v
		}
	}
	switch {
	case f.password == promptSentinel:
		pw, err := promptPassword(stdin, stderr)
		if err != nil {
			return c, err
		}
		c.Password = pw
	case changed("password"):
		c.Password = f.password
		fmt.Fprintln(stderr, "tailor: warning: a password on the command line is visible to other users in the process list; prefer MYSQL_PWD, --defaults-file, or --password without a value")
	case c.Password == "":
		c.Password = os.Getenv("MYSQL_PWD")
	}
	if c.User == "" {
		c.User = os.Getenv("USER")
	}
	if c.Socket == "" && (c.Port < 1 || c.Port > 65535) {
		return c, usageError{fmt.Errorf("--port must be between 1 and 65535, not %d", c.Port)}
	}
	return c, nil
}

func promptPassword(stdin io.Reader, stderr io.Writer) (string, error) {
	file, ok := stdin.(*os.File)
	if !ok || !term.IsTerminal(int(file.Fd())) {
		return "", usageError{errors.New("--password without a value asks for the password, but standard input is not a terminal; use MYSQL_PWD or --defaults-file")}
	}
	fmt.Fprint(stderr, "Password: ")
	pw, err := term.ReadPassword(int(file.Fd()))
	fmt.Fprintln(stderr)
	if err != nil {
		return "", fmt.Errorf("read password: %w", err)
	}
	return strings.TrimRight(string(pw), "\r\n"), nil
}
