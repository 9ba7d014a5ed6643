// Command herald is Herald's one binary: serve, migrate and the operator's
// commands, one file each, and beside them the admin commands of
// internal/cli (tenants, keys, endpoints, send, tail, replay), which call a
// running Herald's API.
package main

import (
	"os"

	"github.com/alecthomas/kong"

	admin "github.com/heraldhq/herald/internal/cli"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "0.1.0-dev"

type cli struct {
	Serve           serveCmd           `cmd:"" default:"withargs" help:"Run Herald: the API and the dispatcher."`
	Migrate         migrateCmd         `cmd:"" help:"Apply database migrations and exit."`
	OpenAPI         openapiCmd         `cmd:"" name:"openapi" help:"Print the OpenAPI document."`
	RotateMasterKey rotateMasterKeyCmd `cmd:"" name:"rotate-master-key" help:"Re-encrypt every stored secret under a new master key (stop Herald first)."`
	Version         kong.VersionFlag   `help:"Print the version and exit."`

	admin.Commands
}

func main() {
	var c cli
	ctx := kong.Parse(&c, append(options(), kong.UsageOnError())...)
	if err := ctx.Run(&admin.IO{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Version: version}); err != nil {
		admin.Report(os.Stderr, err)
		os.Exit(1)
	}
}

// options describe the command line; the deployment tests parse the
// manifests' command lines with them.
func options() []kong.Option {
	return []kong.Option{
		kong.Name("herald"),
		kong.Description("Herald delivers a platform's events to its customers' servers as signed, retried HTTP callbacks."),
		kong.Vars{"version": version},
		kong.Vars(admin.Vars()),
	}
}
