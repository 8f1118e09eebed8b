// Package sign authenticates the requests one worker of a pool sends to
// another (KIP-507): a follower forwarding task configs to the leader
// (POST /connectors/{c}/tasks) or asking it to fence a connector's zombie
// tasks (PUT /connectors/{c}/fence) signs the body with the pool's session
// key, and the leader checks the signature before acting.
//
// The leader generates the session key ([Config.GenerateKey]), writes it
// to the configs topic under [RecordKey] ([EncodeRecord]; every worker
// reads it back with [DecodeRecord]) and generates the next one when
// [Config.NextRotation] says so (inter.worker.key.ttl.ms after the
// current one was created). Every worker keeps the latest key in a
// [Holder].
//
// The sender calls [Config.Sign]; the receiver wraps its internal
// endpoints in a [Guard], which reads the body (bounded), calls
// [Config.Verify] and hands the body on. The answers are Kafka Connect's:
// 400 when the signature is missing or its algorithm is not accepted, 503
// before the worker has read a session key, 403 when the signature does
// not match.
//
// # One key at a time
//
// As in Connect, a request verifies against the current session key only;
// the previous key is not accepted for a grace period after a rotation.
// A follower that signed with a key the leader has just replaced gets a
// 403 and retries: [KeyMayHaveRotated] says when (a 403 within
// [RotationRetryWindow] of the first attempt, as Connect's herder
// decides), and by then the follower has read the new key from the
// configs topic. Accepting the old key as well would keep a leaked key
// useful for longer and would make a Sluice leader accept requests a
// Connect leader refuses; [Config.Verify] still takes several keys so
// that a caller can choose otherwise.
//
// The package starts no goroutines. Config, Key and the functions are safe
// for concurrent use; a Holder is too.
package sign
