//go:build !linux

package udpbatch

func threadCPU() int64 { return 0 }
