//go:build !unix

package sdk

import "context"

// watchParent does nothing where parent death cannot be observed this way
// (Windows: not handled yet; a job object on the host side is the way).
func watchParent(context.Context, func(string)) {}
