package redis

import (
	"context"
	"sync/atomic"

	goredis "github.com/redis/go-redis/v9"

	"github.com/floorgate/floorgate/sessions"
)

// PublishEverywhere publishes e from every primary of a Cluster (once
// on a single server) and returns how many copies went out. A watcher
// receives a primary's copy after every event that primary published
// before it (one bus link, in order), so the last copy follows them all:
// the conformance suite's barrier.
func (s *Store) PublishEverywhere(ctx context.Context, e sessions.Event) (int, error) {
	b, err := encodeEvent(e)
	if err != nil {
		return 0, err
	}
	cc, ok := s.c.(*goredis.ClusterClient)
	if !ok {
		return 1, s.c.Publish(ctx, s.channel, b).Err()
	}
	var n atomic.Int32
	err = cc.ForEachMaster(ctx, func(ctx context.Context, c *goredis.Client) error {
		n.Add(1)
		return c.Publish(ctx, s.channel, b).Err()
	})
	return int(n.Load()), err
}
