//go:build !linux

package load

import (
	"errors"

	"github.com/pion/transport/v5"
)

func newGRONet() (transport.Net, error) {
	return nil, errors.New("load: subscribers with UDP GRO need Linux")
}
