package app

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/dnsrr/dnsrr/dnsrr"
	"github.com/dnsrr/dnsrr/healthprobe"
	"github.com/dnsrr/dnsrr/zones"
)

// The page's bounds. A zone may hold hundreds of thousands of pools and a
// pool thousands of members: the page lists a page of pools at a time, as
// /status does, and stops adding pools once it shows pageMaxMembers
// members, so that one page stays around a megabyte whatever the zones
// hold.
const (
	pageDefaultPools = 50   // pools per page without limit=
	pageMaxMembers   = 2000 // member rows per page, over all its pools
	pagePoolMembers  = 200  // member rows of one pool; /status lists all
	pageMaxZones     = 1000 // zone rows
	pageMaxDrains    = 100  // drain rows
	pageMaxError     = 300  // bytes of a member's last error (a backend chooses some of it)
	pageRefresh      = 10   // seconds between reloads without refresh=
	pageMaxRefresh   = 3600
)

var (
	//go:embed statuspage.html
	pageHTML string
	//go:embed statuspage.css
	pageCSS string

	pageTemplate = template.Must(template.New("page").Parse(pageHTML))
	// pageCSP lets the page use its own style sheet and nothing else: no
	// script, no image, no request to anywhere. A name or an error string
	// that escaped its element could still run nothing.
	pageCSP = func() string {
		sum := sha256.Sum256([]byte(pageCSS))
		return "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) +
			"'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
	}()
)

// statusPage serves the human view of the server at GET /: its identity,
// its zones, and a page of pools with each member's health and whether DNS
// answers with it now. It is read-only and server-rendered (html/template,
// no script); it reloads itself every refresh= seconds.
type statusPage struct {
	health   *health
	srv      *dnsrr.Server
	ready    *readiness
	version  string
	id       string // [chaos] id
	started  time.Time
	maxPools int // [health] status_max_pools: the largest limit=
	// nsid follows reloads (it is part of the policy a reload makes).
	nsid atomic.Pointer[string]
	// loaded is when each zone served was loaded.
	loaded zoneClock
}

// zoneClock remembers when each zone served was loaded: a reload that
// kept a zone's old version (its file failed) keeps its old time.
type zoneClock struct {
	mu sync.Mutex
	at map[*zones.Zone]time.Time
}

// served records snap as served, its new zones loaded at t.
func (c *zoneClock) served(snap *zones.Snapshot, t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	at := make(map[*zones.Zone]time.Time, len(snap.Zones()))
	for _, z := range snap.Zones() {
		if old, ok := c.at[z]; ok {
			at[z] = old
		} else {
			at[z] = t
		}
	}
	c.at = at
}

func (c *zoneClock) when(z *zones.Zone) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.at[z]
}

// served notes what a start or a reload put into service: for the page,
// the zones' load time (t) and the NSID.
func (p *statusPage) served(snap *zones.Snapshot, t time.Time, nsid string) {
	p.loaded.served(snap, t)
	p.nsid.Store(&nsid)
}

// pageData is what the template renders.
type pageData struct {
	Now      string
	Version  string
	NSID     string
	ID       string
	Uptime   string
	Started  string
	NotReady string
	Refresh  int
	Error    string

	Zones     []zoneRow
	ZonesMore int

	// The pool query as given, for the form and the links.
	Pool, Address string
	Pools         []poolRow
	// FirstPage and NextPage link to the first page of the selection
	// (when this is not it) and the next (when there is one).
	FirstPage, NextPage template.URL
	Drains              []drainRow
	DrainsMore          int
}

type zoneRow struct {
	Origin, File          string
	Serial                uint32
	Records, Names, Pools int
	Loaded, LoadedAgo     string
}

type poolRow struct {
	Name, Check, Policy string
	Served, Total       int
	Hidden              int // members not shown (pagePoolMembers, pageMaxMembers)
	Members             []memberRow
}

type memberRow struct {
	Addr string
	// State is up, down, unknown (not probed yet) or static (no check).
	State              string
	Since, SinceAgo    string
	Served             bool
	Drained            bool
	DrainUntil         string // "" for a drain until undrained
	DrainLeft          string
	LastError          string
	LastFailure        string
	LastFailureAgo     string
	LastCheck          string
	ConsecutiveFailing int
	// Weight is the share of its weight the backend reported, when below
	// 100 % ("10 % weight"); "" otherwise.
	Weight string
}

type drainRow struct {
	Addr, Until, Left string
}

func (p *statusPage) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	d := pageData{
		Now:     stamp(now),
		Version: p.version,
		ID:      p.id,
		Uptime:  roughDuration(now.Sub(p.started)),
		Started: stamp(p.started),
		Refresh: pageRefresh,
	}
	if nsid := p.nsid.Load(); nsid != nil {
		d.NSID = *nsid
	}
	if p.ready != nil {
		d.NotReady = p.ready.check()
	}
	code := http.StatusOK
	q, err := p.query(r.URL.Query(), &d)
	if err != nil {
		code, d.Error = http.StatusBadRequest, err.Error()
	}
	p.addZones(&d, now)
	if err == nil {
		p.addPools(&d, q, now)
		if q.Name != "" && q.After == "" && len(d.Pools) == 0 {
			code, d.Error = http.StatusNotFound, fmt.Sprintf("pool=%q: no such pool in the zones loaded", q.Name)
		}
	}
	p.addDrains(&d, now)

	var buf bytes.Buffer
	if err := pageTemplate.Execute(&buf, struct {
		pageData
		CSS template.CSS
	}{d, template.CSS(pageCSS)}); err != nil {
		http.Error(w, "status page: "+err.Error(), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", pageCSP)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(code)
	_, _ = w.Write(buf.Bytes())
}

// query reads the page's parameters, as /status reads its own:
// pool=NAME, address=ADDR, after=NAME, limit=N, and refresh=SECONDS (0:
// never).
func (p *statusPage) query(v url.Values, d *pageData) (healthprobe.GroupQuery, error) {
	d.Pool, d.Address = v.Get("pool"), v.Get("address")
	if s := v.Get("refresh"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > pageMaxRefresh {
			return healthprobe.GroupQuery{}, fmt.Errorf("refresh=%q: give 0 (never) to %d seconds", s, pageMaxRefresh)
		}
		d.Refresh = n
	}
	return healthprobe.ParseGroupQuery(v, min(pageDefaultPools, p.maxPools), p.maxPools)
}

// link is the relative URL of another page of the same selection: a query
// encoded here, so template.URL (html/template would escape its = and &).
func (d *pageData) link(q healthprobe.GroupQuery, after string, limitSet bool) template.URL {
	v := url.Values{}
	if d.Pool != "" {
		v.Set("pool", d.Pool)
	}
	if d.Address != "" {
		v.Set("address", d.Address)
	}
	if after != "" {
		v.Set("after", after)
	}
	if limitSet {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	if d.Refresh != pageRefresh {
		v.Set("refresh", strconv.Itoa(d.Refresh))
	}
	if len(v) == 0 {
		return "/"
	}
	return template.URL("?" + v.Encode())
}

func (p *statusPage) addZones(d *pageData, now time.Time) {
	all := p.srv.Snapshot().Zones()
	for i, z := range all {
		if i == pageMaxZones {
			d.ZonesMore = len(all) - i
			break
		}
		at := p.loaded.when(z)
		d.Zones = append(d.Zones, zoneRow{
			Origin: z.Origin, File: z.File, Serial: z.Serial,
			Records: z.Records, Names: z.Names, Pools: len(z.PoolDefs),
			Loaded: stamp(at), LoadedAgo: ago(at, now),
		})
	}
}

// addPools lists the pools q selects, member by member, within the page's
// bounds. The page ends between two pool names only, as /status does: the
// next page starts after the last name shown.
func (p *statusPage) addPools(d *pageData, q healthprobe.GroupQuery, now time.Time) {
	groups, more := p.health.groupPage(q, p.srv.Answers)
	view := p.health.prober.View()
	shown := 0
	for i, g := range groups {
		if shown >= pageMaxMembers && g.Name != groups[i-1].Name {
			more = true
			groups = groups[:i]
			break
		}
		row := poolRow{Name: g.Name, Check: g.Check, Policy: g.Policy}
		for _, m := range g.Members {
			mr := memberRow{Addr: m.Addr.String(), State: "static"}
			if m.Check != nil {
				mr.State = healthprobe.Unknown.String()
				if st, ok := view.Status(healthprobe.Target{Addr: m.Addr, Check: m.Check}.Key()); ok {
					mr.State = st.State.String()
					mr.Since, mr.SinceAgo = stamp(st.Since), ago(st.Since, now)
					mr.LastError, mr.LastFailure, mr.LastFailureAgo = clip(healthprobe.Printable(st.LastError), pageMaxError), stamp(st.LastFailure), ago(st.LastFailure, now)
					mr.LastCheck, mr.ConsecutiveFailing = ago(st.LastCheck, now), st.ConsecutiveFail
					if pct := st.WeightPercent(); pct < healthprobe.MaxWeightPercent {
						mr.Weight = strconv.Itoa(pct) + " % weight"
					}
				}
			}
			if until, ok := view.Drained(m.Addr); ok {
				mr.Drained, mr.DrainUntil, mr.DrainLeft = true, stamp(until), left(until, now)
			}
			mr.Served = g.Answered != nil && g.Answered(m.Addr)
			if mr.Served {
				row.Served++
			}
			if len(row.Members) < pagePoolMembers && shown < pageMaxMembers {
				row.Members = append(row.Members, mr)
				shown++
			} else {
				row.Hidden++
			}
		}
		row.Total = len(g.Members)
		d.Pools = append(d.Pools, row)
	}
	limitSet := q.Limit != min(pageDefaultPools, p.maxPools)
	if q.After != "" {
		d.FirstPage = d.link(q, "", limitSet)
	}
	if more && len(groups) > 0 {
		d.NextPage = d.link(q, groups[len(groups)-1].Name, limitSet)
	}
}

func (p *statusPage) addDrains(d *pageData, now time.Time) {
	n := 0
	for a, until := range p.health.prober.View().Drains() {
		if n == pageMaxDrains {
			d.DrainsMore++
			continue
		}
		n++
		d.Drains = append(d.Drains, drainRow{Addr: a.String(), Until: stamp(until), Left: left(until, now)})
	}
}

// clip cuts s to at most max bytes, on a character boundary, marking the
// cut with an ellipsis.
func clip(s string, max int) string {
	if len(s) <= max {
		return s
	}
	s = s[:max]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s + "…"
}

// stamp is t as the page shows it: UTC to the second, "" for the zero time.
func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

// ago is how long before now t was, "" for the zero time.
func ago(t, now time.Time) string {
	if t.IsZero() {
		return ""
	}
	return roughDuration(now.Sub(t)) + " ago"
}

// left is how long from now until t, "" for the zero time (no expiry).
func left(t, now time.Time) string {
	if t.IsZero() {
		return ""
	}
	return "in " + roughDuration(t.Sub(now))
}

// roughDuration is d to the second below an hour, to the minute below a
// day, else in days and hours: what a person reads at a glance.
func roughDuration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	switch {
	case d < time.Minute:
		return strconv.Itoa(int(d/time.Second)) + "s"
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", d/time.Minute, d%time.Minute/time.Second)
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh%02dm", d/time.Hour, d%time.Hour/time.Minute)
	}
	return fmt.Sprintf("%dd%02dh", d/(24*time.Hour), d%(24*time.Hour)/time.Hour)
}
