package memory_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/floorgate/floorgate/sessions"
	"github.com/floorgate/floorgate/sessions/memory"
)

// A Store keeps live sessions: Create enforces the per-user cap in one
// step, Validate checks (and touches) a token, and every end leaves a
// logout command queued for the device.
func ExampleNew() {
	ctx := context.Background()
	st := memory.New(memory.Options{})
	policy := sessions.Policy{Cap: 1, Idle: 30 * time.Minute, Absolute: 12 * time.Hour}

	first, err := st.Create(ctx, sessions.NewSession{UserID: "usr_1", Username: "jsmith", DeviceID: "dev_1", WarehouseID: "wh_1"}, policy)
	if err != nil {
		log.Fatal(err)
	}
	// The token is shown once; it prints as REDACTED everywhere else.
	fmt.Println(first.Token)

	// Cap 1, evict oldest: a login on a second device ends the first.
	second, err := st.Create(ctx, sessions.NewSession{UserID: "usr_1", Username: "jsmith", DeviceID: "dev_2", WarehouseID: "wh_1"}, policy)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(second.Ended), second.Ended[0].Reason, second.Ended[0].DeviceID)

	_, err = st.Validate(ctx, first.Token)
	fmt.Println(errors.Is(err, sessions.ErrNotFound))
	s, err := st.Validate(ctx, second.Token)
	fmt.Println(s.Username, s.DeviceID, err)

	// The first device learns of its logout when it asks (or by push).
	pending, err := st.Pending(ctx, "dev_1")
	fmt.Println(len(pending), pending[0].Reason, err)
	// Output:
	// REDACTED
	// 1 evicted dev_1
	// true
	// jsmith dev_2 <nil>
	// 1 evicted <nil>
}
