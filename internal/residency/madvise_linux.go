package residency

import "golang.org/x/sys/unix"

func dontNeed(addr, length uintptr) error {
	if _, _, errno := unix.Syscall(unix.SYS_MADVISE, addr, length, unix.MADV_DONTNEED); errno != 0 {
		return errno
	}
	return nil
}
