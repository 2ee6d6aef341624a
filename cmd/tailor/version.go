package main

import (
	"fmt"
	"runtime"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tailor-osc/tailor/internal/migrate"
)

// buildVersion is what tailor --version, tailor version, every --help and
// alter's first log line say tailor is.
type buildVersion struct {
	// Version is the module version ("v0.4.0"; "(devel)" for a build from
	// a checkout), Commit the first 12 hex digits of the commit it was built
	// from, when the build recorded one, and Go the Go release that built it.
	Version, Commit, Go string
}

// currentVersion reads migrate.Version, which the saved state records as
// the tailor that wrote it ("v0.4.0+0123456789ab"), so that both say the
// same.
func currentVersion() buildVersion {
	v, commit, _ := strings.Cut(migrate.Version(), "+")
	if commit == "" {
		commit = "unknown"
	}
	return buildVersion{Version: v, Commit: commit, Go: runtime.Version()}
}

func (v buildVersion) String() string {
	return fmt.Sprintf("tailor %s (commit %s, %s)", v.Version, v.Commit, v.Go)
}

// setVersion gives root --version, prints the version at the end of every
// command's --help, and adds the version command.
func setVersion(root *cobra.Command) {
	v := currentVersion()
	root.Version = v.String()
	root.SetVersionTemplate("{{.Version}}\n")
	root.SetHelpTemplate(root.HelpTemplate() + "\n" + v.String() + "\n")
	root.AddCommand(&cobra.Command{
		Use:   "version",
		Short: "Print tailor's version, the commit it was built from and the Go release that built it",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintln(cmd.OutOrStdout(), v)
			return nil
		},
	})
}
