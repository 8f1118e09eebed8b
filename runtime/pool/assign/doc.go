// Package assign computes the incremental cooperative assignment of
// connectors and tasks to the members of a worker pool, as Kafka
// Connect's IncrementalCooperativeAssignor does (KIP-415). It is pure: no
// Kafka, no clock, no goroutines. The group leader calls [Assign] once per
// rebalance with what every member reported, its own view of the configs
// topic, the [State] the previous call returned and the time now; it sends
// each member its [Assignment] and keeps the returned State for the next
// rebalance.
//
// # One round
//
// Work is a connector (the Connector object) or one task (connector,
// index). A round sorts it into sets, from the members' reports, the
// configuration and the previous State:
//
//   - Deleted: work a member runs that the configuration no longer has (the
//     connector was removed, or its task count shrank). It is revoked from
//     whoever runs it.
//   - Duplicated: work two or more members claim (a zombie rejoined, or a
//     revocation did not take effect). One member keeps it — the one the
//     previous round gave it to, else the lowest member id — and it is
//     revoked from the others.
//   - Unaccounted: work the previous round gave to a member that no member
//     runs now. If that member (same id) or a member with the same REST URL
//     (the same worker, rejoined under a new id) is in the group, the work
//     goes back to it. Otherwise its member departed and the work is lost.
//   - Lost: held back, assigned to nobody, for scheduled.rebalance.max.delay.ms
//     counted from the round that first noticed the departure, so that a
//     bouncing worker gets its work back without anything restarting
//     elsewhere. If the worker returns in time, the work goes back to it
//     in that round; when the delay ends it is spread like new work. With a
//     zero delay lost work is new work at once.
//   - New: configured work nobody runs and nothing holds back. It goes to
//     the members below their share, least loaded first.
//
// # Balance
//
// Connectors and tasks are balanced separately. With T connectors (or
// tasks) and N members each member's share is T/N, and T%N members get one
// more: those that already run the most, so that the fewest move. A member
// above its share gives up only its surplus (tasks from the connector it
// runs most of, highest index first; connectors last by name first); no
// other member stops anything.
//
// Revoking and assigning happen in two rounds: a round revokes, and the
// work it revokes is assigned only in a later round, after the member that
// gave it up has rejoined without it. A member therefore never receives
// work in the same round as another member is told to stop it, and no
// work runs on two members at once.
//
// No load-balancing revocation happens while lost work is held back
// (the departed worker may return and restore the balance). A
// load-balancing revocation that follows another one without a balanced
// round in between waits first (KAFKA-12495): 40 ms after the first, then
// 1.6 s, 64 s, and then scheduled.rebalance.max.delay.ms, never more
// than that delay; with a zero delay it never waits.
//
// Each Assignment carries the same Delay: when positive, the leader wants
// another rebalance after it (lost work to release, a revocation to retry).
//
// # Config offsets
//
// The leader assigns from its own snapshot of the configs topic. If a
// member has read further than the leader, Assign returns
// [ErrConfigMismatch] and assignments with [ConfigMismatch] for every
// member: the leader must read the configs topic to the end and assign
// again. Members behind the leader's offset are assigned as usual; the
// assignment's ConfigOffset tells them to catch up before they start it.
//
// # Determinism and state
//
// The same Input gives the same Result: members are visited by id, work by
// connector name and task index. A leader that has no State (a new leader)
// treats all work nobody runs as new, as Kafka Connect does when the
// leader changes; it cannot know which of it was lost.
package assign
