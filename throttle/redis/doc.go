// Package redis is the production throttle.Throttle over a go-redis v9
// UniversalClient, so standalone Redis, Sentinel and Redis Cluster work
// unchanged. It passes throttle/throttletest against standalone Redis and
// a 3-primary Cluster. Its keys are listed on Throttle; every error it
// returns matches throttle.ErrUnavailable.
//
// It imports the standard library, go-redis and package throttle; it
// starts no goroutine and does not own the client it is given.
package redis
