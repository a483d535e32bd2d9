package console

import (
	"errors"
	"net/http"
	"strings"

	"github.com/inthreat/taxii-server/internal/admin"
	"github.com/inthreat/taxii-server/internal/obs"
)

// Every change goes through admin.Service, the one code path of feed and key
// rules that the CLI and the admin API use; this file only adapts forms to it.

// actor is the admin behind a request, for the audit log.
func actor(r *http.Request) admin.Actor {
	c := caller(r)
	return admin.Actor{KeyID: c.KeyID, Name: c.Name, Address: obs.FromContext(r.Context()).Client()}
}

// formError is a refusal of one form field ("" for the whole form) that the
// console makes itself.
type formError struct {
	field string
	msg   string
}

func (e formError) Error() string { return e.msg }

// refused reports whether err is a refusal of the input, shown on the form,
// rather than a failure.
func refused(err error) bool {
	var ae *admin.Error
	var fe formError
	return errors.As(err, &ae) || errors.As(err, &fe)
}

// fieldOf is where a form shows a refusal: next to the field it names. The
// service's messages speak in the CLI's flags ("--tlp: ..."); the form drops the flag.
func fieldOf(err error) fieldErrors {
	var fe formError
	if errors.As(err, &fe) {
		return fieldErrors{fe.field: fe.msg}
	}
	var ae *admin.Error
	if errors.As(err, &ae) {
		msg := strings.TrimPrefix(ae.Message, "--"+ae.Field+": ")
		msg = strings.TrimPrefix(msg, "--")
		return fieldErrors{ae.Field: msg}
	}
	return fieldErrors{"": err.Error()}
}

// feedInput is a feed form as submitted: the feed's fields and one value per
// filter of package feed, in the CLI flags' syntax.
type feedInput struct {
	Title, Description, Alias string
	Writable                  bool
	Filter                    map[string]string
}

// change is the form as the service takes it. keepFilter leaves the filter as it
// is (the default feed's form has none to send).
func (in feedInput) change(keepFilter bool) admin.FeedChange {
	c := admin.FeedChange{Title: &in.Title, Description: &in.Description, Alias: &in.Alias, Writable: &in.Writable}
	if !keepFilter {
		c.Filter = in.Filter
	}
	return c
}

// keyInput is a key form as submitted.
type keyInput struct {
	Name, Role, Source string
	Feeds              []string // feed ids
}
