package auth

import (
	"testing"
	"time"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/internal/pantry"
)

func TestThrottleDecide(t *testing.T) {
	t.Parallel()
	p := DefaultThrottlePolicy()
	ago := func(d time.Duration) time.Time { return t0.Add(-d) }
	for _, tc := range []struct {
		name             string
		account, address cloud.LoginFailures
		want             Throttle
	}{
		{"NoFailures", cloud.LoginFailures{}, cloud.LoginFailures{}, Throttle{Allowed: true}},
		{"FourAccountFailures", failures(4, ago(time.Minute)), failures(4, ago(time.Minute)), Throttle{Allowed: true}},
		{"FiveAccountFailures", failures(5, ago(5*time.Minute)), failures(5, ago(5*time.Minute)),
			Throttle{RetryAfter: 10 * time.Minute}},
		{"AccountBlockAlmostOver", failures(5, ago(15*time.Minute-300*time.Millisecond)), cloud.LoginFailures{},
			Throttle{RetryAfter: time.Second}},
		{"AccountFailuresJustNow", failures(7, t0), cloud.LoginFailures{}, Throttle{RetryAfter: 15 * time.Minute}},
		{"FortyNineAddressFailures", cloud.LoginFailures{}, failures(49, ago(time.Minute)), Throttle{Allowed: true}},
		{"FiftyAddressFailures", failures(1, ago(time.Minute)), failures(50, ago(14*time.Minute)),
			Throttle{RetryAfter: time.Minute}},
		{"BothBlockedLongerWins", failures(5, ago(14*time.Minute)), failures(60, ago(2*time.Minute)),
			Throttle{RetryAfter: 13 * time.Minute}},
		{"RoundsUpToSeconds", failures(5, ago(10*time.Minute+500*time.Millisecond)), cloud.LoginFailures{},
			Throttle{RetryAfter: 5 * time.Minute}},
		{"NoOldestBlocksWholeWindow", cloud.LoginFailures{Count: 5}, cloud.LoginFailures{}, Throttle{RetryAfter: 15 * time.Minute}},
		{"OldestInFutureClamped", failures(5, t0.Add(time.Hour)), cloud.LoginFailures{}, Throttle{RetryAfter: 15 * time.Minute}},
		{"OldestOutsideWindowStillOneSecond", failures(5, ago(time.Hour)), cloud.LoginFailures{}, Throttle{RetryAfter: time.Second}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := p.Decide(tc.account, tc.address, t0); got != tc.want {
				t.Fatalf("Decide=%+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestThrottleZeroPolicyRefuses(t *testing.T) {
	t.Parallel()
	got := ThrottlePolicy{}.Decide(cloud.LoginFailures{}, cloud.LoginFailures{}, t0)
	if got.Allowed || got.RetryAfter < time.Second {
		t.Fatalf("zero policy: %+v, want refused with a retry-after", got)
	}
}

func TestThrottleErr(t *testing.T) {
	t.Parallel()
	if err := (Throttle{Allowed: true}).Err(); err != nil {
		t.Fatalf("allowed Err()=%v", err)
	}
	err := Throttle{RetryAfter: 90 * time.Second}.Err()
	if got, want := pantry.ErrorCode(err), pantry.ERATELIMITED; got != want {
		t.Fatalf("code=%q, want %q", got, want)
	}
	if got, want := pantry.ErrorMessage(err), "too many failed logins; try again in 90 seconds"; got != want {
		t.Fatalf("message=%q, want %q", got, want)
	}
	if got, want := DefaultThrottlePolicy().WindowStart(t0), t0.Add(-15*time.Minute); !got.Equal(want) {
		t.Fatalf("WindowStart=%v, want %v", got, want)
	}
}

func failures(count int, oldest time.Time) cloud.LoginFailures {
	return cloud.LoginFailures{Count: count, Oldest: oldest}
}
