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
	sslMode      string
	sslCA        string
	sslCert      string
	sslKey       string
}

func (f *connFlags) register(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVar(&f.host, "host", "127.0.0.1", "server host")
	fs.IntVar(&f.port, "port", 3306, "server port")
	fs.StringVar(&f.socket, "socket", "", "server unix socket (instead of --host and --port)")
	fs.StringVar(&f.user, "user", "", "user name (default: from --defaults-file, else the login name)")
	fs.StringVar(&f.password, "password", "", "password; given without a value, tailor asks for it. Prefer MYSQL_PWD or --defaults-file: a value on the command line is visible in the process list")
	fs.Lookup("password").NoOptDefVal = promptSentinel
	fs.StringVar(&f.defaultsFile, "defaults-file", "", "my.cnf-style option file whose [client] and [tailor] groups give user, password, host, port, socket, ssl-mode, ssl-ca, ssl-cert, ssl-key")
	fs.StringVar(&f.sslMode, "ssl-mode", "PREFERRED", "encryption of every connection, as the mysql client's: DISABLED, PREFERRED (TLS when the server offers it), REQUIRED (TLS, the certificate not checked), VERIFY_CA (signed by --ssl-ca), VERIFY_IDENTITY (and issued for --host); with --ssl-ca and no --ssl-mode, VERIFY_CA")
	fs.StringVar(&f.sslCA, "ssl-ca", "", "PEM file of the certificate authority that signed the server's certificate")
	fs.StringVar(&f.sslCert, "ssl-cert", "", "PEM file of the client certificate, for an account that requires one (with --ssl-key)")
	fs.StringVar(&f.sslKey, "ssl-key", "", "PEM file of the client certificate's private key")
}

// resolve builds the connection settings: flags given on the command line
// win, then the option file, then MYSQL_PWD for the password.
func (f *connFlags) resolve(cmd *cobra.Command, stdin io.Reader, stderr io.Writer) (mysql.ConnConfig, error) {
	c := mysql.ConnConfig{Host: f.host, Port: f.port, Socket: f.socket, User: f.user}
	changed := func(name string) bool { return cmd.Flags().Changed(name) }
	fileSSL := map[string]bool{} // the ssl- keys the option file gave
	if f.defaultsFile != "" {
		opts, err := mysql.ReadOptionFile(f.defaultsFile)
		if err != nil {
			return c, usageError{fmt.Errorf("--defaults-file: %w", err)}
		}
		if _, ok := opts["password"]; ok {
			warnReadableByAll(f.defaultsFile, stderr)
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
		for key, dst := range map[string]*string{"ssl-mode": &f.sslMode, "ssl-ca": &f.sslCA, "ssl-cert": &f.sslCert, "ssl-key": &f.sslKey} {
			if v, ok := opts[key]; ok && !changed(key) {
				*dst = v
				fileSSL[key] = true
			}
		}
	}
	tlsOpts, err := f.tlsOptions(changed("ssl-mode") || fileSSL["ssl-mode"], stderr)
	if err != nil {
		return c, err
	}
	c.TLS = tlsOpts
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

// tlsOptions reads the --ssl- flags (or the option file's ssl- keys),
// with the mysql client's rule that a CA given without a mode means
// VERIFY_CA, and checks that the files they name can be used.
func (f *connFlags) tlsOptions(modeGiven bool, stderr io.Writer) (mysql.TLSOptions, error) {
	mode, err := mysql.ParseSSLMode(f.sslMode)
	if err != nil {
		return mysql.TLSOptions{}, usageError{fmt.Errorf("--ssl-mode: %w", err)}
	}
	o := mysql.TLSOptions{Mode: mode, CA: f.sslCA, Cert: f.sslCert, Key: f.sslKey}
	switch {
	case o.CA != "" && !modeGiven:
		o.Mode = mysql.SSLVerifyCA
	case o.CA != "" && (mode == mysql.SSLPreferred || mode == mysql.SSLRequired):
		fmt.Fprintf(stderr, "tailor: warning: --ssl-mode %s does not check the server's certificate, so --ssl-ca is not used; use --ssl-mode VERIFY_CA or VERIFY_IDENTITY to check it\n", mode)
	case o.Mode == mysql.SSLDisabled && (o.CA != "" || o.Cert != ""):
		fmt.Fprintln(stderr, "tailor: warning: --ssl-mode DISABLED connects in the clear, so --ssl-ca, --ssl-cert and --ssl-key are not used")
	}
	if err := o.Validate(); err != nil {
		return o, usageError{err}
	}
	// The files are read now, so that a path that is wrong is a usage
	// error rather than a connection that fails later.
	probe := mysql.ConnConfig{Host: "localhost", TLS: o}
	if o.Mode == mysql.SSLPreferred {
		probe.TLS.Mode = mysql.SSLRequired
	}
	if _, err := probe.TLSConfig(); err != nil && o.Mode != mysql.SSLDisabled {
		return o, usageError{err}
	}
	return o, nil
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

// warnReadableByAll warns, as a careful mysql client would, when the
// option file that holds a password can be read by every user of the
// host. The file is still used: refusing it would break a working setup
// over its permissions, which the warning names.
func warnReadableByAll(path string, stderr io.Writer) {
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm()&0o004 == 0 {
		return
	}
	fmt.Fprintf(stderr, "tailor: warning: --defaults-file %s holds a password and every user of this host can read it (mode %04o); make it private: chmod 600 %s\n", path, fi.Mode().Perm(), path)
}
