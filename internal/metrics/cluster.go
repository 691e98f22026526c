package metrics

import "github.com/prometheus/client_golang/prometheus"

// Cluster is the membership of a cluster of instances, as a scrape sees it.
type Cluster struct {
	// Alone: no live peer, so this instance serves its own view.
	Alone bool
	Peers []ClusterPeer
}

// ClusterPeer is one peer this instance knows of.
type ClusterPeer struct {
	Name  string
	Alive bool
	// SameDigest: it loaded the same zones and checks.
	SameDigest bool
}

var (
	clusterAlone    = desc("cluster_alone", "1 when this instance has no live peer and serves its own view of health.")
	clusterPeer     = desc("cluster_peer_alive", "Whether a peer of the cluster is alive (0: dead or left).", "peer")
	clusterPeerSame = desc("cluster_peer_same_zones", "Whether a peer loaded the same zones and checks (0: agreement covers only the members both probe alike).", "peer")
	clusterDescs    = []*prometheus.Desc{clusterAlone, clusterPeer, clusterPeerSame}
)

func (c *Collector) collectCluster(gauge func(*prometheus.Desc, float64, ...string)) {
	s := c.src.Cluster()
	gauge(clusterAlone, boolValue(s.Alone))
	for _, p := range s.Peers {
		gauge(clusterPeer, boolValue(p.Alive), p.Name)
		gauge(clusterPeerSame, boolValue(p.SameDigest), p.Name)
	}
}
