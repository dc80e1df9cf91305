package gateway

import (
	"sync"
	"syscall"
)

// poller is a Server's epoll instance, started with its first polled
// socket and stopped by Shutdown: every polled socket is in it, armed for
// one event at a time (EPOLLONESHOT) and re-armed by its handler, so that
// a socket never has two.
type poller struct {
	once    sync.Once
	epfd    int
	wake    [2]int // a pipe: a byte in it stops run
	mu      sync.Mutex
	socks   map[int32]*socket // by descriptor
	running bool
	stopped bool
}

// start starts the poller once; false if epoll is not available or the
// poller has stopped (sockets then read in a goroutine each).
func (p *poller) start() bool {
	p.once.Do(func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.stopped {
			return
		}
		fd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
		if err != nil {
			return
		}
		if err := syscall.Pipe2(p.wake[:], syscall.O_CLOEXEC|syscall.O_NONBLOCK); err != nil {
			syscall.Close(fd)
			return
		}
		ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(p.wake[0])}
		if err := syscall.EpollCtl(fd, syscall.EPOLL_CTL_ADD, p.wake[0], &ev); err != nil {
			syscall.Close(fd)
			syscall.Close(p.wake[0])
			syscall.Close(p.wake[1])
			return
		}
		p.epfd, p.socks, p.running = fd, make(map[int32]*socket), true
		go p.run()
	})
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.running && !p.stopped
}

// stop ends run (Shutdown, once no socket is left).
func (p *poller) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return
	}
	p.stopped = true
	if p.running {
		_, _ = syscall.Write(p.wake[1], []byte{1})
	}
}

const pollEvents = syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT

// run waits for readiness and starts each ready socket's handler.
func (p *poller) run() {
	events := make([]syscall.EpollEvent, 256)
	for {
		n, err := syscall.EpollWait(p.epfd, events, -1)
		if err != nil {
			continue // EINTR
		}
		p.mu.Lock()
		for _, ev := range events[:n] {
			if ev.Fd == int32(p.wake[0]) {
				p.running = false
				syscall.Close(p.epfd)
				syscall.Close(p.wake[0])
				syscall.Close(p.wake[1])
				p.mu.Unlock()
				return
			}
			if s := p.socks[ev.Fd]; s != nil {
				s.env.work.add()
				go s.onReadable()
			}
		}
		p.mu.Unlock()
	}
}

// add puts the socket in the poller, armed; false if it cannot be.
func (p *poller) add(s *socket, rc syscall.RawConn) bool {
	var cerr error
	err := rc.Control(func(fd uintptr) {
		s.fd = int32(fd)
		p.mu.Lock()
		defer p.mu.Unlock()
		if !p.running {
			cerr = syscall.EBADF
			return
		}
		p.socks[s.fd] = s
		ev := syscall.EpollEvent{Events: pollEvents, Fd: s.fd}
		cerr = syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_ADD, int(fd), &ev)
		if cerr != nil {
			delete(p.socks, s.fd)
		}
	})
	if err != nil || cerr != nil {
		return false
	}
	s.polled.Store(true)
	return true
}

// arm lets the poller report the socket's next readiness; false when the
// connection is closed.
func (p *poller) arm(s *socket) bool {
	rc := s.rawConn()
	if rc == nil {
		return false
	}
	var cerr error
	err := rc.Control(func(fd uintptr) {
		p.mu.Lock()
		defer p.mu.Unlock()
		if !p.running {
			cerr = syscall.EBADF
			return
		}
		ev := syscall.EpollEvent{Events: pollEvents, Fd: int32(fd)}
		cerr = syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_MOD, int(fd), &ev)
	})
	return err == nil && cerr == nil
}

// remove takes the socket out of the poller before its descriptor is
// closed (and may be reused by another connection).
func (p *poller) remove(s *socket) {
	if !s.polled.Load() {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.running {
		return
	}
	if rc := s.rawConn(); rc != nil {
		_ = rc.Control(func(fd uintptr) {
			_ = syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_DEL, int(fd), nil)
		})
	}
	if p.socks[s.fd] == s {
		delete(p.socks, s.fd)
	}
}
