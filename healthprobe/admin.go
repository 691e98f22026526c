package healthprobe

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
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
// Weight is its configured weight (0 is taken as 1).
type Member struct {
	Addr   netip.Addr
	Check  *Check
	Weight uint32
}

// GroupQuery selects the groups of one /status response: those matching
// Name and Address (when set), in name order, after the name After, at most
// Limit of them.
type GroupQuery struct {
	Name    string     // exact group name; "" for any
	Address netip.Addr // only groups with this member; the zero Addr for any
	After   string     // only names after this one: the previous page's Next
	Limit   int
}

// GroupLister returns the groups q selects, built for this request only,
// and whether more groups match after them.
type GroupLister func(q GroupQuery) (groups []Group, more bool)

// AdminOptions configure AdminHandler.
type AdminOptions struct {
	// Groups is called per request, so the status follows reloads.
	Groups GroupLister
	// IsMember reports whether an address is a member of some group: only
	// members can be drained. nil lets any address be drained.
	IsMember func(netip.Addr) bool
	// MaxDrain bounds a drain's for=; 0 for no bound. A drain without for=
	// (until undrained) is always allowed: it is explicit.
	MaxDrain time.Duration
	// MaxGroups is the most groups (and drains) one /status lists, and the
	// default and largest limit=; 0 for DefaultMaxGroups.
	MaxGroups int
	// Applied, if set, waits until what is served follows the prober's
	// latest change: a drain or undrain is answered once it is in effect,
	// so a caller that then queries never sees the old answers. It is
	// given at most appliedWait.
	Applied func(ctx context.Context)
	// ReadOnly serves the views (GET /status) only: for an address that
	// needs no token.
	ReadOnly bool
	// Server identifies this instance on /status ("server").
	Server string
	// Extra, if set, returns a JSON value /status shows as "cluster", and
	// MemberViews one it shows with each checked member as "cluster":
	// what other instances see, for a caller that agrees with them.
	Extra       func() any
	MemberViews func(Member) any
	// Drained, if set, is told of each drain (until, zero for none) and
	// undrain made through the API, after it took effect here.
	Drained func(addr netip.Addr, until time.Time, drained bool)
}

// DefaultMaxGroups is the MaxGroups of AdminOptions left at 0.
const DefaultMaxGroups = 1000

// AdminHandler serves the admin API:
//
//	GET    /status[?pool=NAME][&address=ADDR][&limit=N][&after=NAME]
//	                                        groups and members, as JSON, a page at a time
//	POST   /drain?address=ADDR[&for=30m]    withdraw a member (optionally for a while)
//	DELETE /drain?address=ADDR              put it back
//
// Parameters are read from the URL only: request bodies are never read.
// The API changes what is served: bind it to loopback, or require a token
// (RequireToken).
func AdminHandler(p *Prober, o AdminOptions) http.Handler {
	if o.MaxGroups <= 0 {
		o.MaxGroups = DefaultMaxGroups
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		q, err := o.groupQuery(r)
		if err != nil {
			writeError(w, http.StatusBadRequest, err)
			return
		}
		groups, more := o.Groups(q)
		if q.Name != "" && q.After == "" && len(groups) == 0 {
			writeError(w, http.StatusNotFound, fmt.Errorf("pool=%q: no such pool in the zones loaded", q.Name))
			return
		}
		out := statusReport(p.View(), groups, more, o.MaxGroups, time.Now())
		out.Server = o.Server
		if o.Extra != nil {
			out.Cluster = o.Extra()
		}
		if o.MemberViews != nil {
			for gi, g := range groups {
				for mi, m := range g.Members {
					if m.Check != nil {
						out.Groups[gi].Members[mi].Cluster = o.MemberViews(m)
					}
				}
			}
		}
		writeJSON(w, http.StatusOK, out)
	})
	if o.ReadOnly {
		mux.HandleFunc("/drain", func(w http.ResponseWriter, r *http.Request) {
			writeError(w, http.StatusForbidden, errors.New("this address serves read-only views: drain through the admin address ([health] admin)"))
		})
		return mux
	}
	mux.HandleFunc("POST /drain", func(w http.ResponseWriter, r *http.Request) {
		addr, err := addrParam(r)
		if err != nil {
			writeError(w, http.StatusBadRequest, err)
			return
		}
		until, err := o.drainUntil(r.URL.Query().Get("for"), time.Now())
		if err != nil {
			writeError(w, http.StatusBadRequest, err)
			return
		}
		if o.IsMember != nil && !o.IsMember(addr) {
			writeError(w, http.StatusNotFound, fmt.Errorf("address %s is in no pool of the zones loaded: only members can be drained", addr))
			return
		}
		if err := p.Drain(addr, until); err != nil {
			writeError(w, http.StatusInternalServerError, err)
			return
		}
		if o.Drained != nil {
			o.Drained(addr, until, true)
		}
		o.waitApplied(r)
		writeJSON(w, http.StatusOK, drainJSON{Address: addr.String(), Until: timePtr(until)})
	})
	// Undraining needs no membership: a drain outlives a reload that
	// removed its address, and must still be removable.
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
		if o.Drained != nil {
			o.Drained(addr, time.Time{}, false)
		}
		o.waitApplied(r)
		writeJSON(w, http.StatusOK, drainJSON{Address: addr.String()})
	})
	return mux
}

func (o AdminOptions) groupQuery(r *http.Request) (GroupQuery, error) {
	return ParseGroupQuery(r.URL.Query(), o.MaxGroups, o.MaxGroups)
}

// ParseGroupQuery reads a selection of groups from URL parameters:
// pool=NAME, address=ADDR, after=NAME and limit=N (1 to maxLimit,
// defaultLimit when absent). /status and the status page read the same.
func ParseGroupQuery(v url.Values, defaultLimit, maxLimit int) (GroupQuery, error) {
	q := GroupQuery{Name: v.Get("pool"), After: v.Get("after"), Limit: defaultLimit}
	if s := v.Get("address"); s != "" {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return q, fmt.Errorf("address=%q is not an IP address", s)
		}
		q.Address = a.Unmap()
	}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxLimit {
			return q, fmt.Errorf("limit=%q: give 1 to %d (the most pools per response, [health] status_max_pools)", s, maxLimit)
		}
		q.Limit = n
	}
	return q, nil
}

// appliedWait bounds the wait for a drain to take effect (Applied): the
// drain is made either way, and answered after at most this long.
const appliedWait = 5 * time.Second

func (o AdminOptions) waitApplied(r *http.Request) {
	if o.Applied == nil {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), appliedWait)
	defer cancel()
	o.Applied(ctx)
}

// drainUntil is when a drain given for=d ends: never for "", and at most
// MaxDrain from now.
func (o AdminOptions) drainUntil(d string, now time.Time) (time.Time, error) {
	if d == "" {
		return time.Time{}, nil
	}
	dur, err := time.ParseDuration(d)
	if err != nil || dur <= 0 {
		return time.Time{}, fmt.Errorf("for=%q: give a positive duration such as 30m", d)
	}
	if o.MaxDrain > 0 && dur > o.MaxDrain {
		return time.Time{}, fmt.Errorf("for=%s is longer than a timed drain may last, %s ([health] drain_max); leave for out to drain until undrained", dur, o.MaxDrain)
	}
	return now.Add(dur), nil
}

// RequireToken passes on only requests that carry token as a bearer token
// (Authorization: Bearer TOKEN). The comparison takes the same time
// whatever the guess (hashes of equal length, compared in constant time).
func RequireToken(h http.Handler, token []byte) http.Handler {
	want := sha256.Sum256(token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		const scheme = "bearer "
		ok := len(auth) > len(scheme) && strings.EqualFold(auth[:len(scheme)], scheme)
		got := sha256.Sum256([]byte(auth[min(len(scheme), len(auth)):]))
		if subtle.ConstantTimeCompare(got[:], want[:]) != 1 || !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="dnsrr admin"`)
			writeError(w, http.StatusUnauthorized, errors.New("this API needs a bearer token: Authorization: Bearer <the contents of [health] admin_token_file>"))
			return
		}
		h.ServeHTTP(w, r)
	})
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
		// Browsers always send Host, so a request without one (HTTP/1.0,
		// as HAProxy's default health check) is no page's; host names are
		// case-insensitive.
		if r.Host != "" && !allowed[strings.ToLower(r.Host)] {
			writeError(w, http.StatusForbidden, fmt.Errorf("host %q is not this API's address", r.Host))
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead && fromWebPage(r) {
			writeError(w, http.StatusForbidden, errors.New("requests from web pages are refused"))
			return
		}
		h.ServeHTTP(w, r)
	})
}

// fromWebPage reports whether a browser sent r for a page: it has an
// Origin, or a Sec-Fetch-Site other than none (typed or bookmarked) and
// same-origin. Browsers send Sec-Fetch-Site even where they leave Origin out.
func fromWebPage(r *http.Request) bool {
	if r.Header.Get("Origin") != "" {
		return true
	}
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "none", "same-origin":
		return false
	}
	return true
}

func addrParam(r *http.Request) (netip.Addr, error) {
	s := r.URL.Query().Get("address")
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
	Server string      `json:"server,omitempty"`
	Time   time.Time   `json:"time"`
	Groups []groupJSON `json:"pools"`
	// Truncated says more pools match: ask again with after=Next.
	Truncated bool        `json:"truncated"`
	Next      string      `json:"next,omitempty"`
	Drains    []drainJSON `json:"drains"`
	// DrainsTruncated says drains lists only the first of them, by address.
	DrainsTruncated bool `json:"drains_truncated,omitempty"`
	Cluster         any  `json:"cluster,omitempty"`
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
	// Weight is the configured weight times the share the backend
	// reported (ReportedWeight, in percent; omitted when it reports none).
	Weight         float64 `json:"weight"`
	ReportedWeight *int    `json:"reported_weight,omitempty"`
	WeightError    string  `json:"weight_error,omitempty"`
	// Cluster is each instance's view and the agreed one (AdminOptions.MemberViews).
	Cluster any `json:"cluster,omitempty"`
}

type drainJSON struct {
	Address string     `json:"address"`
	Until   *time.Time `json:"until,omitempty"`
}

func statusReport(v *View, groups []Group, more bool, maxDrains int, now time.Time) statusJSON {
	out := statusJSON{Time: now, Groups: []groupJSON{}, Drains: []drainJSON{}, Truncated: more}
	if more && len(groups) > 0 {
		out.Next = groups[len(groups)-1].Name
	}
	for _, g := range groups {
		gj := groupJSON{Name: g.Name, Check: g.Check, Policy: g.Policy, Members: []memberJSON{}}
		for _, m := range g.Members {
			mj := memberJSON{Address: m.Addr.String(), State: "static", Serving: true, Weight: float64(max(m.Weight, 1))}
			if until, ok := v.Drained(m.Addr); ok {
				mj.Drained, mj.DrainUntil, mj.Serving = true, timePtr(until), false
			}
			if m.Check != nil {
				// Checked but not probed yet (a reload's new target): unknown,
				// as the status page and CH TXT say, not static.
				mj.State = Unknown.String()
				if st, ok := v.Status(Target{Addr: m.Addr, Check: m.Check}.Key()); ok {
					mj.State, mj.Serving = st.State.String(), st.Serving()
					mj.Since, mj.LastCheck, mj.LastFailure = timePtr(st.Since), timePtr(st.LastCheck), timePtr(st.LastFailure)
					lastOK := st.LastOK
					mj.LastOK, mj.LastError = &lastOK, st.LastError
					mj.ConsecutiveOK, mj.ConsecutiveFail = st.ConsecutiveOK, st.ConsecutiveFail
					if st.WeightSet {
						pct := st.Weight
						mj.ReportedWeight, mj.Weight = &pct, mj.Weight*float64(pct)/100
					}
					mj.WeightError = st.WeightError
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
		if len(out.Drains) == maxDrains {
			out.DrainsTruncated = true
			break
		}
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
