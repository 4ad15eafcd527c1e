package spool

import (
	"errors"
	"os"
	"syscall"
)

// lockDir takes the spool directory's lock file for this spool: the file
// opened with no sharing, which the operating system releases when the
// process ends, however it ends.
func lockDir(path string) (*os.File, error) {
	p, err := syscall.UTF16PtrFromString(path)
	if err != nil {
		return nil, err
	}
	h, err := syscall.CreateFile(p, syscall.GENERIC_READ|syscall.GENERIC_WRITE, 0, nil,
		syscall.OPEN_ALWAYS, syscall.FILE_ATTRIBUTE_NORMAL, 0)
	if err != nil {
		const errorSharingViolation = syscall.Errno(32)
		if errors.Is(err, errorSharingViolation) {
			return nil, ErrInUse
		}
		return nil, err
	}
	return os.NewFile(uintptr(h), path), nil
}
