package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// buildInfo is what `dnsrr version` reports: which source the binary was
// built from, as the go command stamped it (go version -m shows the same).
type buildInfo struct {
	// Version is the module version: a tag (v1.2.0), a pseudo-version
	// naming the commit (v0.0.0-20261201073430-9d77484abcde, +dirty when
	// the tree had changes), or "(devel)" without version control
	// information (go run, -buildvcs=false). -ldflags "-X main.version=..."
	// replaces it.
	Version  string `json:"version"`
	Module   string `json:"module"`
	Revision string `json:"revision,omitempty"` // the commit, in full
	// Time is the commit's time, not the build's: builds of one commit are
	// alike.
	Time      string `json:"time,omitempty"`
	Modified  bool   `json:"modified"` // uncommitted changes in the tree
	GoVersion string `json:"go"`
	Platform  string `json:"platform"`
}

func readBuildInfo() buildInfo {
	info := buildInfo{Version: "(devel)", GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	bi, ok := debug.ReadBuildInfo()
	if ok {
		info.Module, info.GoVersion = bi.Main.Path, bi.GoVersion
		if bi.Main.Version != "" {
			info.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				info.Revision = s.Value
			case "vcs.time":
				info.Time = s.Value
			case "vcs.modified":
				info.Modified = s.Value == "true"
			}
		}
	}
	if version != "" {
		info.Version = version
	}
	return info
}

// buildVersion is the version in the serving log line and the probes'
// User-Agent.
func buildVersion() string { return readBuildInfo().Version }

func versionCommand(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("dnsrr version", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print the build information as one JSON object")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "dnsrr version: unexpected argument %q\n%s", fs.Arg(0), usage)
		return exitUsage
	}
	info := readBuildInfo()
	if *asJSON {
		b, _ := json.Marshal(info)
		fmt.Fprintf(stdout, "%s\n", b)
		return exitOK
	}
	fmt.Fprintf(stdout, "dnsrr %s\n", info.Version)
	if info.Module != "" {
		fmt.Fprintf(stdout, "  module    %s\n", info.Module)
	}
	if info.Revision != "" {
		modified := ""
		if info.Modified {
			modified = " (modified)"
		}
		fmt.Fprintf(stdout, "  revision  %s%s\n", info.Revision, modified)
	}
	if info.Time != "" {
		fmt.Fprintf(stdout, "  committed %s\n", info.Time)
	}
	fmt.Fprintf(stdout, "  built by  %s %s\n", info.GoVersion, info.Platform)
	return exitOK
}
