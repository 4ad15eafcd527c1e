//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly || windows)

package spool

import "os"

// lockDir opens the spool directory's lock file. This system has no lock
// that the operating system releases when a process ends, so the
// directory is not locked: two spools must not share it.
func lockDir(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
}
