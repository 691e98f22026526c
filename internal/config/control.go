package config

import (
	"fmt"

	"github.com/dnsrr/dnsrr/zones/tomlfile"
)

// AdminAccess is how a control command (dnsrr status, drain, reload)
// reaches the admin API of the server a configuration file configures.
type AdminAccess struct {
	Addr  string // host:port or unix:PATH; "" when the file turns the API off
	Token []byte // nil when none is needed
}

// ReadAdminAccess reads [health] admin and admin_token_file of the file at
// path, and nothing else: `dnsrr reload` must reach the server when another
// part of the file is broken, so that the server's reload reports it.
func ReadAdminAccess(path string) (AdminAccess, error) {
	a := AdminAccess{Addr: defaultHealth.Admin}
	root, err := tomlfile.Read(path)
	if err != nil {
		return a, err
	}
	if h, ok := root.Table("health"); ok {
		if v, ok := h.String("admin"); ok {
			if err := CheckAdminAddr(v); v != "" && err != nil {
				h.Errorf("admin", "%v", err)
			}
			a.Addr = unixRelative(path, v)
		}
		if v, ok := h.String("admin_token_file"); ok && v != "" {
			tok, err := ReadToken(relative(path, v))
			if err != nil {
				h.Errorf("admin_token_file", "%v", err)
			}
			a.Token = tok
		}
	}
	if err := root.File().Errs.Err(); err != nil {
		return a, err
	}
	if a.Addr == "" {
		return a, fmt.Errorf("%s: [health] admin = \"\" turns the admin API off: there is nothing to talk to", path)
	}
	return a, nil
}
