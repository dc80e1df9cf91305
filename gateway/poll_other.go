//go:build !linux

package gateway

import "syscall"

// poller: none outside Linux; every socket reads in a goroutine of its own.
type poller struct{}

func sharedPoller() *poller                         { return nil }
func (p *poller) add(*socket, syscall.RawConn) bool { return false }
func (p *poller) arm(*socket) bool                  { return false }
func (p *poller) remove(*socket)                    {}
