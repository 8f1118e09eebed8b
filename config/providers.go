package config

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// Worker properties that configure config providers (Kafka's KIP-297 and
// KIP-421 names). config.providers.<name>.class and
// config.providers.<name>.param.* are read from the worker's properties
// as given.
const (
	ConfigProviders      = "config.providers"
	providerPrefix       = "config.providers."
	paramAllowedPaths    = "allowed.paths"
	paramAllowlist       = "allowlist.pattern"
	encryptedProvider    = "sluice-encrypted"
	fileProviderClass    = "org.apache.kafka.common.config.provider.FileConfigProvider"
	dirProviderClass     = "org.apache.kafka.common.config.provider.DirectoryConfigProvider"
	envVarProviderClass  = "org.apache.kafka.common.config.provider.EnvVarConfigProvider"
	minScrubbedValueSize = 3
)

// refPattern is Kafka's ConfigTransformer pattern: ${provider:[path:]key}.
var refPattern = regexp.MustCompile(`\$\{([^}]*?):(?:([^}]*?):)?([^}]*?)\}`)

// provider returns the value of key at path, or an error that names
// neither the value nor anything read.
type provider interface {
	get(path, key string) (string, error)
}

// Providers resolves references to the config providers a worker
// configured. With none configured, every reference stays as written, as
// Kafka leaves references to unknown providers. Safe for concurrent use.
type Providers struct {
	byName map[string]provider
}

// NewProviders builds the providers a worker's properties configure:
// config.providers lists names, config.providers.<name>.class picks the
// implementation (Kafka's class names or file, directory, env), and
// config.providers.<name>.param.* configures it.
func NewProviders(props map[string]string) (*Providers, error) {
	p := &Providers{byName: map[string]provider{}}
	for _, name := range splitList(props[ConfigProviders]) {
		if name == encryptedProvider {
			return nil, fmt.Errorf("%s: %q is reserved for values encrypted at rest; pick another provider name", ConfigProviders, name)
		}
		classKey := providerPrefix + name + ".class"
		class := strings.TrimSpace(props[classKey])
		params := Prefixed(props, providerPrefix+name+".param.")
		var err error
		switch class {
		case fileProviderClass, "FileConfigProvider", "file":
			var fp *fileProvider
			fp, err = newFileProvider(name, params)
			p.byName[name] = fp
		case dirProviderClass, "DirectoryConfigProvider", "directory":
			var fp *fileProvider
			fp, err = newFileProvider(name, params)
			p.byName[name] = &dirProvider{fp}
		case envVarProviderClass, "EnvVarConfigProvider", "env":
			p.byName[name], err = newEnvProvider(name, params)
		case "":
			return nil, fmt.Errorf("%s lists %q but %s is not set; set it to file, directory or env (or Kafka's class name)", ConfigProviders, name, classKey)
		default:
			return nil, fmt.Errorf("%s %q: unknown config provider; use %s, %s or %s (or file, directory, env)",
				classKey, class, fileProviderClass, dirProviderClass, envVarProviderClass)
		}
		if err != nil {
			return nil, err
		}
	}
	// Properties of providers that are not listed are a mistake the
	// user wants to hear about: they would be silently ignored.
	for k := range props {
		rest, ok := strings.CutPrefix(k, providerPrefix)
		if !ok {
			continue
		}
		name, _, _ := strings.Cut(rest, ".")
		if _, listed := p.byName[name]; !listed {
			return nil, fmt.Errorf("%s is set but %s does not list %q; add it to %s or remove the property", k, ConfigProviders, name, ConfigProviders)
		}
	}
	return p, nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// Names returns the configured provider names, sorted.
func (p *Providers) Names() []string {
	if p == nil {
		return nil
	}
	return SortedKeys(p.byName)
}

// Resolved is a config whose references were replaced. It remembers what
// each reference resolved to so that messages about the resolved config
// can be shown with the references as written (Scrub).
type Resolved struct {
	// Values is the config with every reference replaced.
	Values map[string]string
	// raw is the config as written, for the properties that held a
	// reference.
	raw map[string]string
	// subs maps each substituted value to the reference it came from.
	subs map[string]string
	// vals holds the keys of subs, longest first, in the order Scrub
	// replaces them; set once subs is complete.
	vals []string
}

// Raw returns the value of key as written when it held a reference.
func (r *Resolved) Raw(key string) (string, bool) {
	if r == nil {
		return "", false
	}
	v, ok := r.raw[key]
	return v, ok
}

// HasValues reports whether r has resolved values for Scrub to hide
// (false for nil).
func (r *Resolved) HasValues() bool { return r != nil && len(r.subs) > 0 }

// Scrub replaces in s every value a reference resolved to by the
// reference as written (longest values first), so that an error about the
// resolved config never shows what a provider returned. Values shorter
// than 3 characters are left alone: replacing them would garble the text
// and they are too short to be secrets worth the name.
func (r *Resolved) Scrub(s string) string {
	if r == nil || len(r.subs) == 0 {
		return s
	}
	for _, v := range r.vals {
		s = strings.ReplaceAll(s, v, r.subs[v])
	}
	return s
}

// order sets vals from subs: longest first, ties in byte order so that
// scrubbing is the same every time.
func (r *Resolved) order() {
	r.vals = r.vals[:0]
	for v := range r.subs {
		r.vals = append(r.vals, v)
	}
	sort.Slice(r.vals, func(i, j int) bool {
		if len(r.vals[i]) != len(r.vals[j]) {
			return len(r.vals[i]) > len(r.vals[j])
		}
		return r.vals[i] < r.vals[j]
	})
}

// ScrubError is Scrub for an error (nil stays nil).
func (r *Resolved) ScrubError(err error) error {
	if err == nil || r == nil || len(r.subs) == 0 {
		return err
	}
	if s := r.Scrub(err.Error()); s != err.Error() {
		return errors.New(s)
	}
	return err
}

// Merge returns a Resolved that scrubs what any of rs resolved (nil
// entries are skipped); its Values are those of the last non-nil one.
func Merge(rs ...*Resolved) *Resolved {
	out := &Resolved{raw: map[string]string{}, subs: map[string]string{}}
	for _, r := range rs {
		if r == nil {
			continue
		}
		out.Values = r.Values
		for k, v := range r.raw {
			out.raw[k] = v
		}
		for k, v := range r.subs {
			out.subs[k] = v
		}
	}
	out.order()
	return out
}

// Hiding returns a copy of r whose Scrub also replaces each of values by
// Hidden: the plain values of sensitive properties, which no reference
// stands for, so that a message echoing one (a driver error quoting a
// DSN) does not show it. Values shorter than 3 characters are left out,
// as in Resolve, and so are values a reference resolved to, which Scrub
// keeps showing as the reference. The copy has r's Values; r is not
// changed (nil r is an empty config).
func (r *Resolved) Hiding(values ...string) *Resolved {
	out := Merge(r)
	for _, v := range values {
		if len(v) < minScrubbedValueSize || v == Hidden {
			continue
		}
		if _, ok := out.subs[v]; !ok {
			out.subs[v] = Hidden
		}
	}
	out.order()
	return out
}

// Resolve replaces provider references in props. It never changes props.
// An error names the property and the reference as written, never a
// value read. A value still holding a ${sluice-encrypted:...} envelope
// (encrypted with a key this worker lacks) is refused.
func (p *Providers) Resolve(props map[string]string) (*Resolved, error) {
	r := &Resolved{Values: make(map[string]string, len(props)), raw: map[string]string{}, subs: map[string]string{}}
	var errs []string
	for _, k := range SortedKeys(props) {
		v := props[k]
		if !strings.Contains(v, "${") {
			r.Values[k] = v
			continue
		}
		out, err := p.resolveValue(k, v, r.subs)
		if err != nil {
			errs = append(errs, err.Error())
			out = v
		}
		if out != v {
			r.raw[k] = v
		}
		r.Values[k] = out
	}
	r.order()
	if len(errs) > 0 {
		return r, errors.New(strings.Join(errs, "; "))
	}
	return r, nil
}

func (p *Providers) resolveValue(prop, v string, subs map[string]string) (string, error) {
	var firstErr error
	out := refPattern.ReplaceAllStringFunc(v, func(ref string) string {
		m := refPattern.FindStringSubmatch(ref)
		name, path, key := m[1], m[2], m[3]
		if name == encryptedProvider {
			if firstErr == nil {
				id, _, _ := strings.Cut(strings.TrimPrefix(ref[len("${"+encryptedProvider+":"):], "v1:"), ":")
				firstErr = fmt.Errorf("%s is encrypted with key id %s, which this worker does not have; "+
					"add that key to config.encryption.previous.keys (or set it as config.encryption.key), or send the value again", prop, id)
			}
			return ref
		}
		var pr provider
		if p != nil {
			pr = p.byName[name]
		}
		if pr == nil {
			return ref // unknown providers are left as written, as Kafka does
		}
		val, err := pr.get(path, key)
		if err != nil {
			if firstErr == nil {
				firstErr = fmt.Errorf("%s: resolving %s: %w", prop, ref, err)
			}
			return ref
		}
		if len(val) >= minScrubbedValueSize {
			subs[val] = ref
		}
		return val
	})
	if firstErr != nil {
		return v, firstErr
	}
	return out, nil
}

// fileProvider is Kafka's FileConfigProvider: ${name:path:key} is key of
// the properties file at path. allowed.paths (KIP-993) limits the paths.
type fileProvider struct {
	name    string
	allowed []string // cleaned, symlink-free absolute paths; nil allows every path
}

func newFileProvider(name string, params map[string]string) (*fileProvider, error) {
	fp := &fileProvider{name: name}
	prop := providerPrefix + name + ".param." + paramAllowedPaths
	raw, set := params[paramAllowedPaths]
	if !set {
		return fp, nil
	}
	for _, a := range splitList(raw) {
		if !filepath.IsAbs(a) {
			return nil, fmt.Errorf("%s: %q is not an absolute path; list absolute paths, comma-separated", prop, a)
		}
		// Both the path as written and its real form, so that the check
		// before opening (as written) and after (real) agree.
		a = filepath.Clean(a)
		fp.allowed = append(fp.allowed, a)
		if real, err := filepath.EvalSymlinks(a); err == nil && real != a {
			fp.allowed = append(fp.allowed, real)
		}
	}
	if len(fp.allowed) == 0 {
		return nil, fmt.Errorf("%s is empty; list the absolute paths the provider may read, or remove it to allow every path", prop)
	}
	return fp, nil
}

// check returns path, absolute with symlinks and .. resolved, when it lies
// under an allowed path. The path is checked before it is opened too, so
// that the answer does not tell whether a file outside the allowed paths
// exists.
func (fp *fileProvider) check(path string) (string, error) {
	if !filepath.IsAbs(path) {
		return "", fmt.Errorf("%q is not an absolute path", path)
	}
	clean := filepath.Clean(path)
	if !fp.allows(clean) {
		return "", fp.refused(path)
	}
	real, err := filepath.EvalSymlinks(clean)
	if err != nil {
		// Say why without echoing anything read.
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return "", fmt.Errorf("cannot read %s: %v", path, err)
	}
	if !fp.allows(real) {
		return "", fp.refused(path)
	}
	return real, nil
}

func (fp *fileProvider) allows(p string) bool {
	if fp.allowed == nil {
		return true
	}
	for _, a := range fp.allowed {
		if p == a || strings.HasPrefix(p, a+string(filepath.Separator)) || a == string(filepath.Separator) {
			return true
		}
	}
	return false
}

func (fp *fileProvider) refused(path string) error {
	return fmt.Errorf("path %s is not allowed by %s%s.param.%s; add its directory there or use an allowed path",
		path, providerPrefix, fp.name, paramAllowedPaths)
}

func (fp *fileProvider) get(path, key string) (string, error) {
	if path == "" {
		return "", fmt.Errorf("expected ${%s:path:key}", fp.name)
	}
	real, err := fp.check(path)
	if err != nil {
		return "", err
	}
	m, err := ReadProperties(real)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return "", fmt.Errorf("cannot read %s: %v", path, err)
	}
	v, ok := m[key]
	if !ok {
		return "", fmt.Errorf("key %q is not in %s", key, path)
	}
	return v, nil
}

// dirProvider is Kafka's DirectoryConfigProvider: ${name:dir:file} is the
// content of the regular file named file in directory dir.
type dirProvider struct{ fp *fileProvider }

func (d *dirProvider) get(dir, file string) (string, error) {
	if dir == "" {
		return "", fmt.Errorf("expected ${%s:directory:file}", d.fp.name)
	}
	if file == "" || file == "." || file == ".." || strings.ContainsAny(file, `/\`) {
		return "", fmt.Errorf("%q is not a file name; name a file directly inside %s", file, dir)
	}
	realDir, err := d.fp.check(dir)
	if err != nil {
		return "", err
	}
	real, err := d.fp.check(filepath.Join(realDir, file))
	if err != nil {
		return "", err
	}
	st, err := os.Stat(real)
	if err != nil || !st.Mode().IsRegular() {
		return "", fmt.Errorf("%s is not a regular file in %s", file, dir)
	}
	b, err := os.ReadFile(real)
	if err != nil {
		return "", fmt.Errorf("cannot read %s in %s", file, dir)
	}
	return string(b), nil
}

// envProvider is Kafka's EnvVarConfigProvider: ${name:VAR} (or
// ${name::VAR}) is the environment variable VAR, when its name fully
// matches allowlist.pattern (KIP-887; default .*).
type envProvider struct {
	name  string
	allow *regexp.Regexp
}

func newEnvProvider(name string, params map[string]string) (*envProvider, error) {
	pat := ".*"
	if s, ok := params[paramAllowlist]; ok {
		pat = s
	}
	re, err := regexp.Compile("^(?:" + pat + ")$")
	if err != nil {
		return nil, fmt.Errorf("%s%s.param.%s %q: not a regular expression: %v", providerPrefix, name, paramAllowlist, pat, err)
	}
	return &envProvider{name: name, allow: re}, nil
}

func (e *envProvider) get(path, key string) (string, error) {
	if path != "" {
		return "", fmt.Errorf("the env provider takes no path; write ${%s:VARIABLE}", e.name)
	}
	if !e.allow.MatchString(key) {
		return "", fmt.Errorf("environment variable %s is not allowed by %s%s.param.%s", key, providerPrefix, e.name, paramAllowlist)
	}
	v, ok := os.LookupEnv(key)
	if !ok {
		return "", fmt.Errorf("environment variable %s is not set", key)
	}
	return v, nil
}

// ReadProperties reads a Java-style .properties file (key=value or
// key: value, # and ! comments, trailing-backslash continuations).
func ReadProperties(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ParseProperties(bufio.NewScanner(f))
}

// ParseProperties parses .properties text from s.
func ParseProperties(s *bufio.Scanner) (map[string]string, error) {
	out := map[string]string{}
	var pending string
	for s.Scan() {
		line := strings.TrimLeft(s.Text(), " \t")
		if pending == "" && (line == "" || line[0] == '#' || line[0] == '!') {
			continue
		}
		if strings.HasSuffix(line, "\\") && !strings.HasSuffix(line, "\\\\") {
			pending += line[:len(line)-1]
			continue
		}
		line = pending + line
		pending = ""
		i := strings.IndexAny(line, "=:")
		if i < 0 {
			out[strings.TrimSpace(line)] = ""
			continue
		}
		out[strings.TrimSpace(line[:i])] = strings.TrimSpace(line[i+1:])
	}
	if pending != "" {
		i := strings.IndexAny(pending, "=:")
		if i >= 0 {
			out[strings.TrimSpace(pending[:i])] = strings.TrimSpace(pending[i+1:])
		}
	}
	return out, s.Err()
}
