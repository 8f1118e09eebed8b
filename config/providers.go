package config

import (
	"bufio"
	"fmt"
	"os"
	"strings"
)

// Resolve replaces config provider references in values: ${env:VAR} with
// the environment variable and ${file:path:key} with key from the
// properties file at path (Kafka's FileConfigProvider). It returns a new
// map and never changes props. Resolution happens when a task or connector
// starts; resolved values are never written back to a topic.
func Resolve(props map[string]string) (map[string]string, error) {
	out := make(map[string]string, len(props))
	files := map[string]map[string]string{}
	for k, v := range props {
		r, err := resolveValue(v, files)
		if err != nil {
			return nil, fmt.Errorf("resolving %s: %w", k, err)
		}
		out[k] = r
	}
	return out, nil
}

func resolveValue(v string, files map[string]map[string]string) (string, error) {
	if !strings.Contains(v, "${") {
		return v, nil
	}
	var b strings.Builder
	for {
		i := strings.Index(v, "${")
		if i < 0 {
			b.WriteString(v)
			return b.String(), nil
		}
		j := strings.IndexByte(v[i:], '}')
		if j < 0 {
			b.WriteString(v)
			return b.String(), nil
		}
		ref := v[i+2 : i+j]
		b.WriteString(v[:i])
		v = v[i+j+1:]
		provider, rest, ok := strings.Cut(ref, ":")
		if !ok {
			b.WriteString("${" + ref + "}")
			continue
		}
		switch provider {
		case "env":
			val, ok := os.LookupEnv(rest)
			if !ok {
				return "", fmt.Errorf("${env:%s}: environment variable %s is not set", rest, rest)
			}
			b.WriteString(val)
		case "file":
			i := strings.LastIndexByte(rest, ':')
			if i < 0 {
				return "", fmt.Errorf("${file:%s}: expected ${file:path:key}", rest)
			}
			path, key := rest[:i], rest[i+1:]
			m, ok := files[path]
			if !ok {
				var err error
				if m, err = ReadProperties(path); err != nil {
					return "", fmt.Errorf("${file:%s}: %w", rest, err)
				}
				files[path] = m
			}
			val, ok := m[key]
			if !ok {
				return "", fmt.Errorf("${file:%s}: key %q is not in %s", rest, key, path)
			}
			b.WriteString(val)
		default:
			// Unknown providers are left as they are, as Kafka does.
			b.WriteString("${" + ref + "}")
		}
	}
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
