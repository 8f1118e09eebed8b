package broker

import (
	"crypto/tls"
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// User is a SASL user of the embedded broker.
type User struct {
	Mechanism string // PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512
	Name      string
	Password  string
}

// ParseUser parses mechanism:user:password (the password may hold colons).
func ParseUser(s string) (User, error) {
	parts := strings.SplitN(s, ":", 3)
	if len(parts) != 3 || parts[1] == "" {
		return User{}, fmt.Errorf("SASL user must be MECHANISM:USER:PASSWORD (MECHANISM one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512)")
	}
	u := User{Mechanism: strings.ToUpper(parts[0]), Name: parts[1], Password: parts[2]}
	switch u.Mechanism {
	case "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512":
	default:
		return User{}, fmt.Errorf("SASL user %s: mechanism %q is not supported by the embedded broker; use PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", u.Name, parts[0])
	}
	return u, nil
}

// ACL is an access rule of the embedded broker, as kafka-acls.sh writes
// them.
type ACL struct {
	Principal string // User:<name>
	Resource  kmsg.ACLResourceType
	Name      string
	Pattern   kmsg.ACLResourcePatternType
	Operation kmsg.ACLOperation
	Allow     bool
}

// ParseACL parses an ACL written as comma-separated kafka-acls.sh options:
//
//	principal=User:alice,operation=Write,topic=orders[,pattern=prefixed][,deny]
//
// with exactly one resource: topic=NAME, group=NAME, transactional-id=NAME
// or cluster. NAME may be * for every resource of the type.
func ParseACL(s string) (ACL, error) {
	a := ACL{Allow: true, Pattern: kmsg.ACLResourcePatternTypeLiteral}
	resources := 0
	for _, f := range strings.Split(s, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(f), "=")
		switch strings.ToLower(k) {
		case "principal":
			if !strings.HasPrefix(v, "User:") || len(v) == len("User:") {
				return ACL{}, fmt.Errorf("ACL %q: principal must be User:<name>", s)
			}
			a.Principal = v
		case "operation":
			op, err := kmsg.ParseACLOperation(strings.ToLower(strings.ReplaceAll(v, "-", "_")))
			if err != nil || op == kmsg.ACLOperationUnknown || op == kmsg.ACLOperationAny {
				return ACL{}, fmt.Errorf("ACL %q: unknown operation %q; use All, Read, Write, Create, Delete, Alter, Describe, ClusterAction, DescribeConfigs, AlterConfigs or IdempotentWrite", s, v)
			}
			a.Operation = op
		case "topic":
			a.Resource, a.Name = kmsg.ACLResourceTypeTopic, v
			resources++
		case "group":
			a.Resource, a.Name = kmsg.ACLResourceTypeGroup, v
			resources++
		case "transactional-id":
			a.Resource, a.Name = kmsg.ACLResourceTypeTransactionalId, v
			resources++
		case "cluster":
			a.Resource, a.Name = kmsg.ACLResourceTypeCluster, "kafka-cluster"
			resources++
		case "pattern":
			switch strings.ToLower(v) {
			case "literal":
			case "prefixed":
				a.Pattern = kmsg.ACLResourcePatternTypePrefixed
			default:
				return ACL{}, fmt.Errorf("ACL %q: pattern must be literal or prefixed", s)
			}
		case "allow":
			a.Allow = true
		case "deny":
			a.Allow = false
		default:
			return ACL{}, fmt.Errorf("ACL %q: unknown field %q; write principal=User:NAME,operation=OP,topic=NAME (or group=, transactional-id=, cluster)[,pattern=prefixed][,deny]", s, k)
		}
	}
	switch {
	case a.Principal == "":
		return ACL{}, fmt.Errorf("ACL %q: principal=User:<name> is missing", s)
	case a.Operation == 0:
		return ACL{}, fmt.Errorf("ACL %q: operation= is missing", s)
	case resources != 1:
		return ACL{}, fmt.Errorf("ACL %q: give exactly one resource (topic=, group=, transactional-id= or cluster)", s)
	case a.Name == "":
		return ACL{}, fmt.Errorf("ACL %q: the resource name is empty (use * for all)", s)
	}
	if a.Name == "*" {
		a.Pattern = kmsg.ACLResourcePatternTypeLiteral
	}
	return a, nil
}

// Security is the embedded broker's authentication and authorization.
type Security struct {
	// Users authenticate with SASL; with none, the broker takes no SASL.
	Users []User
	// Superusers, by name (each must be in Users), bypass ACLs.
	Superusers []string
	// ACLs, when any is given, turn authorization on: everything not
	// allowed is denied.
	ACLs []ACL
	// TLS, when set, makes the listener speak TLS only.
	TLS *tls.Config
}

// WithSecurity configures SASL users, ACLs and TLS.
func WithSecurity(s Security) Option {
	return func(o *options) { o.security = s }
}

// kfakeOpts turns s into kfake options.
func (s Security) kfakeOpts() ([]kfake.Opt, error) {
	var opts []kfake.Opt
	if s.TLS != nil {
		opts = append(opts, kfake.TLS(s.TLS))
	}
	if len(s.Users) == 0 {
		if len(s.Superusers) > 0 || len(s.ACLs) > 0 {
			return nil, fmt.Errorf("superusers and ACLs need SASL users: add --sasl-user MECHANISM:USER:PASSWORD")
		}
		return opts, nil
	}
	super := map[string]bool{}
	for _, n := range s.Superusers {
		super[n] = true
	}
	known := map[string]bool{}
	for _, u := range s.Users {
		known[u.Name] = true
	}
	for n := range super {
		if !known[n] {
			return nil, fmt.Errorf("superuser %s has no SASL user: add --sasl-user MECHANISM:%s:PASSWORD", n, n)
		}
	}
	byUser := map[string][]kfake.ACL{}
	for _, a := range s.ACLs {
		name := strings.TrimPrefix(a.Principal, "User:")
		if !known[name] {
			return nil, fmt.Errorf("ACL for %s: no SASL user %s; add --sasl-user MECHANISM:%s:PASSWORD", a.Principal, name, name)
		}
		byUser[name] = append(byUser[name], kfake.ACL{Resource: a.Resource, Name: a.Name, Pattern: a.Pattern, Operation: a.Operation, Allow: a.Allow})
	}
	opts = append(opts, kfake.EnableSASL())
	// Authorization is on as soon as there is a superuser or an ACL:
	// without either, every authenticated user may do everything.
	if len(s.ACLs) > 0 || len(super) > 0 {
		opts = append(opts, kfake.EnableACLs())
	}
	seeded := map[string]bool{}
	for _, u := range s.Users {
		if super[u.Name] {
			opts = append(opts, kfake.Superuser(u.Mechanism, u.Name, u.Password))
			continue
		}
		var acls []kfake.ACL
		if !seeded[u.Name] {
			acls, seeded[u.Name] = byUser[u.Name], true
		}
		opts = append(opts, kfake.User(u.Mechanism, u.Name, u.Password, acls...))
	}
	return opts, nil
}
