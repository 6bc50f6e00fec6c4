package metrics

import "errors"

// ErrConfig means a Config is unusable; the wrapped text says why.
var ErrConfig = errors.New("metrics: bad configuration")
