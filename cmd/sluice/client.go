package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// restClient calls a worker's REST API for the connectors command.
type restClient struct {
	base string
	out  io.Writer
}

func (c *restClient) named(cmd, name string) error {
	p := "/connectors/" + url.PathEscape(name)
	switch cmd {
	case "get":
		return c.do("GET", p, nil)
	case "status":
		return c.do("GET", p+"/status", nil)
	case "offsets":
		return c.do("GET", p+"/offsets", nil)
	case "delete":
		return c.do("DELETE", p, nil)
	case "pause", "resume", "stop":
		return c.do("PUT", p+"/"+cmd, nil)
	case "restart":
		return c.do("POST", p+"/restart?includeTasks=true&onlyFailed=true", nil)
	}
	return fmt.Errorf("unknown command %q", cmd)
}

// do sends a request and prints the answer, indented; an error answer
// becomes the returned error with the worker's message.
func (c *restClient) do(method, path string, body []byte) error {
	req, err := http.NewRequest(method, c.base+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	cl := &http.Client{Timeout: 100 * time.Second}
	resp, err := cl.Do(req)
	if err != nil {
		return fmt.Errorf("calling the worker at %s: %w (is it running? set -url or SLUICE_URL)", c.base, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode >= 400 {
		var e struct {
			Message string `json:"message"`
		}
		if json.Unmarshal(b, &e) == nil && e.Message != "" {
			return fmt.Errorf("%s %s: %d: %s", method, path, resp.StatusCode, e.Message)
		}
		return fmt.Errorf("%s %s: %s", method, path, resp.Status)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		fmt.Fprintln(c.out, resp.Status)
		return nil
	}
	var pretty bytes.Buffer
	if json.Indent(&pretty, b, "", "  ") != nil {
		pretty.Reset()
		pretty.Write(b)
	}
	fmt.Fprintln(c.out, pretty.String())
	return nil
}
