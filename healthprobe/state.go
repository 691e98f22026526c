package healthprobe

import (
	"fmt"
	"iter"
	"maps"
	"net/netip"
	"slices"
	"time"
)

// State is a target's health as decided by the rise/fall thresholds.
type State uint8

const (
	// Unknown: no probe has decided yet. It is the zero value and, as
	// Options.InitialState, means "the first probe decides". An Unknown
	// target is served (fail open).
	Unknown State = iota
	// Up: serving.
	Up
	// Down: withdrawn.
	Down
)

// String returns "unknown", "up" or "down".
func (s State) String() string {
	switch s {
	case Unknown:
		return "unknown"
	case Up:
		return "up"
	case Down:
		return "down"
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// MarshalText makes a State print as its name in JSON.
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// ParseInitialState reads the configured initial state: "up", "down", or
// "probe" (also "" for the default), which returns Unknown: the first probe
// decides.
func ParseInitialState(s string) (State, error) {
	switch s {
	case "up":
		return Up, nil
	case "down":
		return Down, nil
	case "probe", "":
		return Unknown, nil
	}
	return Unknown, fmt.Errorf("initial state %q is not up, down or probe", s)
}

// Status is one target's state and its most recent probe result.
type Status struct {
	// Target is what is probed.
	Target Target
	// State is the decided health; Since is when it was entered (or when
	// the target was added, for its initial state).
	State State
	Since time.Time
	// Drained reports an operator drain of the target's address, in force
	// until DrainUntil (zero: until undrained). A drained target is still
	// probed, and its State still moves.
	Drained    bool
	DrainUntil time.Time
	// LastCheck is when the most recent probe finished (zero: none yet),
	// and LastOK whether it succeeded.
	LastCheck time.Time
	LastOK    bool
	// LastError is the most recent failure's message and LastFailure when
	// it happened; both are kept after the target recovers, so that the
	// reason for the last outage stays visible.
	LastError   string
	LastFailure time.Time
	// ConsecutiveOK and ConsecutiveFail count the current run of equal
	// results; one of them is always zero.
	ConsecutiveOK   int
	ConsecutiveFail int
	// Weight is the share of its weight, in percent, the backend last
	// reported (Check.WeightHeader); WeightSet says it reported one.
	// WeightError is why the latest successful probe reported none (a
	// missing or bad value: the last weight stays), "" once one is read.
	Weight      int
	WeightSet   bool
	WeightError string
	// LastDuration is how long the most recent probe took.
	LastDuration time.Duration
	// Transitions counts the changes between Up and Down since the target
	// was added (the first decision, from Unknown, is not one).
	Transitions uint64
	// Failures counts the failed probes since the target was added, by
	// reason.
	Failures [NumErrorReasons]uint64
}

// WeightPercent is the share of its weight the target is served with, in
// percent: 100 unless the backend reported another (Weight).
func (s *Status) WeightPercent() int {
	if !s.WeightSet {
		return MaxWeightPercent
	}
	return s.Weight
}

// Serving reports whether the target should be in answers: not Down and not
// drained. Unknown counts as serving (fail open).
func (s *Status) Serving() bool { return s.State != Down && !s.Drained }

// View is an immutable snapshot of every target's Status and of the drained
// addresses. The prober publishes a new View, by an atomic pointer swap,
// after every probe result, drain change and SetTargets; a View once
// returned never changes, so readers need no lock and see one consistent
// state.
type View struct {
	// index maps Key to a position in status. It is shared by every View
	// published between two SetTargets calls and never written.
	index map[string]int
	keys  []string // sorted
	// status holds the statuses by position in chunks of statusChunk.
	// Views share the chunks nothing changed in, so that a probe result or
	// a drain copies what it changed, not every target's status.
	status [][]*Status
	n      int
	drains map[netip.Addr]time.Time // zero time: no expiry
}

// statusChunk is how many statuses a chunk of View.status holds: a change
// of one copies the chunk list and one chunk, about 3 KB at 100,000
// targets instead of 800 KB.
const statusChunk = 256

func (v *View) at(i int) *Status { return v.status[i/statusChunk][i%statusChunk] }

// withStatus returns a View like v with the status at position i
// replaced, copying the chunk list unless own says it is v's own already.
func (v *View) withStatus(i int, s *Status, own bool) *View {
	if !own {
		c := *v
		c.status = slices.Clone(v.status)
		v = &c
	}
	k := i / statusChunk
	v.status[k] = slices.Clone(v.status[k])
	v.status[k][i%statusChunk] = s
	return v
}

// Status returns the target's status by Key.
func (v *View) Status(key string) (Status, bool) {
	i, ok := v.index[key]
	if !ok {
		return Status{}, false
	}
	return *v.at(i), true
}

// Serving reports whether the target with this Key should be in answers:
// it is not Down and its address is not drained. A key the prober does not
// know is served (fail open: a prober fault never blackholes a name).
func (v *View) Serving(key string) bool {
	i, ok := v.index[key]
	if !ok {
		return true
	}
	return v.at(i).Serving()
}

// Drained reports whether addr is drained, and until when (zero: no
// expiry). It covers addresses with no check as well, so a static pool
// member can be drained too.
func (v *View) Drained(addr netip.Addr) (until time.Time, ok bool) {
	until, ok = v.drains[addr.Unmap()]
	return until, ok
}

// Drains iterates over the drained addresses in address order, with their
// expiry (zero: none).
func (v *View) Drains() iter.Seq2[netip.Addr, time.Time] {
	return func(yield func(netip.Addr, time.Time) bool) {
		for _, a := range slices.SortedFunc(maps.Keys(v.drains), netip.Addr.Compare) {
			if !yield(a, v.drains[a]) {
				return
			}
		}
	}
}

// All iterates over every target's Key and Status, in Key order.
func (v *View) All() iter.Seq2[string, Status] {
	return func(yield func(string, Status) bool) {
		for _, k := range v.keys {
			if !yield(k, *v.at(v.index[k])) {
				return
			}
		}
	}
}

// Len is the number of targets.
func (v *View) Len() int { return v.n }
