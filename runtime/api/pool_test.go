package api_test

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/sluice-cdc/sluice/runtime/api"
)

// TestPoolErrors: the pool's errors are 409s, keep their messages when
// wrapped, and say where the request must go.
func TestPoolErrors(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{&api.NotLeaderError{}, api.NoLeaderMessage},
		{&api.NotLeaderError{LeaderURL: "http://w1:8083"},
			"Cannot complete request: this worker is not the leader of its pool; the leader is at http://w1:8083"},
		{&api.NotOwnerError{OwnerURL: "https://w2:8443", What: "task c1-0"},
			"Cannot complete request: task c1-0 runs on another worker, at https://w2:8443"},
		{&api.NotOwnerError{What: "connector c1"},
			"Cannot complete request momentarily: no worker is known to run connector c1, likely because a rebalance was underway; retry once it has been assigned"},
	} {
		wrapped := fmt.Errorf("creating connector c1: %w", tc.err)
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("message %q, want %q", got, tc.want)
		}
		if got := api.StatusOf(wrapped); got != http.StatusConflict {
			t.Errorf("%v: status %d, want 409", tc.err, got)
		}
		var nl *api.NotLeaderError
		var no *api.NotOwnerError
		if !errors.As(wrapped, &nl) && !errors.As(wrapped, &no) {
			t.Errorf("%v: the typed error is lost when wrapped", tc.err)
		}
	}
}
