// Package tomlfile reads TOML files for dnsrr's configuration and zones and
// reports every problem in them as file:line: key: message.
package tomlfile

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
)

// Error is one problem in a configuration or zone file, located as precisely
// as the input allows. It prints as "file:line: key: message", the form
// editors and CI logs turn into links.
type Error struct {
	File string // path as given to the loader
	Line int    // 1-based; 0 when unknown
	Key  string // TOML key path or owner name; may be empty
	Msg  string
}

func (e *Error) Error() string {
	s := e.File
	if e.Line > 0 {
		s += ":" + strconv.Itoa(e.Line)
	}
	if e.Key != "" {
		s += ": " + e.Key
	}
	return s + ": " + e.Msg
}

// List collects every problem in a file so the operator can fix them in one
// pass instead of one per run. It keeps the first MaxProblems and counts
// the rest: a generated file can hold a mistake per line, and each problem
// names its key, so keeping them all grew with the file times its longest
// key (20,000 keys under a table named by a 100 KB string took 1.4 GB).
type List struct {
	errs     []error
	more     int   // problems past MaxProblems
	moreFrom error // the first of them
}

// MaxProblems is how many problems a List keeps.
const MaxProblems = 1000

// maxKey is the longest key path a problem quotes.
const maxKey = 256

// Add records a problem.
func (l *List) Add(file string, line int, key, format string, args ...any) {
	if len(l.errs) >= MaxProblems {
		l.count(&Error{File: file, Line: line})
		return
	}
	if len(key) > maxKey {
		key = key[:maxKey] + "…"
	}
	l.errs = append(l.errs, &Error{File: file, Line: line, Key: key, Msg: fmt.Sprintf(format, args...)})
}

// Append records errors found elsewhere.
func (l *List) Append(errs ...error) {
	for _, e := range errs {
		switch {
		case e == nil:
		case len(l.errs) >= MaxProblems:
			l.count(e)
		default:
			l.errs = append(l.errs, e)
		}
	}
}

func (l *List) count(e error) {
	if l.more == 0 {
		l.moreFrom = e
	}
	l.more++
}

// moreError says how many problems were not kept.
func (l *List) moreError() error {
	e := &Error{Line: lineOf(l.moreFrom), Msg: fmt.Sprintf("%d more problems from here on; only the first %d are reported", l.more, MaxProblems)}
	var first *Error
	if errors.As(l.moreFrom, &first) {
		e.File = first.File
	}
	return e
}

// Sorted returns the problems ordered by line, the order an operator fixes
// them in (then by text, so that output is the same on every run).
func (l *List) Sorted() []error {
	out := append([]error(nil), l.errs...)
	if l.more > 0 {
		out = append(out, l.moreError())
	}
	sort.SliceStable(out, func(i, j int) bool {
		li, lj := lineOf(out[i]), lineOf(out[j])
		return li < lj || li == lj && out[i].Error() < out[j].Error()
	})
	return out
}

func lineOf(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Line
	}
	return 0
}

// Len is the number of problems recorded.
func (l *List) Len() int { return len(l.errs) + l.more }

// Err joins the problems, or is nil when there are none.
func (l *List) Err() error {
	if l.more > 0 {
		return errors.Join(append(l.errs[:len(l.errs):len(l.errs)], l.moreError())...)
	}
	return errors.Join(l.errs...)
}

// Flatten splits an error returned by Err (possibly joined again by a caller)
// into its individual problems, in the order they were found.
func Flatten(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, Flatten(e)...)
		}
		return out
	}
	return []error{err}
}
