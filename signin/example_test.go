package signin_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/floorgate/floorgate/devices"
	"github.com/floorgate/floorgate/devices/sqlite"
	"github.com/floorgate/floorgate/sessions/memory"
	"github.com/floorgate/floorgate/signin"
	thmemory "github.com/floorgate/floorgate/throttle/memory"
)

// One Policy per process serves every kind of sign-in. Here a user signs
// in with a PIN on an enrolled device: the throttle checks the attempt,
// the PIN is hashed in the bounded pool, a wrong PIN is counted, and a
// right one gets a session.
func ExamplePolicy_Login() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "signin")
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
		Hash:   devices.HashParams{MemoryKiB: 64, Time: 1, Threads: 1}, // cheap for the example
	})
	if err != nil {
		log.Fatal(err)
	}
	policy, err := signin.New(signin.Config{
		Registry: reg,
		Sessions: memory.New(memory.Options{}),
		Throttle: thmemory.New(thmemory.Options{}),
		Pool:     signin.NewPool(2, 0),
	})
	if err != nil {
		log.Fatal(err)
	}

	// A warehouse, a user, a mobile manager and the device they enroll.
	wh, _ := reg.CreateWarehouse(ctx, devices.ActorSystem, devices.WarehouseInput{Name: "Dock North", Code: "NORTH"})
	_, _ = reg.CreateUser(ctx, devices.ActorSystem, devices.UserInput{Username: "jsmith", FirstName: "Jo", LastName: "Smith", WarehouseID: wh.ID, PIN: "4821"})
	_, _ = reg.CreateManager(ctx, devices.ActorSystem, devices.ManagerInput{Email: "mia@example.com", FirstName: "Mia", LastName: "Stone",
		Password: "Correct-Horse-9-battery", Roles: []devices.Role{{Role: devices.RoleMobileManager, WarehouseID: wh.ID}}})
	enrolled, err := policy.Enroll(ctx, signin.Enrollment{Email: "mia@example.com", Password: "Correct-Horse-9-battery",
		ClientIP: "192.0.2.10", Device: devices.EnrollInput{WarehouseID: wh.ID, Serial: "S21-0042"}})
	if err != nil {
		log.Fatal(err)
	}
	set, err := reg.EffectiveSettings(ctx, wh.ID)
	if err != nil {
		log.Fatal(err)
	}

	_, err = policy.Login(ctx, signin.Login{Device: enrolled.Device, Settings: set, Username: "jsmith", PIN: "0000"})
	fmt.Println(errors.Is(err, devices.ErrInvalidCredentials))
	res, err := policy.Login(ctx, signin.Login{Device: enrolled.Device, Settings: set, Username: "JSmith", PIN: "4821"})
	fmt.Println(res.User.Username, res.Created.Session.DeviceID == enrolled.Device.ID, err)
	// The throttle's keys carry their namespace: this username can never
	// count against the manager's sign-in.
	fmt.Println(signin.UserSubject("m:mia@example.com"), signin.ManagerSubject("Mia@Example.com"))
	// Output:
	// true
	// jsmith true <nil>
	// u:m:mia@example.com m:mia@example.com
}
