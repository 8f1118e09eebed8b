package rest

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/sluice-cdc/sluice/runtime/api"
	"github.com/sluice-cdc/sluice/runtime/pool/sign"
)

// Backoff between the retries of an internal request that the leader
// refused with a 403 while the session key may have rotated.
const (
	internalRetryBackoff    = 250 * time.Millisecond
	internalRetryMaxBackoff = 5 * time.Second
)

// maxErrorBody bounds how much of a refusal's body InternalClient reads
// for its message.
const maxErrorBody = 64 << 10

// InternalClient sends a follower's internal requests to the pool's
// leader, signed with the session key the worker holds: task configs its
// connector computed, and requests to fence a connector's zombie tasks.
// It is safe for concurrent use.
type InternalClient struct {
	client *http.Client
	cfg    sign.Config
	keys   *sign.Holder

	// now and backoff are replaced by tests.
	now     func() time.Time
	backoff time.Duration
}

// NewInternalClient returns a client that signs with cfg's signature
// algorithm and the current key in keys, and reaches https leaders with
// tlsCfg (nil trusts the system roots). It has no timeout of its own:
// each call's context bounds it.
func NewInternalClient(tlsCfg *tls.Config, cfg sign.Config, keys *sign.Holder) *InternalClient {
	return &InternalClient{client: newForwardingClient(tlsCfg), cfg: cfg, keys: keys, now: time.Now, backoff: internalRetryBackoff}
}

// CloseIdleConnections closes the client's idle connections to other
// workers; call it when the worker stops.
func (c *InternalClient) CloseIdleConnections() { c.client.CloseIdleConnections() }

// RemoteError is another worker's refusal of an internal request: the
// request, the HTTP status and the message of Connect's error body.
type RemoteError struct {
	Method, URL string
	Status      int
	Message     string
}

func (e *RemoteError) Error() string {
	msg := fmt.Sprintf("%s %s: HTTP %d", e.Method, e.URL, e.Status)
	if e.Message != "" {
		msg += ": " + e.Message
	}
	switch e.Status {
	case http.StatusForbidden:
		msg += "; the workers disagree on the pool's session key: check that every worker of the pool reads the same config.storage.topic and accepts inter.worker.signature.algorithm in its inter.worker.verification.algorithms"
	case http.StatusServiceUnavailable:
		msg += "; the receiving worker has not read a session key yet, retry shortly"
	}
	return msg
}

// PutTaskConfigs POSTs configs, the task configs connector's instance
// computed on this worker, to the leader at leaderURL
// (/connectors/{connector}/tasks), signed. A 403 is retried, re-signed
// with the then current key, while sign.KeyMayHaveRotated says so. An
// empty leaderURL is *api.NotLeaderError; a refusal is *RemoteError.
func (c *InternalClient) PutTaskConfigs(ctx context.Context, leaderURL, connector string, configs []map[string]string) error {
	if configs == nil {
		configs = []map[string]string{}
	}
	body, err := json.Marshal(configs)
	if err != nil {
		return fmt.Errorf("encoding the task configs of connector %q: %w", connector, err)
	}
	return c.do(ctx, http.MethodPost, leaderURL, connector, "tasks", body)
}

// FenceZombies asks the leader at leaderURL to fence connector's previous
// task generation (PUT /connectors/{connector}/fence, an empty signed
// body), with PutTaskConfigs' retries and errors.
func (c *InternalClient) FenceZombies(ctx context.Context, leaderURL, connector string) error {
	return c.do(ctx, http.MethodPut, leaderURL, connector, "fence", nil)
}

func (c *InternalClient) do(ctx context.Context, method, leaderURL, connector, endpoint string, body []byte) error {
	if leaderURL == "" {
		return &api.NotLeaderError{}
	}
	u := strings.TrimRight(leaderURL, "/") + "/connectors/" + url.PathEscape(connector) + "/" + endpoint
	first := c.now()
	delay := c.backoff
	for {
		status, msg, err := c.send(ctx, method, u, body)
		if err != nil {
			return err
		}
		if status >= 200 && status < 300 {
			return nil
		}
		if !sign.KeyMayHaveRotated(status, first, c.now()) {
			return &RemoteError{Method: method, URL: u, Status: status, Message: msg}
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%s %s: retrying after HTTP %d (the session key may have rotated): %w", method, u, status, ctx.Err())
		case <-t.C:
		}
		delay = min(2*delay, internalRetryMaxBackoff)
	}
}

// send makes one signed attempt and returns the status and, for a
// refusal, the message of its error body.
func (c *InternalClient) send(ctx context.Context, method, u string, body []byte) (int, string, error) {
	var key sign.Key
	ok := false
	if c.keys != nil {
		key, ok = c.keys.Current()
	}
	if !ok {
		return 0, "", fmt.Errorf("%s %s: %w: this worker has not read the pool's session key from the configs topic; retry once it has", method, u, sign.ErrNoSessionKey)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return 0, "", fmt.Errorf("%s %s: %w", method, u, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if err := c.cfg.Sign(req, body, key); err != nil {
		return 0, "", fmt.Errorf("%s %s: %w", method, u, err)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return 0, "", fmt.Errorf("%s %s: %w", method, u, unwrapURLError(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
		return resp.StatusCode, "", nil
	}
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	var e errorBody
	if json.Unmarshal(raw, &e) == nil && e.Message != "" {
		return resp.StatusCode, e.Message, nil
	}
	msg := strings.TrimSpace(string(raw))
	if len(msg) > 512 {
		msg = msg[:512] + "..."
	}
	return resp.StatusCode, msg, nil
}
