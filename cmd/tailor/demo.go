package main

import (
	"github.com/spf13/cobra"

	"github.com/tailor-osc/tailor/internal/demo"
	"github.com/tailor-osc/tailor/internal/migrate"
)

func newDemoCommand() *cobra.Command {
	opts := demo.Options{}
	var logFormat string
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Migrate a table under live writes in a throwaway MariaDB sandbox, and prove no write was lost",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			logger, err := newLogger(cmd.ErrOrStderr(), logFormat, false)
			if err != nil {
				return err
			}
			opts.Logger = logger
			return demo.Run(cmd.Context(), cmd.OutOrStdout(), opts)
		},
	}
	fs := cmd.Flags()
	fs.IntVar(&opts.Rows, "rows", 200_000, "rows in the demo table")
	fs.IntVar(&opts.Rate, "rate", 300, "write transactions per second during the migration")
	fs.IntVar(&opts.Writers, "writers", 4, "concurrent writing sessions")
	fs.StringVar(&opts.Alter, "alter", "ADD COLUMN refunded_at DATETIME NULL, ADD INDEX idx_status (status), MODIFY note MEDIUMTEXT", "the change the demo makes")
	fs.StringVar(&logFormat, "log-format", "text", "log format: text or json")
	fs.IntVar(&opts.Threads, "threads", 0, "chunks tailor copies at once; 0 lets tailor choose: 4, or the server's CPU count when lower")
	fs.DurationVar(&opts.ChunkTime, "chunk-time", migrate.DefaultChunkTime, "target time per chunk (adaptive chunk size)")
	fs.IntVar(&opts.ChunkSize, "chunk-size", 0, "fixed rows per chunk instead of --chunk-time (0: adaptive)")
	return cmd
}
