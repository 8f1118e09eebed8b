package harness

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
)

// VersityGWVersion is the versitygw release the harness runs (Apache-2.0;
// `go install github.com/versity/versitygw/cmd/versitygw@v1.8.0`).
const VersityGWVersion = "v1.8.0"

// S3 is an S3-compatible server for a test: versitygw with its POSIX
// backend in a temp directory, started by the harness on a free 127.0.0.1
// port, or the server named by SLUICE_IT_S3_ENDPOINT (with
// SLUICE_IT_S3_ACCESS_KEY, SLUICE_IT_S3_SECRET_KEY and SLUICE_IT_S3_REGION;
// MinIO from it/compose.yaml or AWS itself).
type S3 struct {
	// Endpoint is the server's URL (http://127.0.0.1:port).
	Endpoint  string
	AccessKey string
	SecretKey string
	Region    string
	// Dir is the POSIX backend's root (empty for an external server): one
	// directory per bucket, one file per object.
	Dir  string
	proc *Process
}

var s3Buckets atomic.Int64

// StartS3 starts versitygw, or returns the external server of
// SLUICE_IT_S3_ENDPOINT. It is stopped when t ends. versitygw is looked up
// as SLUICE_IT_VERSITYGW, then on PATH, then in $(go env GOPATH)/bin.
func StartS3(t testing.TB) *S3 {
	t.Helper()
	if ep := os.Getenv("SLUICE_IT_S3_ENDPOINT"); ep != "" {
		s := &S3{Endpoint: ep, AccessKey: os.Getenv("SLUICE_IT_S3_ACCESS_KEY"),
			SecretKey: os.Getenv("SLUICE_IT_S3_SECRET_KEY"), Region: envOr("SLUICE_IT_S3_REGION", "us-east-1")}
		if s.AccessKey == "" || s.SecretKey == "" {
			t.Fatalf("harness: SLUICE_IT_S3_ENDPOINT is set but SLUICE_IT_S3_ACCESS_KEY or SLUICE_IT_S3_SECRET_KEY is not")
		}
		return s
	}
	bin := versitygwBinary(t)
	s := &S3{AccessKey: "sluiceit", SecretKey: "sluiceit-secret-key", Region: "us-east-1",
		Dir: TempDir(t, "")}
	port := FreePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	s.Endpoint = "http://" + addr
	cmd := exec.Command(bin, "--port", addr, "--access", s.AccessKey, "--secret", s.SecretKey,
		"--region", s.Region, "--quiet", "posix", s.Dir)
	s.proc = Start(t, "versitygw", cmd)
	t.Cleanup(func() { s.proc.Stop(10 * time.Second) })
	WaitTCP(t, addr, 20*time.Second)
	return s
}

func versitygwBinary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("SLUICE_IT_VERSITYGW"); p != "" {
		return p
	}
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		p := filepath.Join(strings.TrimSpace(string(out)), "bin", "versitygw")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Fatalf("harness: versitygw not found (install it with `go install github.com/versity/versitygw/cmd/versitygw@%s`, as .ci/run does, set SLUICE_IT_VERSITYGW to its path, or point SLUICE_IT_S3_ENDPOINT at an S3 server)", VersityGWVersion)
	return ""
}

// Stop stops a server the harness started (a test of S3 going away).
func (s *S3) Stop(t testing.TB) {
	t.Helper()
	if s.proc == nil {
		t.Fatalf("harness: cannot stop the external S3 server of SLUICE_IT_S3_ENDPOINT")
	}
	s.proc.Stop(10 * time.Second)
}

// Client returns an SDK client for the server (path-style addressing).
// Its idle connections are closed when t ends.
func (s *S3) Client(t testing.TB) *s3.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(tr.CloseIdleConnections)
	return s3.New(s3.Options{
		HTTPClient:   &http.Client{Transport: tr},
		Region:       s.Region,
		BaseEndpoint: aws.String(s.Endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(s.AccessKey, s.SecretKey, ""),
	})
}

// Host returns the server's host:port.
func (s *S3) Host() string {
	u, err := url.Parse(s.Endpoint)
	if err != nil {
		return s.Endpoint
	}
	return u.Host
}

// CreateBucket creates a fresh bucket whose name starts with prefix and
// returns its name.
func (s *S3) CreateBucket(t testing.TB, prefix string) string {
	t.Helper()
	name := fmt.Sprintf("%s-%d-%d", prefix, os.Getpid(), s3Buckets.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := s.Client(t).CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		var ae smithy.APIError
		if errors.As(err, &ae) {
			t.Fatalf("harness: creating bucket %s at %s: %s: %s", name, s.Endpoint, ae.ErrorCode(), ae.ErrorMessage())
		}
		t.Fatalf("harness: creating bucket %s at %s: %v", name, s.Endpoint, err)
	}
	return name
}
