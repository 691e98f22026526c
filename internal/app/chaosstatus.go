package app

import (
	"github.com/dnsrr/dnsrr/dnsrr"
	"github.com/dnsrr/dnsrr/healthprobe"
)

// chaosStatus is the dnsrr.StatusSource of the CH TXT status names: the
// pool's members as /status lists them, from the same groupPage, View and
// srv.Answers, so that dig and the admin API agree.
type chaosStatus struct {
	health *health
	srv    *dnsrr.Server
}

var _ dnsrr.StatusSource = chaosStatus{}

// statusMaxGroups bounds the groups of one pool name (one per zone that
// has it) read for a status name: more would not fit one answer anyway.
const statusMaxGroups = 16

// PoolStatus implements dnsrr.StatusSource.
func (c chaosStatus) PoolStatus(pool string) ([]dnsrr.MemberStatus, bool) {
	groups, _ := c.health.groupPage(healthprobe.GroupQuery{Name: pool, Limit: statusMaxGroups}, c.srv.Answers)
	if len(groups) == 0 {
		return nil, false
	}
	view := c.health.prober.View()
	var out []dnsrr.MemberStatus
	for _, g := range groups {
		for _, m := range g.Members {
			ms := dnsrr.MemberStatus{Addr: m.Addr, State: "static"}
			if m.Check != nil {
				ms.State = healthprobe.Unknown.String()
				if st, ok := view.Status(healthprobe.Target{Addr: m.Addr, Check: m.Check}.Key()); ok {
					ms.State, ms.Since, ms.LastError = st.State.String(), st.Since, st.LastError
				}
			}
			ms.DrainUntil, ms.Drained = view.Drained(m.Addr)
			ms.Served = g.Answered != nil && g.Answered(m.Addr)
			out = append(out, ms)
		}
	}
	return out, true
}
