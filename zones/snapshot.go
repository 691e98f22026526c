// Package zones loads zone files (dnsrr's TOML format and RFC 1035 master
// files) into an immutable Snapshot that the server answers from. Loading
// validates everything a server must not discover at query time and reports
// each problem as file:line: key: message; this package never logs.
package zones

import (
	"iter"
	"maps"
	"sort"
	"sync/atomic"

	"github.com/miekg/dns"
)

// Order says how the addresses of a pool are ordered in each response.
type Order uint8

const (
	// OrderRandom serves a fresh uniformly random permutation every time.
	OrderRandom Order = iota
	// OrderCyclic rotates the file order by one step per response.
	OrderCyclic
	// OrderFixed serves the file order.
	OrderFixed
)

var orderNames = [...]string{OrderRandom: "random", OrderCyclic: "cyclic", OrderFixed: "fixed"}

func (o Order) String() string { return orderNames[o] }

func parseOrder(s string) (Order, bool) {
	for i, n := range orderNames {
		if n == s {
			return Order(i), true
		}
	}
	return 0, false
}

// RRset is the records of one owner name and type, as served. Its records
// and Additional are shared by every query: callers copy before reordering.
type RRset struct {
	Type uint16
	TTL  uint32
	// Order applies to address RRsets with more than one record.
	Order Order
	// first is where the loader found the set's first record, for errors.
	first int32
	// rrs holds the records of every type but A and AAAA, in file order.
	rrs []dns.RR
	// addrSet holds an A or AAAA set's addresses (nil for other types):
	// apart, so that the sets of other types do not pay for it.
	*addrSet
	// Additional holds the in-zone addresses of the names this RRset points
	// at (NS, MX and SRV targets): glue for referrals, helpful extras
	// otherwise. Computed at load so queries only copy.
	Additional []dns.RR
	// Pool is set on the address sets of a [pools] entry.
	Pool *Pool
	// MaxAnswers, when above 0 and below Len(), is how many of the
	// records each response carries: a fresh choice every time (a pool's
	// max_answers).
	MaxAnswers int
	// Sticky orders the records per client (a pool's sticky = "client")
	// rather than by Order.
	Sticky bool
	// Weights, when set, are the records' weights (parallel to Records): how
	// often each comes first and how likely it is to be among MaxAnswers.
	// nil: all equal.
	Weights []uint32
	// rotation is the only state that changes after load: the step counter
	// of a cyclic pool (nil for other orders).
	rotation *atomic.Uint32
}

// WithWeights is a copy of the set with weights (parallel to its records),
// rotating in step with the original.
func (s *RRset) WithWeights(weights []uint32) *RRset {
	c := *s
	c.Weights = weights
	return &c
}

// WithTTL is a copy of the set whose records carry ttl (a pool's
// ttl_degraded), rotating in step with the original.
func (s *RRset) WithTTL(ttl uint32) *RRset {
	c := *s
	c.TTL = ttl
	if s.addrSet != nil {
		c.addrSet = &addrSet{addrs: s.addrs, owner: s.owner} // its records are made with ttl
		return &c
	}
	c.rrs = make([]dns.RR, len(s.rrs))
	for i, rr := range s.rrs {
		c.rrs[i] = dns.Copy(rr)
		c.rrs[i].Header().Ttl = ttl
	}
	return &c
}

// Answers is how many of the set's records a response carries.
func (s *RRset) Answers() int {
	if n := s.Len(); s.MaxAnswers > 0 && s.MaxAnswers < n {
		return s.MaxAnswers
	}
	return s.Len()
}

// Shuffled reports whether responses reorder this RRset, or choose some of
// its records.
func (s *RRset) Shuffled() bool {
	return s.Len() > 1 && (s.Order != OrderFixed || s.Sticky || s.Answers() < s.Len()) && isAddress(s.Type)
}

// NextRotation returns the rotation for the next response of a cyclic pool.
func (s *RRset) NextRotation() int {
	return int((s.rotation.Add(1) - 1) % uint32(s.Len()))
}

// Node is one owner name of a zone. Empty non-terminals are nodes without
// sets, so that they answer NODATA rather than NXDOMAIN (RFC 8020).
type Node struct {
	Name string   // lower-case, fully qualified
	Sets []*RRset // sorted by type
	// Cut marks a delegation point: NS records below the apex. Data at or
	// below it belongs to the child zone, except the DS set (RFC 4035).
	Cut bool
	// Wildcard is the node "*.<Name>" if the zone has one: the source of
	// synthesis when this node is the closest encloser (RFC 4592).
	Wildcard *Node
	// ID numbers the zone's nodes from 0, so that the server can keep
	// per-node data in a slice rather than a map.
	ID int
}

// Get returns the node's RRset of type t, or nil.
func (n *Node) Get(t uint16) *RRset {
	for _, s := range n.Sets {
		if s.Type == t {
			return s
		}
	}
	return nil
}

// Zone is one loaded zone.
type Zone struct {
	Origin string // lower-case, fully qualified
	File   string
	SOA    *RRset
	// Negative is the SOA as it goes into the authority section of NXDOMAIN
	// and NODATA answers: its TTL is min(SOA TTL, SOA MINIMUM) (RFC 2308 §3).
	Negative []dns.RR
	Apex     *Node
	nodes    map[string]*Node

	// PoolDefs are the zone's [pools] entries, sorted by name.
	PoolDefs []*Pool

	Serial  uint32
	Names   int // owner names with data
	Pools   int // names with several addresses of one family: shuffled answers
	Records int

	// digest caches Digest.
	digest atomic.Pointer[[32]byte]
}

// Node returns the node for a lower-case, fully qualified name, or nil.
func (z *Zone) Node(name string) *Node { return z.nodes[name] }

// NodeCount is the number of nodes; IDs run from 0 to NodeCount()-1.
func (z *Zone) NodeCount() int { return len(z.nodes) }

// AllNodes iterates over every node in no particular order: cheaper than
// Nodes for a pass that needs no order.
func (z *Zone) AllNodes() iter.Seq[*Node] { return maps.Values(z.nodes) }

// Nodes lists every node of the zone, empty non-terminals included, sorted
// by name.
func (z *Zone) Nodes() []*Node {
	out := make([]*Node, 0, len(z.nodes))
	for _, n := range z.nodes {
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Snapshot is a complete, validated set of zones. It is never modified
// after Load returns it, so any number of queries may read it while the
// next one is built.
type Snapshot struct {
	zones map[string]*Zone
	list  []*Zone
}

// Zones lists the snapshot's zones sorted by origin.
func (s *Snapshot) Zones() []*Zone { return s.list }

// Zone returns the zone with exactly this lower-case origin, or nil.
func (s *Snapshot) Zone(origin string) *Zone { return s.zones[origin] }

// Find returns the zone that holds the lower-case, fully qualified name:
// the one with the longest origin that is a suffix of it.
func (s *Snapshot) Find(name string) *Zone {
	for off, end := 0, false; !end; off, end = dns.NextLabel(name, off) {
		if z, ok := s.zones[name[off:]]; ok {
			return z
		}
	}
	return s.zones["."]
}

func newSnapshot(list []*Zone) *Snapshot {
	s := &Snapshot{zones: make(map[string]*Zone, len(list)), list: list}
	sort.Slice(list, func(i, j int) bool { return list[i].Origin < list[j].Origin })
	for _, z := range list {
		s.zones[z.Origin] = z
	}
	return s
}

// fromFile returns the zone loaded from file, or nil (also for a nil s).
func (s *Snapshot) fromFile(file string) *Zone {
	if s == nil {
		return nil
	}
	for _, z := range s.list {
		if z.File == file {
			return z
		}
	}
	return nil
}

// zoneOrNil is Zone on a snapshot that may be nil (a first load has none).
func (s *Snapshot) zoneOrNil(origin string) *Zone {
	if s == nil {
		return nil
	}
	return s.zones[origin]
}
