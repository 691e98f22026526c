package healthprobe

// FirstRoundPending counts the current targets whose first probe has not
// finished yet, out of total: what a readiness check reports while
// FirstRound waits. It takes the prober's lock for one pass over the
// targets, so call it per request, not per query.
func (p *Prober) FirstRoundPending() (pending, total int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, t := range p.order {
		select {
		case <-t.first:
		default:
			pending++
		}
	}
	return pending, len(p.order)
}
