//go:build !unix

package s3

// mapChunk allocates a chunk on the Go heap where there is no anonymous
// mmap: the bound then holds for the heap, not for the resident memory.
func mapChunk() ([]byte, error) { return make([]byte, chunkSize), nil }

func unmapChunk([]byte) {}
