package main

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/assent-dev/assent/device"
)

// errEnrollmentCode says that the server refused the enrollment code itself.
var errEnrollmentCode = errors.New("the enrollment code was refused")

// enrollError says plainly what a refused enrollment means and what to do:
// a code the server does not know (401), one already used (410 gone) or
// one past its 15 minutes (410 expired) all need a new code from the
// service that created the user. Other errors are returned as they are.
func enrollError(err error) error {
	var ae *device.APIError
	if !errors.As(err, &ae) {
		return err
	}
	const next = "ask the service that created your user for a new code (it issues one with POST /v1/users/{uid}/enrollment)"
	switch {
	case ae.Status == http.StatusUnauthorized:
		return fmt.Errorf("%w: the server does not know it (mistyped, or for another server?); check it, or %s", errEnrollmentCode, next)
	case ae.Status == http.StatusGone && ae.Code == "expired":
		return fmt.Errorf("%w: it has expired (codes are valid 15 minutes); %s", errEnrollmentCode, next)
	case ae.Status == http.StatusGone:
		return fmt.Errorf("%w: it was used already (each code enrolls one device); %s", errEnrollmentCode, next)
	}
	return err
}
