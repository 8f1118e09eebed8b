package pgtypes

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"

	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/connectors/cdc"
)

// Geometric types, as PostgresValueConverter maps them: point is
// io.debezium.data.geometry.Point; box, lseg, path and polygon are
// io.debezium.data.geometry.Geometry (little-endian WKB line string or
// polygon, no SRID, the PostgreSQL type in the "type" extension); circle
// and line have structs of their own. The Geometry, Circle and Line
// schemas are optional whatever the column says, as Debezium's builders
// make them.

// WKB geometry types (OGC).
const (
	wkbPoint      = 1
	wkbLineString = 2
	wkbPolygon    = 3
)

// PointSchema is Debezium's schema for the point type.
func PointSchema(optional bool) *connectors.Schema {
	s := connectors.NewStruct(cdc.PointName, optional,
		connectors.Opt("x", connectors.Float64Schema),
		connectors.Opt("y", connectors.Float64Schema),
		connectors.Opt("wkb", connectors.OptionalBytesSchema),
		connectors.Opt("srid", connectors.OptionalInt32Schema))
	s.Version = 1
	s.Doc = "Geometry (POINT)"
	return s
}

// GeometrySchema is Debezium's Geometry.builder(): version 2, always
// optional, with the extensions map.
func GeometrySchema() *connectors.Schema {
	ext := &connectors.Schema{Type: connectors.Map, Optional: true, Keys: connectors.StringSchema, Values: connectors.StringSchema}
	s := connectors.NewStruct(cdc.GeometryName, true,
		connectors.Opt("wkb", connectors.BytesSchema),
		connectors.Opt("srid", connectors.OptionalInt32Schema),
		connectors.Opt("extensions", ext))
	s.Version = 2
	s.Doc = "Geometry"
	return s
}

// CircleSchema is Debezium's Circle.builder().
func CircleSchema() *connectors.Schema {
	s := connectors.NewStruct(cdc.CircleName, true,
		connectors.Opt("center", PointSchema(false)),
		connectors.Opt("radius", connectors.Float64Schema))
	s.Version = 1
	s.Doc = "Geometry (CIRCLE)"
	return s
}

// LineSchema is Debezium's Line.builder().
func LineSchema() *connectors.Schema {
	s := connectors.NewStruct(cdc.LineName, true,
		connectors.Opt("a", connectors.Float64Schema),
		connectors.Opt("b", connectors.Float64Schema),
		connectors.Opt("c", connectors.Float64Schema))
	s.Version = 1
	s.Doc = "Geometry (LINE)"
	return s
}

// geomNumbers parses the numbers of a geometric value's text form
// ("((0,0),(1,1))", "<(1,1),2>", "{1,-1,0}"), ignoring the brackets.
func geomNumbers(b []byte) ([]float64, error) {
	var out []float64
	start := -1
	flush := func(end int) error {
		if start < 0 {
			return nil
		}
		f, err := strconv.ParseFloat(bstr(b[start:end]), 64)
		if err != nil {
			return err
		}
		out = append(out, f)
		start = -1
		return nil
	}
	for i, c := range b {
		switch c {
		case '(', ')', '[', ']', '{', '}', '<', '>', ',', ' ':
			if err := flush(i); err != nil {
				return nil, err
			}
		default:
			if start < 0 {
				start = i
			}
		}
	}
	if err := flush(len(b)); err != nil {
		return nil, err
	}
	return out, nil
}

func wkbHeader(n int, typ uint32) []byte {
	b := make([]byte, 5, n)
	b[0] = 1 // little endian
	binary.LittleEndian.PutUint32(b[1:], typ)
	return b
}

func appendPoints(b []byte, pts []float64) []byte {
	b = binary.LittleEndian.AppendUint32(b, uint32(len(pts)/2))
	for _, f := range pts {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(f))
	}
	return b
}

// wkbLine is WkbWriter.buildLineString.
func wkbLine(pts []float64) []byte {
	return appendPoints(wkbHeader(9+8*len(pts), wkbLineString), pts)
}

// wkbRing is WkbWriter.buildPolygon with one ring.
func wkbRing(pts []float64) []byte {
	b := wkbHeader(13+8*len(pts), wkbPolygon)
	b = binary.LittleEndian.AppendUint32(b, 1)
	return appendPoints(b, pts)
}

func geometryValue(s *connectors.Schema, wkb []byte, ext []connectors.MapEntry) *connectors.StructValue {
	v := connectors.NewStructValue(s)
	v.Values[0] = wkb
	v.Values[2] = ext
	return v
}

// geometryConverter converts box, lseg, path and polygon as
// PostgresValueConverter's convertBox, convertLseg, convertPath and
// convertPolygon.
func geometryConverter(name string) *Converter {
	s := GeometrySchema()
	typeExt := []connectors.MapEntry{{Key: "type", Value: name}}
	return &Converter{TypeName: name, Schema: s, fn: func(b []byte) (any, error) {
		n, err := geomNumbers(b)
		if err != nil || len(n)%2 != 0 || len(n) == 0 {
			return nil, fmt.Errorf("invalid %s %q", name, b)
		}
		switch name {
		case "box":
			if len(n) != 4 {
				return nil, fmt.Errorf("invalid box %q", b)
			}
			// The two corners as a closed ring: (x1,y1) (x1,y2) (x2,y2) (x2,y1) (x1,y1).
			x1, y1, x2, y2 := n[0], n[1], n[2], n[3]
			return geometryValue(s, wkbRing([]float64{x1, y1, x1, y2, x2, y2, x2, y1, x1, y1}), typeExt), nil
		case "lseg":
			if len(n) != 4 {
				return nil, fmt.Errorf("invalid lseg %q", b)
			}
			return geometryValue(s, wkbLine(n), typeExt), nil
		case "path":
			closed := len(b) > 0 && b[0] == '('
			ext := []connectors.MapEntry{{Key: "type", Value: "path"}, {Key: "closed", Value: strconv.FormatBool(closed)}}
			return geometryValue(s, wkbLine(n), ext), nil
		default: // polygon
			if len(n) >= 4 && (n[0] != n[len(n)-2] || n[1] != n[len(n)-1]) {
				n = append(n, n[0], n[1])
			}
			return geometryValue(s, wkbRing(n), typeExt), nil
		}
	}}
}

func circleConverter() *Converter {
	s := CircleSchema()
	center := s.Fields[0].Schema
	return &Converter{TypeName: "circle", Schema: s, fn: func(b []byte) (any, error) {
		n, err := geomNumbers(b)
		if err != nil || len(n) != 3 {
			return nil, fmt.Errorf("invalid circle %q", b)
		}
		v := connectors.NewStructValue(s)
		v.Values[0] = pointValue(center, n[0], n[1])
		v.Values[1] = n[2]
		return v, nil
	}}
}

func lineConverter() *Converter {
	s := LineSchema()
	return &Converter{TypeName: "line", Schema: s, fn: func(b []byte) (any, error) {
		n, err := geomNumbers(b)
		if err != nil || len(n) != 3 {
			return nil, fmt.Errorf("invalid line %q", b)
		}
		v := connectors.NewStructValue(s)
		v.Values[0], v.Values[1], v.Values[2] = n[0], n[1], n[2]
		return v, nil
	}}
}

// pointValue is Point.createValue: x, y and their WKB, no SRID.
func pointValue(s *connectors.Schema, x, y float64) *connectors.StructValue {
	wkb := wkbHeader(21, wkbPoint)
	wkb = binary.LittleEndian.AppendUint64(wkb, math.Float64bits(x))
	wkb = binary.LittleEndian.AppendUint64(wkb, math.Float64bits(y))
	v := connectors.NewStructValue(s)
	v.Values[0], v.Values[1], v.Values[2] = x, y, wkb
	return v
}

func pointConverter(optional bool) *Converter {
	s := PointSchema(optional)
	return &Converter{TypeName: "point", Schema: s, fn: func(b []byte) (any, error) {
		n, err := geomNumbers(b)
		if err != nil || len(n) != 2 || len(b) < 2 || b[0] != '(' || b[len(b)-1] != ')' {
			return nil, fmt.Errorf("invalid point %q", b)
		}
		return pointValue(s, n[0], n[1]), nil
	}}
}
