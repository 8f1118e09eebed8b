package datagen

import (
	"math/bits"
	"strconv"

	"github.com/sluice-cdc/sluice/connectors"
)

// rng is a splitmix64 generator. Seeded with mixSeed(seed)^n it gives
// record n its own stream, independent of every other record's.
type rng struct{ s uint64 }

const golden = 0x9e3779b97f4a7c15

func (r *rng) next() uint64 {
	r.s += golden
	return mix(r.s)
}

// intn returns a number in [0, n) (Lemire's multiply-shift; the bias is
// below 2^-40 for the small n used here).
func (r *rng) intn(n uint64) uint64 {
	hi, _ := bits.Mul64(r.next(), n)
	return hi
}

func mix(z uint64) uint64 {
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// mixSeed spreads a user's seed so that nearby seeds (0, 1, 2) give
// unrelated streams rather than permutations of each other.
func mixSeed(seed int64) uint64 { return mix(uint64(seed) + golden) }

// quickstart describes one record shape and how to fill it.
type quickstart struct {
	name                   string
	keySchema, valueSchema *connectors.Schema
	// slots and structs are how many field values and struct values one
	// record needs; a batch allocates them in one slab each.
	slots, structs int
	// poisonField is the index of the required string field of the value
	// that a poison record fills with poisonValue.
	poisonField int
	// fill writes record seq's key and value into vals and svs, which
	// have exactly slots and structs elements. r is record seq's own
	// generator (by value, so that it stays on the stack). seqBox is seq
	// as an any, boxed once and shared by every field that holds seq.
	fill func(r rng, seq int64, seqBox any, vals []any, svs []connectors.StructValue) (key, value *connectors.StructValue)
}

// poisonValue is what a poison record holds in its poisoned field: a
// channel no one sends on or closes, of a Go type no converter accepts.
var poisonValue any = make(chan int)

// Time ranges of Confluent's users and orders quickstarts (epoch ms).
const (
	timeMin  = 1487715775521
	timeSpan = 1519273364600 - timeMin
)

// Value tables, boxed once so that generating a string field allocates
// nothing.
var (
	userIDs   = names("User_", 1000)
	regionIDs = names("Region_", 9)
	genders   = []any{"MALE", "FEMALE", "OTHER"}
	itemIDs   = names("Item_", 999)
	cities    = names("City_", 99)
	states    = names("State_", 99)
	pageIDs   = names("Page_", 99)
)

func names(prefix string, n int) []any {
	out := make([]any, n)
	for i := range out {
		out[i] = prefix + strconv.Itoa(i+1)
	}
	return out
}

func pick(r *rng, table []any) any { return table[r.intn(uint64(len(table)))] }

var (
	str = connectors.StringSchema
	i64 = connectors.Int64Schema
	f64 = connectors.Float64Schema
)

var (
	usersKey   = connectors.NewStruct("ksql.users_key", false, connectors.Opt("userid", str))
	usersValue = connectors.NewStruct("ksql.users", false,
		connectors.Opt("registertime", i64),
		connectors.Opt("userid", str),
		connectors.Opt("regionid", str),
		connectors.Opt("gender", str),
		connectors.Opt("seq", i64))

	ordersKey     = connectors.NewStruct("ksql.orders_key", false, connectors.Opt("orderid", i64))
	addressSchema = connectors.NewStruct("ksql.address", false,
		connectors.Opt("city", str),
		connectors.Opt("state", str),
		connectors.Opt("zipcode", i64))
	ordersValue = connectors.NewStruct("ksql.orders", false,
		connectors.Opt("ordertime", i64),
		connectors.Opt("orderid", i64),
		connectors.Opt("itemid", str),
		connectors.Opt("orderunits", f64),
		connectors.Opt("address", addressSchema),
		connectors.Opt("seq", i64))

	pageviewsKey   = connectors.NewStruct("ksql.pageviews_key", false, connectors.Opt("viewtime", i64))
	pageviewsValue = connectors.NewStruct("ksql.pageviews", false,
		connectors.Opt("viewtime", i64),
		connectors.Opt("userid", str),
		connectors.Opt("pageid", str),
		connectors.Opt("seq", i64))
)

var quickstarts = map[string]*quickstart{
	"users": {name: "users", keySchema: usersKey, valueSchema: usersValue,
		slots: 1 + 5, structs: 2, poisonField: 3, fill: fillUsers},
	"orders": {name: "orders", keySchema: ordersKey, valueSchema: ordersValue,
		slots: 1 + 6 + 3, structs: 3, poisonField: 2, fill: fillOrders},
	"pageviews": {name: "pageviews", keySchema: pageviewsKey, valueSchema: pageviewsValue,
		slots: 1 + 4, structs: 2, poisonField: 2, fill: fillPageviews},
}

func fillUsers(r rng, _ int64, seqBox any, vals []any, svs []connectors.StructValue) (*connectors.StructValue, *connectors.StructValue) {
	user := pick(&r, userIDs)
	k, v := vals[0:1:1], vals[1:6:6]
	k[0] = user
	v[0] = int64(timeMin + r.intn(timeSpan))
	v[1] = user
	v[2] = pick(&r, regionIDs)
	v[3] = pick(&r, genders)
	v[4] = seqBox
	svs[0] = connectors.StructValue{Schema: usersKey, Values: k}
	svs[1] = connectors.StructValue{Schema: usersValue, Values: v}
	return &svs[0], &svs[1]
}

func fillOrders(r rng, _ int64, seqBox any, vals []any, svs []connectors.StructValue) (*connectors.StructValue, *connectors.StructValue) {
	k, v, a := vals[0:1:1], vals[1:7:7], vals[7:10:10]
	k[0] = seqBox // orderid is the sequence number, as Confluent's iteration field
	a[0] = pick(&r, cities)
	a[1] = pick(&r, states)
	a[2] = int64(10000 + r.intn(90000))
	svs[2] = connectors.StructValue{Schema: addressSchema, Values: a}
	v[0] = int64(timeMin + r.intn(timeSpan))
	v[1] = seqBox
	v[2] = pick(&r, itemIDs)
	v[3] = 0.1 + float64(r.next()>>11)/(1<<53)*9.9
	v[4] = &svs[2]
	v[5] = seqBox
	svs[0] = connectors.StructValue{Schema: ordersKey, Values: k}
	svs[1] = connectors.StructValue{Schema: ordersValue, Values: v}
	return &svs[0], &svs[1]
}

func fillPageviews(r rng, seq int64, seqBox any, vals []any, svs []connectors.StructValue) (*connectors.StructValue, *connectors.StructValue) {
	k, v := vals[0:1:1], vals[1:5:5]
	viewtime := any(1 + 10*seq) // Confluent's iteration: start 1, step 10
	k[0] = viewtime
	v[0] = viewtime
	v[1] = pick(&r, userIDs)
	v[2] = pick(&r, pageIDs)
	v[3] = seqBox
	svs[0] = connectors.StructValue{Schema: pageviewsKey, Values: k}
	svs[1] = connectors.StructValue{Schema: pageviewsValue, Values: v}
	return &svs[0], &svs[1]
}
