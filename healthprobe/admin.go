package healthprobe

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"time"
)

// Group is a named set of targets as an operator thinks of them (for dnsrr,
// a pool), for the admin API's status page. Members without a check are
// listed too: they can be drained.
type Group struct {
	Name    string
	Check   string // the check's name, "" when none
	Policy  string // what is served when too few members are up
	Members []Member
	// Answered, if set, reports whether a member is in answers now, after
	// whatever policies the caller applies on top of health and drains.
	Answered func(netip.Addr) bool
}

// Member is one address of a Group; Check is nil for an unchecked member.
type Member struct {
	Addr  netip.Addr
	Check *Check
}

// AdminHandler serves the admin API:
//
//	GET    /status                          every group and member, as JSON
//	POST   /drain?address=ADDR[&for=30m]    withdraw an address (optionally for a while)
//	DELETE /drain?address=ADDR              put it back
//
// groups is called per request, so the status follows reloads. The API
// changes what is served: bind it to loopback.
func AdminHandler(p *Prober, groups func() []Group) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, statusReport(p.View(), groups(), time.Now()))
	})
	mux.HandleFunc("POST /drain", func(w http.ResponseWriter, r *http.Request) {
		addr, err := addrParam(r)
		if err != nil {
			writeError(w, http.StatusBadRequest, err)
			return
		}
		var until time.Time
		if d := r.FormValue("for"); d != "" {
			dur, err := time.ParseDuration(d)
			if err != nil || dur <= 0 {
				writeError(w, http.StatusBadRequest, fmt.Errorf("for=%q: give a positive duration such as 30m", d))
				return
			}
			until = time.Now().Add(dur)
		}
		if err := p.Drain(addr, until); err != nil {
			writeError(w, http.StatusInternalServerError, err)
			return
		}
		writeJSON(w, http.StatusOK, drainJSON{Address: addr.String(), Until: timePtr(until)})
	})
	mux.HandleFunc("DELETE /drain", func(w http.ResponseWriter, r *http.Request) {
		addr, err := addrParam(r)
		if err != nil {
			writeError(w, http.StatusBadRequest, err)
			return
		}
		if err := p.Undrain(addr); err != nil {
			code := http.StatusInternalServerError
			if errors.Is(err, ErrNotDrained) {
				code = http.StatusNotFound
			}
			writeError(w, code, err)
			return
		}
		writeJSON(w, http.StatusOK, drainJSON{Address: addr.String()})
	})
	return mux
}

// LocalOnly guards an admin handler bound to addr against browsers: a web
// page can make a browser send requests to loopback (directly, or through
// a rebinding DNS name), so requests must name addr (or localhost at its
// port) as Host, and requests that change state must not come from a page
// (browsers mark those with an Origin header).
func LocalOnly(h http.Handler, addr string) http.Handler {
	_, port, _ := net.SplitHostPort(addr)
	allowed := map[string]bool{addr: true, "localhost:" + port: true, "127.0.0.1:" + port: true, "[::1]:" + port: true}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !allowed[r.Host] {
			writeError(w, http.StatusForbidden, fmt.Errorf("host %q is not this API's address", r.Host))
			return
		}
		if r.Method != http.MethodGet && r.Header.Get("Origin") != "" {
			writeError(w, http.StatusForbidden, errors.New("requests from web pages are refused"))
			return
		}
		h.ServeHTTP(w, r)
	})
}

func addrParam(r *http.Request) (netip.Addr, error) {
	s := r.FormValue("address")
	if s == "" {
		return netip.Addr{}, errors.New("address is missing: ?address=192.0.2.10")
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("address=%q is not an IP address", s)
	}
	return a.Unmap(), nil
}

type statusJSON struct {
	Time   time.Time   `json:"time"`
	Groups []groupJSON `json:"pools"`
	Drains []drainJSON `json:"drains"`
}

type groupJSON struct {
	Name    string       `json:"name"`
	Check   string       `json:"check,omitempty"`
	Policy  string       `json:"on_all_down,omitempty"`
	Members []memberJSON `json:"members"`
}

type memberJSON struct {
	Address         string     `json:"address"`
	State           string     `json:"state"`   // up, down, unknown, or static (no check)
	Serving         bool       `json:"serving"` // in answers now
	Since           *time.Time `json:"since,omitempty"`
	Drained         bool       `json:"drained"`
	DrainUntil      *time.Time `json:"drain_until,omitempty"`
	LastCheck       *time.Time `json:"last_check,omitempty"`
	LastOK          *bool      `json:"last_ok,omitempty"` // checked members only
	LastError       string     `json:"last_error,omitempty"`
	LastFailure     *time.Time `json:"last_failure,omitempty"`
	ConsecutiveOK   int        `json:"consecutive_ok"`
	ConsecutiveFail int        `json:"consecutive_fail"`
}

type drainJSON struct {
	Address string     `json:"address"`
	Until   *time.Time `json:"until,omitempty"`
}

func statusReport(v *View, groups []Group, now time.Time) statusJSON {
	out := statusJSON{Time: now, Groups: []groupJSON{}, Drains: []drainJSON{}}
	for _, g := range groups {
		gj := groupJSON{Name: g.Name, Check: g.Check, Policy: g.Policy, Members: []memberJSON{}}
		for _, m := range g.Members {
			mj := memberJSON{Address: m.Addr.String(), State: "static", Serving: true}
			if until, ok := v.Drained(m.Addr); ok {
				mj.Drained, mj.DrainUntil, mj.Serving = true, timePtr(until), false
			}
			if m.Check != nil {
				if st, ok := v.Status(Target{Addr: m.Addr, Check: m.Check}.Key()); ok {
					mj.State, mj.Serving = st.State.String(), st.Serving()
					mj.Since, mj.LastCheck, mj.LastFailure = timePtr(st.Since), timePtr(st.LastCheck), timePtr(st.LastFailure)
					lastOK := st.LastOK
					mj.LastOK, mj.LastError = &lastOK, st.LastError
					mj.ConsecutiveOK, mj.ConsecutiveFail = st.ConsecutiveOK, st.ConsecutiveFail
				}
			}
			if g.Answered != nil {
				mj.Serving = g.Answered(m.Addr)
			}
			gj.Members = append(gj.Members, mj)
		}
		out.Groups = append(out.Groups, gj)
	}
	for a, until := range v.Drains() {
		out.Drains = append(out.Drains, drainJSON{Address: a.String(), Until: timePtr(until)})
	}
	return out
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, code int, err error) {
	writeJSON(w, code, map[string]string{"error": err.Error()})
}
