package redis

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/floorgate/floorgate/internal/redisval"
	"github.com/floorgate/floorgate/sessions"
)

// Announce publishes e, then reads e.DeviceID's live sessions and pending
// commands: what a device that has just come online must be told.
//
// On a single Redis (standalone or Sentinel) it is one EVALSHA
// (announceScript): the publish, the device's session set and command
// queue, the session and command hashes behind them, and the trimming of
// acknowledged and vanished commands from the queue, as ByDevice and
// Pending would. On Cluster the hashes live in their users' slots, which
// a script of the device's slot may not touch: the script does the
// publish and reads the two indexes, and one pipeline more reads the
// hashes when there are any (a device with neither a session nor a
// queued logout costs one round trip there too).
func (s *Store) Announce(ctx context.Context, e sessions.Event) (sessions.DeviceState, error) {
	if e.Kind == sessions.KindLost {
		return sessions.DeviceState{}, fmt.Errorf("announce: %w: lost is never published", sessions.ErrInvalid)
	}
	payload, err := json.Marshal(e)
	if err != nil {
		return sessions.DeviceState{}, fmt.Errorf("announce: %w", err)
	}
	now := s.now()
	since := strconv.FormatInt(redisval.Micros(now.Add(-sessions.CommandTTL)), 10)
	whole := "0"
	if !s.cluster {
		whole = "1"
	}
	res, err := announceScript.Run(ctx, s.c, []string{s.deviceSessionsKey(e.DeviceID), s.deviceQueueKey(e.DeviceID)},
		s.channel, payload, since, s.prefix, whole).Slice()
	if err != nil {
		return sessions.DeviceState{}, wrapErr("announce", err)
	}
	if !s.cluster {
		if len(res) != 4 {
			return sessions.DeviceState{}, fmt.Errorf("announce: %w: malformed script reply", sessions.ErrUnavailable)
		}
		return announced(now, strs(res[0]), lists(res[1]), strs(res[2]), lists(res[3])), nil
	}
	if len(res) != 2 {
		return sessions.DeviceState{}, fmt.Errorf("announce: %w: malformed script reply", sessions.ErrUnavailable)
	}
	sids, cids := strs(res[0]), strs(res[1])
	slices.Sort(sids)
	var st sessions.DeviceState
	if st.Sessions, err = s.read(ctx, sids); err != nil {
		return sessions.DeviceState{}, fmt.Errorf("announce: %w", err)
	}
	// A session its warehouse's watermark refuses is not live (one more
	// read on Cluster, only for a device with a session).
	live := st.Sessions[:0]
	for _, v := range st.Sessions {
		before, _, err := s.endedBefore(ctx, v.WarehouseID, redisval.Micros(v.CreatedAt))
		if err != nil {
			return sessions.DeviceState{}, fmt.Errorf("announce: %w", err)
		}
		if !before {
			live = append(live, v)
		}
	}
	st.Sessions = live
	if st.Pending, err = s.pendingAmong(ctx, now, e.DeviceID, cids); err != nil {
		return sessions.DeviceState{}, fmt.Errorf("announce: %w", err)
	}
	return st, nil
}

// announced builds the DeviceState of the whole script's reply: session
// ids with their hashes, queued command ids (oldest first) with theirs
// (empty for those the script trimmed).
func announced(now time.Time, sids []string, shashes [][]string, cids []string, chashes [][]string) sessions.DeviceState {
	var out sessions.DeviceState
	for i, id := range sids {
		if i < len(shashes) {
			if v, ok := liveSession(now, id, hashMap(shashes[i])); ok {
				out.Sessions = append(out.Sessions, v)
			}
		}
	}
	slices.SortFunc(out.Sessions, func(a, b sessions.Session) int { return strings.Compare(a.ID, b.ID) })
	for i := range cids {
		if i < len(chashes) {
			if c, ok := pendingCommand(now, hashMap(chashes[i])); ok {
				out.Pending = append(out.Pending, c)
			}
		}
	}
	return out
}

// strs is a script's array of strings.
func strs(v any) []string {
	a, _ := v.([]any)
	out := make([]string, 0, len(a))
	for _, x := range a {
		out = append(out, redisval.Str(x))
	}
	return out
}

// lists is a script's array of arrays of strings.
func lists(v any) [][]string {
	a, _ := v.([]any)
	out := make([][]string, len(a))
	for i, x := range a {
		out[i] = strs(x)
	}
	return out
}

// hashMap is an HGETALL reply (field, value, field, value...) as a map.
func hashMap(flat []string) map[string]string {
	m := make(map[string]string, len(flat)/2)
	for i := 0; i+1 < len(flat); i += 2 {
		m[flat[i]] = flat[i+1]
	}
	return m
}
