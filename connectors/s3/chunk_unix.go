//go:build unix

package s3

import "syscall"

// mapChunk maps a chunk of anonymous memory, outside the Go heap: the
// pages become resident as they are written.
func mapChunk() ([]byte, error) {
	return syscall.Mmap(-1, 0, chunkSize, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
}

// unmapChunk gives a chunk's pages back to the system.
func unmapChunk(c []byte) { _ = syscall.Munmap(c) }
