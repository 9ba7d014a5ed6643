package cli

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"runtime"

	"github.com/heraldhq/herald/client"
)

// defaultURL is where `herald serve` listens unless told otherwise.
const defaultURL = "http://127.0.0.1:8080"

// Conn are the flags every admin command has: which Herald, with which
// credential, for which tenant environment, and how to print. A flag wins
// over its variable, which wins over the config file.
type Conn struct {
	HeraldURL   string `name:"herald-url" env:"HERALD_URL" placeholder:"URL" help:"Herald's base URL (default ${default_url})."`
	Token       string `env:"HERALD_TOKEN" help:"The operator token or an API key. A flag shows in the process list: prefer HERALD_TOKEN or the config file."`
	Tenant      string `env:"HERALD_TENANT" help:"The tenant to act for, with the operator token (an API key acts for its own)."`
	Environment string `short:"e" env:"HERALD_ENVIRONMENT" help:"sandbox or production, with --tenant (default sandbox)."`
	Config      string `env:"HERALD_CONFIG" placeholder:"PATH" help:"The config file (default: herald/config.json in the user's config directory, such as ~/.config/herald/config.json)."`
	Output      string `short:"o" env:"HERALD_OUTPUT" enum:"table,json" default:"table" help:"table (for people) or json (for scripts)."`
}

// Vars are the kong variables the commands' help uses.
func Vars() map[string]string { return map[string]string{"default_url": defaultURL} }

// config is the config file: the same settings as the flags, for those
// not given as a flag or a variable.
type config struct {
	URL         string `json:"url"`
	Token       string `json:"token"`
	Tenant      string `json:"tenant"`
	Environment string `json:"environment"`
}

// maxConfig bounds the config file, which holds four short strings.
const maxConfig = 64 << 10

// loadConfig reads the config file at path, or at the default path when
// path is empty; a missing default file is no settings. A file holding a
// token must be readable by its owner alone, as ssh asks of a key.
func loadConfig(path string) (config, error) {
	explicit := path != ""
	if !explicit {
		dir, err := os.UserConfigDir()
		if err != nil {
			return config{}, nil // no home: no default file
		}
		path = filepath.Join(dir, "herald", "config.json")
	}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) && !explicit {
		return config{}, nil
	}
	if err != nil {
		return config{}, fmt.Errorf("config file: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return config{}, fmt.Errorf("config file: %w", err)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxConfig+1))
	if err != nil {
		return config{}, fmt.Errorf("config file %s: %w", path, err)
	}
	if len(b) > maxConfig {
		return config{}, fmt.Errorf("config file %s is larger than %d bytes", path, maxConfig)
	}
	var c config
	if err := decodeStrict(b, "config file "+path, &c); err != nil {
		return config{}, err
	}
	if perm := st.Mode().Perm(); c.Token != "" && perm&0o077 != 0 && runtime.GOOS != "windows" {
		return config{}, fmt.Errorf("config file %s holds a token but is readable by others (mode %04o): chmod 600 %s", path, perm, path)
	}
	return c, nil
}

// session is what a command works with: the client, scoped when a tenant
// was named, and the output format.
type session struct {
	c    *client.Client
	env  string // the environment named, or sandbox
	json bool
	io   *IO
	ctx  context.Context
}

// connect resolves the settings from the flags, the variables and the
// config file, and returns the client they describe.
func (c *Conn) connect(e *IO) (*session, context.CancelFunc, error) {
	file, err := loadConfig(c.Config)
	if err != nil {
		return nil, nil, err
	}
	base := cmp.Or(c.HeraldURL, file.URL, defaultURL)
	if u, err := url.Parse(base); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, nil, fmt.Errorf("the Herald URL %q is not an http:// or https:// URL", base)
	}
	token := cmp.Or(c.Token, file.Token)
	if token == "" {
		return nil, nil, errors.New("no credential: give the operator token or an API key with --token, HERALD_TOKEN or the config file's token")
	}
	tenant := cmp.Or(c.Tenant, file.Tenant)
	env := cmp.Or(c.Environment, file.Environment)
	if env != "" && env != client.Sandbox && env != client.Production {
		return nil, nil, fmt.Errorf("environment %q: want sandbox or production", env)
	}
	cl := client.New(base, token, client.WithUserAgent("herald-cli/"+cmp.Or(e.Version, "dev")))
	if tenant != "" {
		cl = cl.WithScope(tenant, cmp.Or(env, client.Sandbox))
	}
	ctx, cancel := e.context()
	return &session{c: cl, env: cmp.Or(env, client.Sandbox), json: c.Output == "json", io: e, ctx: ctx}, cancel, nil
}

// run connects and runs f with the session.
func (c *Conn) run(e *IO, f func(s *session) error) error {
	s, cancel, err := c.connect(e)
	if err != nil {
		return err
	}
	defer cancel()
	return f(s)
}

// print writes v as JSON, or as the table f writes.
func (s *session) print(v any, f func(w io.Writer) error) error {
	if s.json {
		return printJSON(s.io.Stdout, v)
	}
	return f(s.io.Stdout)
}

// note writes a line for people on standard error, where it stays out of
// a script's pipe.
func (s *session) note(format string, args ...any) {
	fmt.Fprintf(s.io.Stderr, format+"\n", args...)
}

// Paging are the flags of a list that has pages.
type Paging struct {
	Limit  int    `help:"Items a page holds, 1 to 500 (default 50)."`
	Cursor string `help:"Continue the list where a page ended: its next_cursor."`
	All    bool   `help:"Fetch every page."`
}

// maxPages bounds --all: 1,000 pages of up to 500 items.
const maxPages = 1000

// pages fetches one page, or with --all every page, as one list.
func pages[T any](s *session, p Paging, fetch func(ctx context.Context, cursor string, limit int) (*client.List[T], error)) (*client.List[T], error) {
	out := &client.List[T]{Data: []T{}}
	cursor := p.Cursor
	for range maxPages {
		page, err := fetch(s.ctx, cursor, p.Limit)
		if err != nil {
			return nil, err
		}
		out.Data = append(out.Data, page.Data...)
		out.NextCursor = page.NextCursor
		if !p.All || page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	if out.NextCursor != "" && !s.json {
		s.note("more: --cursor %s (or --all)", out.NextCursor)
	}
	return out, nil
}
