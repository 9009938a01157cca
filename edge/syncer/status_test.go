package syncer

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/pantry/pantry/syncproto"
)

// pullBeforeStatus is PullRequest as a cloud released before capability 2
// declares it: today's type without Status. Its decoder refuses unknown
// fields, so such a cloud refuses a pull that carries a status.
type pullBeforeStatus struct {
	Version         int              `json:"version"`
	NodeID          string           `json:"node_id"`
	SoftwareVersion string           `json:"software_version"`
	Cursor          syncproto.Cursor `json:"cursor"`
	WaitSeconds     int              `json:"wait_seconds"`
	SentAt          time.Time        `json:"sent_at"`
	OutboxHead      int64            `json:"outbox_head"`
}

// TestEdgeStatusOnlyToACloudThatDecodesIt: the edge reports its status
// (tablets online, the oldest waiting event) in a pull only once the
// cloud has named capability 2 in an answer. A cloud from before says
// nothing, gets no status, and so never refuses a pull over it.
func TestEdgeStatusOnlyToACloudThatDecodesIt(t *testing.T) {
	r := newRig(t, 3, 1, 100) // events 2 and 3 wait
	r.w.cfg.Status = func() syncproto.EdgeStatus { return syncproto.EdgeStatus{TabletsOnline: 4} }
	events, err := r.store.Outbox(t.Context(), 1, 1)
	if err != nil || len(events) != 1 {
		t.Fatalf("outbox: %v %v", events, err)
	}
	oldest := events[0].CreatedAt

	for _, tc := range []struct {
		name       string
		capability string // what the cloud names; "" is a cloud from before the header
		want       bool   // whether the second pull carries a status
	}{
		{"CloudBeforeTheHeader", "", false},
		{"CloudAtCapability1", "1", false},
		{"CloudAtCapability2", strconv.Itoa(syncproto.CapabilityEdgeStatus), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []*syncproto.EdgeStatus
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
				if tc.capability != "" {
					w.Header().Set(syncproto.HeaderCapability, tc.capability)
				}
				body, err := io.ReadAll(req.Body)
				if err != nil {
					http.Error(w, err.Error(), http.StatusBadRequest)
					return
				}
				if !tc.want { // that cloud's own decoder
					var old pullBeforeStatus
					if err := syncproto.Decode(body, false, &old); err != nil {
						http.Error(w, err.Error(), http.StatusBadRequest)
						return
					}
				}
				var pr syncproto.PullRequest
				if err := syncproto.Decode(body, false, &pr); err != nil {
					http.Error(w, err.Error(), http.StatusBadRequest)
					return
				}
				got = append(got, pr.Status)
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(`{"version":1,"cursor":{"config_revision":1,"stock_seq":0},"stock":[],"more":false,"server_time":"2026-12-07T10:00:00Z"}`))
			}))
			defer srv.Close()
			client := &Client{BaseURL: srv.URL, Credential: "node-secret"}
			r.w.client = client
			for range 2 {
				req := syncproto.PullRequest{Version: syncproto.Version, NodeID: r.w.cfg.Identity.NodeID, Status: r.w.edgeStatus(t.Context())}
				if _, err := client.Pull(t.Context(), req); err != nil {
					t.Fatalf("pull: %v", err)
				}
			}
			if got[0] != nil {
				t.Fatalf("the first pull, before the cloud said anything, carried a status: %+v", got[0])
			}
			if !tc.want {
				if got[1] != nil {
					t.Fatalf("a status went to a cloud that does not decode it: %+v", got[1])
				}
				return
			}
			if st := got[1]; st == nil || st.TabletsOnline != 4 || st.OutboxOldestAt == nil || !st.OutboxOldestAt.Equal(oldest) {
				t.Fatalf("status %+v, want 4 tablets and the oldest waiting event at %s", st, oldest)
			}
		})
	}
}
