package jdbc

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/sluice-cdc/sluice/connectors"
)

// copyEncoder writes rows in PostgreSQL's binary COPY format for columns
// of known type OIDs (those of the table COPY fills, so that the server
// only checks what it receives). The common pairs of normalized value and
// column type are encoded here directly; any other pair goes through
// pgx's type map, which is also what reports a value the type cannot
// hold. Encoding the rows directly instead of through pgx.CopyFrom saves
// most of the client's time in a COPY (pgx boxes every value and encodes
// numerics through big.Int division).
type copyEncoder struct {
	m   *pgtype.Map
	buf []byte
}

// PostgreSQL type OIDs with a direct encoding.
const (
	oidBool        = 16
	oidBytea       = 17
	oidInt8        = 20
	oidInt2        = 21
	oidInt4        = 23
	oidText        = 25
	oidJSON        = 114
	oidFloat8      = 701
	oidVarchar     = 1043
	oidDate        = 1082
	oidTime        = 1083
	oidTimestamp   = 1114
	oidTimestampTZ = 1184
	oidInterval    = 1186
	oidNumeric     = 1700
	oidUUID        = 2950
	oidJSONB       = 3802
)

// pgEpochMicros is 2000-01-01 00:00 UTC, PostgreSQL's epoch, in Unix
// microseconds.
const pgEpochMicros = 946684800 * 1_000_000

var copyHeader = []byte("PGCOPY\n\xff\r\n\x00\x00\x00\x00\x00\x00\x00\x00\x00")

// encode returns the COPY data for rows: the idx columns of each row, of
// types oids (in idx order), described by cols.
func (e *copyEncoder) encode(cols []*column, idx []int, oids []uint32, rows [][]any) ([]byte, error) {
	b := append(e.buf[:0], copyHeader...)
	for r, row := range rows {
		b = binary.BigEndian.AppendUint16(b, uint16(len(idx)))
		for j, i := range idx {
			var err error
			b, err = e.field(b, cols[i], oids[j], row[i])
			if err != nil {
				return nil, &rowError{row: r, col: j, err: err}
			}
		}
	}
	b = binary.BigEndian.AppendUint16(b, 0xffff)
	e.buf = b
	return b, nil
}

// rowError is an encoding failure of one value: row and col index the
// rows and idx passed to encode.
type rowError struct {
	row, col int
	err      error
}

func (e *rowError) Error() string { return e.err.Error() }
func (e *rowError) Unwrap() error { return e.err }

// valueError is a value the client cannot encode for its column's type
// (an integer out of the column's range): like the database's data
// errors, it names the column.
type valueError struct {
	column string
	err    error
}

func (e *valueError) Error() string { return fmt.Sprintf("column %s: %v", e.column, e.err) }
func (e *valueError) Unwrap() error { return e.err }

// field appends one value with its length word.
func (e *copyEncoder) field(b []byte, c *column, oid uint32, v any) ([]byte, error) {
	if v == nil {
		return binary.BigEndian.AppendUint32(b, math.MaxUint32), nil
	}
	switch x := v.(type) {
	case int64:
		switch {
		case oid == oidInt8:
			return binary.BigEndian.AppendUint64(append(b, 0, 0, 0, 8), uint64(x)), nil
		case oid == oidInt4 && x >= math.MinInt32 && x <= math.MaxInt32:
			return binary.BigEndian.AppendUint32(append(b, 0, 0, 0, 4), uint32(int32(x))), nil
		case oid == oidInt2 && x >= math.MinInt16 && x <= math.MaxInt16:
			return binary.BigEndian.AppendUint16(append(b, 0, 0, 0, 2), uint16(int16(x))), nil
		}
	case float64:
		if oid == oidFloat8 {
			return binary.BigEndian.AppendUint64(append(b, 0, 0, 0, 8), math.Float64bits(x)), nil
		}
	case bool:
		if oid == oidBool {
			if x {
				return append(b, 0, 0, 0, 1, 1), nil
			}
			return append(b, 0, 0, 0, 1, 0), nil
		}
	case string:
		switch oid {
		case oidText, oidVarchar, oidJSON:
			b = binary.BigEndian.AppendUint32(b, uint32(len(x)))
			return append(b, x...), nil
		case oidJSONB:
			b = binary.BigEndian.AppendUint32(b, uint32(len(x)+1))
			return append(append(b, 1), x...), nil
		case oidUUID:
			if u, ok := parseUUID(x); ok {
				return append(append(b, 0, 0, 0, 16), u[:]...), nil
			}
		case oidInterval:
			if iv, err := parseIsoInterval(x); err == nil {
				b = binary.BigEndian.AppendUint64(append(b, 0, 0, 0, 16), uint64(iv.micros))
				b = binary.BigEndian.AppendUint32(b, uint32(iv.days))
				return binary.BigEndian.AppendUint32(b, uint32(iv.months)), nil
			}
		}
	case []byte:
		if oid == oidBytea {
			b = binary.BigEndian.AppendUint32(b, uint32(len(x)))
			return append(b, x...), nil
		}
	case time.Time:
		switch oid {
		case oidTimestampTZ:
			return binary.BigEndian.AppendUint64(append(b, 0, 0, 0, 8), uint64(x.UnixMicro()-pgEpochMicros)), nil
		case oidTimestamp:
			// The wall clock, whatever the zone (normalized values are
			// UTC), as pgx does.
			_, off := x.Zone()
			return binary.BigEndian.AppendUint64(append(b, 0, 0, 0, 8), uint64(x.UnixMicro()+int64(off)*1_000_000-pgEpochMicros)), nil
		case oidDate:
			y, m, d := x.Date()
			days := time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix()/86400 - pgEpochMicros/1_000_000/86400
			if days >= math.MinInt32 && days <= math.MaxInt32 {
				return binary.BigEndian.AppendUint32(append(b, 0, 0, 0, 4), uint32(int32(days))), nil
			}
		}
	case timeOfDay:
		if oid == oidTime {
			return binary.BigEndian.AppendUint64(append(b, 0, 0, 0, 8), uint64(time.Duration(x)/time.Microsecond)), nil
		}
	case connectors.Decimal:
		if oid == oidNumeric {
			if nb, ok := appendNumeric(b, x); ok {
				return nb, nil
			}
		}
	}
	return e.viaPgx(b, c, oid, v)
}

// viaPgx appends a value encoded by pgx's type map.
func (e *copyEncoder) viaPgx(b []byte, c *column, oid uint32, v any) ([]byte, error) {
	at := len(b)
	b = append(b, 0, 0, 0, 0)
	nb, err := e.m.Encode(oid, pgtype.BinaryFormatCode, pgValue(c, v), b)
	if err != nil {
		return nil, err
	}
	if nb == nil {
		return binary.BigEndian.AppendUint32(b[:at], math.MaxUint32), nil
	}
	binary.BigEndian.PutUint32(nb[at:], uint32(len(nb)-at-4))
	return nb, nil
}

// maxFastUnscaled bounds the unscaled values appendNumeric encodes with
// integer arithmetic (times 1000 still fits in a uint64).
const maxFastUnscaled = 1_000_000_000_000_000

// appendNumeric appends d as a binary numeric (length word included): base
// 10000 digits, the weight of the first, sign and display scale. It
// reports false for values it leaves to pgx: negative scales and unscaled
// values of 16 digits or more.
func appendNumeric(b []byte, d connectors.Decimal) ([]byte, bool) {
	if d.Unscaled == nil || d.Scale < 0 || d.Scale > 1000 || !d.Unscaled.IsInt64() {
		return b, false
	}
	u := d.Unscaled.Int64()
	// Bounded before negating: -math.MinInt64 overflows to itself.
	if u >= maxFastUnscaled || u <= -maxFastUnscaled {
		return b, false
	}
	sign := uint16(0)
	if u < 0 {
		sign = 0x4000
		u = -u
	}
	// Pad the fraction to whole base-10000 digits.
	pad := (4 - int(d.Scale)%4) % 4
	v := uint64(u)
	for range pad {
		v *= 10
	}
	fracDigits := (int(d.Scale) + pad) / 4
	var digits [6]uint16 // 10^18 < 10000^5
	n := 0
	for v > 0 {
		digits[n] = uint16(v % 10000)
		v /= 10000
		n++
	}
	// digits[n-1] is the most significant; drop trailing zero digits.
	low := 0
	for low < n && digits[low] == 0 {
		low++
	}
	weight := n - fracDigits - 1
	nd := n - low
	if nd == 0 {
		weight, sign = 0, 0
	}
	b = binary.BigEndian.AppendUint32(b, uint32(8+2*nd))
	b = binary.BigEndian.AppendUint16(b, uint16(nd))
	b = binary.BigEndian.AppendUint16(b, uint16(int16(weight)))
	b = binary.BigEndian.AppendUint16(b, sign)
	b = binary.BigEndian.AppendUint16(b, uint16(d.Scale))
	for i := n - 1; i >= low; i-- {
		b = binary.BigEndian.AppendUint16(b, digits[i])
	}
	return b, true
}

// maxKeptCopyBuf bounds the encoding buffer kept between COPYs.
const maxKeptCopyBuf = 16 << 20

// copyRows COPYs rows (columns idx, of types oids) into table, a quoted
// name, in binary.
func (p *postgres) copyRows(ctx context.Context, conn *pgconn.PgConn, table string, names []string, g *group, idx []int, oids []uint32) error {
	data, err := p.enc.encode(g.cols, idx, oids, g.rows)
	if err != nil {
		var re *rowError
		if errors.As(err, &re) {
			return &valueError{column: names[re.col], err: re.err}
		}
		return err
	}
	sql := fmt.Sprintf("COPY %s (%s) FROM STDIN WITH (FORMAT binary)", table, p.colList(&group{names: names}, nil, ""))
	_, err = conn.CopyFrom(ctx, bytes.NewReader(data), sql)
	if cap(p.enc.buf) > maxKeptCopyBuf {
		// Keep what a usual batch needs, not what the largest took.
		p.enc.buf = nil
	}
	return err
}
