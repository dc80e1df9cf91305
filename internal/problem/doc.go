// Package problem is the one error layer of Floorgate's two HTTP APIs
// (the device gateway and the admin API): an RFC 9457 problem document
// with a stable code, one error type that knows its answer and keeps its
// cause for the log, one application/problem+json writer, one table type
// that each API fills with its own mapping from sentinel errors to
// statuses, and one JSON request-body decoder with the same field codes
// for the same fault on both listeners.
//
// # Field codes of a refused body (400 invalid_request)
//
//	Content-Type  unsupported   declared, and neither application/json nor application/*+json
//	body          required      empty body where one is needed
//	body          malformed     not JSON, or more than one JSON value
//	body          too_large     over the API's size limit (ErrTooLarge: each API's table picks the status)
//	<field>       type          a value of the wrong JSON type ("device.serial")
//	<field>       unknown_field a field the endpoint does not have (only where the API refuses them)
//	<field>       invalid_utf8  a string that is not valid UTF-8: raw invalid bytes, or a \ud800-style
//	                            lone surrogate escape that encoding/json would turn into U+FFFD
//	<field>       required      a required field that is missing or blank (Fields.Required)
//	<field>       too_long      a string over its length limit (Fields.MaxLen)
//
// An error no table knows is 503 unavailable (fail closed), and a 5xx
// body never carries an error's text. Every 429 and 503 has a
// Retry-After header and a retry_after member.
//
// It imports the standard library only; it starts no goroutine.
package problem
