package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// restClient calls a worker's REST API for the connectors command.
type restClient struct {
	base string
	out  io.Writer
	http *http.Client
	// auth sets the request's credentials; nil sends none.
	auth func(*http.Request)
}

// clientOptions are the connectors command's connection flags.
type clientOptions struct {
	url          string
	user         string
	password     string // from SLUICE_PASSWORD
	passwordFile string
	token        string
	cacert       string
	cert, key    string
}

// newRestClient checks the connection flags and builds the client.
func newRestClient(o clientOptions, out io.Writer) (*restClient, error) {
	c := &restClient{base: strings.TrimRight(o.url, "/"), out: out}
	u, err := url.Parse(c.base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("-url %q: expected http://host:port or https://host:port", o.url)
	}
	switch {
	case o.user != "" && o.token != "":
		return nil, fmt.Errorf("-user and -token (or SLUICE_TOKEN) are both set; authenticate one way")
	case o.user != "":
		pass := o.password
		if o.passwordFile != "" {
			b, err := os.ReadFile(o.passwordFile)
			if err != nil {
				return nil, fmt.Errorf("-password-file: %w", err)
			}
			pass = strings.TrimRight(string(b), "\r\n")
		}
		if pass == "" {
			return nil, fmt.Errorf("-user %s needs a password: set SLUICE_PASSWORD or -password-file FILE", o.user)
		}
		user := o.user
		c.auth = func(r *http.Request) { r.SetBasicAuth(user, pass) }
	case o.token != "":
		tok := o.token
		c.auth = func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }
	case o.passwordFile != "":
		return nil, fmt.Errorf("-password-file is set without -user; add -user NAME (or SLUICE_USER)")
	}

	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if o.cacert != "" {
		pem, err := os.ReadFile(o.cacert)
		if err != nil {
			return nil, fmt.Errorf("-cacert: %w", err)
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("-cacert %s: no PEM certificate in the file", o.cacert)
		}
	}
	if (o.cert == "") != (o.key == "") {
		return nil, fmt.Errorf("-cert and -key go together: the client certificate (PEM) and its private key (PEM)")
	}
	if o.cert != "" {
		pair, err := tls.LoadX509KeyPair(o.cert, o.key)
		if err != nil {
			return nil, fmt.Errorf("-cert %s / -key %s: %w", o.cert, o.key, err)
		}
		tc.Certificates = []tls.Certificate{pair}
	}
	if u.Scheme == "http" && (o.cacert != "" || o.cert != "") {
		return nil, fmt.Errorf("-cacert, -cert and -key are for https; use an https:// -url")
	}
	c.http = &http.Client{Timeout: 100 * time.Second, Transport: &http.Transport{TLSClientConfig: tc, Proxy: http.ProxyFromEnvironment}}
	return c, nil
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
	if c.auth != nil {
		c.auth(req)
	}
	resp, err := c.http.Do(req)
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
		hint := ""
		if resp.StatusCode == http.StatusUnauthorized {
			hint = " (pass -user with SLUICE_PASSWORD or -password-file, -token or SLUICE_TOKEN, or -cert and -key)"
		}
		if json.Unmarshal(b, &e) == nil && e.Message != "" {
			return fmt.Errorf("%s %s: %d: %s%s", method, path, resp.StatusCode, e.Message, hint)
		}
		return fmt.Errorf("%s %s: %s%s", method, path, resp.Status, hint)
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
