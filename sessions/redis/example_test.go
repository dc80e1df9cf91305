package redis_test

import (
	"context"
	"log"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/floorgate/floorgate/sessions"
	sredis "github.com/floorgate/floorgate/sessions/redis"
)

// The Redis Store takes any go-redis UniversalClient (standalone,
// Sentinel or Cluster) and a key prefix; it behaves as the in-process
// one (see sessions/memory's example), across as many instances as share
// the Redis and the prefix. Run Watch and Sweep from the caller's
// goroutines.
func ExampleNew() {
	client := goredis.NewUniversalClient(&goredis.UniversalOptions{Addrs: []string{"127.0.0.1:6379"}})
	defer client.Close()
	st := sredis.New(client, sredis.Options{Prefix: "fg:"})

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := st.Create(ctx, sessions.NewSession{UserID: "usr_1", Username: "jsmith", DeviceID: "dev_1", WarehouseID: "wh_1"},
		sessions.Policy{Cap: 3, Idle: 30 * time.Minute, Absolute: 12 * time.Hour})
	if err != nil {
		log.Fatal(err) // sessions.ErrUnavailable when Redis does not answer: fail closed
	}
	log.Printf("session %s", c.Session.ID)
}
