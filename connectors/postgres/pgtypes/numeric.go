package pgtypes

import (
	"fmt"
	"math/big"
	"strconv"

	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/connectors/cdc"
)

// VariableScaleDecimalSchema returns Debezium's schema for unconstrained
// numeric values in precise mode: a struct of scale and unscaled
// two's-complement bytes.
func VariableScaleDecimalSchema(optional bool) *connectors.Schema {
	s := connectors.NewStruct(cdc.VariableScaleDecimalName, optional,
		connectors.Opt("scale", connectors.Int32Schema),
		connectors.Opt("value", connectors.BytesSchema))
	s.Version = 1
	s.Doc = "Variable scaled decimal"
	return s
}

func numericConverter(typmod int32, optional bool, mode cdc.DecimalMode) *Converter {
	c := &Converter{TypeName: "numeric"}
	switch mode {
	case cdc.DecimalDouble:
		c.Schema, c.fn = connectors.Primitive(connectors.Float64, optional), convFloat64
		return c
	case cdc.DecimalString:
		c.Schema, c.fn = str(optional), convNumericString
		return c
	}
	if typmod < 4 {
		s := VariableScaleDecimalSchema(optional)
		c.Schema = s
		c.fn = func(b []byte) (any, error) {
			d, special, err := parseDecimal(b)
			if err != nil || special {
				return nil, err
			}
			d = stripTrailingZeros(d)
			v := connectors.NewStructValue(s)
			v.Values[0] = d.Scale
			v.Values[1] = TwosComplement(d.Unscaled)
			return v, nil
		}
		return c
	}
	precision := (typmod - 4) >> 16 & 0xffff
	scale := (typmod - 4) & 0xffff
	s := connectors.DecimalSchema(scale, optional)
	s.Parameters[cdc.DecimalPrecisionParam] = strconv.Itoa(int(precision))
	c.Schema = s
	c.fn = func(b []byte) (any, error) {
		d, special, err := parseDecimal(b)
		if err != nil || special {
			return nil, err
		}
		return rescale(d, scale), nil
	}
	return c
}

// convNumericString is decimal.handling.mode=string: the plain text of
// the number, and for the special values the names of Debezium's
// SpecialValueDecimal.SpecialValue ("NAN", "POSITIVE_INFINITY",
// "NEGATIVE_INFINITY"), which is what SpecialValueDecimal.toString gives.
func convNumericString(b []byte) (any, error) {
	switch bstr(b) {
	case "NaN":
		return "NAN", nil
	case "Infinity":
		return "POSITIVE_INFINITY", nil
	case "-Infinity":
		return "NEGATIVE_INFINITY", nil
	}
	return string(b), nil
}

// stripTrailingZeros is BigDecimal.stripTrailingZeros followed by
// setScale(0) when the scale went negative, as PostgresValueConverter
// does for unconstrained numeric in precise mode ("1.50" has scale 1,
// "100" scale 0).
func stripTrailingZeros(d connectors.Decimal) connectors.Decimal {
	if d.Scale <= 0 || d.Unscaled.Sign() == 0 {
		if d.Unscaled.Sign() == 0 {
			return connectors.Decimal{Unscaled: new(big.Int), Scale: 0}
		}
		return d
	}
	u := new(big.Int).Set(d.Unscaled)
	scale := d.Scale
	ten := big.NewInt(10)
	q, r := new(big.Int), new(big.Int)
	for scale > 0 {
		q.QuoRem(u, ten, r)
		if r.Sign() != 0 {
			break
		}
		u.Set(q)
		scale--
	}
	return connectors.Decimal{Unscaled: u, Scale: scale}
}

// rescale brings d to scale, rounding half up as BigDecimal.setScale(scale,
// RoundingMode.HALF_UP) does for money (numeric(p,s) text always has s
// digits already).
func rescale(d connectors.Decimal, scale int32) connectors.Decimal {
	if d.Scale == scale {
		return d
	}
	if d.Scale < scale {
		f := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(scale-d.Scale)), nil)
		return connectors.Decimal{Unscaled: new(big.Int).Mul(d.Unscaled, f), Scale: scale}
	}
	f := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(d.Scale-scale)), nil)
	q, r := new(big.Int).QuoRem(d.Unscaled, f, new(big.Int))
	// Half up: away from zero when the remainder is at least half.
	r.Abs(r).Lsh(r, 1)
	if r.Cmp(f) >= 0 {
		if d.Unscaled.Sign() < 0 {
			q.Sub(q, big.NewInt(1))
		} else {
			q.Add(q, big.NewInt(1))
		}
	}
	return connectors.Decimal{Unscaled: q, Scale: scale}
}

// parseDecimal parses numeric text output. special reports NaN and
// ±Infinity, which precise mode cannot represent (Debezium emits null).
func parseDecimal(b []byte) (d connectors.Decimal, special bool, err error) {
	switch bstr(b) {
	case "NaN", "Infinity", "-Infinity":
		return d, true, nil
	}
	if len(b) == 0 {
		return d, false, fmt.Errorf("invalid numeric %q", b)
	}
	// Fast path: up to 18 digits fit an int64.
	var n int64
	digits, scale := 0, int32(-1)
	neg := false
	i := 0
	if b[0] == '-' || b[0] == '+' {
		neg = b[0] == '-'
		i = 1
	}
	for ; i < len(b); i++ {
		c := b[i]
		if c == '.' && scale < 0 {
			scale = 0
			continue
		}
		if c < '0' || c > '9' {
			return d, false, fmt.Errorf("invalid numeric %q", b)
		}
		digits++
		if scale >= 0 {
			scale++
		}
		if digits <= 18 {
			n = n*10 + int64(c-'0')
		}
	}
	if digits == 0 {
		return d, false, fmt.Errorf("invalid numeric %q", b)
	}
	if scale < 0 {
		scale = 0
	}
	if digits <= 18 {
		if neg {
			n = -n
		}
		return connectors.Decimal{Unscaled: big.NewInt(n), Scale: scale}, false, nil
	}
	cd, err := connectors.ParseDecimal(string(b))
	if err != nil {
		return d, false, fmt.Errorf("invalid numeric %q", b)
	}
	return cd, false, nil
}

// TwosComplement returns the minimal big-endian two's-complement bytes of
// v, as Java's BigInteger.toByteArray does.
func TwosComplement(v *big.Int) []byte {
	switch v.Sign() {
	case 0:
		return []byte{0}
	case 1:
		b := v.Bytes()
		if b[0]&0x80 != 0 {
			b = append([]byte{0}, b...)
		}
		return b
	}
	// Negative: the bits of -v-1, inverted, with a sign byte if needed.
	x := new(big.Int).Neg(v)
	x.Sub(x, big.NewInt(1))
	b := x.Bytes()
	for i := range b {
		b[i] = ^b[i]
	}
	if len(b) == 0 || b[0]&0x80 == 0 {
		b = append([]byte{0xff}, b...)
	}
	return b
}

func moneyConverter(optional bool, m Modes) *Converter {
	c := &Converter{TypeName: "money"}
	scale := int32(m.MoneyFractionDigits)
	switch m.Decimal {
	case cdc.DecimalDouble:
		c.Schema = connectors.Primitive(connectors.Float64, optional)
		c.fn = func(b []byte) (any, error) {
			d, err := parseMoney(b)
			if err != nil {
				return nil, err
			}
			// BigDecimal.doubleValue: the nearest double to the exact value.
			return strconv.ParseFloat(d.String(), 64)
		}
	case cdc.DecimalString:
		c.Schema = str(optional)
		c.fn = func(b []byte) (any, error) {
			d, err := parseMoney(b)
			if err != nil {
				return nil, err
			}
			return d.String(), nil
		}
	default:
		c.Schema = connectors.DecimalSchema(scale, optional)
		c.fn = func(b []byte) (any, error) {
			d, err := parseMoney(b)
			if err != nil {
				return nil, err
			}
			return rescale(d, scale), nil
		}
	}
	return c
}

// parseMoney parses money's locale-formatted output ("-$1,234.56") by
// keeping the sign, the digits and the decimal point.
func parseMoney(b []byte) (connectors.Decimal, error) {
	buf := make([]byte, 0, len(b))
	neg := false
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9', c == '.':
			buf = append(buf, c)
		case c == '-' || c == '(':
			neg = true
		}
	}
	d, special, err := parseDecimal(buf)
	if err != nil || special {
		return d, fmt.Errorf("invalid money %q", b)
	}
	if neg {
		d.Unscaled.Neg(d.Unscaled)
	}
	return d, nil
}
