package devices_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/floorgate/floorgate/devices"
	"github.com/floorgate/floorgate/devices/sqlite"
)

// A Registry applies the registry's rules (normalised usernames, the PIN
// policy, hashing with the pepper, audit events) over a Store: here the
// embedded SQLite one.
func ExampleRegistry() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "registry")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	store, err := sqlite.Open(ctx, filepath.Join(dir, "registry.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	reg, err := devices.NewRegistry(store, devices.Options{
		Pepper: []byte("at least fourteen bytes of secret pepper"),
		Hash:   devices.HashParams{MemoryKiB: 64, Time: 1, Threads: 1}, // cheap for the example; keep the defaults in production
	})
	if err != nil {
		log.Fatal(err)
	}

	wh, err := reg.CreateWarehouse(ctx, devices.ActorSystem, devices.WarehouseInput{Name: "Dock North", Code: "NORTH"})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := reg.CreateUser(ctx, devices.ActorSystem, devices.UserInput{
		Username: "JSmith", FirstName: "Jo", LastName: "Smith", WarehouseID: wh.ID, PIN: "4821",
	}); err != nil {
		log.Fatal(err)
	}
	// A PIN that breaks the policy is refused with the rule it breaks.
	_, err = reg.CreateUser(ctx, devices.ActorSystem, devices.UserInput{
		Username: "amy", FirstName: "Amy", LastName: "Lee", WarehouseID: wh.ID, PIN: "1234",
	})
	var pe *devices.PolicyError
	fmt.Println("weak PIN:", errors.As(err, &pe), pe.Rule)

	// Usernames are matched by their normalised key.
	u, err := reg.AuthenticateUser(ctx, "jsmith", "4821")
	fmt.Println(u.Username, u.FirstName, err)
	_, err = reg.AuthenticateUser(ctx, "jsmith", "0000")
	fmt.Println(errors.Is(err, devices.ErrInvalidCredentials))
	// Output:
	// weak PIN: true sequence
	// JSmith Jo <nil>
	// true
}
