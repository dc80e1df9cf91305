package memory

import (
	"container/heap"
	"time"
)

// deadline is one entry of the due heap: a session's end or its warning.
type deadline struct {
	at    time.Time
	e     *entry
	warn  bool
	index int // position in the heap, -1 once out of it
}

// deadlines is a min-heap by time. Sweep pops only what is due, so it
// never looks at sessions whose time has not come.
type deadlines []*deadline

func (d deadlines) Len() int           { return len(d) }
func (d deadlines) Less(i, j int) bool { return d[i].at.Before(d[j].at) }
func (d deadlines) Swap(i, j int) {
	d[i], d[j] = d[j], d[i]
	d[i].index = i
	d[j].index = j
}

func (d *deadlines) Push(x any) {
	it := x.(*deadline)
	it.index = len(*d)
	*d = append(*d, it)
}

func (d *deadlines) Pop() any {
	old := *d
	n := len(old)
	it := old[n-1]
	old[n-1] = nil
	it.index = -1
	*d = old[:n-1]
	return it
}

func (d *deadlines) add(at time.Time, e *entry, warn bool) *deadline {
	it := &deadline{at: at, e: e, warn: warn}
	heap.Push(d, it)
	return it
}

func (d *deadlines) remove(it *deadline) {
	if it != nil && it.index >= 0 {
		heap.Remove(d, it.index)
	}
}

// popDue removes and returns the earliest deadline at or before now.
func (d *deadlines) popDue(now time.Time) (*deadline, bool) {
	if len(*d) == 0 || (*d)[0].at.After(now) {
		return nil, false
	}
	return heap.Pop(d).(*deadline), true
}
