//go:build !linux

package residency

func dontNeed(addr, length uintptr) error { return ErrUnsupported }
