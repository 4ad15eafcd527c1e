package sink

import "errors"

// ErrInvalidOption is wrapped by the errors constructors return for bad
// option values and URLs; the message names the option and the value.
var ErrInvalidOption = errors.New("sink: invalid option")
