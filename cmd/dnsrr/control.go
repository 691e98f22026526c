package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/dnsrr/dnsrr/internal/config"
)

// The control commands talk to a running server's admin API, as knotc,
// nsd-control and gdnsdctl do:
//
//	dnsrr status [POOL]            pools and members, a table (or -json)
//	dnsrr drain ADDR [-for 30m]    withdraw a member
//	dnsrr undrain ADDR             put it back
//	dnsrr reload                   reload as SIGHUP does, and say how it went
//
// The admin address and token come from -admin and -token-file, else from
// $DNSRR_ADMIN and $DNSRR_ADMIN_TOKEN_FILE, else from the [health] table of
// -config FILE, else the default address.
const controlUsage = `usage:
  dnsrr status  [control flags] [-limit N] [POOL]
  dnsrr drain   [control flags] ADDR [-for 30m]
  dnsrr undrain [control flags] ADDR
  dnsrr reload  [control flags]
control flags: [-config FILE] [-admin ADDR|unix:PATH] [-token-file FILE] [-json] [-timeout D]
`

// maxControlResponse bounds one response read from the admin API: a page
// of /status is bounded by the server's status_max_pools, but the client
// must not trust that.
const maxControlResponse = 256 << 20

// controlOptions are the flags shared by the control commands.
type controlOptions struct {
	config    string
	admin     string
	tokenFile string
	json      bool
	timeout   time.Duration
	limit     int
	drainFor  string
}

// controlClient talks to one admin API.
type controlClient struct {
	base   string // http://host:port
	addr   string // as given, for messages
	token  []byte
	client *http.Client
}

// control runs one control command; cmd is status, drain, undrain or reload.
func control(cmd string, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("dnsrr "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, controlUsage); fs.PrintDefaults() }
	o := &controlOptions{}
	fs.StringVar(&o.config, "config", "", "read the admin address and token from this configuration file's [health] table")
	fs.StringVar(&o.admin, "admin", "", "address:port or unix:PATH of the admin API (default: $DNSRR_ADMIN, the config's [health] admin, or "+config.Default().Health.Admin+")")
	fs.StringVar(&o.tokenFile, "token-file", "", "file holding the admin API's bearer token (default: $DNSRR_ADMIN_TOKEN_FILE, or the config's [health] admin_token_file)")
	fs.BoolVar(&o.json, "json", false, "print the API's JSON instead of a table")
	defTimeout := 30 * time.Second
	if cmd == "reload" {
		defTimeout = 10 * time.Minute // the server bounds its own wait: reload_timeout and more
	}
	fs.DurationVar(&o.timeout, "timeout", defTimeout, "give up waiting for the server after this long")
	switch cmd {
	case "status":
		fs.IntVar(&o.limit, "limit", 0, "list at most this many pools (0: all, fetched a page at a time)")
	case "drain":
		fs.StringVar(&o.drainFor, "for", "", "drain for this long (e.g. 30m), then put back; default: until undrained")
	}
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		fmt.Fprintf(stderr, "dnsrr %s: %v\n", cmd, err)
		return exitUsage
	}
	want := map[string][2]int{"status": {0, 1}, "drain": {1, 1}, "undrain": {1, 1}, "reload": {0, 0}}[cmd]
	if len(pos) < want[0] || len(pos) > want[1] {
		fmt.Fprintf(stderr, "dnsrr %s: wrong number of arguments\n%s", cmd, controlUsage)
		return exitUsage
	}
	if o.limit < 0 {
		fmt.Fprintf(stderr, "dnsrr %s: -limit %d: give 0 (all) or more\n", cmd, o.limit)
		return exitUsage
	}
	c, err := o.client()
	if err != nil {
		fmt.Fprintf(stderr, "dnsrr %s: %v\n", cmd, err)
		return exitConfig
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	switch cmd {
	case "status":
		err = c.status(ctx, o, strings.Join(pos, ""), stdout)
	case "drain", "undrain":
		err = c.drain(ctx, o, cmd == "drain", pos[0], stdout)
	case "reload":
		err = c.reload(ctx, o, stdout, stderr)
	}
	var ce *controlError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ce) && ce.unreachable:
		fmt.Fprintf(stderr, "dnsrr %s: %v\n", cmd, err)
		return exitRuntime
	case errors.As(err, &ce) && ce.usage:
		fmt.Fprintf(stderr, "dnsrr %s: %v\n", cmd, err)
		return exitUsage
	case errors.Is(err, errReported):
		return exitConfig
	}
	fmt.Fprintf(stderr, "dnsrr %s: %v\n", cmd, err)
	return exitConfig
}

// parseInterspersed parses flags before and after the positional
// arguments ("drain ADDR -for 30m" as well as "drain -for 30m ADDR").
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// client finds the admin API's address and token (see controlUsage).
func (o *controlOptions) client() (*controlClient, error) {
	addr := cmpOr(o.admin, os.Getenv("DNSRR_ADMIN"))
	tokenFile := cmpOr(o.tokenFile, os.Getenv("DNSRR_ADMIN_TOKEN_FILE"))
	var token []byte
	if o.config != "" {
		// Only the admin keys: a reload must be asked for when the rest
		// of the file is broken, so that the server says what is wrong.
		acc, err := config.ReadAdminAccess(o.config)
		if err != nil {
			return nil, err
		}
		addr, token = cmpOr(addr, acc.Addr), acc.Token
	}
	addr = cmpOr(addr, config.Default().Health.Admin)
	if err := config.CheckAdminAddr(addr); err != nil {
		return nil, fmt.Errorf("admin address %q: %v", addr, err)
	}
	if tokenFile != "" {
		var err error
		if token, err = config.ReadToken(tokenFile); err != nil {
			return nil, fmt.Errorf("token file: %w", err)
		}
	}
	c := &controlClient{addr: addr, token: token, base: "http://" + addr}
	tr := &http.Transport{Proxy: nil, DisableCompression: true, MaxIdleConns: 1}
	if path, ok := config.UnixSocket(addr); ok {
		c.base = "http://localhost" // the socket's file mode is its authority; Host is not checked
		tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		}
	}
	c.client = &http.Client{Transport: tr}
	return c, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// controlError is a failure to talk to the server, or one it reported.
type controlError struct {
	msg         string
	unreachable bool // the server is not running, or not there
	usage       bool // the server refused the request's parameters
}

func (e *controlError) Error() string { return e.msg }

// errReported is an outcome already printed (a failed reload).
var errReported = errors.New("reported")

// call sends one request and returns the body of a response with a code
// in ok; another code is an error carrying the server's message.
func (c *controlClient) call(ctx context.Context, method, path string, q url.Values, ok ...int) ([]byte, int, error) {
	u := c.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return nil, 0, err
	}
	if len(c.token) > 0 {
		req.Header.Set("Authorization", "Bearer "+string(c.token))
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, 0, c.unreachable(ctx, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxControlResponse+1))
	if err != nil {
		return nil, 0, c.unreachable(ctx, err)
	}
	if len(body) > maxControlResponse {
		return nil, 0, fmt.Errorf("the admin API's response is larger than %d bytes", maxControlResponse)
	}
	for _, code := range ok {
		if resp.StatusCode == code {
			return body, resp.StatusCode, nil
		}
	}
	msg := strings.TrimSpace(string(body))
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && e.Error != "" {
		msg = e.Error
	}
	ce := &controlError{msg: fmt.Sprintf("%s (%s %s: %s)", msg, method, path, resp.Status)}
	switch resp.StatusCode {
	case http.StatusUnauthorized:
		ce.msg = fmt.Sprintf("the admin API at %s refused the token: %s (give the token with -token-file, $DNSRR_ADMIN_TOKEN_FILE, or -config with [health] admin_token_file)", c.addr, msg)
	case http.StatusBadRequest:
		ce.usage = true
	}
	return nil, resp.StatusCode, ce
}

// unreachable explains a failed request: most often, no server there.
func (c *controlClient) unreachable(ctx context.Context, err error) error {
	hint := ""
	switch {
	case ctx.Err() != nil:
		hint = ": no answer within -timeout"
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, os.ErrNotExist), errors.Is(err, syscall.ENOENT):
		hint = ": is dnsrr running, with this admin address ([health] admin)?"
	case errors.Is(err, os.ErrPermission), errors.Is(err, syscall.EACCES):
		hint = ": the socket's owner and group may use it"
	}
	return &controlError{msg: fmt.Sprintf("cannot reach the admin API at %s%s (%v)", c.addr, hint, err), unreachable: true}
}

// statusPage is one /status response, pools kept raw for -json.
type statusPage struct {
	Time            time.Time         `json:"time"`
	Pools           []json.RawMessage `json:"pools"`
	Truncated       bool              `json:"truncated"`
	Next            string            `json:"next,omitempty"`
	Drains          []json.RawMessage `json:"drains"`
	DrainsTruncated bool              `json:"drains_truncated,omitempty"`
}

type statusPool struct {
	Name    string         `json:"name"`
	Check   string         `json:"check"`
	Members []statusMember `json:"members"`
}

type statusMember struct {
	Address    string     `json:"address"`
	State      string     `json:"state"`
	Serving    bool       `json:"serving"`
	Since      *time.Time `json:"since"`
	Drained    bool       `json:"drained"`
	DrainUntil *time.Time `json:"drain_until"`
	LastError  string     `json:"last_error"`
}

type statusDrain struct {
	Address string     `json:"address"`
	Until   *time.Time `json:"until"`
}

// status lists pools a page at a time (after=), up to -limit of them.
func (c *controlClient) status(ctx context.Context, o *controlOptions, pool string, w io.Writer) error {
	var all statusPage
	q := url.Values{}
	if pool != "" {
		q.Set("pool", pool)
	}
	for page := 0; ; page++ {
		body, _, err := c.call(ctx, http.MethodGet, "/status", q, http.StatusOK)
		if err != nil {
			return err
		}
		var p statusPage
		if err := json.Unmarshal(body, &p); err != nil {
			return fmt.Errorf("the admin API's /status is not what this command reads: %v", err)
		}
		if page == 0 {
			all = p
			all.Pools = nil
		}
		all.Pools = append(all.Pools, p.Pools...)
		all.Truncated, all.Next = p.Truncated, p.Next
		if o.limit > 0 && len(all.Pools) >= o.limit {
			if len(all.Pools) > o.limit {
				all.Pools = all.Pools[:o.limit]
				var last statusPool
				_ = json.Unmarshal(all.Pools[o.limit-1], &last)
				all.Truncated, all.Next = true, last.Name
			}
			break
		}
		if !p.Truncated || p.Next == "" {
			break
		}
		q.Set("after", p.Next)
	}
	if o.json {
		return printJSON(w, all)
	}
	var table bytes.Buffer
	tw := tabwriter.NewWriter(&table, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "POOL\tADDRESS\tSTATE\tSINCE\tSERVED\tDRAINED\tLAST ERROR")
	for _, raw := range all.Pools {
		var p statusPool
		if err := json.Unmarshal(raw, &p); err != nil {
			return fmt.Errorf("the admin API's /status is not what this command reads: %v", err)
		}
		if len(p.Members) == 0 {
			fmt.Fprintf(tw, "%s\t-\t\t\t\t\t\n", p.Name)
		}
		for _, m := range p.Members {
			drained := "no"
			if m.Drained {
				drained = "yes"
				if m.DrainUntil != nil {
					drained = "until " + stampUTC(*m.DrainUntil)
				}
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", p.Name, m.Address, m.State, stampPtr(m.Since),
				yesNo(m.Serving), drained, oneLine(m.LastError, 80))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	// An empty last column leaves padding behind: not in the output.
	for line := range strings.Lines(table.String()) {
		fmt.Fprintln(w, strings.TrimRight(line, " \n"))
	}
	if all.Truncated {
		fmt.Fprintf(w, "(more pools after %s: raise -limit, or ask for one POOL)\n", all.Next)
	}
	if len(all.Drains) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "drained addresses:")
		for _, raw := range all.Drains {
			var d statusDrain
			if json.Unmarshal(raw, &d) != nil {
				continue
			}
			until := "until undrained"
			if d.Until != nil {
				until = "until " + stampUTC(*d.Until)
			}
			fmt.Fprintf(w, "  %s %s\n", d.Address, until)
		}
		if all.DrainsTruncated {
			fmt.Fprintln(w, "  (and more)")
		}
	}
	return nil
}

// drain drains or undrains addr.
func (c *controlClient) drain(ctx context.Context, o *controlOptions, drain bool, addr string, w io.Writer) error {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return &controlError{msg: fmt.Sprintf("%q is not an IP address", addr), usage: true}
	}
	q := url.Values{"address": {a.String()}}
	method := http.MethodDelete
	if drain {
		method = http.MethodPost
		if o.drainFor != "" {
			q.Set("for", o.drainFor)
		}
	}
	body, _, err := c.call(ctx, method, "/drain", q, http.StatusOK)
	if err != nil {
		return err
	}
	if o.json {
		_, err := w.Write(body)
		return err
	}
	var d statusDrain
	if err := json.Unmarshal(body, &d); err != nil {
		return fmt.Errorf("the admin API's /drain answer is not what this command reads: %v", err)
	}
	switch {
	case !drain:
		fmt.Fprintf(w, "undrained %s\n", d.Address)
	case d.Until != nil:
		fmt.Fprintf(w, "drained %s until %s\n", d.Address, stampUTC(*d.Until))
	default:
		fmt.Fprintf(w, "drained %s until undrained\n", d.Address)
	}
	return nil
}

// reloadOutcome is what POST /reload reports.
type reloadOutcome struct {
	Result string   `json:"result"`
	Errors []string `json:"errors"`
	Zones  []struct {
		Zone     string  `json:"zone"`
		Serial   uint32  `json:"serial"`
		Previous *uint32 `json:"previous_serial"`
		KeptOld  bool    `json:"kept_old"`
	} `json:"zones"`
	Removed  []string `json:"removed"`
	Duration float64  `json:"duration_s"`
}

// reload asks for a reload and prints its outcome; a failed reload exits
// nonzero, its errors (file:line: ...) on stderr.
func (c *controlClient) reload(ctx context.Context, o *controlOptions, stdout, stderr io.Writer) error {
	body, code, err := c.call(ctx, http.MethodPost, "/reload", nil, http.StatusOK, http.StatusUnprocessableEntity)
	if err != nil {
		return err
	}
	var r reloadOutcome
	if err := json.Unmarshal(body, &r); err != nil {
		return fmt.Errorf("the admin API's /reload answer is not what this command reads: %v", err)
	}
	if o.json {
		if _, err := stdout.Write(body); err != nil {
			return err
		}
	} else {
		switch r.Result {
		case "applied":
			fmt.Fprintf(stdout, "reload applied in %.2fs\n", r.Duration)
		case "unchanged":
			fmt.Fprintf(stdout, "reload applied in %.2fs: no serial changed\n", r.Duration)
		default:
			fmt.Fprintf(stdout, "reload failed in %.2fs\n", r.Duration)
		}
		for _, z := range r.Zones {
			switch {
			case z.KeptOld:
				fmt.Fprintf(stdout, "  %s serial %d (old version kept: its file failed)\n", z.Zone, z.Serial)
			case z.Previous == nil:
				fmt.Fprintf(stdout, "  %s serial %d (new zone)\n", z.Zone, z.Serial)
			case *z.Previous != z.Serial:
				fmt.Fprintf(stdout, "  %s serial %d -> %d\n", z.Zone, *z.Previous, z.Serial)
			default:
				fmt.Fprintf(stdout, "  %s serial %d\n", z.Zone, z.Serial)
			}
		}
		for _, z := range r.Removed {
			fmt.Fprintf(stdout, "  %s removed\n", z)
		}
	}
	for _, e := range r.Errors {
		fmt.Fprintln(stderr, e)
	}
	if code != http.StatusOK || r.Result == "failed" {
		return errReported
	}
	return nil
}

func printJSON(w io.Writer, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return err
	}
	_, err := w.Write(buf.Bytes())
	return err
}

func stampUTC(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05Z") }

func stampPtr(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return stampUTC(*t)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// oneLine fits an error into a table cell: one line, at most max bytes
// (whole characters); -json has it whole.
func oneLine(s string, max int) string {
	// A backend chooses part of its error (an HTTP reason phrase): no
	// control character of it reaches the terminal, nor a format
	// character such as U+202E, which reverses how the rest of the line
	// is shown (an address or a state could be made to read otherwise).
	s = strings.Map(func(r rune) rune {
		if r != ' ' && !unicode.IsPrint(r) {
			return ' '
		}
		return r
	}, s)
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= max {
		return s
	}
	s = s[:max]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s + "…"
}
