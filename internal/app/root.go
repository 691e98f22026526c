package app

import (
	"os"

	"github.com/rs/zerolog"
)

// warnIfRoot says so when the server runs as root: it needs no more than
// binding port 53 (CAP_NET_BIND_SERVICE), and a zone file or an admin
// request that finds a bug would find it with every privilege. A warning,
// not a refusal: containers and CI commonly run as root.
func warnIfRoot(log zerolog.Logger) {
	if os.Geteuid() == 0 {
		log.Warn().Msg("running as root: dnsrr needs only CAP_NET_BIND_SERVICE for port 53; run it as an unprivileged user (README, \"Running on port 53\")")
	}
}
