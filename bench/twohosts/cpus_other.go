//go:build !linux

package twohosts

import (
	"errors"
	"os/exec"
)

func dieWithParent(*exec.Cmd) {}

func allowedCPUs() ([]int, error) {
	return nil, errors.New("network namespaces and receive steering are Linux's")
}
